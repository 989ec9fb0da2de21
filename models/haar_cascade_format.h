// Layout of a boosted Haar cascade inside a facelib model file: constants plus
// one Identity node (see haar/window_size). converters/opencv_cascade.cc writes
// it from OpenCV's cascade XML and facelib/haar_cascade.cc evaluates it.
//
// Constants (S stages, T weak trees, N tree nodes, L leaves, F features):
//   haar/stage_threshold   f32 [S]    stage thresholds as written in the source file
//   haar/stage_num_trees   i32 [S]    weak trees per stage (consecutive, in stage order)
//   haar/tree_num_nodes    i32 [T]    internal nodes per tree (consecutive in the node arrays)
//   haar/node_children     i32 [N,2]  left, right child of each node: > 0 is a node index inside
//                                     the tree, <= 0 is -(leaf index inside the tree); a tree with
//                                     n nodes has n + 1 leaves
//   haar/node_feature      i32 [N]    feature index of each node
//   haar/node_threshold    f32 [N]    node thresholds: value < threshold goes left
//   haar/leaf_values       f32 [L]    leaf values, tree by tree
//   haar/feature_rects     i32 [F,3,4] x, y, w, h of up to 3 rectangles (unused ones all zero)
//   haar/feature_weights   f32 [F,3]  rectangle weights (0 for unused rectangles)
//   haar/feature_tilted    i32 [F]    1 = rectangles rotated by 45 degrees (OpenCV's tilted features)
//   haar/window_size       f32 [2]    width, height; an Identity node copies it to the graph's one
//                                     output, "window_size", so the file is also a runnable model
//
// Metadata: haar.window_width, haar.window_height (the training window),
// haar.stage_type ("BOOST"), haar.feature_type ("HAAR"), haar.has_tilted ("0"/"1"),
// haar.stages, haar.features, haar.max_tree_nodes.
#pragma once

namespace facelib::models::haar {

inline constexpr const char* kStageThreshold = "haar/stage_threshold";
inline constexpr const char* kStageNumTrees = "haar/stage_num_trees";
inline constexpr const char* kTreeNumNodes = "haar/tree_num_nodes";
inline constexpr const char* kNodeChildren = "haar/node_children";
inline constexpr const char* kNodeFeature = "haar/node_feature";
inline constexpr const char* kNodeThreshold = "haar/node_threshold";
inline constexpr const char* kLeafValues = "haar/leaf_values";
inline constexpr const char* kFeatureRects = "haar/feature_rects";
inline constexpr const char* kFeatureWeights = "haar/feature_weights";
inline constexpr const char* kFeatureTilted = "haar/feature_tilted";
inline constexpr const char* kWindowSize = "haar/window_size";

inline constexpr const char* kMetaWindowWidth = "haar.window_width";
inline constexpr const char* kMetaWindowHeight = "haar.window_height";
inline constexpr const char* kMetaStageType = "haar.stage_type";
inline constexpr const char* kMetaFeatureType = "haar.feature_type";
inline constexpr const char* kMetaHasTilted = "haar.has_tilted";
inline constexpr const char* kMetaStages = "haar.stages";
inline constexpr const char* kMetaFeatures = "haar.features";
inline constexpr const char* kMetaMaxTreeNodes = "haar.max_tree_nodes";

// Rectangles per feature (OpenCV's HaarEvaluator::Feature::RECT_NUM).
inline constexpr int kMaxRects = 3;
// Largest training window either side accepts.
inline constexpr int kMaxWindow = 1024;

}  // namespace facelib::models::haar
