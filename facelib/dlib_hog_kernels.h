// SIMD kernels of the dlib HOG detector (facelib/dlib_hog.cc), vectorised
// with Highway (run-time dispatch to the CPU's best target):
//  - GradientRow: per pixel of one image row, the gradient of the colour
//    channel with the largest gradient, its magnitude and its orientation
//    bin (0..17), bit-exact with dlib's fHOG code;
//  - BilinearRow: one row of dlib's bilinear resize, bit-exact;
//  - FilterBank: sliding-window linear filters over the 31 fHOG planes.
//
// Thread safety: the functions are pure; a FilterBank is immutable after
// construction and Apply() may run concurrently on one object.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace facelib::hogkern {

// Kernels read (and ignore) up to this many elements past the end of their
// input arrays; callers allocate that much slack.
size_t Slack();

// For x in [x0, x1): the central differences of the three colour planes at
// column x of the rows above/cur/below (dx = cur[x+1] - cur[x-1],
// dy = below[x] - above[x]); the channel with the largest dx^2 + dy^2 wins,
// ties going to the later channel when `later_wins` (dlib's 8-wide path)
// and to the earlier one otherwise (dlib's per-pixel path). Writes, at index
// x - x0: gx, gy (the winner's differences), mag = sqrt(dx^2 + dy^2) and
// ori = the bin of the 18 orientations (9 directions 20 degrees apart, and
// their opposites as 9..17) with the largest projection, 0 when none is
// positive. Outputs need Slack() extra elements.
struct Planes3 {
  const uint8_t* above[3];
  const uint8_t* cur[3];
  const uint8_t* below[3];
};
void GradientRow(const Planes3& rows, int x0, int x1, bool later_wins, float* mag, int32_t* ori);

// One rank-one term of a filter: filter `filter`, plane `plane`, weights
// col[m] * row[n].
struct SeparableTerm {
  int filter, plane;
  std::vector<float> row, col;  // lengths fw, fh
};

// One output row of dlib's 4-column bilinear resize blocks, for n columns:
// with lr = lr_frac[c], v = (itb * (1 - lr)) * tl[c] + (itb * lr) * tr[c]
// + (tb * (1 - lr)) * bl[c] + (tb * lr) * br[c] summed left to right in
// single precision, out[c] = v truncated. Inputs need Slack() extra floats.
void BilinearRow(const float* tl, const float* tr, const float* bl, const float* br, const float* lr_frac, float tb,
                 float itb, int n, uint8_t* out);

class FilterBank {
 public:
  // filters: [num_filters][planes][fh][fw], copied. When `terms` is not
  // empty, Apply() filters with them (dlib's separable decomposition: a row
  // pass and a column pass per term, about 2.5x fewer multiply-adds for the
  // frontal detector); otherwise with the full filters.
  FilterBank(const float* filters, int num_filters, int planes, int fh, int fw,
             std::vector<SeparableTerm> terms = {});
  int num_filters() const { return num_filters_; }
  bool separable() const { return !terms_.empty(); }
  // For every filter d and window position (r0, c0) inside the nr x nc planes:
  //   out[d][r0][c0] = sum_p sum_m sum_n planes[p][r0 + m][c0 + n] * filters[d][p][m][n]
  // in single precision; out holds (nr - fh + 1) x (nc - fw + 1) values per
  // filter. `planes` needs Slack() readable floats after its end.
  void Apply(const float* planes, int nr, int nc, float* out) const;
  // The same with the full filters in plain scalar code (the reference the
  // SIMD paths are tested against).
  void ApplyRef(const float* planes, int nr, int nc, float* out) const;

 private:
  void ApplyFull(const float* planes, int nr, int nc, float* out) const;
  void ApplySeparable(const float* planes, int nr, int nc, float* out) const;
  int num_filters_, planes_, fh_, fw_;
  std::vector<float> filters_;  // [planes][fh][fw][num_filters]: all filters' weights of one tap together
  std::vector<SeparableTerm> terms_;  // sorted by plane
  std::vector<int> plane_begin_;      // terms_ of plane p: [plane_begin_[p], plane_begin_[p + 1])
};

}  // namespace facelib::hogkern
