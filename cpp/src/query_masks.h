// The per-pixel half of post-processing, fused: every query that the panoptic merge or the
// instances need is upsampled once, a band of rows at a time (a band stays in cache while every
// step reads it), and feeds both results. The Python runtime calls it through the C ABI
// (rapsam/c_api.h); panoptic() and instances() through segment().
#ifndef RAPSAM_SRC_QUERY_MASKS_H
#define RAPSAM_SRC_QUERY_MASKS_H

#include <cstdint>
#include <vector>

#include "rapsam/postprocess.h"

namespace rapsam::detail {

struct QueryMaskJobs {
    std::vector<int> panoptic_queries;  // ascending: ties go to the first, as torch.argmax
    std::vector<float> panoptic_scores;
    std::vector<int> instance_queries;  // distinct
};

// Caller-owned outputs at the original size (H x W); a result's pointers may be null when it
// has no queries.
struct QueryMaskOutputs {
    // The panoptic contest: per pixel, the kept query (index into panoptic_queries) with the
    // largest score x probability and that probability; per kept query [K], its pixels with
    // probability >= 0.5.
    std::int64_t* owner = nullptr;
    float* owner_prob = nullptr;
    std::int64_t* original_area = nullptr;
    // Per instance query [U]: its mask (logit > 0, binary[j] -> [H,W]), the mean probability
    // inside it, and the rows [U,H] and columns [U,W] it occupies (0 or 1).
    std::uint8_t* const* binary = nullptr;
    float* scores = nullptr;
    std::uint8_t* rows = nullptr;
    std::uint8_t* cols = nullptr;
};

// masks [count, h, w] stride-4 logits of one image; `threads` <= 0 uses every core.
void query_masks(LogitsView masks, const ImageMeta& meta, const QueryMaskJobs& jobs, const QueryMaskOutputs& out,
                 int threads);

}  // namespace rapsam::detail

#endif  // RAPSAM_SRC_QUERY_MASKS_H
