// Format "opencv-cascade": OpenCV's boosted cascade XML in the layout that
// opencv_traincascade writes (<opencv_storage><cascade> with stageType BOOST,
// featureType HAAR, height/width, stages of weak trees given as internalNodes
// and leafValues, and Haar features with up to three weighted rectangles,
// optionally tilted). The result is a constants-only model file laid out as
// described in models/haar_cascade_format.h.
//
//   facelib-convert opencv-cascade CASCADE.xml --out OUT.flm
//
// LBP and HOG cascades, categorical (maxCatCount > 0) trees and the old
// "opencv-haar-classifier" layout are rejected with kUnsupported; malformed
// XML, missing fields, bad numbers and out-of-range indices or rectangles are
// kInvalidModel naming the element (and line) at fault.
//
// The XML reader is a small non-validating parser: elements, attributes,
// character data, comments, CDATA, processing instructions and the predefined
// and numeric entities; no DTDs. It is pure and thread-safe.
#pragma once

#include <string>

#include "runtime/graph.h"

namespace facelib::convert {

// Converts cascade XML text; `label` names the source in error messages.
rt::Graph ConvertOpenCvCascadeXml(const std::string& xml, const std::string& label);

}  // namespace facelib::convert
