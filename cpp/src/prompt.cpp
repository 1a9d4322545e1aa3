#include "rapsam/prompt.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

#include "parallel.h"
#include "rapsam/contract.h"
#include "rapsam/error.h"

namespace rapsam {

namespace {

// A double as Python's repr writes it (shortest round trip, "1.0" not "1"), so that messages
// read as the Python runtime's.
std::string repr(double value) {
    char buffer[32];
    const auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
    std::string text(buffer, end);
    if (text.find_first_of(".en") == std::string::npos) text += ".0";
    return text;
}

std::string size_text(Size size) { return std::to_string(size.width) + "x" + std::to_string(size.height); }

void check_finite(const std::vector<double>& values, const char* what) {
    if (!std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); })) {
        throw Error(std::string(what) + " must be finite numbers");
    }
}

}  // namespace

PromptBoxes prompt_boxes(const std::vector<Point>& points, const std::vector<Box>& boxes, const ImageMeta& meta) {
    std::vector<double> numbers;
    for (const Point& p : points) numbers.insert(numbers.end(), {p.x, p.y});
    check_finite(numbers, "points");
    numbers.clear();
    for (const Box& b : boxes) numbers.insert(numbers.end(), {b.x1, b.y1, b.x2, b.y2});
    check_finite(numbers, "boxes");
    if (points.empty() && boxes.empty()) {
        throw Error("no prompts given", "pass at least one point (x,y) or box (x1,y1,x2,y2)");
    }
    const double width = meta.original.width;
    const double height = meta.original.height;
    std::string outside;
    for (const Point& p : points) {
        if (p.x < 0 || p.x >= width || p.y < 0 || p.y >= height) {
            outside += (outside.empty() ? "[" : ", [") + repr(p.x) + ", " + repr(p.y) + "]";
        }
    }
    if (!outside.empty()) {
        throw Error("points [" + outside + "] are outside the " + size_text(meta.original) + " image");
    }
    for (const Box& b : boxes) {
        if (b.x2 <= b.x1 || b.y2 <= b.y1) throw Error("a box needs x2 > x1 and y2 > y1", "give boxes as x1,y1,x2,y2");
    }

    PromptBoxes out;
    std::vector<Box> clipped;
    bool changed = false;
    for (const Box& b : boxes) {
        const Box c{std::clamp(b.x1, 0.0, width), std::clamp(b.y1, 0.0, height), std::clamp(b.x2, 0.0, width),
                    std::clamp(b.y2, 0.0, height)};
        if (c.x2 <= c.x1 || c.y2 <= c.y1) {
            throw Error("a box lies entirely outside the " + size_text(meta.original) + " image");
        }
        changed = changed || c.x1 != b.x1 || c.y1 != b.y1 || c.x2 != b.x2 || c.y2 != b.y2;
        clipped.push_back(c);
    }
    if (changed) out.warnings.push_back("boxes clipped to the " + size_text(meta.original) + " image");

    // In float64 as numpy, rounded once to float32 as torch.from_numpy(...).float().
    const double sx = meta.scale_x();
    const double sy = meta.scale_y();
    const double img_w = meta.resized.width;
    const double img_h = meta.resized.height;
    const double half = contract::kPointBoxHalfSize;
    const auto push = [&](double x1, double y1, double x2, double y2) {
        out.boxes.insert(out.boxes.end(), {static_cast<float>(x1 / img_w), static_cast<float>(y1 / img_h),
                                           static_cast<float>(x2 / img_w), static_cast<float>(y2 / img_h)});
    };
    for (const Point& p : points) {
        const double cx = p.x * sx;
        const double cy = p.y * sy;
        push(cx - half, cy - half, cx + half, cy + half);
    }
    for (const Box& c : clipped) push(c.x1 * sx, c.y1 * sy, c.x2 * sx, c.y2 * sy);
    return out;
}

std::vector<PromptMask> prompt_masks(const float* iou, LogitsView masks, const ImageMeta& meta) {
    std::vector<int> order(masks.count);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return iou[a] > iou[b]; });
    std::vector<PromptMask> out(order.size());
    detail::parallel_for(order.size(), [&](std::size_t i) {
        const float* plane = masks.data + static_cast<std::size_t>(order[i]) * masks.height * masks.width;
        out[i] = {threshold(upsample_mask(plane, masks.height, masks.width, meta), meta.original), iou[order[i]],
                  order[i]};
    });
    return out;
}

}  // namespace rapsam
