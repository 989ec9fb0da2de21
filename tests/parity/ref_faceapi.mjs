// Reference side of the face-api parity test: @vladmandic/face-api 1.7.15 on
// tfjs-backend-wasm with one thread.
//
//   node ref_faceapi.mjs input NET IMAGE.jpg OUT.npy [--crop x,y,w,h]
//       The tensor face-api feeds NET for this photo (or crop of it): the RGB
//       pixels go through face-api's own NetInput.toBatchTensor (zero-pad to a
//       square, bottom/right for the detectors and centred for the face nets,
//       then bilinear resize to the net's size); written as float32 NHWC 0..255.
//   node ref_faceapi.mjs run NET MANIFEST.json INPUT.npy --out-dir DIR [--bench N]
//       Loads NET from the manifest via face-api's loadFromDisk, runs its raw
//       forward pass on INPUT and writes each output as DIR/<name>.npy with the
//       names of facelib's graph (see OUTPUTS). --bench N: after 5 warm-up runs,
//       times N runs (forward + dataSync of every output) and prints
//       "time_ms median=... min=... runs=N".
//
// NET: ssd, tiny, landmarks68, landmarks68_tiny, recognition, agegender, expression.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import jpeg from 'jpeg-js';
import { readNpy, writeNpy } from './lib/npy.mjs';

const require = createRequire(import.meta.url);
const tf = require('@tensorflow/tfjs-core');
const tfwasm = require('@tensorflow/tfjs-backend-wasm');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

// net -> face-api instance, input side, whether face-api centres the padding.
const NETS = {
  ssd: { net: () => faceapi.nets.ssdMobilenetv1, size: 512, center: false },
  tiny: { net: () => faceapi.nets.tinyFaceDetector, size: 416, center: false },
  landmarks68: { net: () => faceapi.nets.faceLandmark68Net, size: 112, center: true },
  landmarks68_tiny: { net: () => faceapi.nets.faceLandmark68TinyNet, size: 112, center: true },
  recognition: { net: () => faceapi.nets.faceRecognitionNet, size: 150, center: true },
  agegender: { net: () => faceapi.nets.ageGenderNet, size: 112, center: true },
  expression: { net: () => faceapi.nets.faceExpressionNet, size: 112, center: true },
};

// The raw forward pass of each net, with facelib's output names. Landmarks:
// the fully connected output before face-api's un-padding (0..1 of the input
// square); the other nets: exactly what forwardInput returns.
const OUTPUTS = {
  ssd: (net, x) => {
    const { boxes, scores } = net.forwardInput(x);
    return { boxes: tf.stack(boxes), scores: tf.stack(scores) };
  },
  tiny: (net, x) => ({ out: net.forwardInput(x, 416) }),
  landmarks68: (net, x) => ({ landmarks: net.runNet(x) }),
  landmarks68_tiny: (net, x) => ({ landmarks: net.runNet(x) }),
  recognition: (net, x) => ({ descriptor: net.forwardInput(x) }),
  agegender: (net, x) => { const { age, gender } = net.forwardInput(x); return { age, gender }; },
  expression: (net, x) => ({ probs: net.forwardInput(x) }),
};

function usage() {
  console.error('usage: node ref_faceapi.mjs input NET IMAGE.jpg OUT.npy [--crop x,y,w,h]\n'
    + '       node ref_faceapi.mjs run NET MANIFEST.json INPUT.npy --out-dir DIR [--bench N]');
  process.exit(2);
}

const args = process.argv.slice(2);
const opt = (k) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : null; };
const positional = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--')));
const [mode, netName] = positional;
if (!['input', 'run'].includes(mode) || !NETS[netName]) usage();
const spec = NETS[netName];

tf.enableProdMode();
tfwasm.setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), path.sep));
tfwasm.setThreadsCount(1);
if (!(await tf.setBackend('wasm'))) throw new Error('cannot initialise the tfjs wasm backend');
await tf.ready();
if (faceapi.tf.engine() !== tf.engine()) throw new Error('face-api uses a different tfjs-core instance');

const netInput = (x) => new faceapi.NetInput(tf.unstack(x), x.shape[0] > 1);

if (mode === 'input') {
  const [, , imagePath, outPath] = positional;
  if (!outPath) usage();
  const img = jpeg.decode(fs.readFileSync(imagePath), { useTArray: true, formatAsRGBA: false });
  let t = tf.tensor3d(Int32Array.from(img.data), [img.height, img.width, 3], 'int32');
  if (opt('--crop')) {
    const [x, y, w, h] = opt('--crop').split(',').map(Number);
    t = tf.slice(t, [y, x, 0], [h, w, 3]);
  }
  const batch = tf.cast(new faceapi.NetInput([t]).toBatchTensor(spec.size, spec.center), 'float32');
  writeNpy(outPath, batch.shape, batch.dataSync());
  process.exit(0);
}

const [, , manifest, inputPath] = positional;
const outDir = opt('--out-dir');
const bench = Number(opt('--bench') || 0);
if (!inputPath || (!outDir && !bench)) usage();
const net = spec.net();
await net.loadFromDisk(path.resolve(manifest));
const { shape, data } = readNpy(inputPath);
const x = tf.tensor(data, shape, 'float32');
const run = () => OUTPUTS[netName](net, netInput(x));

if (bench > 0) {
  const once = () => {
    const outs = run();
    Object.values(outs).forEach((t) => t.dataSync());
    tf.dispose(Object.values(outs));
  };
  for (let i = 0; i < 5; i++) once();
  const ms = [];
  for (let i = 0; i < bench; i++) {
    const t0 = performance.now();
    once();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  console.log(`time_ms median=${ms[Math.floor(ms.length / 2)].toFixed(3)} min=${ms[0].toFixed(3)} runs=${bench}`);
} else {
  fs.mkdirSync(outDir, { recursive: true });
  for (const [name, t] of Object.entries(run())) writeNpy(path.join(outDir, `${name}.npy`), t.shape, t.dataSync());
}
process.exit(0);
