// MTCNN (P-Net, R-Net, O-Net) with ipazc/mtcnn 1.0's weights and pipeline:
//  1. pyramid scales (12 / min_face) * 0.709^k, k < round(log(min_dim / 12) / log(1 / 0.709) - 1);
//     each level area-resized from the normalised image; P-Net cells (stride 2, 12 px) above 0.6
//     become regressed boxes; NMS 0.5 per level, 0.7 across levels; boxes squared.
//  2. R-Net on 24x24 bilinear crops (outside the image = 0 after normalisation): score replaced,
//     boxes regressed, kept above 0.7, NMS 0.7, squared.
//  3. O-Net on 48x48 crops: landmarks from the crop box, score replaced, boxes regressed, kept
//     above 0.8, NMS 0.7 over the smaller box's area.
// ipazc's NMS drops a box when any higher-scored box overlaps it beyond the threshold, whether
// or not that box itself survived.
#include <algorithm>
#include <array>
#include <cmath>

#include "facelib/det2_util.h"
#include "facelib/imgproc.h"
#include "facelib/model_detectors2.h"
#include "facelib/zoo_model.h"
#include "runtime/error.h"

namespace facelib {
namespace {

constexpr float kMinFace = 20.f;
constexpr float kFactor = 0.709f;
constexpr float kPnetThreshold = 0.6f, kRnetThreshold = 0.7f, kOnetThreshold = 0.8f;
constexpr float kPnetNmsLevel = 0.5f, kPnetNmsAll = 0.7f, kRnetNms = 0.7f, kOnetNms = 0.7f;

// A normalised float image, H x W x 3.
struct FloatImage {
  int w = 0, h = 0;
  std::vector<float> px;
};

struct Cand {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0, score = 0;
  std::array<float, 10> lm{};  // x0..x4, y0..y4
};

// Sampling weights of an area (box-filter) resize along one axis.
struct AreaTaps {
  std::vector<int> begin, count;
  std::vector<int> idx;
  std::vector<float> wt;
};

AreaTaps MakeAreaTaps(int src, int dst) {
  AreaTaps t;
  const double scale = static_cast<double>(src) / dst;
  for (int o = 0; o < dst; ++o) {
    const double s0 = o * scale, s1 = (o + 1) * scale;
    t.begin.push_back(static_cast<int>(t.idx.size()));
    for (int i = static_cast<int>(std::floor(s0)); i < static_cast<int>(std::ceil(s1)); ++i) {
      const double w = std::min<double>(i + 1, s1) - std::max<double>(i, s0);
      if (w <= 0) continue;
      t.idx.push_back(std::min(i, src - 1));
      t.wt.push_back(static_cast<float>(w / scale));
    }
    t.count.push_back(static_cast<int>(t.idx.size()) - t.begin.back());
  }
  return t;
}

// TensorFlow's AREA resize: each output pixel is the mean over its footprint.
FloatImage AreaResize(const FloatImage& src, int w, int h) {
  const AreaTaps tx = MakeAreaTaps(src.w, w), ty = MakeAreaTaps(src.h, h);
  std::vector<float> rows(static_cast<size_t>(src.h) * w * 3);
  for (int y = 0; y < src.h; ++y) {
    const float* s = &src.px[static_cast<size_t>(y) * src.w * 3];
    float* d = &rows[static_cast<size_t>(y) * w * 3];
    for (int x = 0; x < w; ++x) {
      float a0 = 0, a1 = 0, a2 = 0;
      for (int k = tx.begin[x]; k < tx.begin[x] + tx.count[x]; ++k) {
        const float* p = s + tx.idx[k] * 3;
        a0 += tx.wt[k] * p[0], a1 += tx.wt[k] * p[1], a2 += tx.wt[k] * p[2];
      }
      d[3 * x] = a0, d[3 * x + 1] = a1, d[3 * x + 2] = a2;
    }
  }
  FloatImage out;
  out.w = w, out.h = h;
  out.px.assign(static_cast<size_t>(w) * h * 3, 0.f);
  for (int y = 0; y < h; ++y) {
    float* d = &out.px[static_cast<size_t>(y) * w * 3];
    for (int k = ty.begin[y]; k < ty.begin[y] + ty.count[y]; ++k) {
      const float* r = &rows[static_cast<size_t>(ty.idx[k]) * w * 3];
      for (int i = 0; i < w * 3; ++i) d[i] += ty.wt[k] * r[i];
    }
  }
  return out;
}

// TensorFlow's crop_and_resize (bilinear, extrapolation 0) of the box with
// pixel corners (x1, y1)-(x2, y2), normalised by the image size as ipazc does.
void CropResize(const FloatImage& img, const Cand& c, int size, float* dst) {
  const double ny1 = c.y1 / img.h, nx1 = c.x1 / img.w, ny2 = c.y2 / img.h, nx2 = c.x2 / img.w;
  const double hs = (ny2 - ny1) * (img.h - 1) / (size - 1), ws = (nx2 - nx1) * (img.w - 1) / (size - 1);
  for (int y = 0; y < size; ++y) {
    const double iy = ny1 * (img.h - 1) + y * hs;
    float* row = dst + static_cast<size_t>(y) * size * 3;
    if (!(iy >= 0 && iy <= img.h - 1)) {
      std::fill(row, row + size * 3, 0.f);
      continue;
    }
    const int y0 = static_cast<int>(std::floor(iy)), y1 = static_cast<int>(std::ceil(iy));
    const float fy = static_cast<float>(iy - y0);
    for (int x = 0; x < size; ++x) {
      const double ix = nx1 * (img.w - 1) + x * ws;
      float* d = row + x * 3;
      if (!(ix >= 0 && ix <= img.w - 1)) {
        d[0] = d[1] = d[2] = 0.f;
        continue;
      }
      const int x0 = static_cast<int>(std::floor(ix)), x1 = static_cast<int>(std::ceil(ix));
      const float fx = static_cast<float>(ix - x0);
      const float* tl = &img.px[(static_cast<size_t>(y0) * img.w + x0) * 3];
      const float* tr = &img.px[(static_cast<size_t>(y0) * img.w + x1) * 3];
      const float* bl = &img.px[(static_cast<size_t>(y1) * img.w + x0) * 3];
      const float* br = &img.px[(static_cast<size_t>(y1) * img.w + x1) * 3];
      for (int ch = 0; ch < 3; ++ch) {
        const float top = tl[ch] + (tr[ch] - tl[ch]) * fx, bot = bl[ch] + (br[ch] - bl[ch]) * fx;
        d[ch] = top + (bot - top) * fy;
      }
    }
  }
}

void SortByScore(std::vector<Cand>* c) {
  std::stable_sort(c->begin(), c->end(), [](const Cand& a, const Cand& b) { return a.score > b.score; });
}

// ipazc's NMS on candidates sorted best first: a candidate survives when no
// better one overlaps it by more than `threshold` (IoU, or intersection over
// the smaller area when `over_min`).
std::vector<Cand> IpazcNms(const std::vector<Cand>& c, float threshold, bool over_min) {
  std::vector<Cand> keep;
  for (size_t i = 0; i < c.size(); ++i) {
    const float ai = (c[i].x2 - c[i].x1) * (c[i].y2 - c[i].y1);
    bool suppressed = false;
    for (size_t j = 0; j < i && !suppressed; ++j) {
      const float iw = std::max(0.f, std::min(c[i].x2, c[j].x2) - std::max(c[i].x1, c[j].x1));
      const float ih = std::max(0.f, std::min(c[i].y2, c[j].y2) - std::max(c[i].y1, c[j].y1));
      const float inter = iw * ih;
      const float aj = (c[j].x2 - c[j].x1) * (c[j].y2 - c[j].y1);
      const float denom = over_min ? std::min(ai, aj) : ai + aj - inter;
      suppressed = denom > 0 && inter / denom > threshold;
    }
    if (!suppressed) keep.push_back(c[i]);
  }
  return keep;
}

void Square(std::vector<Cand>* c) {
  for (Cand& b : *c) {
    const float w = b.x2 - b.x1, h = b.y2 - b.y1, side = std::max(w, h);
    b.x1 = b.x1 + w * 0.5f - side * 0.5f;
    b.y1 = b.y1 + h * 0.5f - side * 0.5f;
    b.x2 = b.x1 + side;
    b.y2 = b.y1 + side;
  }
}

// ipazc's box refinement: offsets in units of (size + 1).
void Refine(Cand* b, const float* off) {
  const float w = b->x2 - b->x1 + 1, h = b->y2 - b->y1 + 1;
  b->x1 += off[0] * w;
  b->y1 += off[1] * h;
  b->x2 += off[2] * w;
  b->y2 += off[3] * h;
}

// Batch sizes are rounded up to a few buckets so a long-running detector
// compiles a bounded number of execution plans.
int BatchBucket(int n) {
  if (n <= 8) return n;
  int b = 8;
  while (b < n) b = std::max(b + 8, (b * 5 / 4 + 7) / 8 * 8);
  return b;
}

class MtcnnDetector : public Detector {
 public:
  MtcnnDetector(const std::string& models_dir, const DetectorOptions& opts) {
    pnet_ = LoadZooModel(models_dir, "mtcnn_pnet", opts.num_threads);
    rnet_ = LoadZooModel(models_dir, "mtcnn_rnet", opts.num_threads);
    onet_ = LoadZooModel(models_dir, "mtcnn_onet", opts.num_threads);
    // Our converted weights take the image upright; the spec's size is dynamic.
    spec_ = ZooInfo("mtcnn_pnet").input;
    threshold_ = OrDefault(opts.score_threshold, kOnetThreshold);
    nms_iou_ = OrDefault(opts.nms_iou, kOnetNms);
  }

  std::string name() const override { return "mtcnn"; }

  std::vector<Detection> Detect(const Image& image) const override {
    det::CheckDetectorInput(image, name());
    FloatImage img;
    img.w = image.width, img.h = image.height;
    img.px.resize(static_cast<size_t>(img.w) * img.h * 3);
    models::InputSpec spec = spec_;
    spec.width = spec.height = 0;
    spec.channels = 3;
    ToTensor(image, spec, img.px.data());

    std::vector<Cand> boxes = StagePnet(img);
    if (boxes.empty()) return {};
    boxes = StageRnet(img, boxes);
    if (boxes.empty()) return {};
    boxes = StageOnet(img, boxes);

    std::vector<Detection> faces;
    for (const Cand& c : boxes) {
      Detection d;
      d.box = det2::ClipBox({c.x1, c.y1, c.x2 - c.x1, c.y2 - c.y1}, image.width, image.height);
      if (d.box.area() <= 0) continue;
      d.confidence = std::clamp(c.score, 0.f, 1.f);
      for (int k = 0; k < 5; ++k) d.landmarks.push_back({c.lm[k], c.lm[5 + k]});
      // ipazc names points from the observer's view: its "right_eye" (point 1) is the subject's left eye.
      d.right_eye = d.landmarks[0];
      d.left_eye = d.landmarks[1];
      d.nose = d.landmarks[2];
      d.mouth_right = d.landmarks[3];
      d.mouth_left = d.landmarks[4];
      faces.push_back(std::move(d));
    }
    return faces;
  }

 private:
  std::vector<Cand> StagePnet(const FloatImage& img) const {
    const double min_dim = std::min(img.w, img.h);
    const double levels = std::nearbyint(-(std::log(min_dim / 12.0) / std::log(double{kFactor}) + 1));
    std::vector<Cand> all;
    for (int k = 0; k < levels; ++k) {
      const double scale = 12.0 / kMinFace * std::pow(double{kFactor}, k);
      const int ws = static_cast<int>(img.w * scale), hs = static_cast<int>(img.h * scale);
      if (ws < 12 || hs < 12) break;
      const FloatImage level = AreaResize(img, ws, hs);
      const auto outs = pnet_->Run({{{1, hs, ws, 3}, level.px.data()}});
      const rt::Tensor& prob = outs[pnet_->output_index("prob")];
      const rt::Tensor& reg = outs[pnet_->output_index("bbox_reg")];
      if (prob.shape.size() != 4 || prob.shape[3] != 2)
        throw Error(ErrorCode::kInvalidModel, "mtcnn detector: P-Net output 'prob' is not [1,h,w,2]");
      const int oh = static_cast<int>(prob.shape[1]), ow = static_cast<int>(prob.shape[2]);
      det2::Output(*pnet_, outs, "bbox_reg", static_cast<size_t>(oh) * ow * 4, "mtcnn detector");
      std::vector<Cand> found;
      for (int y = 0; y < oh; ++y) {
        for (int x = 0; x < ow; ++x) {
          const size_t i = static_cast<size_t>(y) * ow + x;
          const float p = prob.data[i * 2 + 1];
          if (!(p > kPnetThreshold)) continue;
          const float* r = &reg.data[i * 4];
          Cand c;
          c.x1 = static_cast<float>((2 * x + r[0] * 12) / scale);
          c.y1 = static_cast<float>((2 * y + r[1] * 12) / scale);
          c.x2 = static_cast<float>((2 * x + 12 + r[2] * 12) / scale);
          c.y2 = static_cast<float>((2 * y + 12 + r[3] * 12) / scale);
          c.score = p;
          if (std::isfinite(c.x1) && std::isfinite(c.y1) && std::isfinite(c.x2) && std::isfinite(c.y2))
            found.push_back(c);
        }
      }
      SortByScore(&found);
      for (const Cand& c : IpazcNms(found, kPnetNmsLevel, false)) all.push_back(c);
    }
    SortByScore(&all);
    all = IpazcNms(all, kPnetNmsAll, false);
    Square(&all);
    return all;
  }

  // Crops every candidate to side x side and runs `net` once on the batch.
  std::vector<rt::Tensor> RunCrops(const rt::Model& net, const FloatImage& img, const std::vector<Cand>& boxes,
                                   int side) const {
    const int n = static_cast<int>(boxes.size()), batch = BatchBucket(n);
    const size_t per = static_cast<size_t>(side) * side * 3;
    std::vector<float> x(per * batch, 0.f);
    for (int i = 0; i < n; ++i) CropResize(img, boxes[i], side, &x[per * i]);
    return net.Run({{{batch, side, side, 3}, x.data()}});
  }

  std::vector<Cand> StageRnet(const FloatImage& img, std::vector<Cand> boxes) const {
    const auto outs = RunCrops(*rnet_, img, boxes, 24);
    const int batch = BatchBucket(static_cast<int>(boxes.size()));
    const rt::Tensor& prob = det2::Output(*rnet_, outs, "prob", static_cast<size_t>(batch) * 2, "mtcnn detector");
    const rt::Tensor& reg = det2::Output(*rnet_, outs, "bbox_reg", static_cast<size_t>(batch) * 4, "mtcnn detector");
    std::vector<Cand> kept;
    for (size_t i = 0; i < boxes.size(); ++i) {
      Cand c = boxes[i];
      c.score = prob.data[i * 2 + 1];
      Refine(&c, &reg.data[i * 4]);
      if (c.score > kRnetThreshold) kept.push_back(c);
    }
    SortByScore(&kept);
    kept = IpazcNms(kept, kRnetNms, false);
    Square(&kept);
    return kept;
  }

  std::vector<Cand> StageOnet(const FloatImage& img, std::vector<Cand> boxes) const {
    const auto outs = RunCrops(*onet_, img, boxes, 48);
    const int batch = BatchBucket(static_cast<int>(boxes.size()));
    const rt::Tensor& prob = det2::Output(*onet_, outs, "prob", static_cast<size_t>(batch) * 2, "mtcnn detector");
    const rt::Tensor& reg = det2::Output(*onet_, outs, "bbox_reg", static_cast<size_t>(batch) * 4, "mtcnn detector");
    const rt::Tensor& lm = det2::Output(*onet_, outs, "landmarks", static_cast<size_t>(batch) * 10, "mtcnn detector");
    std::vector<Cand> kept;
    for (size_t i = 0; i < boxes.size(); ++i) {
      Cand c = boxes[i];
      const float w = c.x2 - c.x1 + 1, h = c.y2 - c.y1 + 1;
      for (int k = 0; k < 5; ++k) {
        c.lm[k] = w * lm.data[i * 10 + k] + c.x1 - 1;
        c.lm[5 + k] = h * lm.data[i * 10 + 5 + k] + c.y1 - 1;
      }
      c.score = prob.data[i * 2 + 1];
      Refine(&c, &reg.data[i * 4]);
      if (c.score > threshold_) kept.push_back(c);
    }
    SortByScore(&kept);
    return IpazcNms(kept, nms_iou_, true);
  }

  std::shared_ptr<const rt::Model> pnet_, rnet_, onet_;
  models::InputSpec spec_;
  float threshold_ = 0, nms_iou_ = 0;
};

}  // namespace

std::unique_ptr<Detector> MakeMtcnnDetector(const std::string& models_dir, const DetectorOptions& options) {
  return std::make_unique<MtcnnDetector>(models_dir, options);
}

}  // namespace facelib
