// node tflite_input.mjs MODEL OUT.npy IMAGE.jpg [IMAGE.jpg ...]
// Builds the input tensor the TFLite model's own application feeds it, from real
// photos: a centre square crop (or the whole frame for MTCNN P-Net), bilinear
// resize, then the model's normalisation (MediaPipe: x/127.5-1 or 0..1; expo
// MTCNN and MobileFaceNet: (x-127.5)/128 with MTCNN's H<->W transpose;
// expo FaceAntiSpoofing: x/255). One image per batch entry.
import fs from 'node:fs';
import jpeg from 'jpeg-js';
import { writeNpy } from './lib/npy.mjs';

// w x h of the resized image, whether it is square-cropped first, transpose, normalisation of 0..255 values
export const PREPROCESS = {
  mediapipe_blazeface_short: { w: 128, h: 128, crop: true, norm: (x) => x / 127.5 - 1 },
  mediapipe_blazeface_full: { w: 192, h: 192, crop: true, norm: (x) => x / 127.5 - 1 },
  mediapipe_face_landmark: { w: 192, h: 192, crop: true, norm: (x) => x / 255 },
  // P-Net's file declares [1, 1280, 960, 3]: a 1280x960 frame, transposed.
  expo_mtcnn_pnet: { w: 1280, h: 960, crop: false, transpose: true, norm: (x) => (x - 127.5) / 128 },
  expo_mtcnn_rnet: { w: 24, h: 24, crop: true, transpose: true, norm: (x) => (x - 127.5) / 128 },
  expo_mtcnn_onet: { w: 48, h: 48, crop: true, transpose: true, norm: (x) => (x - 127.5) / 128 },
  expo_mobilefacenet: { w: 112, h: 112, crop: true, norm: (x) => (x - 127.5) / 128 },
  expo_antispoof: { w: 256, h: 256, crop: true, norm: (x) => x / 255 },
};

function resize(imagePath, p) {
  const img = jpeg.decode(fs.readFileSync(imagePath), { useTArray: true, formatAsRGBA: false });
  const { width: iw, height: ih, data } = img;
  let x0 = 0, y0 = 0, sw = iw, sh = ih;
  if (p.crop) {
    const side = Math.min(iw, ih);
    x0 = (iw - side) / 2; y0 = (ih - side) / 2; sw = side; sh = side;
  }
  const px = (x, y, k) => data[(Math.min(ih - 1, Math.max(0, y)) * iw + Math.min(iw - 1, Math.max(0, x))) * 3 + k];
  const out = new Float32Array(p.w * p.h * 3);
  for (let oy = 0; oy < p.h; oy++) {
    for (let ox = 0; ox < p.w; ox++) {
      const sx = x0 + (ox + 0.5) * sw / p.w - 0.5, sy = y0 + (oy + 0.5) * sh / p.h - 0.5;
      const ix = Math.floor(sx), iy = Math.floor(sy), fx = sx - ix, fy = sy - iy;
      // Transposed models see pixel (x, y) at row x, column y.
      const o = p.transpose ? (ox * p.h + oy) * 3 : (oy * p.w + ox) * 3;
      for (let k = 0; k < 3; k++) {
        const v = (px(ix, iy, k) * (1 - fx) + px(ix + 1, iy, k) * fx) * (1 - fy)
          + (px(ix, iy + 1, k) * (1 - fx) + px(ix + 1, iy + 1, k) * fx) * fy;
        out[o + k] = p.norm(Math.round(v));
      }
    }
  }
  return out;
}

export function makeInput(model, imagePaths) {
  const p = PREPROCESS[model];
  if (!p) throw new Error(`no preprocessing known for model ${model}`);
  const per = p.w * p.h * 3;
  const data = new Float32Array(per * imagePaths.length);
  imagePaths.forEach((path, i) => data.set(resize(path, p), i * per));
  return { shape: p.transpose ? [imagePaths.length, p.w, p.h, 3] : [imagePaths.length, p.h, p.w, 3], data };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [model, outPath, ...images] = process.argv.slice(2);
  if (!images.length) { console.error('usage: node tflite_input.mjs MODEL OUT.npy IMAGE.jpg [IMAGE.jpg ...]'); process.exit(2); }
  const t = makeInput(model, images);
  writeNpy(outPath, t.shape, t.data);
}
