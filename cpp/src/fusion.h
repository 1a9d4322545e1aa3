// The two halves of post-processing around the per-pixel kernel (query_masks.h): which queries
// each result needs, chosen from the class scores, and each result assembled from the kernel's
// outputs. segment.cpp puts them together.
#ifndef RAPSAM_SRC_FUSION_H
#define RAPSAM_SRC_FUSION_H

#include <cstdint>
#include <vector>

#include "rapsam/postprocess.h"

namespace rapsam::detail {

// The queries the panoptic merge keeps, ascending: best class not no-object, score above
// object_mask_thr.
struct PanopticQueries {
    std::vector<int> queries;
    std::vector<int> labels;
    std::vector<float> scores;
};

PanopticQueries panoptic_queries(ClassLogitsView classes, const PanopticConfig& config);

// owner, owner_prob [H*W] and original_area [K] as query_masks writes them -> the segments.
PanopticResult merge(const PanopticQueries& kept, const std::int64_t* owner, const float* owner_prob,
                     const std::int64_t* original_area, Size size, int num_things, const PanopticConfig& config);

// The top max_per_image (query, class) pairs that are things, best score first, and the
// distinct queries whose masks they need.
struct InstanceQueries {
    std::vector<int> pair_queries;
    std::vector<int> pair_labels;
    std::vector<float> pair_scores;
    std::vector<int> unique;           // distinct queries
    std::vector<std::size_t> mask_of;  // pair -> index into unique
};

InstanceQueries instance_queries(ClassLogitsView classes, int num_things, const PanopticConfig& config);

// masks [U], scores [U], rows [U,H], cols [U,W] as query_masks writes them -> the instances,
// best score first (each mask moves to its first instance, later ones copy it).
std::vector<Instance> rank(const InstanceQueries& selected, std::vector<Mask> masks, const float* scores,
                           const std::uint8_t* rows, const std::uint8_t* cols, Size size);

}  // namespace rapsam::detail

#endif  // RAPSAM_SRC_FUSION_H
