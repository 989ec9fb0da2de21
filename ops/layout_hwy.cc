#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/layout_hwy.cc"
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/layout.h"

HWY_BEFORE_NAMESPACE();
namespace facelib::ops::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// dst[i] = src[i], i < n.
void CopyRun(const float* HWY_RESTRICT src, float* HWY_RESTRICT dst, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    const auto v0 = hn::LoadU(d, src + i);
    const auto v1 = hn::LoadU(d, src + i + N);
    const auto v2 = hn::LoadU(d, src + i + 2 * N);
    const auto v3 = hn::LoadU(d, src + i + 3 * N);
    hn::StoreU(v0, d, dst + i);
    hn::StoreU(v1, d, dst + i + N);
    hn::StoreU(v2, d, dst + i + 2 * N);
    hn::StoreU(v3, d, dst + i + 3 * N);
  }
  for (; i + N <= n; i += N) hn::StoreU(hn::LoadU(d, src + i), d, dst + i);
  if (i < n) {
    const auto m = hn::FirstN(d, n - i);
    hn::BlendedStore(hn::MaskedLoad(m, d, src + i), m, d, dst + i);
  }
}

// Concat output rows [o0, o1): row o is input 0's run o, input 1's run o, ...
// (run_len[i] floats each). Short runs are copied by scalar loops: a concat of
// a few channels per pixel moves too little per run for a vector loop.
void ConcatRows(const float* const* inputs, const int64_t* run_len, size_t num, float* y,
                size_t row_len, size_t o0, size_t o1) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  for (size_t o = o0; o < o1; ++o) {
    float* HWY_RESTRICT dst = y + o * row_len;
    for (size_t i = 0; i < num; ++i) {
      const size_t len = static_cast<size_t>(run_len[i]);
      const float* HWY_RESTRICT src = inputs[i] + o * len;
      if (len < N) {
        for (size_t j = 0; j < len; ++j) dst[j] = src[j];
      } else {
        size_t j = 0;
        for (; j + N <= len; j += N) hn::StoreU(hn::LoadU(d, src + j), d, dst + j);
        // The last vector overlaps the previous one instead of masking.
        if (j < len) hn::StoreU(hn::LoadU(d, src + len - N), d, dst + len - N);
      }
      dst += len;
    }
  }
}

// dst[i] = src[-i], i < n: a run read backwards (slice with step -1).
void CopyRunReversed(const float* src, float* HWY_RESTRICT dst, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    // Lanes src[-i-N+1] .. src[-i], reversed so that lane 0 is src[-i].
    const float* lo = src - static_cast<ptrdiff_t>(i + N - 1);
    hn::StoreU(hn::Reverse(d, hn::LoadU(d, lo)), d, dst + i);
  }
  for (; i < n; ++i) dst[i] = *(src - static_cast<ptrdiff_t>(i));
}

// dst[i] = value, i < n.
void FillRun(float* HWY_RESTRICT dst, size_t n, float value) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto v = hn::Set(d, value);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(v, d, dst + i);
  if (i < n) hn::BlendedStore(v, hn::FirstN(d, n - i), d, dst + i);
}

// 2-D transpose of an na x nz plane: dst[z * dst_ld + a] = src[a * src_ld + z].
// Walks 32 x 32 tiles (both the source rows and the destination rows of a tile
// stay in L1) made of 4 x 4 register transposes.
void Transpose2D(const float* HWY_RESTRICT src, size_t src_ld, float* HWY_RESTRICT dst,
                 size_t dst_ld, size_t na, size_t nz) {
  constexpr size_t kTile = 32;
  for (size_t a0 = 0; a0 < na; a0 += kTile) {
    const size_t a1 = std::min(na, a0 + kTile);
    for (size_t z0 = 0; z0 < nz; z0 += kTile) {
      const size_t z1 = std::min(nz, z0 + kTile);
      size_t a = a0;
#if HWY_TARGET != HWY_SCALAR
      const hn::FixedTag<float, 4> d4;
      for (; a + 4 <= a1; a += 4) {
        const float* s = src + a * src_ld;
        size_t z = z0;
        for (; z + 4 <= z1; z += 4) {
          const auto r0 = hn::LoadU(d4, s + z);
          const auto r1 = hn::LoadU(d4, s + src_ld + z);
          const auto r2 = hn::LoadU(d4, s + 2 * src_ld + z);
          const auto r3 = hn::LoadU(d4, s + 3 * src_ld + z);
          // r0 = a0 a1 a2 a3, r1 = b0.., ...  ->  columns a0 b0 c0 d0, ...
          const auto t0 = hn::InterleaveLower(d4, r0, r1);  // a0 b0 a1 b1
          const auto t1 = hn::InterleaveLower(d4, r2, r3);  // c0 d0 c1 d1
          const auto t2 = hn::InterleaveUpper(d4, r0, r1);  // a2 b2 a3 b3
          const auto t3 = hn::InterleaveUpper(d4, r2, r3);  // c2 d2 c3 d3
          float* o = dst + z * dst_ld + a;
          hn::StoreU(hn::ConcatLowerLower(d4, t1, t0), d4, o);
          hn::StoreU(hn::ConcatUpperUpper(d4, t1, t0), d4, o + dst_ld);
          hn::StoreU(hn::ConcatLowerLower(d4, t3, t2), d4, o + 2 * dst_ld);
          hn::StoreU(hn::ConcatUpperUpper(d4, t3, t2), d4, o + 3 * dst_ld);
        }
        for (; z < z1; ++z) {
          for (size_t k = 0; k < 4; ++k) dst[z * dst_ld + a + k] = s[k * src_ld + z];
        }
      }
#endif
      for (; a < a1; ++a) {
        for (size_t z = z0; z < z1; ++z) dst[z * dst_ld + a] = src[a * src_ld + z];
      }
    }
  }
}

}  // namespace facelib::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "ops/parallel.h"
namespace facelib::ops {
HWY_EXPORT(CopyRun);
HWY_EXPORT(ConcatRows);
HWY_EXPORT(CopyRunReversed);
HWY_EXPORT(FillRun);
HWY_EXPORT(Transpose2D);

namespace {

// Collapsed shapes never exceed the input rank; ranks above this fall back to
// the reference (no real model comes close).
constexpr int kMaxDims = 16;

// Elements per parallel task for the copy-style ops (memory bound: small tasks
// cost more in scheduling than they gain).
constexpr int64_t kTaskElems = 16384;

// Walks the multi-index of `n` outer dims in row-major order, tracking a
// source and a destination offset.
struct RowWalker {
  int n = 0;
  int64_t shape[kMaxDims], src_stride[kMaxDims], dst_stride[kMaxDims], idx[kMaxDims];
  int64_t src = 0, dst = 0;

  int64_t Rows() const {
    int64_t r = 1;
    for (int d = 0; d < n; ++d) r *= shape[d];
    return r;
  }
  // Positions the walker at row `row` (offsets relative to src0 / dst0).
  void Seek(int64_t row, int64_t src0, int64_t dst0) {
    src = src0;
    dst = dst0;
    for (int d = n - 1; d >= 0; --d) {
      idx[d] = row % shape[d];
      row /= shape[d];
      src += idx[d] * src_stride[d];
      dst += idx[d] * dst_stride[d];
    }
  }
  void Next() {
    for (int d = n - 1; d >= 0; --d) {
      src += src_stride[d];
      dst += dst_stride[d];
      if (++idx[d] < shape[d]) return;
      src -= src_stride[d] * shape[d];
      dst -= dst_stride[d] * shape[d];
      idx[d] = 0;
    }
  }
};

// Runs body(row_begin, row_end) over `rows` rows of `row_elems` elements each,
// in parallel when there is enough data to move.
template <class F>
void ParallelRows(const ExecContext& ctx, int64_t rows, int64_t row_elems, const F& body) {
  if (rows <= 0) return;
  const int64_t per_task = std::max<int64_t>(1, kTaskElems / std::max<int64_t>(row_elems, 1));
  const int64_t tasks = (rows + per_task - 1) / per_task;
  ParallelFor(ctx.num_threads, static_cast<size_t>(tasks), [&](size_t t0, size_t t1) {
    for (size_t t = t0; t < t1; ++t) {
      const int64_t r0 = static_cast<int64_t>(t) * per_task;
      body(r0, std::min(rows, r0 + per_task));
    }
  });
}

// Copies n floats; short runs skip the dispatch.
inline void CopySmall(const float* src, float* dst, int64_t n) {
  if (n < 8) {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
  } else {
    HWY_DYNAMIC_DISPATCH(CopyRun)(src, dst, static_cast<size_t>(n));
  }
}

}  // namespace

void Concat(const ExecContext& ctx, const ConcatParams& p, const float* const* inputs, float* y) {
  const int64_t num = static_cast<int64_t>(p.axis_sizes.size());
  int64_t total = 0;
  for (int64_t a : p.axis_sizes) total += a;
  if (num == 0 || p.outer <= 0 || p.inner <= 0 || total == 0) return;
  const int64_t row_len = total * p.inner;
  constexpr int64_t kMaxRowInputs = 64;
  if (p.outer == 1 || row_len >= 4096 || num > kMaxRowInputs) {
    // Few long runs: one parallel task per (outer, input) run.
    ParallelRows(ctx, p.outer * num, row_len / num + 1, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t o = r / num, i = r % num;
        int64_t offset = 0;
        for (int64_t k = 0; k < i; ++k) offset += p.axis_sizes[k];
        const int64_t len = p.axis_sizes[i] * p.inner;
        CopySmall(inputs[i] + o * len, y + (o * total + offset) * p.inner, len);
      }
    });
    return;
  }
  // Many short rows (channels of every pixel): whole output rows per task.
  int64_t run_len[kMaxRowInputs];
  for (int64_t i = 0; i < num; ++i) run_len[i] = p.axis_sizes[i] * p.inner;
  const auto rows = HWY_DYNAMIC_DISPATCH(ConcatRows);
  ParallelRows(ctx, p.outer, row_len, [&](int64_t o0, int64_t o1) {
    rows(inputs, run_len, static_cast<size_t>(num), y, static_cast<size_t>(row_len),
         static_cast<size_t>(o0), static_cast<size_t>(o1));
  });
}

void Slice(const ExecContext& ctx, const SliceParams& p, const float* x, float* y) {
  const int rank = static_cast<int>(p.out_shape.size());
  if (rank > kMaxDims) return SliceRef(p, x, y);
  // Each output dim d reads the input with stride step[d] * in_stride[d] from
  // begin[d] * in_stride[d]. Size-1 dims only move the base; neighbours whose
  // strides line up (outer stride == inner stride * inner size) merge.
  int64_t in_stride[kMaxDims];
  int64_t stride = 1;
  for (int d = rank - 1; d >= 0; --d) {
    in_stride[d] = stride;
    stride *= p.in_shape[d];
  }
  int64_t base = 0;
  int n = 0;
  int64_t size[kMaxDims], sstride[kMaxDims];
  for (int d = 0; d < rank; ++d) {
    if (p.out_shape[d] <= 0) return;
    base += p.begin[d] * in_stride[d];
    if (p.out_shape[d] == 1) continue;
    const int64_t s = p.step[d] * in_stride[d];
    if (n > 0 && sstride[n - 1] == s * p.out_shape[d]) {
      size[n - 1] *= p.out_shape[d];
      sstride[n - 1] = s;
    } else {
      size[n] = p.out_shape[d];
      sstride[n] = s;
      ++n;
    }
  }
  if (n == 0) {
    y[0] = x[base];
    return;
  }
  const int64_t run = size[n - 1], run_stride = sstride[n - 1];
  RowWalker w;
  w.n = n - 1;
  for (int d = 0; d < n - 1; ++d) {
    w.shape[d] = size[d];
    w.src_stride[d] = sstride[d];
  }
  int64_t dst_stride = run;
  for (int d = n - 2; d >= 0; --d) {
    w.dst_stride[d] = dst_stride;
    dst_stride *= size[d];
  }
  const auto copy = HWY_DYNAMIC_DISPATCH(CopyRun);
  const auto reversed = HWY_DYNAMIC_DISPATCH(CopyRunReversed);
  ParallelRows(ctx, w.Rows(), run, [&](int64_t r0, int64_t r1) {
    RowWalker it = w;
    it.Seek(r0, base, 0);
    for (int64_t r = r0; r < r1; ++r, it.Next()) {
      const float* s = x + it.src;
      float* o = y + it.dst;
      if (run_stride == 1 && run >= 8) {
        copy(s, o, static_cast<size_t>(run));
      } else if (run_stride == -1 && run >= 8) {
        reversed(s, o, static_cast<size_t>(run));
      } else {
        for (int64_t i = 0; i < run; ++i) o[i] = s[i * run_stride];
      }
    }
  });
}

void Pad(const ExecContext& ctx, const PadParams& p, const float* x, float* y) {
  const int rank = static_cast<int>(p.in_shape.size());
  if (rank > kMaxDims) return PadRef(p, x, y);
  int64_t out_shape[kMaxDims];
  int64_t in_elems = 1, out_elems = 1;
  for (int d = 0; d < rank; ++d) {
    out_shape[d] = p.in_shape[d] + p.pad_begin[d] + p.pad_end[d];
    in_elems *= p.in_shape[d];
    out_elems *= out_shape[d];
  }
  if (out_elems == 0) return;
  const auto copy = HWY_DYNAMIC_DISPATCH(CopyRun);
  const auto fill = HWY_DYNAMIC_DISPATCH(FillRun);
  // Pad-free input (or no input at all): a copy or a fill.
  int last = -1;  // last padded dim
  for (int d = 0; d < rank; ++d) {
    if (p.pad_begin[d] != 0 || p.pad_end[d] != 0) last = d;
  }
  if (in_elems == 0) return fill(y, static_cast<size_t>(out_elems), p.value);
  if (last < 0) return copy(x, y, static_cast<size_t>(out_elems));

  // Dims after `last` are unpadded: they form contiguous blocks of `inner`
  // floats. An output row is one index of dims [0, last) and holds out_shape[last]
  // blocks: pad_begin mapped blocks, the input row, pad_end mapped blocks.
  int64_t inner = 1;
  for (int d = last + 1; d < rank; ++d) inner *= p.in_shape[d];
  int64_t in_stride[kMaxDims];
  int64_t stride = 1;
  for (int d = rank - 1; d >= 0; --d) {
    in_stride[d] = stride;
    stride *= p.in_shape[d];
  }
  int64_t outer_rows = 1;
  for (int d = 0; d < last; ++d) outer_rows *= out_shape[d];
  const int64_t n_last = p.in_shape[last], b_last = p.pad_begin[last], e_last = p.pad_end[last];
  const int64_t row_len = out_shape[last] * inner;

  ParallelRows(ctx, outer_rows, row_len, [&](int64_t r0, int64_t r1) {
    int64_t idx[kMaxDims];
    {
      int64_t r = r0;
      for (int d = last - 1; d >= 0; --d) {
        idx[d] = r % out_shape[d];
        r /= out_shape[d];
      }
    }
    for (int64_t r = r0; r < r1; ++r) {
      float* o = y + r * row_len;
      int64_t src = 0;
      bool inside = true;
      for (int d = 0; d < last; ++d) {
        const int64_t s = PadSourceIndex(p.mode, idx[d] - p.pad_begin[d], p.in_shape[d]);
        if (s < 0) {
          inside = false;
          break;
        }
        src += s * in_stride[d];
      }
      if (!inside) {
        fill(o, static_cast<size_t>(row_len), p.value);
      } else {
        const float* xs = x + src;
        if (p.mode == PadMode::kConstant) {
          fill(o, static_cast<size_t>(b_last * inner), p.value);
          copy(xs, o + b_last * inner, static_cast<size_t>(n_last * inner));
          fill(o + (b_last + n_last) * inner, static_cast<size_t>(e_last * inner), p.value);
        } else {
          copy(xs, o + b_last * inner, static_cast<size_t>(n_last * inner));
          for (int64_t j = 0; j < b_last + e_last; ++j) {
            const int64_t pos = j < b_last ? j : n_last + j;  // output block along `last`
            const int64_t s = PadSourceIndex(p.mode, pos - b_last, n_last);
            CopySmall(xs + s * inner, o + pos * inner, inner);
          }
        }
      }
      for (int d = last - 1; d >= 0; --d) {
        if (++idx[d] < out_shape[d]) break;
        idx[d] = 0;
      }
    }
  });
}

void Transpose(const ExecContext& ctx, const TransposeParams& p, const float* x, float* y) {
  const int rank = static_cast<int>(p.in_shape.size());
  if (rank > kMaxDims) return TransposeRef(p, x, y);
  int64_t total = 1;
  for (int d = 0; d < rank; ++d) total *= p.in_shape[d];
  if (total == 0) return;

  // 1. Drop size-1 dims: they do not move anything.
  int new_id[kMaxDims];
  int64_t shape1[kMaxDims];
  int r1 = 0;
  for (int d = 0; d < rank; ++d) {
    new_id[d] = p.in_shape[d] == 1 ? -1 : r1;
    if (p.in_shape[d] != 1) shape1[r1++] = p.in_shape[d];
  }
  int perm1[kMaxDims];
  int k1 = 0;
  for (int i = 0; i < rank; ++i) {
    if (new_id[p.perm[i]] >= 0) perm1[k1++] = new_id[p.perm[i]];
  }
  // 2. Merge runs of output dims that are consecutive input dims: they stay
  // contiguous together. group_first/last are input dims, in output order.
  int group_first[kMaxDims], group_last[kMaxDims];
  int g = 0;
  for (int i = 0; i < r1; ++i) {
    if (g > 0 && perm1[i] == group_last[g - 1] + 1) {
      group_last[g - 1] = perm1[i];
    } else {
      group_first[g] = group_last[g] = perm1[i];
      ++g;
    }
  }
  // Rank of each group in input order gives the collapsed perm.
  int64_t shape[kMaxDims];
  int perm[kMaxDims];
  for (int i = 0; i < g; ++i) {
    int rank_in = 0;
    for (int j = 0; j < g; ++j) rank_in += group_first[j] < group_first[i];
    perm[i] = rank_in;
    int64_t s = 1;
    for (int d = group_first[i]; d <= group_last[i]; ++d) s *= shape1[d];
    shape[rank_in] = s;
  }
  const auto copy = HWY_DYNAMIC_DISPATCH(CopyRun);
  if (g <= 1) {
    ParallelRows(ctx, (total + kTaskElems - 1) / kTaskElems, kTaskElems, [&](int64_t c0, int64_t c1) {
      const int64_t b = c0 * kTaskElems, e = std::min(total, c1 * kTaskElems);
      copy(x + b, y + b, static_cast<size_t>(e - b));
    });
    return;
  }
  int64_t in_stride[kMaxDims], out_stride[kMaxDims];
  {
    int64_t s = 1;
    for (int d = g - 1; d >= 0; --d) {
      in_stride[d] = s;
      s *= shape[d];
    }
    s = 1;
    for (int i = g - 1; i >= 0; --i) {
      out_stride[i] = s;
      s *= shape[perm[i]];
    }
  }

  if (perm[g - 1] == g - 1) {
    // The innermost dim is unchanged: copy runs of shape[g-1] floats.
    const int64_t run = shape[g - 1];
    RowWalker w;
    w.n = g - 1;
    for (int i = 0; i < g - 1; ++i) {
      w.shape[i] = shape[perm[i]];
      w.src_stride[i] = in_stride[perm[i]];
      w.dst_stride[i] = out_stride[i];
    }
    ParallelRows(ctx, w.Rows(), run, [&](int64_t r0, int64_t r1) {
      RowWalker it = w;
      it.Seek(r0, 0, 0);
      for (int64_t r = r0; r < r1; ++r, it.Next()) CopySmall(x + it.src, y + it.dst, run);
    });
    return;
  }

  // Otherwise a batch of 2-D transposes: the plane of input dim `a` (output
  // innermost) and input dim `z` (input innermost), e.g. [N, HW, C] -> [N, C, HW].
  const int a = perm[g - 1], z = g - 1;
  int pz = 0;
  while (perm[pz] != z) ++pz;
  const int64_t na = shape[a], nz = shape[z];
  RowWalker w;
  for (int i = 0; i < g - 1; ++i) {
    if (i == pz) continue;
    w.shape[w.n] = shape[perm[i]];
    w.src_stride[w.n] = in_stride[perm[i]];
    w.dst_stride[w.n] = out_stride[i];
    ++w.n;
  }
  const int64_t planes = w.Rows();
  // Split each plane along `a` into blocks of rows so that one large plane can
  // still use every thread; block sizes are multiples of the 32-row tile.
  const int64_t rows_per_block = std::max<int64_t>(32, (kTaskElems * 4 / std::max<int64_t>(nz, 1)) / 32 * 32);
  const int64_t blocks = (na + rows_per_block - 1) / rows_per_block;
  const auto t2d = HWY_DYNAMIC_DISPATCH(Transpose2D);
  const size_t src_ld = static_cast<size_t>(in_stride[a]), dst_ld = static_cast<size_t>(out_stride[pz]);
  ParallelRows(ctx, planes * blocks, rows_per_block * nz, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t plane = t / blocks, blk = t % blocks;
      RowWalker it = w;
      it.Seek(plane, 0, 0);
      const int64_t a0 = blk * rows_per_block, a1 = std::min(na, a0 + rows_per_block);
      t2d(x + it.src + a0 * in_stride[a], src_ld, y + it.dst + a0, dst_ld, static_cast<size_t>(a1 - a0),
          static_cast<size_t>(nz));
    }
  });
}

void Gather(const ExecContext& ctx, const GatherParams& p, const float* x, float* y) {
  const int64_t k = static_cast<int64_t>(p.indices.size());
  if (k == 0 || p.outer <= 0 || p.inner <= 0) return;
  ParallelRows(ctx, p.outer * k, p.inner, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t o = r / k, i = r % k;
      CopySmall(x + (o * p.axis_size + p.indices[i]) * p.inner, y + r * p.inner, p.inner);
    }
  });
}

}  // namespace facelib::ops
#endif  // HWY_ONCE
