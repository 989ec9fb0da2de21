// node tfjs_input.mjs MODEL IMAGE.jpg OUT.npy
// Builds the input tensor Human (@vladmandic/human 3.3.6) feeds the named tfjs model,
// from a photo: centre square crop, bilinear resize to the model's size, then the
// model's normalisation (see ../shared/research/models.md section 2.2).
import fs from 'node:fs';
import jpeg from 'jpeg-js';
import { writeNpy } from './lib/npy.mjs';

// size, channels ('rgb' | 'gray'), and the map from 0..1 RGB (or grey) to the model's range
export const PREPROCESS = {
  blazeface: { size: 256, mode: 'rgb', norm: (x) => x * 2 - 1 },
  facemesh: { size: 192, mode: 'rgb', norm: (x) => x },
  iris: { size: 64, mode: 'rgb', norm: (x) => x },
  emotion: { size: 64, mode: 'gray', norm: (g) => (g - 0.5) * 2 },
  faceres: { size: 224, mode: 'rgb', norm: (x) => x * 255 },
  antispoof: { size: 128, mode: 'rgb', norm: (x) => x },
  liveness: { size: 32, mode: 'rgb', norm: (x) => x },
  gear: { size: 198, mode: 'rgb', norm: (x) => x },
  age: { size: 64, mode: 'rgb', norm: (x) => x * 255 },
  gender: { size: 64, mode: 'gray', norm: (g) => (g - 0.5) * 2 },
  'gender-ssrnet-imdb': { size: 64, mode: 'rgb', norm: (x) => (x - 0.5) * 2 },
  mobilefacenet: { size: 112, mode: 'rgb', norm: (x) => x },
  mobileface: { size: 112, mode: 'rgb', norm: (x) => x },
};

export function makeInput(model, imagePath) {
  const p = PREPROCESS[model];
  if (!p) throw new Error(`no preprocessing known for model ${model}`);
  const img = jpeg.decode(fs.readFileSync(imagePath), { useTArray: true, formatAsRGBA: false });
  const { width: w, height: h, data } = img;
  const side = Math.min(w, h), x0 = (w - side) / 2, y0 = (h - side) / 2;
  const n = p.size, c = p.mode === 'gray' ? 1 : 3;
  const out = new Float32Array(n * n * c);
  const px = (x, y, k) => data[(Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))) * 3 + k];
  for (let oy = 0; oy < n; oy++) {
    for (let ox = 0; ox < n; ox++) {
      const sx = x0 + (ox + 0.5) * side / n - 0.5, sy = y0 + (oy + 0.5) * side / n - 0.5;
      const ix = Math.floor(sx), iy = Math.floor(sy), fx = sx - ix, fy = sy - iy;
      const rgb = [0, 1, 2].map((k) => ((px(ix, iy, k) * (1 - fx) + px(ix + 1, iy, k) * fx) * (1 - fy)
        + (px(ix, iy + 1, k) * (1 - fx) + px(ix + 1, iy + 1, k) * fx) * fy) / 255);
      const o = (oy * n + ox) * c;
      if (c === 1) out[o] = p.norm(0.2989 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]);
      else for (let k = 0; k < 3; k++) out[o + k] = p.norm(rgb[k]);
    }
  }
  return { shape: [1, n, n, c], data: out };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [model, image, outPath] = process.argv.slice(2);
  if (!outPath) { console.error('usage: node tfjs_input.mjs MODEL IMAGE.jpg OUT.npy'); process.exit(2); }
  const t = makeInput(model, image);
  writeNpy(outPath, t.shape, t.data);
}
