// Bilinear resizing bit for bit as PyTorch's CPU kernel (aten/src/ATen/native/cpu/
// UpSampleKernel.cpp, the generic channels-first path that F.interpolate takes for masks):
//   scale = in / out (float), src = max(scale * (i + 0.5) - 0.5, 0), i0 = floor(src),
//   i1 = i0 + (i0 < in - 1), l1 = src - i0, l0 = 1 - l1,
//   out = (x[h0,w0] l0w + x[h0,w1] l1w) l0h + (x[h1,w0] l0w + x[h1,w1] l1w) l1h
// PyTorch's x86 builds compile that kernel with FMA contraction (AVX2/AVX512 dispatch), so the
// products are fused as fma(a, b, c * d); std::fma reproduces that exactly. The horizontal
// terms are the same for every output row that reads an input row, so they are computed once
// per input row: the same operations, in the same order, as the 2-D kernel.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "rapsam/postprocess.h"

// Without -mfma std::fma is a library call; on x86 a second copy of the hot loops is compiled
// for CPUs with FMA and picked at load time (GCC/Clang function multi-versioning).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__FMA__)
#define RAPSAM_FMA_CLONES __attribute__((target_clones("fma", "default")))
#else
#define RAPSAM_FMA_CLONES
#endif

namespace rapsam {

namespace {

struct Taps {
    std::vector<std::int64_t> first;
    std::vector<std::int64_t> second;
    std::vector<float> first_weight;
    std::vector<float> second_weight;
};

Taps taps(int in, int out) {
    Taps t;
    t.first.resize(out);
    t.second.resize(out);
    t.first_weight.resize(out);
    t.second_weight.resize(out);
    const float scale = static_cast<float>(in) / static_cast<float>(out);
    for (int i = 0; i < out; ++i) {
        const float source = std::max(std::fma(scale, static_cast<float>(i) + 0.5f, -0.5f), 0.0f);
        const std::int64_t index = std::min(static_cast<std::int64_t>(std::floor(source)), std::int64_t{in} - 1);
        const float lambda = std::min(std::max(source - static_cast<float>(index), 0.0f), 1.0f);
        t.first[i] = index;
        t.second[i] = index + (index < in - 1 ? 1 : 0);
        t.first_weight[i] = 1.0f - lambda;
        t.second_weight[i] = lambda;
    }
    return t;
}

RAPSAM_FMA_CLONES void horizontal(const float* row, const Taps& t, float* out) {
    const std::size_t width = t.first.size();
    for (std::size_t x = 0; x < width; ++x) {
        out[x] = std::fma(row[t.first[x]], t.first_weight[x], row[t.second[x]] * t.second_weight[x]);
    }
}

RAPSAM_FMA_CLONES void vertical(const float* top, const float* bottom, float top_weight, float bottom_weight,
                                std::size_t width, float* out) {
    for (std::size_t x = 0; x < width; ++x) out[x] = std::fma(top[x], top_weight, bottom[x] * bottom_weight);
}

// [height, width] -> the top-left [rows, columns] of its resize to [out_height, out_width].
std::vector<float> resize_region(const float* plane, int height, int width, int out_height, int out_width, int rows,
                                 int columns) {
    const Taps along_y = taps(height, out_height);
    Taps along_x = taps(width, out_width);
    for (auto* v : {&along_x.first, &along_x.second}) v->resize(columns);
    for (auto* v : {&along_x.first_weight, &along_x.second_weight}) v->resize(columns);

    // Horizontal terms of the input rows that some output row reads.
    std::vector<float> rows_x(static_cast<std::size_t>(height) * columns);
    std::vector<bool> needed(height, false);
    for (int y = 0; y < rows; ++y) needed[along_y.first[y]] = needed[along_y.second[y]] = true;
    for (int y = 0; y < height; ++y) {
        if (needed[y]) {
            horizontal(plane + static_cast<std::size_t>(y) * width, along_x,
                       &rows_x[static_cast<std::size_t>(y) * columns]);
        }
    }
    std::vector<float> out(static_cast<std::size_t>(rows) * columns);
    for (int y = 0; y < rows; ++y) {
        vertical(&rows_x[static_cast<std::size_t>(along_y.first[y]) * columns],
                 &rows_x[static_cast<std::size_t>(along_y.second[y]) * columns], along_y.first_weight[y],
                 along_y.second_weight[y], columns, &out[static_cast<std::size_t>(y) * columns]);
    }
    return out;
}

}  // namespace

std::vector<float> resize_bilinear(const float* plane, int height, int width, int out_height, int out_width) {
    return resize_region(plane, height, width, out_height, out_width, out_height, out_width);
}

std::vector<float> upsample_mask(const float* plane, int height, int width, const ImageMeta& meta) {
    // Only the crop of the padded-size upsampling is computed: each output pixel depends on its
    // own index alone, so the crop's values are those of the full upsampling.
    const std::vector<float> cropped = resize_region(plane, height, width, meta.padded.height, meta.padded.width,
                                                     meta.resized.height, meta.resized.width);
    return resize_bilinear(cropped.data(), meta.resized.height, meta.resized.width, meta.original.height,
                           meta.original.width);
}

}  // namespace rapsam
