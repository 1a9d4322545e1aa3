// The values librapsam takes and returns: images, masks, prompts and results, all at the
// original image size, as the Python runtime's results.
#ifndef RAPSAM_TYPES_H
#define RAPSAM_TYPES_H

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rapsam {

// An RGB image, 8 bits per channel, interleaved, `stride` bytes from one row to the next (0
// means 3 * width); not owned. cv::Mat users: convert BGR to RGB first, then
// ImageView{mat.data, mat.cols, mat.rows, mat.step}.
struct ImageView {
    const std::uint8_t* data = nullptr;
    int width = 0;
    int height = 0;
    std::size_t stride = 0;
};

struct Size {
    int height = 0;
    int width = 0;
    bool operator==(const Size& other) const { return height == other.height && width == other.width; }
    bool operator!=(const Size& other) const { return !(*this == other); }
};

// Where an image's pixels went: original, resized, and padded (multiples of 32) sizes.
struct ImageMeta {
    Size original;
    Size resized;
    Size padded;
    // Resized pixels per original pixel, as the Python runtime's ImageMeta.scale.
    double scale_x() const { return static_cast<double>(resized.width) / original.width; }
    double scale_y() const { return static_cast<double>(resized.height) / original.height; }
};

// A binary mask, row-major, one byte per pixel (0 or 1).
struct Mask {
    int height = 0;
    int width = 0;
    std::vector<std::uint8_t> pixels;
    bool at(int y, int x) const { return pixels[static_cast<std::size_t>(y) * width + x] != 0; }
};

// One panoptic segment; `id` is its value in PanopticResult::id_map.
struct Segment {
    int id = 0;
    int label = 0;
    bool isthing = false;
    float score = 0.0f;
    std::int64_t area = 0;
    std::array<int, 4> bbox{};  // x, y, w, h (COCO)
};

struct PanopticResult {
    Size size;
    std::vector<std::int32_t> id_map;  // [height, width], 0 = no segment
    std::vector<Segment> segments;
};

// One instance: the mask of a (query, class) pair, best score first in a result.
struct Instance {
    Mask mask;
    int label = 0;
    float score = 0.0f;
    std::array<float, 4> box{};  // x1, y1, x2, y2 of the mask's pixels (x2, y2 exclusive)
    int query = 0;
};

struct PanopticPrediction {
    PanopticResult panoptic;
    std::vector<Instance> instances;
    ImageMeta meta;
};

// Prompts in original-image pixels.
struct Point {
    double x = 0.0;
    double y = 0.0;
};

struct Box {
    double x1 = 0.0;
    double y1 = 0.0;
    double x2 = 0.0;
    double y2 = 0.0;
};

// A prompt's mask; `prompt` indexes the prompts in the order given (points, then boxes).
struct PromptMask {
    Mask mask;
    float iou = 0.0f;  // the prompt adapter's IoU estimate
    int prompt = 0;
};

struct PromptPrediction {
    std::vector<PromptMask> masks;      // best predicted IoU first
    std::vector<std::string> warnings;  // e.g. boxes clipped to the image
};

}  // namespace rapsam

#endif  // RAPSAM_TYPES_H
