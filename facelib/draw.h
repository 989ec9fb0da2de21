// Annotation of images: rectangles, lines, filled discs, text in a built-in
// bitmap font, and whole detections (box, landmarks, label).
//
// Coordinates are pixels, x to the right, y down, (0,0) the top-left corner of
// the top-left pixel (as in facelib/face.h). Everything is clipped to the
// image: shapes partly or fully outside, negative or huge coordinates are
// fine and nothing outside the image is ever written. Shapes with a NaN
// coordinate are skipped. On gray (1-channel) images a colour is drawn as its
// luminance (0.299 R + 0.587 G + 0.114 B).
//
// Errors: an image that is empty, not 1 or 3 channels, or whose pixel buffer
// does not match its dimensions -> facelib::Error kInvalidArgument. Nothing
// else throws.
//
// Thread safety: the functions keep no state; concurrent calls are safe as
// long as they draw on different images.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "facelib/face.h"
#include "facelib/image.h"

namespace facelib {

struct Color {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Color&) const = default;
};

// Gray value a colour is drawn with on 1-channel images.
uint8_t Luminance(Color c);

// Outline of `box` drawn inside it: the box covers columns
// round(x) .. round(x + w) - 1 and rows round(y) .. round(y + h) - 1 and the
// outline is the outer `thickness` pixels of that area (all of it when the box
// is thinner than 2 * thickness). Boxes with w <= 0 or h <= 0 draw nothing.
// thickness < 1 counts as 1.
void DrawRect(Image& image, const Box& box, Color color, int thickness);

// Filled rectangle of pixels x0 <= x < x1, y0 <= y < y1 (clipped).
void FillRect(Image& image, int x0, int y0, int x1, int y1, Color color);

// Segment from a to b of width `thickness` (< 1 counts as 1) with round caps:
// every pixel whose centre lies within thickness / 2 of the segment.
void DrawLine(Image& image, Point a, Point b, Color color, int thickness);

// Filled disc centred on the pixel containing p: pixels (dx, dy) away from it
// with dx^2 + dy^2 <= radius^2 + radius / 2. radius 0 is that single pixel,
// 1 a plus sign, 2 a 5x5 square without its corners. radius < 0 counts as 0.
void DrawPoint(Image& image, Point p, Color color, int radius);

// Built-in font: 5x7 glyphs (descenders 2 rows lower) for printable ASCII
// 32..126. Each character takes a cell of 6 x 11 pixels times `scale`; a
// string of n characters is TextWidth = (6 n + 1) * scale wide (one blank
// column before every glyph and after the last) and TextHeight = 11 * scale
// tall, and nothing is drawn outside that area. Every UTF-8 sequence, control
// character or other byte is drawn as one '?'. scale is clamped to 1..1024.
int TextWidth(const std::string& text, int scale);
int TextHeight(int scale);
// Number of glyphs `text` is drawn with (UTF-8 sequences count once).
size_t TextGlyphCount(const std::string& text);

// Draws `text` with its cell's top-left corner at (x, y) in `fg`; with `bg`
// the whole TextWidth x TextHeight area is filled with it first. Empty text
// draws nothing.
void DrawText(Image& image, int x, int y, const std::string& text, Color fg, std::optional<Color> bg, int scale);

enum class LandmarkStyle {
  kNone,  // no landmarks
  kFive,  // eyes, nose and mouth corners (the named points of Detection)
  kAll,   // every point of Detection::landmarks (the named points when empty)
};

struct DrawStyle {
  // Box outline width in pixels; 0 = max(1, min(width, height) / 300).
  int thickness = 0;
  // Font scale of labels; 0 = max(1, min(width, height) / 300).
  int font_scale = 0;
  LandmarkStyle landmarks = LandmarkStyle::kFive;
  // Face i is drawn in palette[i % size]; empty = DefaultPalette().
  std::vector<Color> palette;
};

// Eight saturated colours, distinct from each other.
const std::vector<Color>& DefaultPalette();

// Draws every detection: first all boxes and landmarks, then the labels so
// that no box covers a label. labels[i] (when present and non-empty) is drawn
// in black or white on a background of the face's colour, left-aligned with the
// box and directly above it; below the box when there is no room above, and
// at the top of the image when there is none below either. Labels are shifted
// horizontally to stay inside the image when they fit. Landmarks are discs of
// radius max(2, 2 * thickness) for the five named points and
// max(1, thickness) for kAll. Missing labels and landmarks are skipped.
void DrawFaces(Image& image, const std::vector<Detection>& detections, const std::vector<std::string>& labels,
               const DrawStyle& style = {});

}  // namespace facelib
