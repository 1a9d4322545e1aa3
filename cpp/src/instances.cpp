// Instances as MMDetection's MaskFormerFusionHead.instance_postprocess and the Python runtime:
// the top max_per_image (query, class) pairs of the softmax scores over all classes but
// no-object, things only, each scored by class score x the mean mask probability inside its
// mask, best first.
#include <algorithm>
#include <map>
#include <numeric>

#include "parallel.h"
#include "rapsam/postprocess.h"
#include "scores.h"

namespace rapsam {

namespace {

struct QueryMask {
    Mask mask;
    float score = 0.0f;  // mean probability inside the mask
    std::array<float, 4> box{};
};

QueryMask query_mask(LogitsView masks, int query, const ImageMeta& meta) {
    const float* plane = masks.data + static_cast<std::size_t>(query) * masks.height * masks.width;
    const std::vector<float> logits = upsample_mask(plane, masks.height, masks.width, meta);
    QueryMask out{threshold(logits, meta.original)};
    double sum = 0.0;
    std::int64_t area = 0;
    for (std::size_t p = 0; p < logits.size(); ++p) {
        if (!out.mask.pixels[p]) continue;
        sum += detail::sigmoid(logits[p]);
        ++area;
    }
    // (sigmoid * binary).sum() / (area + 1e-6), in float32 as in Python.
    out.score = static_cast<float>(sum) / (static_cast<float>(area) + 1e-6f);
    out.box = mask_box(out.mask);
    return out;
}

}  // namespace

std::vector<Instance> instances(ClassLogitsView classes, LogitsView masks, const ImageMeta& meta, int num_things,
                                const PanopticConfig& config) {
    const int num_classes = classes.classes - 1;
    std::vector<float> scores;
    scores.reserve(static_cast<std::size_t>(classes.count) * num_classes);
    for (int q = 0; q < classes.count; ++q) {
        const std::vector<float> row =
            detail::softmax(classes.data + static_cast<std::size_t>(q) * classes.classes, classes.classes);
        scores.insert(scores.end(), row.begin(), row.end() - 1);
    }
    // torch.topk(sorted=True); ties (which PyTorch leaves unordered) go to the lower index.
    std::vector<int> order(scores.size());
    std::iota(order.begin(), order.end(), 0);
    const std::size_t top = std::min(static_cast<std::size_t>(std::max(config.max_per_image, 0)), scores.size());
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(),
                      [&](int a, int b) { return scores[a] > scores[b] || (scores[a] == scores[b] && a < b); });

    // The things among the top pairs, and each one's query mask, computed once per query.
    std::vector<int> kept;
    std::map<int, std::size_t> slot;  // query -> index in masks
    for (std::size_t i = 0; i < top; ++i) {
        if (order[i] % num_classes >= num_things) continue;
        kept.push_back(order[i]);
        slot.emplace(order[i] / num_classes, slot.size());
    }
    std::vector<QueryMask> query_masks(slot.size());
    std::vector<int> queries(slot.size());
    for (const auto& [query, index] : slot) queries[index] = query;
    detail::parallel_for(queries.size(), [&](std::size_t i) { query_masks[i] = query_mask(masks, queries[i], meta); });

    std::vector<Instance> found;
    for (const int pair : kept) {
        const int query = pair / num_classes;
        const QueryMask& mask = query_masks[slot.at(query)];
        found.push_back({mask.mask, pair % num_classes, scores[pair] * mask.score, mask.box, query});
    }
    std::stable_sort(found.begin(), found.end(),
                     [](const Instance& a, const Instance& b) { return a.score > b.score; });
    return found;
}

}  // namespace rapsam
