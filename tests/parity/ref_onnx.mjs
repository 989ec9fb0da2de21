// Reference side of the ONNX parity test (tests/parity/onnx.sh).
//
//   node ref_onnx.mjs input IMAGE.jpg HxW NORM OUT.npy
//       decode a JPEG, resize it to HxW (bilinear, half-pixel centres), normalise,
//       write the NHWC float32 tensor [1,H,W,3].
//       NORM: bgr255 (BGR 0..255), bgr_mean (BGR - (104,117,123)),
//             rgb_scrfd ((RGB - 127.5) / 128), rgb_ultraface ((RGB - 127) / 128), rgb01 (RGB / 255)
//   node ref_onnx.mjs run MODEL.onnx INPUT_NHWC.npy OUTDIR [--threads N]
//       run onnxruntime-node on the NCHW transpose of the input and write every
//       output as OUTDIR/<name>.npy ('/', ':' and '\' in names become '_', as facelib-run does).
//   node ref_onnx.mjs bench MODEL.onnx INPUT_NHWC.npy --threads 1,2 [--runs 30] [--warmup 5]
//       print "ort_ms threads=N median=M" per thread count (graph optimisation 'all').
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { readNpy, writeNpy, nhwcToNchw } from './lib/npy.mjs';

const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const opt = (k, d) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : d; };
const pos = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--')));
const cmd = pos[0];

function safeName(s) { return s.replace(/[/:\\]/g, '_'); }

function decodeJpeg(file) {
  const jpeg = require('jpeg-js');
  return jpeg.decode(fs.readFileSync(file), { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
}

// Bilinear resize with half-pixel centres (edge-clamped), RGB interleaved in, float RGB out.
function resizeBilinear(img, oh, ow) {
  const { width: iw, height: ih, data } = img;
  const out = new Float32Array(oh * ow * 3);
  const sy = ih / oh, sx = iw / ow;
  for (let y = 0; y < oh; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), ih - 1);
    const y0 = Math.floor(fy), y1 = Math.min(y0 + 1, ih - 1), wy = fy - y0;
    for (let x = 0; x < ow; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), iw - 1);
      const x0 = Math.floor(fx), x1 = Math.min(x0 + 1, iw - 1), wx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const p = (yy, xx) => data[(yy * iw + xx) * 3 + c];
        const top = p(y0, x0) * (1 - wx) + p(y0, x1) * wx;
        const bot = p(y1, x0) * (1 - wx) + p(y1, x1) * wx;
        out[(y * ow + x) * 3 + c] = top * (1 - wy) + bot * wy;
      }
    }
  }
  return out;
}

const NORMS = {
  bgr255: (r, g, b) => [b, g, r],
  bgr_mean: (r, g, b) => [b - 104, g - 117, r - 123],
  rgb_scrfd: (r, g, b) => [(r - 127.5) / 128, (g - 127.5) / 128, (b - 127.5) / 128],
  rgb_ultraface: (r, g, b) => [(r - 127) / 128, (g - 127) / 128, (b - 127) / 128],
  rgb01: (r, g, b) => [r / 255, g / 255, b / 255],
};

async function session(model, threads) {
  const ort = require('onnxruntime-node');
  return ort.InferenceSession.create(model, {
    executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1,
    executionMode: 'sequential', graphOptimizationLevel: 'all', logSeverityLevel: 3,
  });
}

function feedsFor(sess, input) {
  const ort = require('onnxruntime-node');
  const nchw = nhwcToNchw(input);
  return { [sess.inputNames[0]]: new ort.Tensor('float32', nchw.data, nchw.shape) };
}

if (cmd === 'input') {
  const [, image, size, norm, out] = pos;
  const [h, w] = size.split('x').map(Number);
  const fn = NORMS[norm];
  if (!fn) throw new Error(`unknown normalisation '${norm}'`);
  const rgb = resizeBilinear(decodeJpeg(image), h, w);
  const data = new Float32Array(rgb.length);
  for (let i = 0; i < rgb.length; i += 3) data.set(fn(rgb[i], rgb[i + 1], rgb[i + 2]), i);
  writeNpy(out, [1, h, w, 3], data);
} else if (cmd === 'run') {
  const [, model, inputPath, outDir] = pos;
  const sess = await session(model, Number(opt('--threads', '1')));
  const res = await sess.run(feedsFor(sess, readNpy(inputPath)));
  fs.mkdirSync(outDir, { recursive: true });
  for (const name of sess.outputNames) {
    const t = res[name];
    writeNpy(path.join(outDir, `${safeName(name)}.npy`), t.dims.map(Number), t.data);
    console.log(`${name}\t[${t.dims}]`);
  }
} else if (cmd === 'bench') {
  const [, model, inputPath] = pos;
  const runs = Number(opt('--runs', '30')), warmup = Number(opt('--warmup', '5'));
  const input = readNpy(inputPath);
  for (const threads of opt('--threads', '1,2').split(',').map(Number)) {
    const sess = await session(model, threads);
    const feeds = feedsFor(sess, input);
    for (let i = 0; i < warmup; i++) await sess.run(feeds);
    const ms = [];
    for (let i = 0; i < runs; i++) {
      const t0 = process.hrtime.bigint();
      await sess.run(feeds);
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    ms.sort((a, b) => a - b);
    console.log(`ort_ms threads=${threads} median=${ms[Math.floor(ms.length / 2)].toFixed(3)} min=${ms[0].toFixed(3)}`);
    await sess.release?.();
  }
} else {
  console.error('usage: node ref_onnx.mjs input|run|bench ... (see the header of this file)');
  process.exit(2);
}
