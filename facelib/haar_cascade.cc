// Haar cascade evaluation. The file is compiled once per SIMD target by
// Highway's foreach_target: the section guarded by FACELIB_HAAR_CASCADE_SHARED_
// is compiled once (plain scalar code, no target attributes, so no FMA
// contraction can change a float rounding), DenseRow once per target, and the
// HWY_ONCE section holds the rest.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "facelib/haar_cascade.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#ifndef FACELIB_HAAR_CASCADE_SHARED_
#define FACELIB_HAAR_CASCADE_SHARED_

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "facelib/haar_cascade.h"
#include "facelib/imgproc.h"
#include "models/haar_cascade_format.h"
#include "ops/parallel.h"
#include "runtime/error.h"
#include "runtime/graph.h"
#include "runtime/model_file.h"

namespace facelib::haar_detail {

// OpenCV lowers every stage threshold by this much when it loads a cascade.
constexpr float kStageThresholdEps = 1e-5f;

struct Stump {
  int32_t feature;
  float threshold, left, right;
};

struct Node {
  int32_t left, right, feature;
  float threshold;
};

struct Feature {
  int32_t rect[3][4];  // x, y, w, h
  float weight[3];
  bool tilted;
};

// The cascade as evaluated (OpenCV's CascadeClassifierImpl::Data + features).
struct CascadeData {
  std::string label;
  int win_w = 0, win_h = 0;
  bool has_tilted = false;
  bool stumps_only = false;
  bool simd = false;  // stumps with integer weights whose sums stay exact in float
  std::vector<float> stage_threshold;  // minus kStageThresholdEps
  std::vector<int32_t> stage_trees;
  // Where each stage starts: first tree (= first stump), first node, first leaf.
  std::vector<int32_t> stage_tree0, stage_node0, stage_leaf0;
  std::vector<Stump> stumps;         // stumps_only
  std::vector<Node> nodes;           // general trees
  std::vector<int32_t> tree_nodes;
  std::vector<float> leaves;
  std::vector<Feature> features;
};

// Sums and squared sums of one scale, split into planes so that a row of
// windows on the scan grid reads consecutive elements: with step 2 column c of
// the integral lives in plane c & 1 at column c >> 1. Window i of row y starts
// at element y * pstride + i of every plane.
struct ScaleTables {
  const uint32_t* buf = nullptr;
  int32_t norm_ofs[4];  // normalisation rectangle corners in the sum planes
  int32_t sq_ofs[4];    // and in the squared-sum planes
  double area = 0;      // of the normalisation rectangle
};

// One feature's 12 corner offsets (3 rectangles x 4 corners: +, -, -, +).
struct FeatureOfs {
  int32_t ofs[12];
  float weight[3];
};

// A stump of the SIMD path with its feature's offsets inlined.
struct DenseStump {
  int32_t ofs[12];
  int32_t weight[3];
  int32_t three;  // third rectangle present
  float threshold, left, right;
};

struct DenseScan {
  const uint32_t* buf;
  int32_t norm_ofs[4];
  int32_t sq_ofs[4];
  double area;
  int num_stages;
  const int32_t* stage_trees;
  const float* stage_threshold;
  const DenseStump* stumps;
};

inline int32_t RectSum(const uint32_t* p, const int32_t* o) {
  return static_cast<int32_t>(p[o[0]] - p[o[1]] - p[o[2]] + p[o[3]]);
}

// OpenCV's HaarEvaluator::setWindow: the normalisation factor 1 / (area *
// standard deviation) of the window, and false when the standard deviation is
// 10 or less (area * factor >= 0.1).
inline bool WindowNorm(const uint32_t* p, const int32_t* norm_ofs, const int32_t* sq_ofs, double area, float* vnf) {
  const int32_t valsum = RectSum(p, norm_ofs);
  const uint32_t valsqsum = p[sq_ofs[0]] - p[sq_ofs[1]] - p[sq_ofs[2]] + p[sq_ofs[3]];
  double nf = area * valsqsum - static_cast<double>(valsum) * valsum;
  if (nf > 0.) {
    nf = std::sqrt(nf);
    *vnf = static_cast<float>(1. / nf);
    return area * *vnf < 1e-1;
  }
  *vnf = 1.f;
  return false;
}

// OpenCV's OptFeature::calc: float products and sums in this order. It adds
// the third rectangle only when its weight is not 0; adding 0 * (a finite sum)
// instead gives the same float and no branch.
inline float FeatureValue(const FeatureOfs& f, const uint32_t* p) {
  return f.weight[0] * RectSum(p, f.ofs) + f.weight[1] * RectSum(p, f.ofs + 4) + f.weight[2] * RectSum(p, f.ofs + 8);
}

// OpenCV's predictOrderedStump / predictOrdered from stage `first` on, for a
// window whose normalisation factor is vnf: 1 = passed every stage, -k =
// failed stage k (0 = the first). *weight = the sum of the last stage evaluated.
inline int EvalStages(const CascadeData& c, const FeatureOfs* fo, const uint32_t* p, float vnf, int first,
                      double* weight) {
  const int nstages = static_cast<int>(c.stage_threshold.size());
  if (c.stumps_only) {
    const Stump* s = c.stumps.data() + c.stage_tree0[first];
    double tmp = 0;
    for (int si = first; si < nstages; ++si) {
      tmp = 0;
      const int n = c.stage_trees[si];
      for (int i = 0; i < n; ++i, ++s) {
        const float value = FeatureValue(fo[s->feature], p) * vnf;
        const float leaves[2] = {s->right, s->left};
        tmp += leaves[value < s->threshold];
      }
      if (tmp < c.stage_threshold[si]) {
        *weight = tmp;
        return -si;
      }
    }
    *weight = tmp;
    return 1;
  }
  int node_ofs = c.stage_node0[first], leaf_ofs = c.stage_leaf0[first], tree = c.stage_tree0[first];
  double sum = 0;
  for (int si = first; si < nstages; ++si) {
    sum = 0;
    const int n = c.stage_trees[si];
    for (int wi = 0; wi < n; ++wi, ++tree) {
      int idx = 0;
      do {
        const Node& node = c.nodes[node_ofs + idx];
        const double val = FeatureValue(fo[node.feature], p) * vnf;
        idx = val < node.threshold ? node.left : node.right;
      } while (idx > 0);
      sum += c.leaves[leaf_ofs - idx];
      node_ofs += c.tree_nodes[tree];
      leaf_ofs += c.tree_nodes[tree] + 1;
    }
    if (sum < c.stage_threshold[si]) {
      *weight = sum;
      return -si;
    }
  }
  *weight = sum;
  return 1;
}

// EvalStages for the SIMD path's stumps (integer weights, offsets inlined).
inline int EvalDense(const DenseScan& s, const uint32_t* p, float vnf, int first, double* weight) {
  const DenseStump* sp = s.stumps;
  for (int si = 0; si < first; ++si) sp += s.stage_trees[si];
  double tmp = 0;
  for (int si = first; si < s.num_stages; ++si) {
    tmp = 0;
    const int n = s.stage_trees[si];
    for (int i = 0; i < n; ++i, ++sp) {
      const int32_t v = sp->weight[0] * RectSum(p, sp->ofs) + sp->weight[1] * RectSum(p, sp->ofs + 4) +
                        sp->weight[2] * RectSum(p, sp->ofs + 8);
      const float value = static_cast<float>(v) * vnf;
      const float leaves[2] = {sp->right, sp->left};
      tmp += leaves[value < sp->threshold];
    }
    if (tmp < s.stage_threshold[si]) {
      *weight = tmp;
      return -si;
    }
  }
  *weight = tmp;
  return 1;
}

// OpenCV's runAt: EvalStages from the first stage, and -1 for a window that
// the variance check rejects.
inline int EvalWindow(const CascadeData& c, const ScaleTables& t, const FeatureOfs* fo, size_t base, double* weight) {
  const uint32_t* p = t.buf + base;
  float vnf;
  if (!WindowNorm(p, t.norm_ofs, t.sq_ofs, t.area, &vnf)) return -1;
  return EvalStages(c, fo, p, vnf, 0, weight);
}

}  // namespace facelib::haar_detail

#endif  // FACELIB_HAAR_CASCADE_SHARED_

HWY_BEFORE_NAMESPACE();
namespace facelib::haar_detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Evaluates the windows 0..nx-1 of one row (row_base = y * pstride) that
// OpenCV's scan visits, Lanes() windows at a time. On return status[i] is
//   -1      flat window (rejected by the variance check),
//   k < S   failed stage k,
//   S       passed every stage, weight[i] = the last stage sum,
//   S+1+k   passed stages 0..k-1: continue at stage k with vnf[i] (EvalDense),
//   -2      not visited (OpenCV skips the window after one that failed stage 0).
// Stage 0 runs on every window first; the scan's skipping then leaves the
// windows that go on, which run stage after stage while at least min_alive
// of a vector are still in the race (below that, scalar code is cheaper).
// The arrays hold at least nx rounded up to a whole vector. Integer feature
// sums are exact, and the float product with the normalisation factor and the
// double stage sums are the same operations in the same order as EvalStages,
// so the results match it bit for bit.
void DenseRow(const DenseScan& s, size_t row_base, size_t nx, size_t min_alive, int32_t* HWY_RESTRICT status,
              double* HWY_RESTRICT weight, float* HWY_RESTRICT vnf_out) {
#if HWY_TARGET == HWY_SCALAR
  (void)s, (void)row_base, (void)nx, (void)min_alive, (void)status, (void)weight, (void)vnf_out;
#else
  const hn::ScalableTag<uint32_t> du;
  const hn::Repartition<int32_t, decltype(du)> di;
  const hn::Repartition<float, decltype(du)> df;
  const hn::Half<decltype(df)> dfh;
  const hn::Half<decltype(di)> dih;
  const hn::Repartition<double, decltype(df)> dd;
  const size_t N = hn::Lanes(df);
  const size_t H = hn::Lanes(dd);
  const uint32_t* row = s.buf + row_base;
  const int S = s.num_stages;
  const int32_t kGoOn = S + 2;  // passed stage 0, continue at stage 1

  const auto area = hn::Set(dd, s.area);
  const auto one_d = hn::Set(dd, 1.0);
  const auto tenth = hn::Set(dd, 1e-1);
  const auto zero_f = hn::Zero(df);
  // Two double masks (lanes 0..H-1 and H..N-1) -> one float mask.
  const auto join = [&](auto lo, auto hi) {
    const auto flo = hn::DemoteTo(dfh, hn::IfThenElseZero(lo, one_d));
    const auto fhi = hn::DemoteTo(dfh, hn::IfThenElseZero(hi, one_d));
    return hn::Gt(hn::Combine(df, fhi, flo), zero_f);
  };
  // One stage for the windows at p: the double stage sums (lower and upper lanes).
  const auto stage = [&](const uint32_t* p, const DenseStump* sp, int n, decltype(zero_f) vnf, auto* acc_lo,
                         auto* acc_hi) {
    const auto rect = [&](const int32_t* o) {
      const auto v = hn::Add(hn::Sub(hn::Sub(hn::LoadU(du, p + o[0]), hn::LoadU(du, p + o[1])),
                                     hn::LoadU(du, p + o[2])),
                             hn::LoadU(du, p + o[3]));
      return hn::BitCast(di, v);
    };
    auto lo = hn::Zero(dd), hi = hn::Zero(dd);
    for (int k = 0; k < n; ++k, ++sp) {
      auto v = hn::Add(hn::Mul(rect(sp->ofs), hn::Set(di, sp->weight[0])),
                       hn::Mul(rect(sp->ofs + 4), hn::Set(di, sp->weight[1])));
      if (sp->three) v = hn::Add(v, hn::Mul(rect(sp->ofs + 8), hn::Set(di, sp->weight[2])));
      const auto value = hn::Mul(hn::ConvertTo(df, v), vnf);
      const auto leaf = hn::IfThenElse(hn::Lt(value, hn::Set(df, sp->threshold)), hn::Set(df, sp->left),
                                       hn::Set(df, sp->right));
      lo = hn::Add(lo, hn::PromoteTo(dd, hn::LowerHalf(dfh, leaf)));
      hi = hn::Add(hi, hn::PromoteTo(dd, hn::UpperHalf(dfh, leaf)));
    }
    *acc_lo = lo;
    *acc_hi = hi;
  };

  // 1. Variance normalisation (HaarEvaluator::setWindow, in double) and stage 0 for every window.
  const int32_t pass0 = S == 1 ? S : kGoOn;
  for (size_t i0 = 0; i0 < nx; i0 += N) {
    const uint32_t* p = row + i0;
    const auto sum4 = [&](const int32_t* o) {
      return hn::BitCast(di, hn::Add(hn::Sub(hn::Sub(hn::LoadU(du, p + o[0]), hn::LoadU(du, p + o[1])),
                                             hn::LoadU(du, p + o[2])),
                                     hn::LoadU(du, p + o[3])));
    };
    const auto vs = sum4(s.norm_ofs);
    const auto vq = sum4(s.sq_ofs);  // < 2^31 for the windows this path accepts
    const auto s_lo = hn::PromoteTo(dd, hn::LowerHalf(dih, vs)), s_hi = hn::PromoteTo(dd, hn::UpperHalf(dih, vs));
    const auto q_lo = hn::PromoteTo(dd, hn::LowerHalf(dih, vq)), q_hi = hn::PromoteTo(dd, hn::UpperHalf(dih, vq));
    const auto nf_lo = hn::Sub(hn::Mul(area, q_lo), hn::Mul(s_lo, s_lo));
    const auto nf_hi = hn::Sub(hn::Mul(area, q_hi), hn::Mul(s_hi, s_hi));
    const auto pos_lo = hn::Gt(nf_lo, hn::Zero(dd)), pos_hi = hn::Gt(nf_hi, hn::Zero(dd));
    // Flat windows get 1 under the square root; they are masked out anyway.
    const auto r_lo = hn::Div(one_d, hn::Sqrt(hn::IfThenElse(pos_lo, nf_lo, one_d)));
    const auto r_hi = hn::Div(one_d, hn::Sqrt(hn::IfThenElse(pos_hi, nf_hi, one_d)));
    const auto f_lo = hn::DemoteTo(dfh, r_lo), f_hi = hn::DemoteTo(dfh, r_hi);
    const auto vnf = hn::Combine(df, f_hi, f_lo);
    const auto ok_lo = hn::And(pos_lo, hn::Lt(hn::Mul(area, hn::PromoteTo(dd, f_lo)), tenth));
    const auto ok_hi = hn::And(pos_hi, hn::Lt(hn::Mul(area, hn::PromoteTo(dd, f_hi)), tenth));
    const auto ok = hn::RebindMask(di, join(ok_lo, ok_hi));
    auto acc_lo = hn::Zero(dd), acc_hi = hn::Zero(dd);
    if (!hn::AllFalse(di, ok)) stage(p, s.stumps, s.stage_trees[0], vnf, &acc_lo, &acc_hi);
    const auto thr = hn::Set(dd, static_cast<double>(s.stage_threshold[0]));
    const auto fail = hn::RebindMask(di, join(hn::Lt(acc_lo, thr), hn::Lt(acc_hi, thr)));
    const auto st = hn::IfThenElse(ok, hn::IfThenElse(fail, hn::Zero(di), hn::Set(di, pass0)), hn::Set(di, -1));
    hn::StoreU(st, di, status + i0);
    hn::StoreU(vnf, df, vnf_out + i0);
    hn::StoreU(acc_lo, dd, weight + i0);
    hn::StoreU(acc_hi, dd, weight + i0 + H);
  }
  if (S == 1) return;

  // 2. OpenCV's scan: a window that fails stage 0 makes it skip the next one.
  for (size_t i = 0; i < nx;) {
    if (status[i] == 0) {
      if (i + 1 < nx && status[i + 1] == kGoOn) status[i + 1] = -2;
      i += 2;
    } else {
      i += 1;
    }
  }

  // 3. The remaining stages for the visited windows that passed stage 0.
  for (size_t i0 = 0; i0 < nx; i0 += N) {
    auto st = hn::LoadU(di, status + i0);
    auto alive = hn::RebindMask(df, hn::Eq(st, hn::Set(di, kGoOn)));
    if (hn::AllFalse(df, alive)) continue;
    const uint32_t* p = row + i0;
    const auto vnf = hn::LoadU(df, vnf_out + i0);
    auto acc_lo = hn::Zero(dd), acc_hi = hn::Zero(dd);
    const DenseStump* sp = s.stumps + s.stage_trees[0];
    for (int si = 1; si < S; ++si) {
      const size_t count = hn::CountTrue(df, alive);
      if (count == 0) break;
      if (count < min_alive) {
        st = hn::IfThenElse(hn::RebindMask(di, alive), hn::Set(di, S + 1 + si), st);
        alive = hn::MaskFromVec(zero_f);
        break;
      }
      const int n = s.stage_trees[si];
      stage(p, sp, n, vnf, &acc_lo, &acc_hi);
      sp += n;
      const auto thr = hn::Set(dd, static_cast<double>(s.stage_threshold[si]));
      const auto fail = join(hn::Lt(acc_lo, thr), hn::Lt(acc_hi, thr));
      st = hn::IfThenElse(hn::RebindMask(di, hn::And(alive, fail)), hn::Set(di, si), st);
      alive = hn::AndNot(fail, alive);
    }
    st = hn::IfThenElse(hn::RebindMask(di, alive), hn::Set(di, S), st);
    hn::StoreU(st, di, status + i0);
    hn::StoreU(acc_lo, dd, weight + i0);
    hn::StoreU(acc_hi, dd, weight + i0 + H);
  }
#endif
}

// True when DenseRow does real work on this target.
bool DenseAvailable() { return HWY_TARGET != HWY_SCALAR; }

}  // namespace facelib::haar_detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace facelib {
namespace haar_detail {

HWY_EXPORT(DenseRow);
HWY_EXPORT(DenseAvailable);

namespace hc = models::haar;

// Widest vector of any compiled target, in 32-bit lanes: padding for DenseRow's
// reads past the end of a row and its stores past nx.
constexpr size_t kMaxLanes = 64;
// A vector of windows continues in SIMD while at least this many are alive
// (measured: one vector stage costs less than two windows' scalar stage).
constexpr size_t kMinAlive = 2;

// ---------------------------------------------------------------- loading

const rt::TensorDef& FindTensor(const rt::Graph& g, const char* name, const std::string& label) {
  for (const rt::TensorDef& t : g.tensors)
    if (t.name == name && t.constant) return t;
  throw Error(ErrorCode::kInvalidModel, label + ": not a Haar cascade model (no constant '" + name + "')");
}

std::vector<float> Floats(const rt::Graph& g, const char* name, const rt::Shape& shape, const std::string& label) {
  const rt::TensorDef& t = FindTensor(g, name, label);
  if (t.constant->is_int || t.shape != shape)
    throw Error(ErrorCode::kInvalidModel, label + ": constant '" + name + "' is " +
                                              (t.constant->is_int ? "int " : "float ") + rt::ShapeToString(t.shape) +
                                              ", expected float " + rt::ShapeToString(shape));
  const int64_t n = rt::NumElements(shape);
  return std::vector<float>(t.constant->f32, t.constant->f32 + n);
}

std::vector<int64_t> Ints(const rt::Graph& g, const char* name, const rt::Shape& shape, const std::string& label) {
  const rt::TensorDef& t = FindTensor(g, name, label);
  if (!t.constant->is_int || t.shape != shape)
    throw Error(ErrorCode::kInvalidModel, label + ": constant '" + name + "' is " +
                                              (t.constant->is_int ? "int " : "float ") + rt::ShapeToString(t.shape) +
                                              ", expected int " + rt::ShapeToString(shape));
  return t.constant->ints;
}

int64_t Dim0(const rt::Graph& g, const char* name, const std::string& label) {
  const rt::TensorDef& t = FindTensor(g, name, label);
  if (t.shape.empty() || t.shape[0] < 1)
    throw Error(ErrorCode::kInvalidModel, label + ": constant '" + name + "' has shape " + rt::ShapeToString(t.shape));
  return t.shape[0];
}

int MetaInt(const rt::Graph& g, const char* key, const std::string& label) {
  auto it = g.metadata.find(key);
  if (it == g.metadata.end())
    throw Error(ErrorCode::kInvalidModel, label + ": not a Haar cascade model (no metadata " + key + ")");
  int v = 0;
  try {
    size_t used = 0;
    v = std::stoi(it->second, &used);
    if (used != it->second.size()) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    throw Error(ErrorCode::kInvalidModel, label + ": metadata " + key + " = '" + it->second + "' is not an integer");
  }
  return v;
}

[[noreturn]] void Bad(const std::string& label, const std::string& what) {
  throw Error(ErrorCode::kInvalidModel, label + ": " + what);
}

std::shared_ptr<CascadeData> LoadCascade(const rt::Graph& g, const std::string& label) {
  auto c = std::make_shared<CascadeData>();
  c->label = label;
  auto meta = [&](const char* key) {
    auto it = g.metadata.find(key);
    return it == g.metadata.end() ? std::string() : it->second;
  };
  if (meta(hc::kMetaStageType) != "BOOST" || meta(hc::kMetaFeatureType) != "HAAR")
    Bad(label, "not a BOOST/HAAR cascade model (metadata " + std::string(hc::kMetaStageType) + "='" +
                   meta(hc::kMetaStageType) + "', " + hc::kMetaFeatureType + "='" + meta(hc::kMetaFeatureType) + "')");
  c->win_w = MetaInt(g, hc::kMetaWindowWidth, label);
  c->win_h = MetaInt(g, hc::kMetaWindowHeight, label);
  if (c->win_w < 3 || c->win_h < 3 || c->win_w > hc::kMaxWindow || c->win_h > hc::kMaxWindow)
    Bad(label, "window " + std::to_string(c->win_w) + "x" + std::to_string(c->win_h) + " is out of range");

  const int64_t S = Dim0(g, hc::kStageThreshold, label);
  const int64_t T = Dim0(g, hc::kTreeNumNodes, label);
  const int64_t N = Dim0(g, hc::kNodeFeature, label);
  const int64_t L = Dim0(g, hc::kLeafValues, label);
  const int64_t F = Dim0(g, hc::kFeatureTilted, label);
  const std::vector<float> stage_thr = Floats(g, hc::kStageThreshold, {S}, label);
  const std::vector<int64_t> stage_trees = Ints(g, hc::kStageNumTrees, {S}, label);
  const std::vector<int64_t> tree_nodes = Ints(g, hc::kTreeNumNodes, {T}, label);
  const std::vector<int64_t> children = Ints(g, hc::kNodeChildren, {N, 2}, label);
  const std::vector<int64_t> node_feature = Ints(g, hc::kNodeFeature, {N}, label);
  const std::vector<float> node_thr = Floats(g, hc::kNodeThreshold, {N}, label);
  const std::vector<float> leaves = Floats(g, hc::kLeafValues, {L}, label);
  const std::vector<int64_t> rects = Ints(g, hc::kFeatureRects, {F, hc::kMaxRects, 4}, label);
  const std::vector<float> weights = Floats(g, hc::kFeatureWeights, {F, hc::kMaxRects}, label);
  const std::vector<int64_t> tilted = Ints(g, hc::kFeatureTilted, {F}, label);

  int64_t trees_total = 0;
  for (int64_t si = 0; si < S; ++si) {
    if (stage_trees[si] < 1 || stage_trees[si] > T) Bad(label, "stage " + std::to_string(si) + " has " +
                                                                  std::to_string(stage_trees[si]) + " trees");
    trees_total += stage_trees[si];
    c->stage_threshold.push_back(stage_thr[si] - kStageThresholdEps);
    c->stage_trees.push_back(static_cast<int32_t>(stage_trees[si]));
  }
  if (trees_total != T) Bad(label, "the stages hold " + std::to_string(trees_total) + " trees, the file " +
                                       std::to_string(T));
  int64_t nodes_total = 0, leaves_total = 0, max_nodes = 0;
  for (int64_t ti = 0; ti < T; ++ti) {
    const int64_t n = tree_nodes[ti];
    if (n < 1 || n > N - nodes_total) Bad(label, "tree " + std::to_string(ti) + " has " + std::to_string(n) + " nodes");
    for (int64_t k = 0; k < n; ++k) {
      const int64_t ni = nodes_total + k;
      for (int side = 0; side < 2; ++side) {
        const int64_t ch = children[2 * ni + side];
        if (ch > 0 ? (ch <= k || ch >= n) : (-ch > n))
          Bad(label, "tree " + std::to_string(ti) + " node " + std::to_string(k) + " has child " + std::to_string(ch));
      }
      if (node_feature[ni] < 0 || node_feature[ni] >= F)
        Bad(label, "tree " + std::to_string(ti) + " node " + std::to_string(k) + " uses feature " +
                       std::to_string(node_feature[ni]) + " of " + std::to_string(F));
      if (!std::isfinite(node_thr[ni])) Bad(label, "non-finite node threshold");
    }
    nodes_total += n;
    leaves_total += n + 1;
    max_nodes = std::max(max_nodes, n);
  }
  if (nodes_total != N) Bad(label, "the trees hold " + std::to_string(nodes_total) + " nodes, the file " +
                                       std::to_string(N));
  if (leaves_total != L) Bad(label, "the trees need " + std::to_string(leaves_total) + " leaves, the file has " +
                                        std::to_string(L));
  for (float v : leaves)
    if (!std::isfinite(v)) Bad(label, "non-finite leaf value");
  for (float v : c->stage_threshold)
    if (!std::isfinite(v)) Bad(label, "non-finite stage threshold");

  bool integer_weights = true;
  double max_abs_sum = 0;  // bound of |sum of weight * rectangle sum| for 8-bit pixels
  c->features.resize(F);
  for (int64_t fi = 0; fi < F; ++fi) {
    Feature& f = c->features[fi];
    f.tilted = tilted[fi] != 0;
    c->has_tilted = c->has_tilted || f.tilted;
    double bound = 0;
    for (int r = 0; r < hc::kMaxRects; ++r) {
      const int64_t* v = &rects[(fi * hc::kMaxRects + r) * 4];
      const int64_t x = v[0], y = v[1], w = v[2], h = v[3];
      const bool inside = f.tilted ? (w >= 0 && h >= 0 && x - h >= 0 && y >= 0 && x + w <= c->win_w &&
                                      y + w + h <= c->win_h)
                                   : (w >= 0 && h >= 0 && x >= 0 && y >= 0 && x + w <= c->win_w && y + h <= c->win_h);
      if (!inside)
        Bad(label, "feature " + std::to_string(fi) + " rectangle " + std::to_string(r) + " (" + std::to_string(x) +
                       "," + std::to_string(y) + " " + std::to_string(w) + "x" + std::to_string(h) +
                       ") lies outside the window");
      for (int k = 0; k < 4; ++k) f.rect[r][k] = static_cast<int32_t>(v[k]);
      const float wt = weights[fi * hc::kMaxRects + r];
      if (!std::isfinite(wt)) Bad(label, "feature " + std::to_string(fi) + " has a non-finite weight");
      f.weight[r] = wt;
      if (wt != std::trunc(wt) || std::fabs(wt) > 1 << 20) integer_weights = false;
      // A tilted rectangle covers at most its bounding box of (w + h)^2 pixels.
      const int64_t area = f.tilted ? (w + h) * (w + h) : w * h;
      bound += std::fabs(static_cast<double>(wt)) * static_cast<double>(area) * 255.0;
    }
    max_abs_sum = std::max(max_abs_sum, bound);
  }

  {
    int32_t tree = 0, node = 0, leaf = 0;
    for (int64_t si = 0; si < S; ++si) {
      c->stage_tree0.push_back(tree);
      c->stage_node0.push_back(node);
      c->stage_leaf0.push_back(leaf);
      for (int k = 0; k < c->stage_trees[si]; ++k, ++tree) {
        node += static_cast<int32_t>(tree_nodes[tree]);
        leaf += static_cast<int32_t>(tree_nodes[tree]) + 1;
      }
    }
  }
  c->stumps_only = max_nodes == 1;
  if (c->stumps_only) {
    for (int64_t i = 0; i < N; ++i)
      c->stumps.push_back({static_cast<int32_t>(node_feature[i]), node_thr[i], leaves[2 * i], leaves[2 * i + 1]});
  } else {
    for (int64_t i = 0; i < N; ++i)
      c->nodes.push_back({static_cast<int32_t>(children[2 * i]), static_cast<int32_t>(children[2 * i + 1]),
                          static_cast<int32_t>(node_feature[i]), node_thr[i]});
    for (int64_t n : tree_nodes) c->tree_nodes.push_back(static_cast<int32_t>(n));
    c->leaves = leaves;
  }
  // The SIMD path computes feature sums in int32 and converts them to float
  // once; that equals OpenCV's float arithmetic when every partial sum is an
  // integer below 2^24. Its squared sums are int32: the normalisation
  // rectangle's must stay below 2^31.
  const int64_t norm_area = static_cast<int64_t>(c->win_w - 2) * (c->win_h - 2);
  c->simd = c->stumps_only && integer_weights && max_abs_sum < 16777216.0 &&
            norm_area * 255 * 255 < (int64_t{1} << 31) && HWY_DYNAMIC_DISPATCH(DenseAvailable)();
  return c;
}

// ---------------------------------------------------------------- image pyramid

int RoundHalfEven(double v) { return static_cast<int>(std::nearbyint(v)); }
int RoundHalfEven(float v) { return static_cast<int>(std::nearbyint(v)); }

// OpenCV's resize with INTER_LINEAR_EXACT for 8-bit single-channel images:
// source coordinate (d + 0.5) * scale - 0.5 in double, 8-bit fixed-point
// weights rounded half to even, a horizontal pass into 16-bit fixed point, a
// vertical pass into 32-bit fixed point rounded half up; borders replicate.
void ResizeLinearExact(const uint8_t* src, int sw, int sh, uint8_t* dst, int dw, int dh) {
  if (sw == dw && sh == dh) {
    std::memcpy(dst, src, static_cast<size_t>(sw) * sh);
    return;
  }
  struct Axis {
    std::vector<int> ofs;
    std::vector<uint16_t> c0, c1;
    int min_i = 0, max_i = 0;  // [min_i, max_i) interpolates, below min_i: first source pixel, from max_i: last
  };
  const auto axis = [](int ssize, int dsize) {
    Axis a;
    a.ofs.assign(dsize, ssize - 1);
    a.c0.assign(dsize, 256);
    a.c1.assign(dsize, 0);
    a.max_i = dsize;
    const double inv_scale = static_cast<double>(dsize) / ssize;
    const double scale = 1.0 / inv_scale;
    for (int d = 0; d < dsize; ++d) {
      const double t = scale * (static_cast<double>(d) + 0.5);
      const double f = t - 0.5;
      const int i = static_cast<int>(std::floor(f));
      if (i >= 0 && ssize > 1) {
        if (i < ssize - 1) {
          a.ofs[d] = i;
          const double frac = f - i;
          const int c1 = static_cast<int>(std::nearbyint(frac * 256.0));
          a.c1[d] = static_cast<uint16_t>(c1);
          a.c0[d] = static_cast<uint16_t>(256 - c1);
        } else {
          a.max_i = std::min(a.max_i, d);
        }
      } else {
        a.min_i = std::max(a.min_i, d + 1);
      }
    }
    return a;
  };
  const Axis ax = axis(sw, dw), ay = axis(sh, dh);
  // Horizontal pass of source row r into 8.8 fixed point.
  std::vector<uint16_t> line0(dw), line1(dw);
  const auto hline = [&](int r, uint16_t* out) {
    const uint8_t* s = src + static_cast<size_t>(r) * sw;
    int x = 0;
    for (; x < std::min(ax.min_i, dw); ++x) out[x] = static_cast<uint16_t>(s[0] << 8);
    for (; x < ax.max_i; ++x)
      out[x] = static_cast<uint16_t>(ax.c0[x] * s[ax.ofs[x]] + ax.c1[x] * s[ax.ofs[x] + 1]);
    for (; x < dw; ++x) out[x] = static_cast<uint16_t>(s[ax.ofs[dw - 1]] << 8);
  };
  int have0 = -1, have1 = -1;  // source rows currently in line0 / line1
  const auto get = [&](int r, std::vector<uint16_t>& buf, int& have) {
    if (have != r) {
      hline(r, buf.data());
      have = r;
    }
  };
  for (int y = 0; y < dh; ++y) {
    uint8_t* d = dst + static_cast<size_t>(y) * dw;
    if (y < ay.min_i || y >= ay.max_i) {
      const int r = y < ay.min_i ? 0 : sh - 1;
      get(r, line0, have0);
      for (int x = 0; x < dw; ++x) d[x] = static_cast<uint8_t>((line0[x] + 128) >> 8);
      continue;
    }
    const int r = ay.ofs[y];
    // Keep row r in one buffer and r + 1 in the other, reusing what is there.
    if (have1 == r) {
      std::swap(line0, line1);
      std::swap(have0, have1);
    }
    get(r, line0, have0);
    get(r + 1, line1, have1);
    const uint32_t c0 = ay.c0[y], c1 = ay.c1[y];
    for (int x = 0; x < dw; ++x) {
      const uint32_t v = c0 * line0[x] + c1 * line1[x];
      d[x] = static_cast<uint8_t>(std::min<uint32_t>((v + (1u << 15)) >> 16, 255));
    }
  }
}

struct ScaleInfo {
  float factor = 1;
  int sw = 0, sh = 0;  // resized image
  int step = 2;
  int win_w = 0, win_h = 0;  // window in original pixels
  int nx = 0, ny = 0;        // working size (windows per row, rows): OpenCV's getWorkingSize
};

std::vector<ScaleInfo> Scales(const CascadeData& c, int W, int H, const HaarScanOptions& o) {
  std::vector<ScaleInfo> out;
  if (W < c.win_w || H < c.win_h) return out;
  int max_w = o.max_width, max_h = o.max_height;
  if (max_w == 0 || max_h == 0) max_w = W, max_h = H;
  std::vector<float> all, chosen;
  for (double factor = 1;; factor *= o.scale_factor) {
    const int ww = RoundHalfEven(c.win_w * factor), wh = RoundHalfEven(c.win_h * factor);
    if (ww > W || wh > H) break;
    all.push_back(static_cast<float>(factor));
  }
  for (float f : all) {
    const int ww = RoundHalfEven(c.win_w * f), wh = RoundHalfEven(c.win_h * f);
    if (ww > max_w || wh > max_h) break;
    if (ww < o.min_width || wh < o.min_height) continue;
    chosen.push_back(f);
  }
  if (chosen.empty() && !all.empty()) {
    // OpenCV then takes the scale whose window is closest to min_size.
    size_t best = 0;
    double best_d = 0;
    for (size_t i = 0; i < all.size(); ++i) {
      const int ww = RoundHalfEven(c.win_w * all[i]), wh = RoundHalfEven(c.win_h * all[i]);
      const double d = static_cast<double>((o.min_width - ww) * (o.min_width - ww) +
                                           (o.min_height - wh) * (o.min_height - wh));
      if (i == 0 || best_d > d) best = i, best_d = d;
    }
    chosen.push_back(all[best]);
  }
  // OpenCV splits the rows of every scale into as many stripes as the first
  // scale has 32-column blocks, each a whole number of row steps, rounding
  // the rows per stripe down first: the last row of a scale can fall outside
  // every stripe and is then never scanned.
  int nstripes = 0;
  for (float f : chosen) {
    ScaleInfo s;
    s.factor = f;
    s.sw = RoundHalfEven(W / f);
    s.sh = RoundHalfEven(H / f);
    s.step = f >= 2 ? 1 : 2;
    s.win_w = RoundHalfEven(c.win_w * f);
    s.win_h = RoundHalfEven(c.win_h * f);
    s.nx = std::max(s.sw + 1 - c.win_w, 0);
    s.ny = std::max(s.sh + 1 - c.win_h, 0);
    if (out.empty()) nstripes = (s.nx + 31) / 32;
    const int stripe = std::max((s.ny / s.step + nstripes - 1) / std::max(nstripes, 1), 1) * s.step;
    s.ny = std::min(s.ny, nstripes * stripe);
    out.push_back(s);
  }
  return out;
}

struct Window {
  IntRect r;
  double weight;
};

// One scale of the scan: the resized image, its integral images in planar
// layout, and the windows visited in OpenCV's order (rows top to bottom,
// windows left to right, skipping after a first-stage failure).
class ScaleScanner {
 public:
  ScaleScanner(const CascadeData& c, const ScaleInfo& s, bool use_simd) : c_(c), s_(s), simd_(use_simd) {}

  void Run(const Image& gray, std::vector<Window>* out) {
    const int sw = s_.sw, sh = s_.sh;
    img_.resize(static_cast<size_t>(sw) * sh);
    ResizeLinearExact(gray.pixels.data(), gray.width, gray.height, img_.data(), sw, sh);
    BuildTables();
    const int n_windows = (s_.nx + s_.step - 1) / s_.step;
    status_.assign(n_windows + kMaxLanes, 0);
    weight_.assign(n_windows + kMaxLanes, 0.0);
    vnf_.assign(n_windows + kMaxLanes, 0.f);
    const auto dense = HWY_DYNAMIC_DISPATCH(DenseRow);
    const int nstages = static_cast<int>(c_.stage_threshold.size());
    for (int y = 0; y < s_.ny; y += s_.step) {
      const size_t row_base = static_cast<size_t>(y) * pstride_;
      if (simd_) dense(dense_, row_base, n_windows, kMinAlive, status_.data(), weight_.data(), vnf_.data());
      for (int i = 0; i < n_windows;) {
        int result;
        double w = 0;
        if (simd_) {
          const int st = status_[i];
          if (st > nstages) {
            result = EvalDense(dense_, tables_.buf + row_base + i, vnf_[i], st - nstages - 1, &w);
          } else {
            result = st < 0 ? -1 : st == nstages ? 1 : -st;
            w = weight_[i];
          }
        } else {
          result = EvalWindow(c_, tables_, fofs_.data(), row_base + i, &w);
        }
        if (result == 1) {
          const int x = i * s_.step;
          out->push_back({{RoundHalfEven(static_cast<float>(x) * s_.factor),
                           RoundHalfEven(static_cast<float>(y) * s_.factor), s_.win_w, s_.win_h},
                          w});
        }
        i += result == 0 ? 2 : 1;
      }
    }
  }

 private:
  void BuildTables() {
    const int sw = s_.sw, sh = s_.sh, W1 = sw + 1, H1 = sh + 1;
    const int np = s_.step == 2 ? 2 : 1;  // planes per source
    pstride_ = np == 2 ? (W1 + 1) / 2 : W1;
    plane_ = static_cast<size_t>(pstride_) * H1;
    const int sources = c_.has_tilted ? 3 : 2;
    buf_.assign(plane_ * np * sources + kMaxLanes * 2, 0u);
    // Integral rows, computed one at a time and scattered into the planes.
    std::vector<uint32_t> sum(W1, 0), sq(W1, 0), prefix(W1);
    std::vector<uint32_t> a_prev(W1, 0), a_cur(W1), b_prev(W1, 0), b_cur(W1), tilted(W1);
    uint32_t rows_total = 0;  // sum of all rows above: A(x >= W, y)
    const auto scatter = [&](int source, int y, const std::vector<uint32_t>& row) {
      uint32_t* base = buf_.data() + plane_ * np * source + static_cast<size_t>(y) * pstride_;
      if (np == 1) {
        std::copy(row.begin(), row.end(), base);
      } else {
        uint32_t* even = base;
        uint32_t* odd = base + plane_;
        for (int x = 0; x < W1; ++x) {
          if (x & 1) {
            odd[x >> 1] = row[x];
          } else {
            even[x >> 1] = row[x];
          }
        }
      }
    };
    scatter(0, 0, sum);
    scatter(1, 0, sq);
    if (c_.has_tilted) scatter(2, 0, sum);
    for (int y = 1; y < H1; ++y) {
      const uint8_t* src = img_.data() + static_cast<size_t>(y - 1) * sw;
      uint32_t s = 0, q = 0;
      prefix[0] = 0;
      for (int x = 0; x < sw; ++x) {
        s += src[x];
        q += static_cast<uint32_t>(src[x]) * src[x];
        sum[x + 1] += s;
        sq[x + 1] += q;
        prefix[x + 1] = s;
      }
      scatter(0, y, sum);
      scatter(1, y, sq);
      if (c_.has_tilted) {
        // Tilted integral T(X, Y) = sum of I(x, y) over y < Y, |x - X + 1| <= Y - 1 - y,
        // as A - B with A(X, Y) = A(X + 1, Y - 1) + P(X) and B(X, Y) = B(X - 1, Y - 1) + P(X - 1),
        // P = prefix sums of row Y - 1, A = all rows above for X + 1 > W, B(0, Y) = 0.
        for (int x = 0; x < W1; ++x) {
          a_cur[x] = (x + 1 < W1 ? a_prev[x + 1] : rows_total) + prefix[x];
          b_cur[x] = x >= 1 ? b_prev[x - 1] + prefix[x - 1] : 0u;
        }
        rows_total += s;
        for (int x = 0; x < W1; ++x) tilted[x] = a_cur[x] - b_cur[x];
        scatter(2, y, tilted);
        std::swap(a_prev, a_cur);
        std::swap(b_prev, b_cur);
      }
    }
    tables_.buf = buf_.data();
    const auto corner = [&](int source, int cx, int cy) {
      const size_t plane = static_cast<size_t>(source) * np + (np == 2 ? (cx & 1) : 0);
      return static_cast<int32_t>(plane * plane_ + static_cast<size_t>(cy) * pstride_ + (np == 2 ? cx >> 1 : cx));
    };
    const int nw = c_.win_w - 2, nh = c_.win_h - 2;
    const int nr[4][2] = {{1, 1}, {1 + nw, 1}, {1, 1 + nh}, {1 + nw, 1 + nh}};
    for (int k = 0; k < 4; ++k) {
      tables_.norm_ofs[k] = corner(0, nr[k][0], nr[k][1]);
      tables_.sq_ofs[k] = corner(1, nr[k][0], nr[k][1]);
    }
    tables_.area = static_cast<double>(nw) * nh;
    fofs_.resize(c_.features.size());
    for (size_t fi = 0; fi < c_.features.size(); ++fi) {
      const Feature& f = c_.features[fi];
      FeatureOfs& o = fofs_[fi];
      for (int r = 0; r < 3; ++r) {
        const int x = f.rect[r][0], y = f.rect[r][1], w = f.rect[r][2], h = f.rect[r][3];
        if (f.tilted) {
          o.ofs[4 * r + 0] = corner(2, x, y);
          o.ofs[4 * r + 1] = corner(2, x - h, y + h);
          o.ofs[4 * r + 2] = corner(2, x + w, y + w);
          o.ofs[4 * r + 3] = corner(2, x + w - h, y + w + h);
        } else {
          o.ofs[4 * r + 0] = corner(0, x, y);
          o.ofs[4 * r + 1] = corner(0, x + w, y);
          o.ofs[4 * r + 2] = corner(0, x, y + h);
          o.ofs[4 * r + 3] = corner(0, x + w, y + h);
        }
        o.weight[r] = f.weight[r];
      }
    }
    if (simd_) {
      dstumps_.resize(c_.stumps.size());
      for (size_t i = 0; i < c_.stumps.size(); ++i) {
        const Stump& st = c_.stumps[i];
        const FeatureOfs& o = fofs_[st.feature];
        DenseStump& d = dstumps_[i];
        std::copy(o.ofs, o.ofs + 12, d.ofs);
        for (int r = 0; r < 3; ++r) d.weight[r] = static_cast<int32_t>(o.weight[r]);
        d.three = o.weight[2] != 0.0f;
        d.threshold = st.threshold;
        d.left = st.left;
        d.right = st.right;
      }
      dense_.buf = buf_.data();
      std::copy(tables_.norm_ofs, tables_.norm_ofs + 4, dense_.norm_ofs);
      std::copy(tables_.sq_ofs, tables_.sq_ofs + 4, dense_.sq_ofs);
      dense_.area = tables_.area;
      dense_.num_stages = static_cast<int>(c_.stage_threshold.size());
      dense_.stage_trees = c_.stage_trees.data();
      dense_.stage_threshold = c_.stage_threshold.data();
      dense_.stumps = dstumps_.data();
    }
  }

  const CascadeData& c_;
  const ScaleInfo& s_;
  const bool simd_;
  std::vector<uint8_t> img_;
  std::vector<uint32_t> buf_;
  int pstride_ = 0;
  size_t plane_ = 0;
  ScaleTables tables_;
  std::vector<FeatureOfs> fofs_;
  std::vector<DenseStump> dstumps_;
  DenseScan dense_{};
  std::vector<int32_t> status_;
  std::vector<double> weight_;
  std::vector<float> vnf_;
};

// ---------------------------------------------------------------- grouping

struct SimilarRects {
  double eps;
  bool operator()(const IntRect& a, const IntRect& b) const {
    const double delta = eps * (std::min(a.w, b.w) + std::min(a.h, b.h)) * 0.5;
    return std::abs(a.x - b.x) <= delta && std::abs(a.y - b.y) <= delta &&
           std::abs(a.x + a.w - b.x - b.w) <= delta && std::abs(a.y + a.h - b.y - b.h) <= delta;
  }
};

// cv::partition's classes: connected components of the similarity relation,
// numbered in order of their first member.
std::vector<int> Partition(const std::vector<IntRect>& rects, double eps, int* nclasses) {
  const int n = static_cast<int>(rects.size());
  std::vector<int> parent(n);
  std::iota(parent.begin(), parent.end(), 0);
  const auto find = [&](int i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  };
  // Similar rectangles differ in x by at most eps * (w + h) / 2 of either one,
  // so only neighbours in x order within that reach need the full test.
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return rects[a].x < rects[b].x; });
  const SimilarRects similar{eps};
  for (int oi = 0; oi < n; ++oi) {
    const IntRect& a = rects[order[oi]];
    const double reach = eps * (a.w + a.h) * 0.5;
    for (int oj = oi + 1; oj < n; ++oj) {
      const IntRect& b = rects[order[oj]];
      if (b.x - a.x > reach) break;
      if (similar(a, b)) {
        const int ra = find(order[oi]), rb = find(order[oj]);
        if (ra != rb) parent[std::max(ra, rb)] = std::min(ra, rb);
      }
    }
  }
  std::vector<int> labels(n), label_of_root(n, -1);
  int count = 0;
  for (int i = 0; i < n; ++i) {
    const int r = find(i);
    if (label_of_root[r] < 0) label_of_root[r] = count++;
    labels[i] = label_of_root[r];
  }
  *nclasses = count;
  return labels;
}

}  // namespace haar_detail

using haar_detail::CascadeData;

struct HaarCascade::Impl {
  std::shared_ptr<const CascadeData> data;
};

HaarCascade::HaarCascade(const std::string& flm_path) : HaarCascade(rt::LoadGraphFromFile(flm_path), flm_path) {}

HaarCascade::HaarCascade(const rt::Graph& graph, const std::string& label) {
  auto impl = std::make_shared<Impl>();
  impl->data = haar_detail::LoadCascade(graph, label);
  impl_ = std::move(impl);
}

HaarCascade::~HaarCascade() = default;

int HaarCascade::window_width() const { return impl_->data->win_w; }
int HaarCascade::window_height() const { return impl_->data->win_h; }
int HaarCascade::num_stages() const { return static_cast<int>(impl_->data->stage_threshold.size()); }
int HaarCascade::num_features() const { return static_cast<int>(impl_->data->features.size()); }
int HaarCascade::num_trees() const {
  return std::accumulate(impl_->data->stage_trees.begin(), impl_->data->stage_trees.end(), 0);
}
bool HaarCascade::has_tilted_features() const { return impl_->data->has_tilted; }
bool HaarCascade::simd_eligible() const { return impl_->data->simd; }

HaarDetections HaarCascade::DetectMultiScale(const Image& image, double scale_factor, int min_neighbors) const {
  HaarScanOptions o;
  o.scale_factor = scale_factor;
  o.min_neighbors = min_neighbors;
  return DetectMultiScale(image, o);
}

HaarDetections HaarCascade::DetectMultiScale(const Image& image, const HaarScanOptions& o) const {
  const CascadeData& c = *impl_->data;
  if (!(o.scale_factor > 1) || !std::isfinite(o.scale_factor))
    throw Error(ErrorCode::kInvalidArgument, "Haar scale factor must be > 1, got " + std::to_string(o.scale_factor));
  if (o.min_neighbors < 0 || o.min_width < 0 || o.min_height < 0 || o.max_width < 0 || o.max_height < 0)
    throw Error(ErrorCode::kInvalidArgument, "Haar min_neighbors and sizes must be >= 0");
  if (image.empty() || image.width <= 0 || image.height <= 0 || (image.channels != 1 && image.channels != 3) ||
      image.pixels.size() != image.row_bytes() * static_cast<size_t>(image.height))
    throw Error(ErrorCode::kInvalidArgument, "Haar cascade needs a non-empty 8-bit gray or RGB image");
  Image converted;
  if (image.channels == 3) converted = ToGray(image);
  const Image& gray = image.channels == 1 ? image : converted;
  const std::vector<haar_detail::ScaleInfo> scales = haar_detail::Scales(c, gray.width, gray.height, o);
  std::vector<std::vector<haar_detail::Window>> per_scale(scales.size());
  const bool simd = c.simd && !o.force_scalar;
  const int threads = o.num_threads > 0 ? o.num_threads : static_cast<int>(std::thread::hardware_concurrency());
  ops::ParallelFor(std::max(threads, 1), scales.size(), [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      haar_detail::ScaleScanner scanner(c, scales[i], simd);
      scanner.Run(gray, &per_scale[i]);
    }
  });
  HaarDetections windows;
  const int nstages = static_cast<int>(c.stage_threshold.size());
  for (const auto& v : per_scale)
    for (const haar_detail::Window& w : v) {
      windows.boxes.push_back(w.r);
      windows.reject_levels.push_back(nstages);
      windows.level_weights.push_back(w.weight);
    }
  HaarDetections grouped = GroupHaarRectangles(windows, o.min_neighbors, 0.2);
  // cv::CascadeClassifier clips every box to the image and drops empty ones.
  HaarDetections out;
  for (size_t i = 0; i < grouped.size(); ++i) {
    const IntRect& b = grouped.boxes[i];
    const int x0 = std::max(b.x, 0), y0 = std::max(b.y, 0);
    const int x1 = std::min(b.x + b.w, gray.width), y1 = std::min(b.y + b.h, gray.height);
    if (x1 <= x0 || y1 <= y0) continue;
    out.boxes.push_back({x0, y0, x1 - x0, y1 - y0});
    out.reject_levels.push_back(grouped.reject_levels[i]);
    out.level_weights.push_back(grouped.level_weights[i]);
  }
  return out;
}

HaarDetections GroupHaarRectangles(const HaarDetections& in, int group_threshold, double eps) {
  if (group_threshold <= 0 || in.boxes.empty()) return in;
  if (in.reject_levels.size() != in.boxes.size() || in.level_weights.size() != in.boxes.size())
    throw Error(ErrorCode::kInvalidArgument, "GroupHaarRectangles: boxes, reject levels and weights differ in count");
  int nclasses = 0;
  const std::vector<int> labels = haar_detail::Partition(in.boxes, eps, &nclasses);
  std::vector<IntRect> sums(nclasses);
  std::vector<int> counts(nclasses, 0), levels(nclasses, 0);
  std::vector<double> weights(nclasses, DBL_MIN);
  for (size_t i = 0; i < labels.size(); ++i) {
    IntRect& s = sums[labels[i]];
    s.x += in.boxes[i].x;
    s.y += in.boxes[i].y;
    s.w += in.boxes[i].w;
    s.h += in.boxes[i].h;
    ++counts[labels[i]];
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    const int cls = labels[i];
    if (in.reject_levels[i] > levels[cls]) {
      levels[cls] = in.reject_levels[i];
      weights[cls] = in.level_weights[i];
    } else if (in.reject_levels[i] == levels[cls] && in.level_weights[i] > weights[cls]) {
      weights[cls] = in.level_weights[i];
    }
  }
  std::vector<IntRect> avg(nclasses);
  for (int k = 0; k < nclasses; ++k) {
    const float s = 1.f / counts[k];
    const auto r = [&](int v) { return haar_detail::RoundHalfEven(static_cast<float>(v) * s); };
    avg[k] = {r(sums[k].x), r(sums[k].y), r(sums[k].w), r(sums[k].h)};
  }
  HaarDetections out;
  for (int i = 0; i < nclasses; ++i) {
    const IntRect& r1 = avg[i];
    const int n1 = counts[i];
    if (n1 <= group_threshold) continue;
    bool inside = false;
    for (int j = 0; j < nclasses && !inside; ++j) {
      const int n2 = counts[j];
      if (j == i || n2 <= group_threshold) continue;
      const IntRect& r2 = avg[j];
      const int dx = haar_detail::RoundHalfEven(r2.w * eps), dy = haar_detail::RoundHalfEven(r2.h * eps);
      inside = r1.x >= r2.x - dx && r1.y >= r2.y - dy && r1.x + r1.w <= r2.x + r2.w + dx &&
               r1.y + r1.h <= r2.y + r2.h + dy && (n2 > std::max(3, n1) || n1 < 3);
    }
    if (inside) continue;
    out.boxes.push_back(r1);
    out.reject_levels.push_back(levels[i]);
    out.level_weights.push_back(weights[i]);
  }
  return out;
}

// ---------------------------------------------------------------- DeepFace's opencv backend

EyePair FindEyesHaar(const HaarCascade& eye_cascade, const Image& face_crop) {
  EyePair out;
  if (face_crop.empty() || face_crop.width <= 0 || face_crop.height <= 0) return out;
  const HaarDetections eyes = eye_cascade.DetectMultiScale(face_crop, 1.1, 10);
  std::vector<int> order(eyes.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return std::abs(int64_t{eyes.boxes[a].w} * eyes.boxes[a].h) > std::abs(int64_t{eyes.boxes[b].w} * eyes.boxes[b].h);
  });
  if (order.size() < 2) return out;
  const IntRect& e1 = eyes.boxes[order[0]];
  const IntRect& e2 = eyes.boxes[order[1]];
  const IntRect& right = e1.x < e2.x ? e1 : e2;
  const IntRect& left = e1.x < e2.x ? e2 : e1;
  // int(x + w / 2) with Python's true division: truncation toward zero.
  const auto centre = [](const IntRect& r) {
    return Point{std::trunc(static_cast<float>(r.x + r.w / 2.0)), std::trunc(static_cast<float>(r.y + r.h / 2.0))};
  };
  out.left_eye = centre(left);
  out.right_eye = centre(right);
  return out;
}

HaarFaceDetector::HaarFaceDetector(const std::string& face_flm_path, const std::string& eye_flm_path,
                                   const DetectorOptions& options)
    : face_(face_flm_path), eyes_(eye_flm_path), options_(options) {}

std::vector<Detection> HaarFaceDetector::Detect(const Image& image) const {
  Image converted;
  if (image.channels == 3) converted = ToGray(image);
  const Image& gray = image.channels == 3 ? converted : image;
  HaarScanOptions o;
  o.scale_factor = 1.1;
  o.min_neighbors = 10;
  o.num_threads = options_.num_threads;
  const HaarDetections faces = face_.DetectMultiScale(gray, o);
  std::vector<Detection> out;
  for (size_t i = 0; i < faces.size(); ++i) {
    const IntRect& r = faces.boxes[i];
    Detection d;
    d.box = {static_cast<float>(r.x), static_cast<float>(r.y), static_cast<float>(r.w), static_cast<float>(r.h)};
    d.confidence = static_cast<float>((100.0 - faces.level_weights[i]) / 100.0);
    if (!std::isnan(options_.score_threshold) && d.confidence < options_.score_threshold) continue;
    // The crop as numpy slicing gives it: clipped to the image.
    const int x0 = std::clamp(r.x, 0, gray.width), y0 = std::clamp(r.y, 0, gray.height);
    const int x1 = std::clamp(r.x + r.w, 0, gray.width), y1 = std::clamp(r.y + r.h, 0, gray.height);
    if (x1 > x0 && y1 > y0) {
      const EyePair eyes = eyes_.Find(Crop(gray, x0, y0, x1 - x0, y1 - y0));
      if (eyes.left_eye) d.left_eye = Point{r.x + eyes.left_eye->x, r.y + eyes.left_eye->y};
      if (eyes.right_eye) d.right_eye = Point{r.x + eyes.right_eye->x, r.y + eyes.right_eye->y};
    }
    d.landmarks.clear();
    if (d.right_eye) d.landmarks.push_back(*d.right_eye);
    if (d.left_eye) d.landmarks.push_back(*d.left_eye);
    out.push_back(std::move(d));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Detection& a, const Detection& b) { return a.confidence > b.confidence; });
  return out;
}

}  // namespace facelib
#endif  // HWY_ONCE
