// Mask helpers: thresholding logits, a mask's box, softmax rows.
#include <algorithm>
#include <cmath>

#include "rapsam/postprocess.h"
#include "scores.h"

namespace rapsam {

namespace detail {

std::vector<float> softmax(const float* logits, int count) {
    const float top = *std::max_element(logits, logits + count);
    std::vector<double> exps(count);
    double sum = 0.0;
    for (int i = 0; i < count; ++i) sum += exps[i] = std::exp(static_cast<double>(logits[i]) - top);
    std::vector<float> out(count);
    for (int i = 0; i < count; ++i) out[i] = static_cast<float>(exps[i] / sum);
    return out;
}

}  // namespace detail

Mask threshold(const std::vector<float>& logits, Size size) {
    Mask mask{size.height, size.width, std::vector<std::uint8_t>(logits.size())};
    std::transform(logits.begin(), logits.end(), mask.pixels.begin(), [](float v) { return v > 0.0f ? 1 : 0; });
    return mask;
}

std::array<float, 4> mask_box(const Mask& mask) {
    int x1 = mask.width, y1 = mask.height, x2 = -1, y2 = -1;
    for (int y = 0; y < mask.height; ++y) {
        for (int x = 0; x < mask.width; ++x) {
            if (!mask.at(y, x)) continue;
            x1 = std::min(x1, x);
            x2 = std::max(x2, x);
            y1 = std::min(y1, y);
            y2 = std::max(y2, y);
        }
    }
    if (x2 < 0) return {0.0f, 0.0f, 0.0f, 0.0f};
    return {static_cast<float>(x1), static_cast<float>(y1), static_cast<float>(x2 + 1), static_cast<float>(y2 + 1)};
}

}  // namespace rapsam
