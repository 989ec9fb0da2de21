// node ref_tflite.mjs MODEL.tflite --input FILE.npy [--input ...] --out-dir DIR
//                     [--offset N --length N] [--bench N]
// Runs a .tflite model in TensorFlow Lite itself: the TFLite WebAssembly build
// (XNNPACK, SIMD, one thread) that ships inside the npm package
// @tensorflow/tfjs-tflite, driven directly through its Emscripten module (no
// browser, no network). Inputs are given in the model's input order. Writes every
// output as DIR/<name>.npy ('/' and ':' become '_', like facelib-run).
// --offset/--length: the model is that byte range of the file.
// --bench N: after 3 warm-up runs, time N runs (input copy, invoke, output copy)
// and print "time_ms median=... min=... runs=N".
// The wasm folder: $FACELIB_TFLITE_WASM_DIR, else node_modules/@tensorflow/tfjs-tflite/wasm
// here, else build/model-sources/npm/@tensorflow__tfjs-tflite@0.0.1-alpha.10/package/wasm.
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';
import { readNpy, writeNpy } from './lib/npy.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export function findWasmDir() {
  const candidates = [
    process.env.FACELIB_TFLITE_WASM_DIR,
    path.join(here, 'node_modules/@tensorflow/tfjs-tflite/wasm'),
    path.join(here, '../../build/model-sources/npm/@tensorflow__tfjs-tflite@0.0.1-alpha.10/package/wasm'),
  ].filter(Boolean);
  return candidates.find((d) => fs.existsSync(path.join(d, 'tflite_web_api_cc_simd.wasm'))) || null;
}

// Loads the Emscripten factory in its own context: the script expects browser or
// worker globals only for fetching, which wasmBinary makes unnecessary.
export async function loadTflite(wasmDir) {
  const src = fs.readFileSync(path.join(wasmDir, 'tflite_web_api_cc_simd.js'), 'utf8');
  const ctx = { console, WebAssembly, TextDecoder, TextEncoder, performance, setTimeout, clearTimeout, URL };
  vm.createContext(ctx);
  vm.runInContext(`${src}\nthis.factory = tflite_web_api_ModuleFactory;`, ctx);
  return ctx.factory({
    wasmBinary: fs.readFileSync(path.join(wasmDir, 'tflite_web_api_cc_simd.wasm')),
    print: () => {},
    printErr: () => {},  // "Created TensorFlow Lite XNNPACK delegate" and similar
  });
}

async function main() {
  const args = process.argv.slice(2);
  const modelPath = args[0];
  const inputs = [];
  let outDir = null, bench = 0, offset = 0, length = -1;
  for (let i = 1; i < args.length; i++) {
    const a = args[i];
    if (a === '--input') inputs.push(args[++i]);
    else if (a === '--out-dir') outDir = args[++i];
    else if (a === '--bench') bench = Number(args[++i]);
    else if (a === '--offset') offset = Number(args[++i]);
    else if (a === '--length') length = Number(args[++i]);
    else throw new Error(`unknown argument ${a}`);
  }
  if (!modelPath || !inputs.length || (!outDir && !bench)) {
    console.error('usage: node ref_tflite.mjs MODEL.tflite --input FILE.npy [--input ...] --out-dir DIR [--offset N --length N] [--bench N]');
    process.exit(2);
  }
  const wasmDir = findWasmDir();
  if (!wasmDir) throw new Error('the TFLite wasm build (@tensorflow/tfjs-tflite) is not installed');
  const M = await loadTflite(wasmDir);

  let bytes = fs.readFileSync(modelPath);
  if (length >= 0 || offset > 0) bytes = bytes.subarray(offset, length >= 0 ? offset + length : bytes.length);
  const ptr = M._malloc(bytes.length);
  M.HEAPU8.set(bytes, ptr);  // the interpreter keeps using this memory
  const created = M.TFLiteWebModelRunner.CreateFromBufferAndOptions(ptr, bytes.length,
    { numThreads: 1, enableProfiling: false, maxProfilingBufferEntries: 1024 });
  if (!created.ok()) throw new Error(`TFLite cannot load ${modelPath}: ${created.errorMessage()}`);
  const runner = created.value();

  const ins = runner.GetInputs();
  if (ins.size() !== inputs.length) throw new Error(`the model has ${ins.size()} inputs, ${inputs.length} given`);
  const feeds = inputs.map((file, i) => {
    const t = readNpy(file), info = ins.get(i);
    const want = Array.from(info.shape.split ? info.shape.split(',').map(Number) : info.shape);
    if (t.data.length !== want.reduce((a, b) => a * b, 1))
      throw new Error(`input ${info.name} wants shape [${want}], ${file} has [${t.shape}]`);
    return { info, data: t.data };
  });
  const outs = runner.GetOutputs();
  const run = () => {
    for (const f of feeds) f.info.data().set(f.data);
    if (!runner.Infer()) throw new Error('TFLite Infer failed');
    const res = [];
    for (let i = 0; i < outs.size(); i++) {
      const o = outs.get(i);
      res.push({ name: o.name, shape: String(o.shape).split(',').map(Number), data: Float32Array.from(o.data()) });
    }
    return res;
  };

  if (outDir) {
    fs.mkdirSync(outDir, { recursive: true });
    for (const o of run()) {
      const file = path.join(outDir, `${o.name.replace(/[/:\\]/g, '_')}.npy`);
      writeNpy(file, o.shape, o.data);
      console.log(`output ${o.name} [${o.shape}] -> ${file}`);
    }
  }
  if (bench > 0) {
    for (let i = 0; i < 3; i++) run();
    const ms = [];
    for (let i = 0; i < bench; i++) {
      const t0 = performance.now();
      run();
      ms.push(performance.now() - t0);
    }
    ms.sort((a, b) => a - b);
    console.log(`time_ms median=${ms[ms.length >> 1].toFixed(3)} min=${ms[0].toFixed(3)} runs=${bench} threads=1`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => { console.error(`ref_tflite: ${e.message}`); process.exit(1); });
}
