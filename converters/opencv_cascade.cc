#include "converters/opencv_cascade.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "converters/converter.h"
#include "models/haar_cascade_format.h"
#include "runtime/error.h"

namespace facelib::convert {
namespace {

namespace hc = models::haar;

// ---------------------------------------------------------------- XML reader

struct XmlElement {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attributes;
  std::string text;  // character data directly inside this element
  std::vector<XmlElement> children;
  int line = 0;

  const XmlElement* Child(std::string_view n) const {
    for (const XmlElement& c : children)
      if (c.name == n) return &c;
    return nullptr;
  }
  const std::string* Attribute(std::string_view n) const {
    for (const auto& [k, v] : attributes)
      if (k == n) return &v;
    return nullptr;
  }
};

class XmlParser {
 public:
  XmlParser(std::string_view s, const std::string& label) : s_(s), label_(label) {}

  XmlElement ParseDocument() {
    if (s_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
    SkipMisc();
    if (AtEnd()) Fail("no root element");
    if (s_[pos_] != '<') Fail("text before the root element");
    XmlElement root = ParseElement(0);
    SkipMisc();
    if (!AtEnd()) Fail("content after the root element </" + root.name + ">");
    return root;
  }

 private:
  static constexpr int kMaxDepth = 64;

  [[noreturn]] void Fail(const std::string& what) const {
    Malformed(label_, "XML line " + std::to_string(Line()) + ": " + what);
  }
  // Line of pos_; the scan resumes where the previous call stopped (pos_ only moves forward).
  int Line() const {
    for (; line_scan_ < pos_ && line_scan_ < s_.size(); ++line_scan_) line_ += s_[line_scan_] == '\n';
    return line_;
  }
  bool AtEnd() const { return pos_ >= s_.size(); }
  bool StartsWith(std::string_view p) const { return s_.substr(pos_, p.size()) == p; }
  static bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  static bool IsNameChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == ':' || static_cast<unsigned char>(c) >= 0x80;
  }
  void SkipSpace() {
    while (!AtEnd() && IsSpace(s_[pos_])) ++pos_;
  }
  // Skips up to and including `end`; fails with `what` when it never comes.
  void SkipPast(std::string_view end, const char* what) {
    const size_t e = s_.find(end, pos_);
    if (e == std::string_view::npos) Fail(std::string("unterminated ") + what + " (truncated file?)");
    pos_ = e + end.size();
  }
  // Whitespace, comments, processing instructions and a DOCTYPE outside the root.
  void SkipMisc() {
    for (;;) {
      SkipSpace();
      if (StartsWith("<?")) {
        SkipPast("?>", "processing instruction");
      } else if (StartsWith("<!--")) {
        SkipPast("-->", "comment");
      } else if (StartsWith("<!DOCTYPE")) {
        if (s_.find('[', pos_) < s_.find('>', pos_)) Fail("DTDs with internal subsets are not supported");
        SkipPast(">", "DOCTYPE");
      } else {
        return;
      }
    }
  }
  std::string ParseName() {
    const size_t start = pos_;
    while (!AtEnd() && IsNameChar(s_[pos_])) ++pos_;
    if (AtEnd()) Fail("unexpected end of file inside a tag (truncated?)");
    if (pos_ == start) Fail("expected a name");
    return std::string(s_.substr(start, pos_ - start));
  }
  // Appends the decoded entity at pos_ (just after '&').
  void DecodeEntity(std::string* out) {
    const size_t semi = s_.find(';', pos_);
    if (semi == std::string_view::npos || semi - pos_ > 10) Fail("unterminated entity reference");
    const std::string_view ent = s_.substr(pos_, semi - pos_);
    pos_ = semi + 1;
    if (ent == "lt") *out += '<';
    else if (ent == "gt") *out += '>';
    else if (ent == "amp") *out += '&';
    else if (ent == "quot") *out += '"';
    else if (ent == "apos") *out += '\'';
    else if (ent.size() >= 2 && ent[0] == '#') {
      uint32_t cp = 0;
      const bool hex = ent[1] == 'x' || ent[1] == 'X';
      const std::string_view digits = ent.substr(hex ? 2 : 1);
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
      if (ec != std::errc() || p != digits.data() + digits.size() || digits.empty() || cp == 0 || cp > 0x10FFFF)
        Fail("bad character reference &" + std::string(ent) + ";");
      // UTF-8 encode.
      if (cp < 0x80) {
        *out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        *out += static_cast<char>(0xC0 | (cp >> 6));
        *out += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        *out += static_cast<char>(0xE0 | (cp >> 12));
        *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        *out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        *out += static_cast<char>(0xF0 | (cp >> 18));
        *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        *out += static_cast<char>(0x80 | (cp & 0x3F));
      }
    } else {
      Fail("unknown entity &" + std::string(ent) + ";");
    }
  }
  XmlElement ParseElement(int depth) {
    if (depth > kMaxDepth) Fail("elements nested deeper than " + std::to_string(kMaxDepth));
    XmlElement e;
    e.line = Line();
    ++pos_;  // '<'
    e.name = ParseName();
    // Attributes.
    for (;;) {
      SkipSpace();
      if (AtEnd()) Fail("unexpected end of file inside <" + e.name + "> (truncated?)");
      if (StartsWith("/>")) {
        pos_ += 2;
        return e;
      }
      if (s_[pos_] == '>') {
        ++pos_;
        break;
      }
      std::string key = ParseName();
      SkipSpace();
      if (AtEnd() || s_[pos_] != '=') Fail("attribute '" + key + "' of <" + e.name + "> has no value");
      ++pos_;
      SkipSpace();
      if (AtEnd() || (s_[pos_] != '"' && s_[pos_] != '\'')) Fail("attribute '" + key + "' value is not quoted");
      const char quote = s_[pos_++];
      std::string value;
      while (!AtEnd() && s_[pos_] != quote) {
        if (s_[pos_] == '<') Fail("'<' in the value of attribute '" + key + "'");
        if (s_[pos_] == '&') {
          ++pos_;
          DecodeEntity(&value);
        } else {
          value += s_[pos_++];
        }
      }
      if (AtEnd()) Fail("unterminated value of attribute '" + key + "' (truncated?)");
      ++pos_;
      e.attributes.emplace_back(std::move(key), std::move(value));
    }
    // Content.
    for (;;) {
      if (AtEnd()) Fail("element <" + e.name + "> (line " + std::to_string(e.line) + ") is not closed (truncated?)");
      const char c = s_[pos_];
      if (c == '<') {
        if (StartsWith("</")) {
          pos_ += 2;
          const std::string end = ParseName();
          if (end != e.name)
            Fail("</" + end + "> closes <" + e.name + "> opened at line " + std::to_string(e.line));
          SkipSpace();
          if (AtEnd()) Fail("unexpected end of file in </" + end + " (truncated?)");
          if (s_[pos_] != '>') Fail("malformed end tag </" + end);
          ++pos_;
          return e;
        }
        if (StartsWith("<!--")) {
          SkipPast("-->", "comment");
        } else if (StartsWith("<![CDATA[")) {
          const size_t start = pos_ + 9;
          SkipPast("]]>", "CDATA section");
          e.text.append(s_.substr(start, pos_ - 3 - start));
        } else if (StartsWith("<?")) {
          SkipPast("?>", "processing instruction");
        } else if (StartsWith("<!")) {
          Fail("unexpected markup declaration inside <" + e.name + ">");
        } else {
          e.children.push_back(ParseElement(depth + 1));
        }
      } else if (c == '&') {
        ++pos_;
        DecodeEntity(&e.text);
      } else {
        e.text += c;
        ++pos_;
      }
    }
  }

  std::string_view s_;
  const std::string& label_;
  size_t pos_ = 0;
  mutable size_t line_scan_ = 0;
  mutable int line_ = 1;
};

// ---------------------------------------------------------------- cascade fields

class CascadeReader {
 public:
  explicit CascadeReader(const std::string& label) : label_(label) {}

  [[noreturn]] void Bad(const XmlElement& at, const std::string& what) const {
    Malformed(label_, "<" + at.name + "> at line " + std::to_string(at.line) + ": " + what);
  }

  const XmlElement& Need(const XmlElement& parent, const char* name, const std::string& where) const {
    const XmlElement* c = parent.Child(name);
    if (!c) Bad(parent, where + " has no <" + name + ">");
    return *c;
  }

  static std::vector<std::string_view> Tokens(const std::string& text) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < text.size()) {
      while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
      const size_t start = i;
      while (i < text.size() && !(text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
      if (i > start) out.push_back(std::string_view(text).substr(start, i - start));
    }
    return out;
  }

  int64_t ParseInt(std::string_view tok, const XmlElement& at, const std::string& what) const {
    std::string_view t = tok;
    if (!t.empty() && t[0] == '+') t.remove_prefix(1);
    int64_t v = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc() || p != t.data() + t.size() || t.empty())
      Bad(at, what + ": '" + std::string(tok.substr(0, 40)) + "' is not an integer");
    return v;
  }

  // A real number as OpenCV reads it (double, then rounded to float by the caller).
  double ParseReal(std::string_view tok, const XmlElement& at, const std::string& what) const {
    std::string_view t = tok;
    if (!t.empty() && t[0] == '+') t.remove_prefix(1);
    double v = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc() || p != t.data() + t.size() || t.empty())
      Bad(at, what + ": '" + std::string(tok.substr(0, 40)) + "' is not a number");
    if (!std::isfinite(v) || std::fabs(v) > 3.0e38) Bad(at, what + ": " + std::string(tok) + " is out of range");
    return v;
  }

  int64_t ScalarInt(const XmlElement& parent, const char* name, const std::string& where) const {
    const XmlElement& e = Need(parent, name, where);
    const auto toks = Tokens(e.text);
    if (toks.size() != 1) Bad(e, where + " " + name + " must hold one integer");
    return ParseInt(toks[0], e, where + " " + name);
  }

  std::string ScalarString(const XmlElement& parent, const char* name, const std::string& where) const {
    const XmlElement& e = Need(parent, name, where);
    const auto toks = Tokens(e.text);
    if (toks.size() != 1) Bad(e, where + " " + name + " must hold one word");
    std::string s(toks[0]);
    // FileStorage may quote strings.
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
    return s;
  }

 private:
  const std::string& label_;
};

struct Cascade {
  int width = 0, height = 0;
  std::vector<float> stage_threshold;
  std::vector<int64_t> stage_num_trees, tree_num_nodes, node_children, node_feature, feature_rects, feature_tilted;
  std::vector<float> node_threshold, leaf_values, feature_weights;
  int max_tree_nodes = 0;
  bool has_tilted = false;
};

Cascade ReadCascade(const XmlElement& root, const std::string& label) {
  CascadeReader r(label);
  if (root.name != "opencv_storage")
    Malformed(label, "root element is <" + root.name + ">, expected <opencv_storage> (an OpenCV FileStorage XML file)");
  if (root.children.empty()) Malformed(label, "<opencv_storage> is empty");
  const XmlElement& c = root.children.front();
  const std::string* type_id = c.Attribute("type_id");
  const bool old_format = c.Child("size") && c.Child("stages") && !c.Child("stageType");
  if ((type_id && *type_id == "opencv-haar-classifier") || old_format)
    Unsupported(label, "<" + c.name + "> is an old-format Haar cascade (opencv-haar-classifier); only the format "
                           "written by opencv_traincascade (<cascade> with stageType/featureType) is supported");
  if (type_id && *type_id != "opencv-cascade-classifier")
    Malformed(label, "<" + c.name + "> has type_id '" + *type_id + "', expected opencv-cascade-classifier");
  const std::string where = "cascade";
  const std::string stage_type = r.ScalarString(c, "stageType", where);
  if (stage_type != "BOOST") Unsupported(label, "stageType '" + stage_type + "' (only BOOST cascades are supported)");
  const std::string feature_type = r.ScalarString(c, "featureType", where);
  if (feature_type == "LBP" || feature_type == "HOG")
    Unsupported(label, "featureType " + feature_type + ": only HAAR cascades are supported");
  if (feature_type != "HAAR") Malformed(label, "unknown featureType '" + feature_type + "'");

  Cascade out;
  const int64_t w = r.ScalarInt(c, "width", where), h = r.ScalarInt(c, "height", where);
  if (w < 3 || h < 3 || w > hc::kMaxWindow || h > hc::kMaxWindow)
    r.Bad(c, "window " + std::to_string(w) + "x" + std::to_string(h) + " is outside 3.." +
                 std::to_string(hc::kMaxWindow));
  out.width = static_cast<int>(w);
  out.height = static_cast<int>(h);

  const XmlElement& fp = r.Need(c, "featureParams", where);
  if (const XmlElement* mc = fp.Child("maxCatCount")) {
    const auto toks = CascadeReader::Tokens(mc->text);
    if (toks.size() != 1) r.Bad(*mc, "maxCatCount must hold one integer");
    const int64_t cats = r.ParseInt(toks[0], *mc, "maxCatCount");
    if (cats != 0) Unsupported(label, "categorical trees (maxCatCount " + std::to_string(cats) + ") in a HAAR cascade");
  }

  // Features first: the trees refer to them by index.
  const XmlElement& features = r.Need(c, "features", where);
  if (features.children.empty()) r.Bad(features, "no features");
  const int64_t nf = static_cast<int64_t>(features.children.size());
  for (int64_t fi = 0; fi < nf; ++fi) {
    const XmlElement& f = features.children[fi];
    const std::string fw = "feature " + std::to_string(fi);
    bool tilted = false;
    if (const XmlElement* t = f.Child("tilted")) {
      const auto toks = CascadeReader::Tokens(t->text);
      if (toks.size() != 1) r.Bad(*t, fw + " tilted must hold one integer");
      tilted = r.ParseInt(toks[0], *t, fw + " tilted") != 0;
    }
    const XmlElement& rects = r.Need(f, "rects", fw);
    if (rects.children.empty() || rects.children.size() > hc::kMaxRects)
      r.Bad(rects, fw + " has " + std::to_string(rects.children.size()) + " rectangles, expected 1.." +
                       std::to_string(hc::kMaxRects));
    for (int ri = 0; ri < hc::kMaxRects; ++ri) {
      int64_t v[4] = {0, 0, 0, 0};
      float weight = 0;
      if (ri < static_cast<int>(rects.children.size())) {
        const XmlElement& re = rects.children[ri];
        const std::string rw = fw + " rectangle " + std::to_string(ri);
        const auto toks = CascadeReader::Tokens(re.text);
        if (toks.size() != 5)
          r.Bad(re, rw + " must hold 5 numbers (x y w h weight), found " + std::to_string(toks.size()));
        for (int k = 0; k < 4; ++k) v[k] = r.ParseInt(toks[k], re, rw);
        weight = static_cast<float>(r.ParseReal(toks[4], re, rw + " weight"));
        const int64_t x = v[0], y = v[1], rw_ = v[2], rh = v[3];
        bool inside;
        if (tilted) {
          // Corners (x, y), (x - h, y + h), (x + w, y + w), (x + w - h, y + w + h).
          inside = rw_ >= 0 && rh >= 0 && x - rh >= 0 && y >= 0 && x + rw_ <= w && y + rw_ + rh <= h;
        } else {
          inside = rw_ >= 0 && rh >= 0 && x >= 0 && y >= 0 && x + rw_ <= w && y + rh <= h;
        }
        if (!inside)
          r.Bad(re, rw + (tilted ? " (tilted)" : "") + " " + std::to_string(x) + "," + std::to_string(y) + " " +
                        std::to_string(rw_) + "x" + std::to_string(rh) + " is not inside the " + std::to_string(w) +
                        "x" + std::to_string(h) + " window");
      }
      for (int k = 0; k < 4; ++k) out.feature_rects.push_back(v[k]);
      out.feature_weights.push_back(weight);
    }
    out.feature_tilted.push_back(tilted ? 1 : 0);
    out.has_tilted = out.has_tilted || tilted;
  }

  const XmlElement& stages = r.Need(c, "stages", where);
  if (stages.children.empty()) r.Bad(stages, "no stages");
  if (const XmlElement* sn = c.Child("stageNum")) {
    const auto toks = CascadeReader::Tokens(sn->text);
    if (toks.size() != 1) r.Bad(*sn, "stageNum must hold one integer");
    const int64_t n = r.ParseInt(toks[0], *sn, "stageNum");
    if (n != static_cast<int64_t>(stages.children.size()))
      r.Bad(*sn, "stageNum is " + std::to_string(n) + " but <stages> holds " + std::to_string(stages.children.size()));
  }
  for (size_t si = 0; si < stages.children.size(); ++si) {
    const XmlElement& st = stages.children[si];
    const std::string sw = "stage " + std::to_string(si);
    const XmlElement& thr = r.Need(st, "stageThreshold", sw);
    const auto thr_toks = CascadeReader::Tokens(thr.text);
    if (thr_toks.size() != 1) r.Bad(thr, sw + " stageThreshold must hold one number");
    out.stage_threshold.push_back(static_cast<float>(r.ParseReal(thr_toks[0], thr, sw + " stageThreshold")));
    const XmlElement& weak = r.Need(st, "weakClassifiers", sw);
    if (weak.children.empty()) r.Bad(weak, sw + " has no weak classifiers");
    if (const XmlElement* mw = st.Child("maxWeakCount")) {
      const auto toks = CascadeReader::Tokens(mw->text);
      if (toks.size() != 1) r.Bad(*mw, sw + " maxWeakCount must hold one integer");
      const int64_t n = r.ParseInt(toks[0], *mw, sw + " maxWeakCount");
      if (n != static_cast<int64_t>(weak.children.size()))
        r.Bad(*mw, sw + " maxWeakCount is " + std::to_string(n) + " but it has " +
                       std::to_string(weak.children.size()) + " weak classifiers");
    }
    out.stage_num_trees.push_back(static_cast<int64_t>(weak.children.size()));
    for (size_t ti = 0; ti < weak.children.size(); ++ti) {
      const XmlElement& tree = weak.children[ti];
      const std::string tw = sw + " weak classifier " + std::to_string(ti);
      const XmlElement& in = r.Need(tree, "internalNodes", tw);
      const XmlElement& lv = r.Need(tree, "leafValues", tw);
      const auto nodes = CascadeReader::Tokens(in.text);
      const auto leaves = CascadeReader::Tokens(lv.text);
      if (nodes.empty() || nodes.size() % 4 != 0)
        r.Bad(in, tw + " internalNodes holds " + std::to_string(nodes.size()) +
                      " numbers, expected groups of 4 (left right feature threshold)");
      const int64_t n = static_cast<int64_t>(nodes.size() / 4);
      if (static_cast<int64_t>(leaves.size()) != n + 1)
        r.Bad(lv, tw + " has " + std::to_string(leaves.size()) + " leaf values for " + std::to_string(n) +
                      " nodes, expected " + std::to_string(n + 1));
      for (int64_t k = 0; k < n; ++k) {
        const std::string nw = tw + " node " + std::to_string(k);
        const int64_t left = r.ParseInt(nodes[4 * k], in, nw + " left");
        const int64_t right = r.ParseInt(nodes[4 * k + 1], in, nw + " right");
        const int64_t feature = r.ParseInt(nodes[4 * k + 2], in, nw + " feature index");
        const float threshold = static_cast<float>(r.ParseReal(nodes[4 * k + 3], in, nw + " threshold"));
        // Children: a later node of the same tree (so every path ends) or a leaf.
        for (int64_t child : {left, right})
          if (child > 0 ? (child <= k || child >= n) : (-child > n))
            r.Bad(in, nw + " child " + std::to_string(child) + " is neither a later node nor a leaf of the tree");
        if (feature < 0 || feature >= nf)
          r.Bad(in, nw + " feature index " + std::to_string(feature) + " is outside 0.." + std::to_string(nf - 1));
        out.node_children.push_back(left);
        out.node_children.push_back(right);
        out.node_feature.push_back(feature);
        out.node_threshold.push_back(threshold);
      }
      for (size_t k = 0; k < leaves.size(); ++k)
        out.leaf_values.push_back(static_cast<float>(r.ParseReal(leaves[k], lv, tw + " leaf value")));
      out.tree_num_nodes.push_back(n);
      out.max_tree_nodes = std::max<int>(out.max_tree_nodes, static_cast<int>(n));
    }
  }
  return out;
}

rt::Graph BuildGraph(const Cascade& c) {
  rt::Graph g;
  const auto n = [](size_t v) { return static_cast<int64_t>(v); };
  const int64_t nf = n(c.feature_tilted.size());
  g.AddConstant(hc::kStageThreshold, {n(c.stage_threshold.size())}, rt::Constant::FromFloats(c.stage_threshold));
  g.AddConstant(hc::kStageNumTrees, {n(c.stage_num_trees.size())}, rt::Constant::FromInts(c.stage_num_trees));
  g.AddConstant(hc::kTreeNumNodes, {n(c.tree_num_nodes.size())}, rt::Constant::FromInts(c.tree_num_nodes));
  g.AddConstant(hc::kNodeChildren, {n(c.node_feature.size()), 2}, rt::Constant::FromInts(c.node_children));
  g.AddConstant(hc::kNodeFeature, {n(c.node_feature.size())}, rt::Constant::FromInts(c.node_feature));
  g.AddConstant(hc::kNodeThreshold, {n(c.node_threshold.size())}, rt::Constant::FromFloats(c.node_threshold));
  g.AddConstant(hc::kLeafValues, {n(c.leaf_values.size())}, rt::Constant::FromFloats(c.leaf_values));
  g.AddConstant(hc::kFeatureRects, {nf, hc::kMaxRects, 4}, rt::Constant::FromInts(c.feature_rects));
  g.AddConstant(hc::kFeatureWeights, {nf, hc::kMaxRects}, rt::Constant::FromFloats(c.feature_weights));
  g.AddConstant(hc::kFeatureTilted, {nf}, rt::Constant::FromInts(c.feature_tilted));
  g.metadata[hc::kMetaWindowWidth] = std::to_string(c.width);
  g.metadata[hc::kMetaWindowHeight] = std::to_string(c.height);
  g.metadata[hc::kMetaStageType] = "BOOST";
  g.metadata[hc::kMetaFeatureType] = "HAAR";
  g.metadata[hc::kMetaHasTilted] = c.has_tilted ? "1" : "0";
  g.metadata[hc::kMetaStages] = std::to_string(c.stage_threshold.size());
  g.metadata[hc::kMetaFeatures] = std::to_string(nf);
  g.metadata[hc::kMetaMaxTreeNodes] = std::to_string(c.max_tree_nodes);
  g.metadata["model_type"] = "haar_cascade";
  // The runtime's graph check wants at least one output produced by a node:
  // the window size, passed through an Identity.
  const int window = g.AddConstant(hc::kWindowSize, {2}, rt::Constant::FromFloats({float(c.width), float(c.height)}));
  g.MarkOutput(g.AddNode1("Identity", {window}, {}, "window_size"));
  return g;
}

rt::Graph ConvertOpenCvCascade(const ConvertRequest& req) {
  const std::string& path = req.Input(0, "CASCADE.xml");
  const std::vector<uint8_t> bytes = ReadFileBytes(path, size_t{64} << 20);
  rt::Graph g = ConvertOpenCvCascadeXml(std::string(bytes.begin(), bytes.end()), path);
  AddProvenance(&g, "opencv-cascade", {path});
  return g;
}

}  // namespace

rt::Graph ConvertOpenCvCascadeXml(const std::string& xml, const std::string& label) {
  const XmlElement root = XmlParser(xml, label).ParseDocument();
  return BuildGraph(ReadCascade(root, label));
}

FACELIB_REGISTER_CONVERTER({"opencv-cascade", "CASCADE.xml (OpenCV traincascade XML, BOOST + HAAR)",
                            ConvertOpenCvCascade});

}  // namespace facelib::convert
