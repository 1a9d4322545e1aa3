// Bilinear resizing bit for bit as PyTorch's CPU kernel, any band of output rows at a time: an
// output pixel depends on its own index alone, so a band's values are those of the whole plane.
#ifndef RAPSAM_SRC_RESIZE_H
#define RAPSAM_SRC_RESIZE_H

#include <cstdint>
#include <vector>

#include "rapsam/types.h"

namespace rapsam::detail {

// The two input indices and weights of each output index along one axis.
struct Taps {
    std::vector<std::int64_t> first;
    std::vector<std::int64_t> second;
    std::vector<float> first_weight;
    std::vector<float> second_weight;
};

// Taps of a resize from `in` to `out` samples, of the first `count` outputs.
Taps taps(int in, int out, int count);

// [in.height, in.width] -> the top-left [rows, columns] region of its resize to `out`.
class Resize {
public:
    Resize(Size in, Size out, Size region);

    // Rows [begin, end) of the region, from the input rows [first_input(begin),
    // last_input(end) + 1) at `rows` (row r at rows + (r - first_input(begin)) * in.width), into
    // out [(end - begin), region.width]. `scratch` is reused between calls.
    void rows(const float* rows, int begin, int end, float* out, std::vector<float>& scratch) const;
    int first_input(int begin) const { return static_cast<int>(y_.first[begin]); }
    int last_input(int end) const { return static_cast<int>(y_.second[end - 1]); }
    Size region() const { return region_; }

private:
    Size in_;
    Size region_;
    Taps y_;
    Taps x_;
};

// A stride-4 logit plane back to the original image (bilinear to the padded input size, crop to
// the resized image, bilinear to the original size), band by band.
class MaskUpsampler {
public:
    MaskUpsampler(Size logits, const ImageMeta& meta);

    // Rows [begin, end) of `plane`'s upsampled logits into out [(end - begin), original.width].
    void rows(const float* plane, int begin, int end, float* out);

private:
    Size logits_;
    Resize to_padded_;
    bool to_original_needed_;
    Resize to_original_;
    std::vector<float> resized_;
    std::vector<float> scratch_;
};

}  // namespace rapsam::detail

#endif  // RAPSAM_SRC_RESIZE_H
