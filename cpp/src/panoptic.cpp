// Mask2Former's panoptic merge as MMDetection's MaskFormerFusionHead.panoptic_postprocess and
// the Python runtime: keep queries whose best class is not no-object and whose score passes
// object_mask_thr; each pixel goes to the kept query with the largest score x mask probability
// (query_masks.cpp); a query keeps its pixels where its own probability is >= 0.5
// (filter_low_score) and only if its pixels are at least iou_thr of its own mask; stuff segments
// of one class merge.
#include <algorithm>
#include <map>

#include "fusion.h"
#include "scores.h"

namespace rapsam::detail {

PanopticQueries panoptic_queries(ClassLogitsView classes, const PanopticConfig& config) {
    const int no_object = classes.classes - 1;
    // Scores are float32 in Python, so the threshold is compared at float precision.
    const float threshold = static_cast<float>(config.object_mask_thr);
    PanopticQueries kept;
    for (int q = 0; q < classes.count; ++q) {
        const std::vector<float> probs =
            softmax(classes.data + static_cast<std::size_t>(q) * classes.classes, classes.classes);
        int label = 0;
        for (int c = 1; c < classes.classes; ++c) {
            if (probs[c] > probs[label]) label = c;  // the first maximum, as torch.max
        }
        if (label == no_object || !(probs[label] > threshold)) continue;
        kept.queries.push_back(q);
        kept.labels.push_back(label);
        kept.scores.push_back(probs[label]);
    }
    return kept;
}

PanopticResult merge(const PanopticQueries& kept, const std::int64_t* owner, const float* owner_prob,
                     const std::int64_t* original_area, Size size, int num_things, const PanopticConfig& config) {
    const std::size_t pixels = static_cast<std::size_t>(size.height) * size.width;
    PanopticResult result{size, std::vector<std::int32_t>(pixels, 0), {}};
    if (kept.queries.empty()) return result;

    // mask_area counts the owned pixels before filter_low_score, as the official code.
    std::vector<std::int64_t> mask_area(kept.queries.size(), 0);
    for (std::size_t p = 0; p < pixels; ++p) ++mask_area[owner[p]];
    std::vector<std::int32_t> segment_of(kept.queries.size(), 0);  // kept query -> segment id, 0 = none
    std::map<int, int> stuff_ids;
    for (std::size_t k = 0; k < kept.queries.size(); ++k) {
        if (mask_area[k] == 0 || original_area[k] == 0 ||
            static_cast<double>(mask_area[k]) / static_cast<double>(original_area[k]) < config.iou_thr) {
            continue;
        }
        const int label = kept.labels[k];
        const bool isthing = label < num_things;
        if (!isthing && stuff_ids.count(label)) {
            segment_of[k] = stuff_ids[label];
            continue;
        }
        segment_of[k] = static_cast<int>(result.segments.size()) + 1;
        result.segments.push_back(Segment{segment_of[k], label, isthing, kept.scores[k], 0, {}});
        if (!isthing) stuff_ids[label] = segment_of[k];
    }

    // One pass writes the id map and measures every segment (ids are 1..segments.size()).
    const std::size_t count = result.segments.size() + 1;
    std::vector<std::int64_t> area(count, 0);
    std::vector<std::array<int, 4>> extent(count, {size.width, size.height, -1, -1});  // x1, y1, x2, y2
    for (int y = 0; y < size.height; ++y) {
        for (int x = 0; x < size.width; ++x) {
            const std::size_t p = static_cast<std::size_t>(y) * size.width + x;
            const bool low = config.filter_low_score && owner_prob[p] < 0.5f;
            const std::int32_t id = low ? 0 : segment_of[owner[p]];
            result.id_map[p] = id;
            ++area[id];
            std::array<int, 4>& e = extent[id];
            e = {std::min(e[0], x), std::min(e[1], y), std::max(e[2], x), std::max(e[3], y)};
        }
    }
    std::vector<Segment> present;  // segments keep their ids even when others vanish
    for (Segment& segment : result.segments) {
        segment.area = area[segment.id];
        const std::array<int, 4>& e = extent[segment.id];
        if (segment.area == 0) continue;
        segment.bbox = {e[0], e[1], e[2] + 1 - e[0], e[3] + 1 - e[1]};
        present.push_back(segment);
    }
    result.segments = std::move(present);
    return result;
}

}  // namespace rapsam::detail
