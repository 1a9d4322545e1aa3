// Bilinear resizing bit for bit as PyTorch's CPU kernel (aten/src/ATen/native/cpu/
// UpSampleKernel.cpp, the generic channels-first path that F.interpolate takes for masks):
//   scale = in / out (float), src = max(scale * (i + 0.5) - 0.5, 0), i0 = floor(src),
//   i1 = i0 + (i0 < in - 1), l1 = src - i0, l0 = 1 - l1,
//   out = (x[h0,w0] l0w + x[h0,w1] l1w) l0h + (x[h1,w0] l0w + x[h1,w1] l1w) l1h
// PyTorch's x86 builds compile that kernel with FMA contraction (AVX2/AVX512 dispatch), so the
// products are fused as fma(a, b, c * d); std::fma reproduces that exactly. The horizontal
// terms are the same for every output row that reads an input row, so they are computed once
// per input row of a band: the same operations, in the same order, as the 2-D kernel.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "rapsam/postprocess.h"
#include "resize.h"

// Without -mfma std::fma is a library call; on x86 a second copy of the hot loops is compiled
// for CPUs with FMA and picked at load time (GCC/Clang function multi-versioning).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__FMA__)
#define RAPSAM_FMA_CLONES __attribute__((target_clones("fma", "default")))
#else
#define RAPSAM_FMA_CLONES
#endif

namespace rapsam {

namespace detail {

Taps taps(int in, int out, int count) {
    Taps t;
    t.first.resize(count);
    t.second.resize(count);
    t.first_weight.resize(count);
    t.second_weight.resize(count);
    const float scale = static_cast<float>(in) / static_cast<float>(out);
    for (int i = 0; i < count; ++i) {
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

namespace {

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

}  // namespace

Resize::Resize(Size in, Size out, Size region)
    : in_(in),
      region_(region),
      y_(taps(in.height, out.height, region.height)),
      x_(taps(in.width, out.width, region.width)) {}

void Resize::rows(const float* rows, int begin, int end, float* out, std::vector<float>& scratch) const {
    if (begin >= end) return;
    const std::size_t columns = region_.width;
    const int first = first_input(begin);
    scratch.resize(static_cast<std::size_t>(last_input(end) + 1 - first) * columns);
    for (int y = first; y <= last_input(end); ++y) {
        horizontal(rows + static_cast<std::size_t>(y - first) * in_.width, x_,
                   &scratch[static_cast<std::size_t>(y - first) * columns]);
    }
    for (int y = begin; y < end; ++y) {
        vertical(&scratch[static_cast<std::size_t>(y_.first[y] - first) * columns],
                 &scratch[static_cast<std::size_t>(y_.second[y] - first) * columns], y_.first_weight[y],
                 y_.second_weight[y], columns, out + static_cast<std::size_t>(y - begin) * columns);
    }
}

MaskUpsampler::MaskUpsampler(Size logits, const ImageMeta& meta)
    : logits_(logits),
      // Only the crop of the padded-size upsampling is computed: its values are those of the
      // whole upsampling.
      to_padded_(logits, meta.padded, meta.resized),
      // Resizing to the same size is the identity (every output pixel centre is an input's).
      to_original_needed_(meta.resized != meta.original),
      to_original_(meta.resized, meta.original, meta.original) {}

void MaskUpsampler::rows(const float* plane, int begin, int end, float* out) {
    if (begin >= end) return;
    if (!to_original_needed_) {
        to_padded_.rows(plane + static_cast<std::size_t>(to_padded_.first_input(begin)) * logits_.width, begin, end,
                        out, scratch_);
        return;
    }
    const int first = to_original_.first_input(begin);
    const int last = to_original_.last_input(end);
    resized_.resize(static_cast<std::size_t>(last + 1 - first) * to_padded_.region().width);
    to_padded_.rows(plane + static_cast<std::size_t>(to_padded_.first_input(first)) * logits_.width, first, last + 1,
                    resized_.data(), scratch_);
    to_original_.rows(resized_.data(), begin, end, out, scratch_);
}

}  // namespace detail

std::vector<float> resize_bilinear(const float* plane, int height, int width, int out_height, int out_width) {
    const detail::Resize resize({height, width}, {out_height, out_width}, {out_height, out_width});
    std::vector<float> out(static_cast<std::size_t>(out_height) * out_width);
    std::vector<float> scratch;
    resize.rows(plane, 0, out_height, out.data(), scratch);
    return out;
}

std::vector<float> upsample_mask(const float* plane, int height, int width, const ImageMeta& meta) {
    detail::MaskUpsampler upsampler({height, width}, meta);
    std::vector<float> out(static_cast<std::size_t>(meta.original.height) * meta.original.width);
    upsampler.rows(plane, 0, meta.original.height, out.data());
    return out;
}

}  // namespace rapsam
