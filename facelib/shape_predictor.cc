#include "facelib/shape_predictor.h"

#include <cmath>
#include <cstring>
#include <filesystem>

#include "runtime/error.h"
#include "runtime/graph.h"
#include "runtime/model_file.h"

namespace facelib {

struct ShapePredictor::Data {
  rt::Graph graph;  // keeps the mapped file alive
  std::vector<float> initial_shape;
  std::vector<uint32_t> splits;   // [C][T][S] pairs idx1, idx2
  const float* thresholds = nullptr;   // [C][T][S]
  const float* leaf_values = nullptr;  // [C][T][L][2P]
  std::vector<uint32_t> anchors;  // [C][F]
  const float* deltas = nullptr;  // [C][F][2]
};

ShapePredictor::~ShapePredictor() = default;

namespace {

typedef float V4 __attribute__((vector_size(16)));

const rt::TensorDef& Find(const rt::Graph& g, const std::string& name, const std::string& path) {
  for (const rt::TensorDef& t : g.tensors)
    if (t.name == name && t.is_constant()) return t;
  throw Error(ErrorCode::kInvalidModel, path + ": no constant '" + name + "' (not a dlib shape predictor file?)");
}

void ExpectShape(const rt::TensorDef& t, const rt::Shape& shape, bool is_int, const std::string& path) {
  if (t.shape != shape || t.constant->is_int != is_int)
    throw Error(ErrorCode::kInvalidModel, path + ": constant '" + t.name + "' has shape " +
                                              rt::ShapeToString(t.shape) + ", expected " + rt::ShapeToString(shape) +
                                              (is_int ? " (int)" : " (float)"));
}

}  // namespace

std::shared_ptr<const ShapePredictor> ShapePredictor::Load(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw Error(ErrorCode::kNotFound, "shape predictor " + path +
                                          " not found; create it with `tools/setup-models.sh --only dlib_shape68`");
  std::shared_ptr<ShapePredictor> sp(new ShapePredictor());
  sp->data_ = std::make_unique<Data>();
  Data& d = *sp->data_;
  d.graph = rt::LoadGraphFromFile(path);
  const rt::Graph& g = d.graph;
  auto kind = g.metadata.find("kind");
  if (kind == g.metadata.end() || kind->second != "dlib_shape_predictor")
    throw Error(ErrorCode::kInvalidModel, path + " is not a dlib shape predictor (metadata kind '" +
                                              (kind == g.metadata.end() ? std::string() : kind->second) + "')");
  const rt::TensorDef& init = Find(g, "initial_shape", path);
  const rt::TensorDef& splits = Find(g, "split_features", path);
  if (init.shape.size() != 1 || init.shape[0] < 2 || init.shape[0] % 2 != 0 || splits.shape.size() != 4)
    throw Error(ErrorCode::kInvalidModel, path + ": bad initial_shape " + rt::ShapeToString(init.shape) +
                                              " or split_features " + rt::ShapeToString(splits.shape));
  const int64_t len = init.shape[0], c = splits.shape[0], t = splits.shape[1], s = splits.shape[2], l = s + 1;
  if (c <= 0 || t <= 0 || s < 0 || c > 1000 || t > 100000 || s > 4095 || ((l & (l - 1)) != 0))
    throw Error(ErrorCode::kInvalidModel, path + ": split_features " + rt::ShapeToString(splits.shape) +
                                              " is not cascades x trees x (2^depth - 1) x 2");
  ExpectShape(splits, {c, t, s, 2}, true, path);
  const rt::TensorDef& thresholds = Find(g, "split_thresholds", path);
  ExpectShape(thresholds, {c, t, s}, false, path);
  const rt::TensorDef& leaves = Find(g, "leaf_values", path);
  ExpectShape(leaves, {c, t, l, len}, false, path);
  const rt::TensorDef& anchors = Find(g, "anchor_idx", path);
  if (anchors.shape.size() != 2 || anchors.shape[0] != c || anchors.shape[1] <= 0)
    throw Error(ErrorCode::kInvalidModel, path + ": anchor_idx has shape " + rt::ShapeToString(anchors.shape));
  const int64_t f = anchors.shape[1];
  ExpectShape(anchors, {c, f}, true, path);
  const rt::TensorDef& deltas = Find(g, "deltas", path);
  ExpectShape(deltas, {c, f, 2}, false, path);

  const int64_t parts = len / 2;
  d.initial_shape.assign(init.constant->f32, init.constant->f32 + len);
  d.splits.resize(splits.constant->ints.size());
  for (size_t i = 0; i < d.splits.size(); ++i) {
    const int64_t v = splits.constant->ints[i];
    if (v < 0 || v >= f)
      throw Error(ErrorCode::kInvalidModel, path + ": split feature index " + std::to_string(v) + " outside 0.." +
                                                std::to_string(f - 1));
    d.splits[i] = static_cast<uint32_t>(v);
  }
  d.anchors.resize(anchors.constant->ints.size());
  for (size_t i = 0; i < d.anchors.size(); ++i) {
    const int64_t v = anchors.constant->ints[i];
    if (v < 0 || v >= parts)
      throw Error(ErrorCode::kInvalidModel, path + ": anchor index " + std::to_string(v) + " outside 0.." +
                                                std::to_string(parts - 1));
    d.anchors[i] = static_cast<uint32_t>(v);
  }
  d.thresholds = thresholds.constant->f32;
  d.leaf_values = leaves.constant->f32;
  d.deltas = deltas.constant->f32;
  sp->num_parts_ = static_cast<int>(parts);
  sp->num_cascades_ = static_cast<int>(c);
  sp->num_trees_ = static_cast<int>(t);
  sp->num_features_ = static_cast<int>(f);
  int depth = 0;
  while ((int64_t{1} << depth) < l) ++depth;
  sp->depth_ = depth;
  return sp;
}

std::vector<Point> ShapePredictor::Predict(const Image& image, const Box& box) const {
  DlibRect r;
  r.left = std::lround(box.x);
  r.top = std::lround(box.y);
  r.right = std::lround(box.x + box.w);
  r.bottom = std::lround(box.y + box.h);
  return Predict(image, r);
}

std::vector<Point> ShapePredictor::Predict(const Image& image, const DlibRect& rect) const {
  if (image.empty() || image.width <= 0 || image.height <= 0 || (image.channels != 1 && image.channels != 3) ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * image.channels)
    throw Error(ErrorCode::kInvalidArgument, "ShapePredictor::Predict: invalid image");
  if (rect.right < rect.left || rect.bottom < rect.top)
    throw Error(ErrorCode::kInvalidArgument, "ShapePredictor::Predict: empty rectangle (" + std::to_string(rect.left) +
                                                 "," + std::to_string(rect.top) + ")-(" + std::to_string(rect.right) +
                                                 "," + std::to_string(rect.bottom) + ")");
  const Data& d = *data_;
  const int len = 2 * num_parts_, f = num_features_, t = num_trees_;
  const int s = (1 << depth_) - 1, l = s + 1;
  // Box-normalised -> image: x = left + u * (right - left), y = top + v * (bottom - top).
  const double sx = static_cast<double>(rect.right - rect.left), sy = static_cast<double>(rect.bottom - rect.top);
  const double bx = static_cast<double>(rect.left), by = static_cast<double>(rect.top);
  const int w = image.width, h = image.height, ch = image.channels;
  auto intensity = [&](long x, long y) -> float {
    const uint8_t* p = image.pixels.data() + (static_cast<size_t>(y) * w + x) * ch;
    if (ch == 1) return p[0];
    return static_cast<float>((unsigned{p[0]} + unsigned{p[1]} + unsigned{p[2]}) / 3);
  };

  std::vector<float> current = d.initial_shape;
  std::vector<float> pixels(f);
  std::vector<const float*> leaves(num_trees_);
  const std::vector<float>& ref = d.initial_shape;
  const double n = num_parts_;
  for (int c = 0; c < num_cascades_; ++c) {
    // Similarity transform (scale and rotation) taking the mean shape to the
    // current one, least squares over all parts (Umeyama's solution in closed
    // form for 2-D).
    double mfx = 0, mfy = 0, mtx = 0, mty = 0;
    for (int i = 0; i < num_parts_; ++i) {
      mfx += ref[2 * i];
      mfy += ref[2 * i + 1];
      mtx += current[2 * i];
      mty += current[2 * i + 1];
    }
    mfx /= n;
    mfy /= n;
    mtx /= n;
    mty /= n;
    double sigma = 0, c00 = 0, c01 = 0, c10 = 0, c11 = 0;
    for (int i = 0; i < num_parts_; ++i) {
      const double fx = ref[2 * i] - mfx, fy = ref[2 * i + 1] - mfy;
      const double tx = current[2 * i] - mtx, ty = current[2 * i + 1] - mty;
      sigma += fx * fx + fy * fy;
      c00 += tx * fx;
      c01 += tx * fy;
      c10 += ty * fx;
      c11 += ty * fy;
    }
    sigma /= n;
    c00 /= n;
    c01 /= n;
    c10 /= n;
    c11 /= n;
    double a = 1, b = 0;
    if (sigma != 0) {
      a = (c00 + c11) / sigma;
      b = (c10 - c01) / sigma;
    }
    const float m00 = static_cast<float>(a), m01 = static_cast<float>(-b), m10 = static_cast<float>(b),
                m11 = static_cast<float>(a);

    const uint32_t* anchors = d.anchors.data() + static_cast<size_t>(c) * f;
    const float* deltas = d.deltas + static_cast<size_t>(c) * f * 2;
    for (int i = 0; i < f; ++i) {
      const float dx = deltas[2 * i], dy = deltas[2 * i + 1];
      const uint32_t an = anchors[i];
      const float vx = (m00 * dx + m01 * dy) + current[2 * an];
      const float vy = (m10 * dx + m11 * dy) + current[2 * an + 1];
      const long x = static_cast<long>(std::floor(sx * vx + bx + 0.5));
      const long y = static_cast<long>(std::floor(sy * vy + by + 0.5));
      pixels[i] = (x >= 0 && y >= 0 && x < w && y < h) ? intensity(x, y) : 0.f;
    }

    // The feature pixels are fixed within a cascade: find every tree's leaf
    // first, then add the leaves in tree order while the next ones are
    // fetched from memory (they are scattered over the 65 MB of leaf values).
    const size_t tree0 = static_cast<size_t>(c) * t;
    for (int k = 0; k < t; ++k) {
      const size_t tree = tree0 + k;
      const uint32_t* sp = d.splits.data() + tree * s * 2;
      const float* th = d.thresholds + tree * s;
      int i = 0;
      while (i < s) i = (pixels[sp[2 * i]] - pixels[sp[2 * i + 1]] > th[i]) ? 2 * i + 1 : 2 * i + 2;
      leaves[k] = d.leaf_values + (tree * l + (i - s)) * static_cast<size_t>(len);
    }
    constexpr int kAhead = 6;
    for (int k = 0; k < t; ++k) {
      if (k + kAhead < t)
        for (int j = 0; j < len; j += 16) __builtin_prefetch(leaves[k + kAhead] + j);
      const float* leaf = leaves[k];
      float* cur = current.data();
      int j = 0;
      for (; j + 4 <= len; j += 4) {  // four independent float adds at a time
        V4 a, b;
        std::memcpy(&a, cur + j, sizeof(a));
        std::memcpy(&b, leaf + j, sizeof(b));
        a += b;
        std::memcpy(cur + j, &a, sizeof(a));
      }
      for (; j < len; ++j) cur[j] += leaf[j];
    }
  }

  std::vector<Point> out(num_parts_);
  for (int i = 0; i < num_parts_; ++i) {
    out[i].x = static_cast<float>(std::floor(sx * current[2 * i] + bx + 0.5));
    out[i].y = static_cast<float>(std::floor(sy * current[2 * i + 1] + by + 0.5));
  }
  return out;
}

}  // namespace facelib
