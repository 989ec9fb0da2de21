#include "converters/dlib_format.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "converters/converter.h"
#include "runtime/error.h"

namespace facelib::convert::dlibfmt {

// ---------------------------------------------------------------------------
// base64

std::vector<uint8_t> DecodeBase64(const std::string& text, const std::string& label) {
  auto value = [](unsigned char ch) -> int {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+') return 62;
    if (ch == '/') return 63;
    return -1;
  };
  std::vector<uint8_t> out;
  out.reserve(text.size() / 4 * 3);
  int group[4];
  int n = 0, pad = 0;
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char ch = static_cast<unsigned char>(text[i]);
    if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') continue;
    ++chars;
    if (ch == '=') {
      // Padding only in the last two positions of the final group.
      if (n < 2) Malformed(label, "invalid base64: '=' at character " + std::to_string(i));
      group[n++] = 0;
      ++pad;
    } else {
      const int v = value(ch);
      if (v < 0) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "0x%02x", ch);
        Malformed(label, std::string("invalid base64 character ") + buf + " at offset " + std::to_string(i));
      }
      if (pad) Malformed(label, "invalid base64: data after '=' padding at offset " + std::to_string(i));
      group[n++] = v;
    }
    if (n == 4) {
      const uint32_t bits = (static_cast<uint32_t>(group[0]) << 18) | (static_cast<uint32_t>(group[1]) << 12) |
                            (static_cast<uint32_t>(group[2]) << 6) | static_cast<uint32_t>(group[3]);
      out.push_back(static_cast<uint8_t>(bits >> 16));
      if (pad < 2) out.push_back(static_cast<uint8_t>(bits >> 8));
      if (pad < 1) out.push_back(static_cast<uint8_t>(bits));
      n = 0;
    }
  }
  if (n != 0)
    Malformed(label, "invalid base64: " + std::to_string(chars) +
                         " characters is not a whole number of 4-character groups (truncated?)");
  return out;
}

// ---------------------------------------------------------------------------
// CRC-32

uint32_t Crc32(const uint8_t* data, size_t size) {
  static const auto table = [] {
    std::vector<uint32_t> t(256);
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) crc = (crc >> 8) ^ table[(crc ^ data[i]) & 0xFF];
  return crc ^ 0xFFFFFFFFu;
}

// ---------------------------------------------------------------------------
// compress_stream::kernel_1ea

namespace {

// The range decoder: 32-bit low/high with `high` one below the real upper
// bound; bytes are shifted in when the top 8 bits agree, and the range is
// forced open when it narrows below 2^16 without a common top byte.
class RangeDecoder {
 public:
  RangeDecoder(const uint8_t* data, size_t size, const std::string& label)
      : p_(data), end_(data + size), label_(label) {
    for (int i = 0; i < 4; ++i) target_ = (target_ << 8) | NextByte();
  }
  uint32_t GetTarget(uint32_t total) {
    r_ = (high_ - low_ + 1) / total;
    if (r_ == 0) Malformed(label_, "corrupt compressed stream (range underflow)");
    const uint32_t t = (target_ - low_) / r_;
    return t < total ? t : total - 1;
  }
  void Decode(uint32_t low_count, uint32_t high_count) {
    high_ = low_ + r_ * high_count - 1;
    low_ = low_ + r_ * low_count;
    r_ = 0;
    while (true) {
      if ((high_ & 0xFF000000u) != (low_ & 0xFF000000u)) {
        if (high_ - low_ < 0x10000u) {
          if (high_ - low_ > 0x1000u) {
            high_ >>= 1;
            low_ >>= 1;
            high_ = low_ = high_ + low_;
            high_ += 0xFF;
            low_ -= 0xFF;
          } else {
            high_ >>= 1;
            low_ >>= 1;
            high_ = low_ = high_ + low_;
          }
        } else {
          break;
        }
      } else {
        const uint8_t b = NextByte();
        target_ <<= 8;
        high_ <<= 8;
        low_ <<= 8;
        high_ |= 0xFF;
        if (low_ == 0) low_ = 1;
        target_ |= b;
      }
    }
  }
  // Bytes read past the end of the input (they read as zero, as in dlib).
  size_t overrun() const { return overrun_; }

 private:
  uint8_t NextByte() {
    if (p_ < end_) return *p_++;
    ++overrun_;
    return 0;
  }
  const uint8_t* p_;
  const uint8_t* end_;
  const std::string& label_;
  uint32_t low_ = 1, high_ = 0xFFFFFFFFu, target_ = 0, r_ = 0;
  size_t overrun_ = 0;
};

// The PPM model of entropy_decoder_model kernel_5 with alphabet 257, a trie
// of 200000 nodes and maximum order 4. Nodes are addressed by index; -1 is
// "none" and node 0 is the root (the empty context).
class PpmModel {
 public:
  static constexpr uint32_t kAlphabet = 257;
  static constexpr int32_t kTotalNodes = 200000;
  static constexpr uint32_t kOrder = 4;

  PpmModel(RangeDecoder* coder, const std::string& label) : coder_(*coder), label_(label), nodes_(kTotalNodes) {
    Clear();
  }

  uint32_t Decode() {
    int32_t temp = cur_;
    cur_ = kNone;
    int32_t new_node = kNone;
    uint32_t local_order = cur_order_;
    uint16_t c = 0, t = 0;
    uint32_t symbol = 0;
    if (exc_used_) ClearExclusions();

    while (true) {
      if (next_node_ < kTotalNodes) {
        Node& tn = nodes_[temp];
        uint32_t total_count = tn.total;
        if (total_count > 0) {
          if (total_count > 10000) {
            ScaleCounts(temp);
            total_count = tn.total;
          }
          if (exc_used_) {
            total_count = tn.escapes;
            for (int32_t n = tn.child;; n = nodes_[n].next) {
              if (!IsExcluded(nodes_[n].symbol)) total_count += nodes_[n].count;
              if (nodes_[n].next == kNone) break;
            }
          }
          const uint32_t target = coder_.GetTarget(total_count);
          int32_t n = tn.child;
          int32_t last = kNone;
          uint32_t high_count = 0;
          while (true) {
            if (!IsExcluded(nodes_[n].symbol)) {
              high_count += nodes_[n].count;
              Exclude(nodes_[n].symbol);
            }
            if (high_count > target || nodes_[n].next == kNone) break;
            last = n;
            n = nodes_[n].next;
          }
          if (high_count > target) {
            // Found the symbol in this context.
            Node& nn = nodes_[n];
            const uint32_t low_count = high_count - nn.count;
            if (new_node != kNone) nodes_[new_node].parent = n;
            symbol = nn.symbol;
            coder_.Decode(low_count, high_count);
            nn.count = static_cast<uint16_t>(nn.count + 8);
            c = nn.count;
            tn.total = static_cast<uint16_t>(tn.total + 8);
            t = tn.total;
            if (last != kNone) {  // move to the front of the list
              nodes_[last].next = nn.next;
              nn.next = tn.child;
              tn.child = n;
            }
            if (cur_ == kNone) {
              if (local_order < kOrder) {
                cur_order_ = local_order + 1;
                cur_ = n;
              } else {
                cur_ = nn.parent;
                cur_order_ = local_order;
              }
            }
            break;
          }
          // Escape: the symbol is new in this context.
          new_node = ChainNewNode(new_node);
          nodes_[n].next = new_node;
          coder_.Decode(high_count, total_count);
        } else {
          new_node = ChainNewNode(new_node);
          tn.child = new_node;
        }
        if (cur_ == kNone && local_order < kOrder) {
          cur_ = new_node;
          cur_order_ = local_order + 1;
        }
        Node& nw = nodes_[new_node];
        nw.child = kNone;
        nw.escapes = 0;
        nw.next = kNone;
        Push(new_node, temp);
        nw.total = 0;
        if (temp != 0) {
          temp = nodes_[temp].parent;
          --local_order;
          continue;
        }
        // Order -1: every symbol equally likely.
        t = 2056;
        c = 8;
        const uint32_t target = coder_.GetTarget(kAlphabet);
        nodes_[new_node].parent = 0;
        coder_.Decode(target, target + 1);
        symbol = target;
        if (cur_ == kNone) {
          cur_ = 0;
          cur_order_ = 0;
        }
        break;
      } else {
        // Out of nodes: start a fresh model and decode from the root.
        Clear();
        temp = cur_;
        local_order = cur_order_;
        cur_ = kNone;
        new_node = kNone;
      }
    }

    // Information inheritance: initial counts of the nodes created above.
    while (stack_size_ > 0) {
      --stack_size_;
      Node& n = nodes_[stack_[stack_size_].n];
      Node& nc = nodes_[stack_[stack_size_].nc];
      n.symbol = static_cast<uint16_t>(symbol);
      if (nc.total) {
        const int diff = int{t} - int{c} + int{nc.total} - int{nc.escapes} - int{nc.escapes};
        const uint64_t temp2 = static_cast<uint64_t>(static_cast<int64_t>(diff));
        uint64_t v = nc.total;
        v *= c;
        v /= (temp2 | 1);
        v += 2;
        if (v > 50000) v = 50000;
        n.count = static_cast<uint16_t>(v);
        nc.escapes = static_cast<uint16_t>(nc.escapes + 4);
        nc.total = static_cast<uint16_t>(nc.total + static_cast<uint16_t>(v) + 4);
      } else {
        if (t == c) Malformed(label_, "corrupt compressed stream (empty context statistics)");
        n.count = static_cast<uint16_t>(3 + 5 * int{c} / (int{t} - int{c}));
        nc.escapes = 4;
        nc.total = static_cast<uint16_t>(n.count + 4);
      }
      for (int guard = 0; nc.total > 10000; ++guard) {
        if (guard > 32) Malformed(label_, "corrupt compressed stream (counts do not scale)");
        ScaleCounts(stack_[stack_size_].nc);
      }
    }
    return symbol;
  }

 private:
  static constexpr int32_t kNone = -1;
  struct Node {
    int32_t next = kNone, child = kNone, parent = kNone;
    uint16_t symbol = 0, count = 0, total = 0, escapes = 0;
  };
  struct StackEntry {
    int32_t n, nc;
  };

  void Clear() {
    next_node_ = 1;
    nodes_[0].child = kNone;
    nodes_[0].escapes = 0;
    nodes_[0].total = 0;
    nodes_[0].next = kNone;
    nodes_[0].parent = kNone;
    cur_ = 0;
    cur_order_ = 0;
    stack_size_ = 0;
    ClearExclusions();
  }
  int32_t Allocate() { return next_node_++; }
  // A new node for the current context; when one was already created for a
  // longer context, it becomes that node's parent context.
  int32_t ChainNewNode(int32_t new_node) {
    if (new_node != kNone) {
      const int32_t n = Allocate();
      nodes_[new_node].parent = n;
      return n;
    }
    return Allocate();
  }
  void Push(int32_t n, int32_t nc) {
    if (stack_size_ > kOrder) Malformed(label_, "corrupt compressed stream (context stack overflow)");
    stack_[stack_size_++] = {n, nc};
  }
  void Exclude(uint16_t s) {
    exc_used_ = true;
    exc_[s >> 5] |= 1u << (s & 31);
  }
  bool IsExcluded(uint16_t s) const { return (exc_[s >> 5] >> (s & 31)) & 1u; }
  void ClearExclusions() {
    exc_used_ = false;
    for (uint32_t& e : exc_) e = 0;
  }
  void ScaleCounts(int32_t ni) {
    Node& tn = nodes_[ni];
    if (tn.escapes > 1) tn.escapes >>= 1;
    tn.total = tn.escapes;
    for (int32_t n = tn.child; n != kNone; n = nodes_[n].next) {
      if (nodes_[n].count > 1) nodes_[n].count >>= 1;
      tn.total = static_cast<uint16_t>(tn.total + nodes_[n].count);
    }
  }

  RangeDecoder& coder_;
  const std::string& label_;
  std::vector<Node> nodes_;
  int32_t next_node_ = 1;
  int32_t cur_ = 0;
  uint32_t cur_order_ = 0;
  uint32_t exc_[kAlphabet / 32 + 1] = {};
  bool exc_used_ = false;
  StackEntry stack_[kOrder + 1] = {};
  uint32_t stack_size_ = 0;
};

}  // namespace

std::vector<uint8_t> DecompressKernel1ea(const uint8_t* data, size_t size, const std::string& label,
                                         size_t max_output) {
  if (size < 4) Malformed(label, "compressed stream of " + std::to_string(size) + " bytes is too short");
  RangeDecoder coder(data, size, label);
  PpmModel model(&coder, label);
  std::vector<uint8_t> out;
  uint32_t count = 0;
  // A stream ends with the end symbol; reading far past the input means it was cut short.
  const size_t max_overrun = 64;
  while (true) {
    if (count == 20000) {
      if (coder.GetTarget(8000) != 1500)
        Malformed(label, "corrupt compressed stream: sync marker missing after " + std::to_string(out.size()) +
                             " bytes");
      count = 0;
      coder.Decode(1500, 1501);
    }
    ++count;
    const uint32_t symbol = model.Decode();
    if (coder.overrun() > max_overrun)
      Malformed(label, "compressed stream is truncated (end of input after " + std::to_string(out.size()) +
                           " decoded bytes)");
    if (symbol == 256) break;
    if (out.size() >= max_output)
      throw Error(ErrorCode::kResourceExhausted,
                  label + ": decompressed data exceeds " + std::to_string(max_output) + " bytes");
    out.push_back(static_cast<uint8_t>(symbol));
  }
  uint32_t stored = 0;
  for (int i = 0; i < 4; ++i) stored = (stored << 8) | static_cast<uint8_t>(model.Decode());
  if (coder.overrun() > max_overrun) Malformed(label, "compressed stream is truncated (in its checksum)");
  const uint32_t crc = Crc32(out.data(), out.size());
  if (stored != crc) {
    char buf[96];
    std::snprintf(buf, sizeof(buf), "CRC-32 mismatch: stored 0x%08x, data gives 0x%08x", stored, crc);
    // A stream that ends early decodes zeros until it happens upon the end symbol.
    if (coder.overrun() > 4)
      Malformed(label, "compressed stream is truncated (decoding ran " + std::to_string(coder.overrun()) +
                           " bytes past its end; " + buf + ")");
    Malformed(label, buf);
  }
  return out;
}

// ---------------------------------------------------------------------------
// frontal_face_detector.h

DetectorHeader ExtractDetectorHeader(const std::string& text, const std::string& label) {
  DetectorHeader h;
  // The literals are inside the function's definition, its last mention.
  const size_t body = text.rfind("get_serialized_frontal_faces()");
  if (body == std::string::npos)
    Malformed(label, "no get_serialized_frontal_faces() function (not dlib's frontal_face_detector.h?)");
  const std::string key = "sout << \"";
  for (size_t pos = text.find(key, body); pos != std::string::npos; pos = text.find(key, pos)) {
    pos += key.size();
    const size_t close = text.find('"', pos);
    if (close == std::string::npos) Malformed(label, "unterminated string literal at offset " + std::to_string(pos));
    h.base64.append(text, pos, close - pos);
    pos = close + 1;
  }
  if (h.base64.empty()) Malformed(label, "no base64 detector data (sout << \"...\" lines) found");
  const std::string pd = "scan_fhog_pyramid<pyramid_down<";
  const size_t p = text.find(pd);
  if (p == std::string::npos) Malformed(label, "no scan_fhog_pyramid<pyramid_down<N> > typedef found");
  size_t q = p + pd.size();
  int n = 0;
  while (q < text.size() && text[q] >= '0' && text[q] <= '9' && n < 1000) n = n * 10 + (text[q++] - '0');
  if (q >= text.size() || text[q] != '>' || n < 2)
    Malformed(label, "unreadable pyramid_down<N> in the detector typedef");
  h.pyramid_down = n;
  return h;
}

// ---------------------------------------------------------------------------
// Serialisation

uint8_t Reader::Byte(const std::string& what) {
  if (p_ >= end_) Malformed(label_, "truncated: end of data while reading " + what);
  return *p_++;
}

int64_t Reader::Signed(const std::string& what, int max_bytes) {
  const uint8_t ctrl = Byte(what);
  const bool neg = ctrl & 0x80;
  const int size = ctrl & 0x0F;
  if (size == 0 || size > max_bytes)
    Malformed(label_, "bad integer encoding for " + what + " (control byte " + std::to_string(ctrl) + ")");
  uint64_t v = 0;
  for (int i = 0; i < size; ++i) v |= static_cast<uint64_t>(Byte(what)) << (8 * i);
  if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    Malformed(label_, "integer out of range for " + what);
  const int64_t s = static_cast<int64_t>(v);
  return neg ? -s : s;
}

uint64_t Reader::Unsigned(const std::string& what, int max_bytes) {
  const uint8_t ctrl = Byte(what);
  const int size = ctrl & 0x8F;
  if (size == 0 || size > max_bytes)
    Malformed(label_, "bad unsigned integer encoding for " + what + " (control byte " + std::to_string(ctrl) + ")");
  uint64_t v = 0;
  for (int i = 0; i < size; ++i) v |= static_cast<uint64_t>(Byte(what)) << (8 * i);
  return v;
}

namespace {
constexpr int64_t kIsInf = 32000, kIsNInf = 32001, kIsNaN = 32002;
}

double Reader::Double(const std::string& what) {
  if (p_ < end_ && (*p_ & 0x70) != 0)
    Unsupported(label_, what + " uses dlib's old text number format, which is not supported");
  const int64_t mantissa = Signed(what + " (mantissa)", 8);
  const int64_t exponent = Signed(what + " (exponent)", 2);
  if (exponent < kIsInf) return std::ldexp(static_cast<double>(mantissa), static_cast<int>(exponent));
  if (exponent == kIsInf) return std::numeric_limits<double>::infinity();
  if (exponent == kIsNInf) return -std::numeric_limits<double>::infinity();
  return std::numeric_limits<double>::quiet_NaN();
}

float Reader::Float(const std::string& what) {
  if (p_ < end_ && (*p_ & 0x70) != 0)
    Unsupported(label_, what + " uses dlib's old text number format, which is not supported");
  const int64_t mantissa = Signed(what + " (mantissa)", 8);
  const int64_t exponent = Signed(what + " (exponent)", 2);
  if (exponent < kIsInf) return std::ldexp(static_cast<float>(mantissa), static_cast<int>(exponent));
  if (exponent == kIsInf) return std::numeric_limits<float>::infinity();
  if (exponent == kIsNInf) return -std::numeric_limits<float>::infinity();
  return std::numeric_limits<float>::quiet_NaN();
}

size_t Reader::Size(const std::string& what, size_t limit) {
  const uint64_t v = Unsigned(what, 8);
  if (v > limit)
    Malformed(label_, what + " is " + std::to_string(v) + ", more than the limit " + std::to_string(limit));
  return static_cast<size_t>(v);
}

void Reader::MatrixDims(const std::string& what, int64_t* rows, int64_t* cols) {
  int64_t r = Signed(what + " rows", 8), c = Signed(what + " cols", 8);
  // Newer dlib writes negative sizes; older files positive ones.
  if (r < 0 || c < 0) {
    r = -r;
    c = -c;
  }
  if (r < 0 || c < 0 || r > (int64_t{1} << 28) || c > (int64_t{1} << 28) || r * c > (int64_t{1} << 28))
    Malformed(label_, what + " has invalid dimensions " + std::to_string(r) + "x" + std::to_string(c));
  *rows = r;
  *cols = c;
}

namespace {

void ExpectFinite(double v, const std::string& label, const std::string& what) {
  if (!std::isfinite(v)) Malformed(label, what + " is not finite");
}

void ExpectEnd(const Reader& r, const std::string& what) {
  if (r.remaining() != 0)
    Malformed(r.label(), std::to_string(r.remaining()) + " unexpected bytes after the " + what);
}

}  // namespace

HogDetector ParseObjectDetector(const std::vector<uint8_t>& bytes, const std::string& label) {
  Reader r(bytes.data(), bytes.size(), label);
  HogDetector d;
  const int64_t version = r.Signed("object_detector version", 4);
  if (version != 1 && version != 2)
    Unsupported(label, "object_detector version " + std::to_string(version) + " (expected 1 or 2)");

  auto read_scanner = [&] {
    const int64_t sv = r.Signed("scan_fhog_pyramid version", 4);
    if (sv != 1) Unsupported(label, "scan_fhog_pyramid version " + std::to_string(sv) + " (expected 1)");
    // default_fhog_feature_extractor has no state. The cached feature pyramid
    // (an array of arrays) is empty in a saved detector.
    r.Unsigned("feature pyramid max_size");
    if (r.Unsigned("feature pyramid size") != 0)
      Unsupported(label, "the detector holds a cached feature pyramid (only saved detectors are supported)");
    d.cell_size = r.Signed("cell_size", 4);
    d.padding = r.Unsigned("padding");
    d.window_width = r.Unsigned("window_width");
    d.window_height = r.Unsigned("window_height");
    d.max_pyramid_levels = r.Unsigned("max_pyramid_levels");
    d.min_pyramid_layer_width = r.Unsigned("min_pyramid_layer_width");
    d.min_pyramid_layer_height = r.Unsigned("min_pyramid_layer_height");
    d.nuclear_norm_regularization = r.Double("nuclear_norm_regularization_strength");
    const int64_t dims = r.Signed("num_dimensions", 8);
    if (d.cell_size <= 0 || d.cell_size > 64) Malformed(label, "cell_size " + std::to_string(d.cell_size));
    if (d.window_width == 0 || d.window_height == 0 || d.window_width > 4096 || d.window_height > 4096)
      Malformed(label, "detection window " + std::to_string(d.window_width) + "x" + std::to_string(d.window_height));
    if (d.padding > 64) Malformed(label, "padding " + std::to_string(d.padding));
    if (d.max_pyramid_levels == 0) Malformed(label, "max_pyramid_levels is 0");
    // The fHOG window: the detection window centred on (0,0), mapped to
    // feature cells (one pixel border, one cell border), grown by the padding.
    const int64_t cs = d.cell_size;
    const int64_t left = -static_cast<int64_t>(d.window_width) / 2, top = -static_cast<int64_t>(d.window_height) / 2;
    const int64_t right = left + static_cast<int64_t>(d.window_width) - 1;
    const int64_t bottom = top + static_cast<int64_t>(d.window_height) - 1;
    auto to_cell = [&](int64_t v) { return (v - 1) / cs - 1; };
    const int64_t pad = static_cast<int64_t>(d.padding);
    d.filter_width = static_cast<int>(to_cell(right) - to_cell(left) + 1 + 2 * pad);
    d.filter_height = static_cast<int>(to_cell(bottom) - to_cell(top) + 1 + 2 * pad);
    if (d.filter_width <= 0 || d.filter_height <= 0)
      Malformed(label, "detection window smaller than one cell");
    const int64_t expect = int64_t{d.filter_width} * d.filter_height * HogDetector::kPlanes;
    if (dims != expect)
      Malformed(label, "num_dimensions " + std::to_string(dims) + " does not match the " +
                           std::to_string(d.filter_width) + "x" + std::to_string(d.filter_height) + "x31 fHOG window");
  };
  auto read_overlap = [&] {
    d.overlap_iou = r.Double("overlap iou_thresh");
    d.overlap_percent_covered = r.Double("overlap percent_covered_thresh");
    if (!(d.overlap_iou >= 0 && d.overlap_iou <= 1) ||
        !(d.overlap_percent_covered >= 0 && d.overlap_percent_covered <= 1))
      Malformed(label, "overlap thresholds out of [0,1]");
  };
  auto read_weights = [&](size_t i) {
    const std::string what = "weight vector " + std::to_string(i);
    int64_t rows, cols;
    r.MatrixDims(what, &rows, &cols);
    const int64_t need = int64_t{d.filter_width} * d.filter_height * HogDetector::kPlanes + 1;
    if (cols != 1 || rows != need)
      Malformed(label, what + " is " + std::to_string(rows) + "x" + std::to_string(cols) + ", expected " +
                           std::to_string(need) + "x1");
    if (static_cast<uint64_t>(rows) > r.remaining() / 2)
      Malformed(label, "truncated: " + what + " needs " + std::to_string(rows) + " values, " +
                           std::to_string(r.remaining()) + " bytes remain");
    std::vector<double> w(static_cast<size_t>(rows));
    for (int64_t k = 0; k < rows; ++k) {
      w[k] = r.Double(what);
      ExpectFinite(w[k], label, what + " element " + std::to_string(k));
    }
    d.weights.push_back(std::move(w));
  };

  if (version == 1) {
    read_scanner();
    read_weights(0);
    read_overlap();
  } else {
    read_scanner();
    read_overlap();
    const size_t n = r.Size("number of detectors", 1024);
    if (n == 0) Malformed(label, "object_detector holds no detectors");
    for (size_t i = 0; i < n; ++i) read_weights(i);
  }
  ExpectEnd(r, "object_detector");
  return d;
}

ShapePredictorData ParseShapePredictor(const std::vector<uint8_t>& bytes, const std::string& label) {
  Reader r(bytes.data(), bytes.size(), label);
  ShapePredictorData sp;
  const int64_t version = r.Signed("shape_predictor version", 4);
  if (version != 1) Unsupported(label, "shape_predictor version " + std::to_string(version) + " (expected 1)");

  int64_t rows, cols;
  r.MatrixDims("initial_shape", &rows, &cols);
  if (cols != 1 || rows <= 0 || rows % 2 != 0 || rows > 100000)
    Malformed(label, "initial_shape is " + std::to_string(rows) + "x" + std::to_string(cols) +
                         ", expected an even-length column vector");
  sp.initial_shape.resize(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) {
    sp.initial_shape[i] = r.Float("initial_shape");
    ExpectFinite(sp.initial_shape[i], label, "initial_shape element " + std::to_string(i));
  }
  const size_t shape_len = sp.initial_shape.size();
  const uint32_t num_parts = static_cast<uint32_t>(shape_len / 2);

  // Counts are checked against the bytes left (every element takes at least
  // two), and containers grow as elements are read, so a hostile count
  // cannot allocate much more memory than the input's size.
  const size_t limit = bytes.size();
  const size_t cascades = r.Size("number of cascades", 10000);
  sp.forests.resize(cascades);
  for (size_t c = 0; c < cascades; ++c) {
    const std::string cw = "cascade " + std::to_string(c);
    const size_t trees = r.Size(cw + " tree count", r.remaining() / 4);
    sp.forests[c].reserve(std::min<size_t>(trees, 4096));
    for (size_t t = 0; t < trees; ++t) {
      const std::string tw = cw + " tree " + std::to_string(t);
      sp.forests[c].emplace_back();
      RegressionTree& tree = sp.forests[c].back();
      const size_t splits = r.Size(tw + " split count", r.remaining() / 6);
      tree.idx1.resize(splits);
      tree.idx2.resize(splits);
      tree.thresh.resize(splits);
      for (size_t s = 0; s < splits; ++s) {
        tree.idx1[s] = static_cast<uint32_t>(r.Size(tw + " split idx1", 0xFFFFFFFFu));
        tree.idx2[s] = static_cast<uint32_t>(r.Size(tw + " split idx2", 0xFFFFFFFFu));
        tree.thresh[s] = r.Float(tw + " split thresh");
        ExpectFinite(tree.thresh[s], label, tw + " split threshold");
      }
      const size_t leaves = r.Size(tw + " leaf count", limit);
      if (leaves != splits + 1 || (leaves & (leaves - 1)) != 0)
        Malformed(label, tw + " has " + std::to_string(splits) + " splits and " + std::to_string(leaves) +
                             " leaves (expected a full binary tree)");
      if (leaves > r.remaining() / (2 * shape_len + 2))
        Malformed(label, "truncated: " + tw + " has " + std::to_string(leaves) + " leaves but only " +
                             std::to_string(r.remaining()) + " bytes remain");
      tree.leaf_values.resize(leaves);
      for (size_t l = 0; l < leaves; ++l) {
        int64_t lr, lc;
        r.MatrixDims(tw + " leaf", &lr, &lc);
        if (lc != 1 || lr != static_cast<int64_t>(shape_len))
          Malformed(label, tw + " leaf " + std::to_string(l) + " is " + std::to_string(lr) + "x" + std::to_string(lc) +
                               ", expected " + std::to_string(shape_len) + "x1");
        std::vector<float>& v = tree.leaf_values[l];
        v.resize(shape_len);
        for (size_t k = 0; k < shape_len; ++k) {
          v[k] = r.Float(tw + " leaf value");
          if (!std::isfinite(v[k])) Malformed(label, tw + " leaf value is not finite");
        }
      }
    }
  }

  const size_t anchor_cascades = r.Size("anchor_idx cascade count", 10000);
  if (anchor_cascades != cascades)
    Malformed(label, "anchor_idx has " + std::to_string(anchor_cascades) + " cascades, forests " +
                         std::to_string(cascades));
  sp.anchor_idx.resize(cascades);
  for (size_t c = 0; c < cascades; ++c) {
    const size_t n = r.Size("cascade " + std::to_string(c) + " anchor count", r.remaining() / 2);
    sp.anchor_idx[c].resize(n);
    for (size_t i = 0; i < n; ++i) {
      const uint64_t a = r.Unsigned("anchor index");
      if (a >= num_parts)
        Malformed(label, "cascade " + std::to_string(c) + " anchor index " + std::to_string(a) + " >= " +
                             std::to_string(num_parts) + " parts");
      sp.anchor_idx[c][i] = static_cast<uint32_t>(a);
    }
  }
  const size_t delta_cascades = r.Size("deltas cascade count", 10000);
  if (delta_cascades != cascades)
    Malformed(label, "deltas has " + std::to_string(delta_cascades) + " cascades, forests " + std::to_string(cascades));
  sp.deltas.resize(cascades);
  for (size_t c = 0; c < cascades; ++c) {
    const size_t n = r.Size("cascade " + std::to_string(c) + " delta count", r.remaining() / 4);
    if (n != sp.anchor_idx[c].size())
      Malformed(label, "cascade " + std::to_string(c) + " has " + std::to_string(n) + " deltas and " +
                           std::to_string(sp.anchor_idx[c].size()) + " anchors");
    sp.deltas[c].resize(2 * n);
    for (size_t i = 0; i < 2 * n; ++i) {
      sp.deltas[c][i] = r.Float("delta");
      ExpectFinite(sp.deltas[c][i], label, "cascade " + std::to_string(c) + " delta");
    }
    for (const RegressionTree& tree : sp.forests[c])
      for (size_t s = 0; s < tree.idx1.size(); ++s)
        if (tree.idx1[s] >= n || tree.idx2[s] >= n)
          Malformed(label, "cascade " + std::to_string(c) + " split refers to feature pixel " +
                               std::to_string(std::max(tree.idx1[s], tree.idx2[s])) + " of " + std::to_string(n));
  }
  ExpectEnd(r, "shape_predictor");
  return sp;
}

}  // namespace facelib::convert::dlibfmt
