// Mask2Former's panoptic merge as MMDetection's MaskFormerFusionHead.panoptic_postprocess and
// the Python runtime: keep queries whose best class is not no-object and whose score passes
// object_mask_thr; each pixel goes to the kept query with the largest score x mask probability;
// a query keeps its pixels where its own probability is >= 0.5 (filter_low_score) and only if
// its pixels are at least iou_thr of its own mask; stuff segments of one class merge.
#include <algorithm>
#include <map>

#include "parallel.h"
#include "rapsam/postprocess.h"
#include "scores.h"

namespace rapsam {

namespace {

struct Kept {
    int label;
    float score;
    std::vector<float> probs;  // sigmoid of the upsampled logits, at the original size
};

std::vector<Kept> kept_queries(ClassLogitsView classes, LogitsView masks, const ImageMeta& meta,
                               const PanopticConfig& config) {
    const int no_object = classes.classes - 1;
    // Scores are float32 in Python, so the threshold is compared at float precision.
    const float threshold = static_cast<float>(config.object_mask_thr);
    std::vector<Kept> kept;
    std::vector<int> queries;
    for (int q = 0; q < classes.count; ++q) {
        const std::vector<float> probs =
            detail::softmax(classes.data + static_cast<std::size_t>(q) * classes.classes, classes.classes);
        int label = 0;
        for (int c = 1; c < classes.classes; ++c) {
            if (probs[c] > probs[label]) label = c;  // the first maximum, as torch.max
        }
        if (label == no_object || !(probs[label] > threshold)) continue;
        kept.push_back({label, probs[label], {}});
        queries.push_back(q);
    }
    detail::parallel_for(kept.size(), [&](std::size_t k) {
        const float* plane = masks.data + static_cast<std::size_t>(queries[k]) * masks.height * masks.width;
        kept[k].probs = upsample_mask(plane, masks.height, masks.width, meta);
        for (float& v : kept[k].probs) v = detail::sigmoid(v);
    });
    return kept;
}

void measure(Segment& segment, const PanopticResult& result) {
    int x1 = result.size.width, y1 = result.size.height, x2 = -1, y2 = -1;
    for (int y = 0; y < result.size.height; ++y) {
        for (int x = 0; x < result.size.width; ++x) {
            if (result.id_map[static_cast<std::size_t>(y) * result.size.width + x] != segment.id) continue;
            ++segment.area;
            x1 = std::min(x1, x);
            x2 = std::max(x2, x);
            y1 = std::min(y1, y);
            y2 = std::max(y2, y);
        }
    }
    segment.bbox = x2 < 0 ? std::array<int, 4>{0, 0, 0, 0} : std::array<int, 4>{x1, y1, x2 + 1 - x1, y2 + 1 - y1};
}

}  // namespace

PanopticResult panoptic(ClassLogitsView classes, LogitsView masks, const ImageMeta& meta, int num_things,
                        const PanopticConfig& config) {
    const std::size_t pixels = static_cast<std::size_t>(meta.original.height) * meta.original.width;
    PanopticResult result{meta.original, std::vector<std::int32_t>(pixels, 0), {}};
    const std::vector<Kept> kept = kept_queries(classes, masks, meta, config);
    if (kept.empty()) return result;

    std::vector<int> owner(pixels, 0);
    for (std::size_t p = 0; p < pixels; ++p) {
        float best = kept[0].score * kept[0].probs[p];
        for (std::size_t k = 1; k < kept.size(); ++k) {
            const float value = kept[k].score * kept[k].probs[p];
            if (value > best) {  // the first maximum, as torch.argmax
                best = value;
                owner[p] = static_cast<int>(k);
            }
        }
    }

    std::map<int, int> stuff_ids;
    for (std::size_t k = 0; k < kept.size(); ++k) {
        const std::vector<float>& probs = kept[k].probs;
        std::int64_t mask_area = 0;
        std::int64_t original_area = 0;
        for (std::size_t p = 0; p < pixels; ++p) {
            mask_area += owner[p] == static_cast<int>(k);
            original_area += probs[p] >= 0.5f;
        }
        // mask_area counts the owned pixels before filter_low_score, as the official code.
        if (mask_area == 0 || original_area == 0 ||
            static_cast<double>(mask_area) / static_cast<double>(original_area) < config.iou_thr) {
            continue;
        }
        const int label = kept[k].label;
        const bool isthing = label < num_things;
        int id = 0;
        if (!isthing && stuff_ids.count(label)) {
            id = stuff_ids[label];
        } else {
            id = static_cast<int>(result.segments.size()) + 1;
            result.segments.push_back(Segment{id, label, isthing, kept[k].score, 0, {}});
            if (!isthing) stuff_ids[label] = id;
        }
        for (std::size_t p = 0; p < pixels; ++p) {
            if (owner[p] == static_cast<int>(k) && (!config.filter_low_score || probs[p] >= 0.5f)) {
                result.id_map[p] = id;
            }
        }
    }
    for (Segment& segment : result.segments) measure(segment, result);
    // Segments keep their ids even when others vanish (ids need not be consecutive).
    std::vector<Segment> present;
    for (const Segment& segment : result.segments) {
        if (segment.area > 0) present.push_back(segment);
    }
    result.segments = std::move(present);
    return result;
}

}  // namespace rapsam
