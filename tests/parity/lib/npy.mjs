// Minimal .npy reader/writer (little-endian float32 in, float32 out; integer and
// float64 arrays are converted to float32 on read).
import fs from 'node:fs';

export function readNpy(path) {
  const buf = fs.readFileSync(path);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${path}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const off = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', off, off + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)[1];
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${path}: Fortran order`);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = buf.subarray(off + hlen);
  const out = new Float32Array(n);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const readers = {
    '<f4': (i) => dv.getFloat32(4 * i, true), '<f8': (i) => dv.getFloat64(8 * i, true),
    '|u1': (i) => dv.getUint8(i), '<i4': (i) => dv.getInt32(4 * i, true),
    '<i8': (i) => Number(dv.getBigInt64(8 * i, true)),
  };
  const rd = readers[descr];
  if (!rd) throw new Error(`${path}: unsupported dtype ${descr}`);
  for (let i = 0; i < n; i++) out[i] = rd(i);
  return { shape, data: out };
}

export function writeNpy(path, shape, data) {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const f32 = Float32Array.from(data);
  fs.writeFileSync(path, Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(f32.buffer)]));
}

// NHWC <-> NCHW for 4-D arrays.
export function nhwcToNchw({ shape: [n, h, w, c], data }) {
  const out = new Float32Array(data.length);
  for (let b = 0; b < n; b++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++)
    out[((b * c + k) * h + y) * w + x] = data[((b * h + y) * w + x) * c + k];
  return { shape: [n, c, h, w], data: out };
}
export function nchwToNhwc({ shape: [n, c, h, w], data }) {
  const out = new Float32Array(data.length);
  for (let b = 0; b < n; b++) for (let k = 0; k < c; k++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++)
    out[((b * h + y) * w + x) * c + k] = data[((b * c + k) * h + y) * w + x];
  return { shape: [n, h, w, c], data: out };
}
