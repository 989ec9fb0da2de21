// node ref_tfjs.mjs MODEL.json --input NAME=FILE.npy [--input ...] --outputs A,B --out-dir DIR [--bench N]
// Runs a tfjs graph model from disk on tfjs-backend-wasm with one thread and writes
// each requested output as DIR/<name>.npy ('/' and ':' become '_', like facelib-run).
// --bench N: after 3 warm-up runs, time N runs (execute + dataSync of every output)
// and print "time_ms median=... min=... runs=N".
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { readNpy, writeNpy } from './lib/npy.mjs';

const require = createRequire(import.meta.url);
const tf = require('@tensorflow/tfjs-core');
const tfconv = require('@tensorflow/tfjs-converter');
const tfwasm = require('@tensorflow/tfjs-backend-wasm');

const args = process.argv.slice(2);
const modelPath = args[0];
const inputs = [];
let outputs = null, outDir = null, bench = 0;
for (let i = 1; i < args.length; i++) {
  const a = args[i];
  if (a === '--input') inputs.push(args[++i]);
  else if (a === '--outputs') outputs = args[++i].split(',').filter((s) => s.length);
  else if (a === '--out-dir') outDir = args[++i];
  else if (a === '--bench') bench = Number(args[++i]);
  else throw new Error(`unknown argument ${a}`);
}
if (!modelPath || !outputs || (!outDir && !bench)) {
  console.error('usage: node ref_tfjs.mjs MODEL.json --input NAME=FILE.npy --outputs A,B --out-dir DIR [--bench N]');
  process.exit(2);
}

// IO handler reading model.json and its shards (concatenated in manifest order).
function fileHandler(jsonPath) {
  return {
    load: async () => {
      const modelJSON = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
      return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
        const specs = [], parts = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) parts.push(fs.readFileSync(path.join(path.dirname(jsonPath), p)));
        }
        const all = Buffer.concat(parts);
        return [specs, all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength)];
      });
    },
  };
}

tf.enableProdMode();
tfwasm.setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), path.sep));
tfwasm.setThreadsCount(1);
if (!(await tf.setBackend('wasm'))) throw new Error('cannot initialise the tfjs wasm backend');
await tf.ready();

const model = await tfconv.loadGraphModel(fileHandler(path.resolve(modelPath)));
const feed = {};
for (const spec of inputs) {
  const eq = spec.indexOf('=');
  const name = eq < 0 ? model.inputs[0].name : spec.slice(0, eq);
  const t = readNpy(eq < 0 ? spec : spec.slice(eq + 1));
  feed[name] = tf.tensor(t.data, t.shape, 'float32');
}
const run = () => {
  const res = model.execute(feed, outputs);
  return Array.isArray(res) ? res : [res];
};

if (outDir) {
  fs.mkdirSync(outDir, { recursive: true });
  const res = run();
  res.forEach((t, i) => {
    const file = path.join(outDir, `${outputs[i].replace(/[/:\\]/g, '_')}.npy`);
    writeNpy(file, t.shape, t.dataSync());
    console.log(`output ${outputs[i]} [${t.shape}] -> ${file}`);
  });
  tf.dispose(res);
}
if (bench > 0) {
  for (let i = 0; i < 3; i++) tf.dispose(run().map((t) => (t.dataSync(), t)));
  const ms = [];
  for (let i = 0; i < bench; i++) {
    const t0 = performance.now();
    const res = run();
    for (const t of res) t.dataSync();
    ms.push(performance.now() - t0);
    tf.dispose(res);
  }
  ms.sort((a, b) => a - b);
  console.log(`time_ms median=${ms[ms.length >> 1].toFixed(3)} min=${ms[0].toFixed(3)} runs=${bench} threads=${tfwasm.getThreadsCount()}`);
}
