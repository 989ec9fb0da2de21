// node compare.mjs OURS.npy REF.npy [--tol 1e-4] [--cosine 0.99999] [--label NAME]
// Parity rule: max |ours - ref| <= tol * max(1, max |ref|); for embeddings
// (--cosine) also cosine(ours, ref) >= the given bound. Prints one TSV row:
// label, shape, max_abs_err, max_abs_ref, rel, cosine, PASS/FAIL; exits 1 on FAIL.
import { readNpy } from './lib/npy.mjs';

const args = process.argv.slice(2);
const opt = (k, d) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : d; };
const [oursPath, refPath] = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--')));
const tol = Number(opt('--tol', '1e-4'));
const cosBound = opt('--cosine', null);
const label = opt('--label', oursPath);
const a = readNpy(oursPath), b = readNpy(refPath);
const na = a.data.length, nb = b.data.length;
let ok = na === nb;
let maxErr = 0, maxRef = 0, dot = 0, aa = 0, bb = 0;
for (let i = 0; i < Math.min(na, nb); i++) {
  const x = a.data[i], y = b.data[i];
  if (Number.isNaN(x) !== Number.isNaN(y)) maxErr = Infinity;
  maxErr = Math.max(maxErr, Math.abs(x - y));
  maxRef = Math.max(maxRef, Math.abs(y));
  dot += x * y; aa += x * x; bb += y * y;
}
const cos = aa > 0 && bb > 0 ? dot / Math.sqrt(aa * bb) : (aa === bb ? 1 : 0);
if (!(maxErr <= tol * Math.max(1, maxRef))) ok = false;
if (cosBound !== null && !(cos >= Number(cosBound))) ok = false;
console.log([label, `[${a.shape}]${na === nb ? '' : ` vs [${b.shape}]`}`, maxErr.toExponential(2), maxRef.toPrecision(4),
  (maxErr / Math.max(1, maxRef)).toExponential(2), cos.toFixed(7), ok ? 'PASS' : 'FAIL'].join('\t'));
process.exit(ok ? 0 : 1);
