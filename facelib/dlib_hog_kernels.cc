// The gradient and resize kernels must round like dlib's separate multiplies
// and adds: no fused multiply-add unless written as MulAdd.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "facelib/dlib_hog_kernels.cc"
#include <algorithm>
#include <cstring>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/aligned_allocator.h"
#include "facelib/dlib_hog_kernels.h"

HWY_BEFORE_NAMESPACE();
namespace facelib::hogkern::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// One output row for ND filters (ND <= 8): tiles of two vectors of columns,
// every tap (plane, row, column of the window) broadcast-multiplied into the
// ND x 2 accumulators. `src` points at row r0 of plane 0; `w` is
// [planes][fh][fw][nd_total] with this group's weights at offset 0.
template <int ND>
void RowGroup(const float* src, size_t plane_stride, int nc, int planes, int fh, int fw, const float* w,
              int nd_total, int out_c, float* const* out_rows) {
  const hn::ScalableTag<float> d;
  const int lanes = static_cast<int>(hn::Lanes(d));
  const int tile = 2 * lanes;
  HWY_ALIGN float tmp[2 * (HWY_MAX_BYTES / sizeof(float))];
  for (int c0 = 0; c0 < out_c; c0 += tile) {
    // Columns past the row end read neighbouring data (the caller provides
    // slack) and are dropped.
    hn::Vec<decltype(d)> acc0[ND], acc1[ND];
    for (int k = 0; k < ND; ++k) acc0[k] = acc1[k] = hn::Zero(d);
    const float* wp = w;
    for (int p = 0; p < planes; ++p) {
      const float* plane = src + p * plane_stride;
      for (int m = 0; m < fh; ++m) {
        const float* row = plane + static_cast<size_t>(m) * nc + c0;
        for (int n = 0; n < fw; ++n, wp += nd_total) {
          const auto x0 = hn::LoadU(d, row + n);
          const auto x1 = hn::LoadU(d, row + n + lanes);
          for (int k = 0; k < ND; ++k) {
            const auto wk = hn::Set(d, wp[k]);
            acc0[k] = hn::MulAdd(wk, x0, acc0[k]);
            acc1[k] = hn::MulAdd(wk, x1, acc1[k]);
          }
        }
      }
    }
    const int valid = std::min(tile, out_c - c0);
    for (int k = 0; k < ND; ++k) {
      if (valid == tile) {
        hn::StoreU(acc0[k], d, out_rows[k] + c0);
        hn::StoreU(acc1[k], d, out_rows[k] + c0 + lanes);
      } else {
        hn::Store(acc0[k], d, tmp);
        hn::Store(acc1[k], d, tmp + lanes);
        std::memcpy(out_rows[k] + c0, tmp, sizeof(float) * valid);
      }
    }
  }
}

// dlib's unit vectors of the 9 gradient directions (double literals stored as floats).
constexpr float kDir0[9] = {static_cast<float>(1.0000),  static_cast<float>(0.9397),  static_cast<float>(0.7660),
                            static_cast<float>(0.500),   static_cast<float>(0.1736),  static_cast<float>(-0.1736),
                            static_cast<float>(-0.5000), static_cast<float>(-0.7660), static_cast<float>(-0.9397)};
constexpr float kDir1[9] = {static_cast<float>(0.0000), static_cast<float>(0.3420), static_cast<float>(0.6428),
                            static_cast<float>(0.8660), static_cast<float>(0.9848), static_cast<float>(0.9848),
                            static_cast<float>(0.8660), static_cast<float>(0.6428), static_cast<float>(0.3420)};

void GradientRowKernel(const Planes3& rows, int x0, int x1, bool later_wins, float* mag, int32_t* ori) {
  const hn::ScalableTag<int32_t> di;
  const hn::Rebind<float, decltype(di)> df;
  const hn::Rebind<uint8_t, decltype(di)> du8;
  const int n = static_cast<int>(hn::Lanes(di));
  for (int x = x0; x < x1; x += n) {
    hn::Vec<decltype(di)> dx[3], dy[3], len[3];
    for (int k = 0; k < 3; ++k) {
      const auto left = hn::PromoteTo(di, hn::LoadU(du8, rows.cur[k] + x - 1));
      const auto right = hn::PromoteTo(di, hn::LoadU(du8, rows.cur[k] + x + 1));
      const auto up = hn::PromoteTo(di, hn::LoadU(du8, rows.above[k] + x));
      const auto down = hn::PromoteTo(di, hn::LoadU(du8, rows.below[k] + x));
      dx[k] = hn::Sub(right, left);
      dy[k] = hn::Sub(down, up);
      len[k] = hn::Add(hn::Mul(dx[k], dx[k]), hn::Mul(dy[k], dy[k]));
    }
    hn::Vec<decltype(di)> gx, gy, l;
    if (later_wins) {
      const auto m = hn::Gt(len[0], len[1]);
      const auto tx = hn::IfThenElse(m, dx[0], dx[1]), ty = hn::IfThenElse(m, dy[0], dy[1]);
      const auto tl = hn::IfThenElse(m, len[0], len[1]);
      const auto m2 = hn::Gt(tl, len[2]);
      gx = hn::IfThenElse(m2, tx, dx[2]);
      gy = hn::IfThenElse(m2, ty, dy[2]);
      l = hn::IfThenElse(m2, tl, len[2]);
    } else {
      const auto m = hn::Gt(len[1], len[0]);
      const auto tx = hn::IfThenElse(m, dx[1], dx[0]), ty = hn::IfThenElse(m, dy[1], dy[0]);
      const auto tl = hn::IfThenElse(m, len[1], len[0]);
      const auto m2 = hn::Gt(len[2], tl);
      gx = hn::IfThenElse(m2, dx[2], tx);
      gy = hn::IfThenElse(m2, dy[2], ty);
      l = hn::IfThenElse(m2, len[2], tl);
    }
    const auto fx = hn::ConvertTo(df, gx), fy = hn::ConvertTo(df, gy);
    auto best = hn::Zero(df), bo = hn::Zero(df);
    for (int o = 0; o < 9; ++o) {
      const auto dot = hn::Add(hn::Mul(fx, hn::Set(df, kDir0[o])), hn::Mul(fy, hn::Set(df, kDir1[o])));
      const auto c = hn::Gt(dot, best);
      best = hn::IfThenElse(c, dot, best);
      bo = hn::IfThenElse(c, hn::Set(df, static_cast<float>(o)), bo);
      const auto neg = hn::Neg(dot);
      const auto c2 = hn::Gt(neg, best);
      best = hn::IfThenElse(c2, neg, best);
      bo = hn::IfThenElse(c2, hn::Set(df, static_cast<float>(o + 9)), bo);
    }
    hn::StoreU(hn::Sqrt(hn::ConvertTo(df, l)), df, mag + (x - x0));
    hn::StoreU(hn::ConvertTo(di, bo), di, ori + (x - x0));
  }
}

void BilinearRowKernel(const float* tl, const float* tr, const float* bl, const float* br, const float* lr_frac,
                       float tb, float itb, int n, uint8_t* out) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<int32_t, decltype(df)> di;
  const hn::Rebind<uint8_t, decltype(df)> du8;
  const int lanes = static_cast<int>(hn::Lanes(df));
  const auto vtb = hn::Set(df, tb), vitb = hn::Set(df, itb), one = hn::Set(df, 1.0f);
  HWY_ALIGN uint8_t tail[HWY_MAX_BYTES / sizeof(float)];
  for (int c = 0; c < n; c += lanes) {
    const auto lr = hn::LoadU(df, lr_frac + c);
    const auto ilr = hn::Sub(one, lr);
    const auto v = hn::Add(hn::Add(hn::Add(hn::Mul(hn::Mul(vitb, ilr), hn::LoadU(df, tl + c)),
                                           hn::Mul(hn::Mul(vitb, lr), hn::LoadU(df, tr + c))),
                                   hn::Mul(hn::Mul(vtb, ilr), hn::LoadU(df, bl + c))),
                           hn::Mul(hn::Mul(vtb, lr), hn::LoadU(df, br + c)));
    const auto bytes = hn::DemoteTo(du8, hn::ConvertTo(di, v));  // truncation toward zero; values are 0..255
    if (c + lanes <= n) {
      hn::StoreU(bytes, du8, out + c);
    } else {
      hn::Store(bytes, du8, tail);
      std::memcpy(out + c, tail, static_cast<size_t>(n - c));
    }
  }
}

void ApplyKernel(const float* planes, int nr, int nc, int num_planes, int fh, int fw, const float* w, int nd,
                 float* out) {
  const int out_r = nr - fh + 1, out_c = nc - fw + 1;
  const size_t plane_stride = static_cast<size_t>(nr) * nc;
  for (int r0 = 0; r0 < out_r; ++r0) {
    const float* src = planes + static_cast<size_t>(r0) * nc;
    for (int g = 0; g < nd; g += 8) {
      const int n = std::min(8, nd - g);
      float* rows[8];
      for (int k = 0; k < n; ++k) rows[k] = out + (static_cast<size_t>(g + k) * out_r + r0) * out_c;
      const float* wg = w + g;
      switch (n) {
        case 1: RowGroup<1>(src, plane_stride, nc, num_planes, fh, fw, wg, nd, out_c, rows); break;
        case 2: RowGroup<2>(src, plane_stride, nc, num_planes, fh, fw, wg, nd, out_c, rows); break;
        case 3: RowGroup<3>(src, plane_stride, nc, num_planes, fh, fw, wg, nd, out_c, rows); break;
        case 4: RowGroup<4>(src, plane_stride, nc, num_planes, fh, fw, wg, nd, out_c, rows); break;
        case 5: RowGroup<5>(src, plane_stride, nc, num_planes, fh, fw, wg, nd, out_c, rows); break;
        case 6: RowGroup<6>(src, plane_stride, nc, num_planes, fh, fw, wg, nd, out_c, rows); break;
        case 7: RowGroup<7>(src, plane_stride, nc, num_planes, fh, fw, wg, nd, out_c, rows); break;
        default: RowGroup<8>(src, plane_stride, nc, num_planes, fh, fw, wg, nd, out_c, rows); break;
      }
    }
  }
}

// Row pass of the separable filters of one plane: for the nk row filters
// (rows[k][0..fw)), tmp[k][r][c] = sum_n plane[r][c + n] * rows[k][n] for
// every row r < nr and column c < out_c (tmp rows are ts floats apart; the
// columns up to the next vector boundary are written too).
void RowPassKernel(const float* plane, int nr, int nc, int out_c, int fw, const float* rows, int nk, float* tmp,
                   int ts) {
  const hn::ScalableTag<float> d;
  const int lanes = static_cast<int>(hn::Lanes(d));
  for (int r = 0; r < nr; ++r) {
    const float* src = plane + static_cast<size_t>(r) * nc;
    for (int k0 = 0; k0 < nk; k0 += 4) {
      const int nkk = std::min(4, nk - k0);
      const float* w = rows + static_cast<size_t>(k0) * fw;
      for (int c0 = 0; c0 < out_c; c0 += lanes) {
        auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
        for (int n = 0; n < fw; ++n) {
          const auto x = hn::LoadU(d, src + c0 + n);
          a0 = hn::MulAdd(hn::Set(d, w[n]), x, a0);
          if (nkk > 1) a1 = hn::MulAdd(hn::Set(d, w[fw + n]), x, a1);
          if (nkk > 2) a2 = hn::MulAdd(hn::Set(d, w[2 * fw + n]), x, a2);
          if (nkk > 3) a3 = hn::MulAdd(hn::Set(d, w[3 * fw + n]), x, a3);
        }
        float* dst = tmp + (static_cast<size_t>(k0) * nr + r) * ts + c0;
        const size_t kstride = static_cast<size_t>(nr) * ts;
        hn::StoreU(a0, d, dst);
        if (nkk > 1) hn::StoreU(a1, d, dst + kstride);
        if (nkk > 2) hn::StoreU(a2, d, dst + 2 * kstride);
        if (nkk > 3) hn::StoreU(a3, d, dst + 3 * kstride);
      }
    }
  }
}

// Column pass of one term: out[r0][c] += sum_m tmp[r0 + m][c] * col[m] for
// r0 < out_r and c up to out_c rounded up to whole vectors (rows ts apart).
void ColPassKernel(const float* tmp, int out_r, int out_c, int fh, const float* col, float* out, int ts) {
  const hn::ScalableTag<float> d;
  const int lanes = static_cast<int>(hn::Lanes(d));
  for (int r0 = 0; r0 < out_r; ++r0) {
    float* dst = out + static_cast<size_t>(r0) * ts;
    for (int c0 = 0; c0 < out_c; c0 += 2 * lanes) {
      auto a0 = hn::LoadU(d, dst + c0), a1 = hn::LoadU(d, dst + c0 + lanes);
      for (int m = 0; m < fh; ++m) {
        const float* src = tmp + static_cast<size_t>(r0 + m) * ts + c0;
        const auto wm = hn::Set(d, col[m]);
        a0 = hn::MulAdd(wm, hn::LoadU(d, src), a0);
        a1 = hn::MulAdd(wm, hn::LoadU(d, src + lanes), a1);
      }
      hn::StoreU(a0, d, dst + c0);
      hn::StoreU(a1, d, dst + c0 + lanes);
    }
  }
}

}  // namespace facelib::hogkern::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace facelib::hogkern {

HWY_EXPORT(ApplyKernel);
HWY_EXPORT(GradientRowKernel);
HWY_EXPORT(RowPassKernel);
HWY_EXPORT(ColPassKernel);
HWY_EXPORT(BilinearRowKernel);

void BilinearRow(const float* tl, const float* tr, const float* bl, const float* br, const float* lr_frac, float tb,
                 float itb, int n, uint8_t* out) {
  if (n > 0) HWY_DYNAMIC_DISPATCH(BilinearRowKernel)(tl, tr, bl, br, lr_frac, tb, itb, n, out);
}

void GradientRow(const Planes3& rows, int x0, int x1, bool later_wins, float* mag, int32_t* ori) {
  if (x1 > x0) HWY_DYNAMIC_DISPATCH(GradientRowKernel)(rows, x0, x1, later_wins, mag, ori);
}

size_t Slack() { return 2 * (HWY_MAX_BYTES / sizeof(float)) + 16; }

FilterBank::FilterBank(const float* filters, int num_filters, int planes, int fh, int fw,
                       std::vector<SeparableTerm> terms)
    : num_filters_(num_filters), planes_(planes), fh_(fh), fw_(fw), terms_(std::move(terms)) {
  filters_.resize(static_cast<size_t>(num_filters) * planes * fh * fw);
  for (int d = 0; d < num_filters; ++d)
    for (int p = 0; p < planes; ++p)
      for (int m = 0; m < fh; ++m)
        for (int n = 0; n < fw; ++n)
          filters_[((static_cast<size_t>(p) * fh + m) * fw + n) * num_filters + d] =
              filters[((static_cast<size_t>(d) * planes + p) * fh + m) * fw + n];
  std::stable_sort(terms_.begin(), terms_.end(),
                   [](const SeparableTerm& a, const SeparableTerm& b) { return a.plane < b.plane; });
  plane_begin_.assign(planes + 1, 0);
  for (const SeparableTerm& t : terms_) ++plane_begin_[t.plane + 1];
  for (int p = 0; p < planes; ++p) plane_begin_[p + 1] += plane_begin_[p];
}

void FilterBank::Apply(const float* planes, int nr, int nc, float* out) const {
  if (nr < fh_ || nc < fw_) return;
  if (terms_.empty()) {
    ApplyFull(planes, nr, nc, out);
  } else {
    ApplySeparable(planes, nr, nc, out);
  }
}

void FilterBank::ApplyFull(const float* planes, int nr, int nc, float* out) const {
  HWY_DYNAMIC_DISPATCH(ApplyKernel)(planes, nr, nc, planes_, fh_, fw_, filters_.data(), num_filters_, out);
}

void FilterBank::ApplySeparable(const float* planes, int nr, int nc, float* out) const {
  const int out_r = nr - fh_ + 1, out_c = nc - fw_ + 1;
  const int ts = (out_c + 31) / 32 * 32;  // whole vectors of any target (and two of them in the column pass)
  int most = 0;
  for (int p = 0; p < planes_; ++p) most = std::max(most, plane_begin_[p + 1] - plane_begin_[p]);
  std::vector<float> tmp(static_cast<size_t>(most) * nr * ts + 64, 0.f);
  std::vector<float> acc(static_cast<size_t>(num_filters_) * out_r * ts + 64, 0.f);
  std::vector<float> rows(static_cast<size_t>(most) * fw_);
  const size_t plane_size = static_cast<size_t>(nr) * nc;
  for (int p = 0; p < planes_; ++p) {
    const int b = plane_begin_[p], nk = plane_begin_[p + 1] - b;
    if (nk == 0) continue;
    for (int k = 0; k < nk; ++k) std::copy(terms_[b + k].row.begin(), terms_[b + k].row.end(), &rows[k * fw_]);
    HWY_DYNAMIC_DISPATCH(RowPassKernel)(planes + p * plane_size, nr, nc, out_c, fw_, rows.data(), nk, tmp.data(), ts);
    for (int k = 0; k < nk; ++k) {
      const SeparableTerm& t = terms_[b + k];
      HWY_DYNAMIC_DISPATCH(ColPassKernel)(tmp.data() + static_cast<size_t>(k) * nr * ts, out_r, out_c, fh_,
                                          t.col.data(), acc.data() + static_cast<size_t>(t.filter) * out_r * ts, ts);
    }
  }
  for (int d = 0; d < num_filters_; ++d)
    for (int r = 0; r < out_r; ++r)
      std::memcpy(out + (static_cast<size_t>(d) * out_r + r) * out_c,
                  acc.data() + (static_cast<size_t>(d) * out_r + r) * ts, sizeof(float) * out_c);
}

void FilterBank::ApplyRef(const float* planes, int nr, int nc, float* out) const {
  if (nr < fh_ || nc < fw_) return;
  const int out_r = nr - fh_ + 1, out_c = nc - fw_ + 1;
  for (int d = 0; d < num_filters_; ++d)
    for (int r0 = 0; r0 < out_r; ++r0)
      for (int c0 = 0; c0 < out_c; ++c0) {
        float acc = 0;
        for (int p = 0; p < planes_; ++p)
          for (int m = 0; m < fh_; ++m)
            for (int n = 0; n < fw_; ++n)
              acc += planes[(static_cast<size_t>(p) * nr + r0 + m) * nc + c0 + n] *
                     filters_[((static_cast<size_t>(p) * fh_ + m) * fw_ + n) * num_filters_ + d];
        out[(static_cast<size_t>(d) * out_r + r0) * out_c + c0] = acc;
      }
}

}  // namespace facelib::hogkern
#endif  // HWY_ONCE
