// Instances as MMDetection's MaskFormerFusionHead.instance_postprocess and the Python runtime:
// the top max_per_image (query, class) pairs of the softmax scores over all classes but
// no-object, things only, each scored by class score x the mean mask probability inside its
// mask (query_masks.cpp), best first.
#include <algorithm>
#include <map>
#include <numeric>

#include "fusion.h"
#include "scores.h"

namespace rapsam::detail {

InstanceQueries instance_queries(ClassLogitsView classes, int num_things, const PanopticConfig& config) {
    const int num_classes = classes.classes - 1;
    std::vector<float> scores;
    scores.reserve(static_cast<std::size_t>(classes.count) * num_classes);
    for (int q = 0; q < classes.count; ++q) {
        const std::vector<float> row =
            softmax(classes.data + static_cast<std::size_t>(q) * classes.classes, classes.classes);
        scores.insert(scores.end(), row.begin(), row.end() - 1);
    }
    // torch.topk(sorted=True); ties (which PyTorch leaves unordered) go to the lower index.
    std::vector<int> order(scores.size());
    std::iota(order.begin(), order.end(), 0);
    const std::size_t top = std::min(static_cast<std::size_t>(std::max(config.max_per_image, 0)), scores.size());
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(),
                      [&](int a, int b) { return scores[a] > scores[b] || (scores[a] == scores[b] && a < b); });

    InstanceQueries selected;
    std::map<int, std::size_t> slot;  // query -> index in unique
    for (std::size_t i = 0; i < top; ++i) {
        const int pair = order[i];
        if (pair % num_classes >= num_things) continue;
        const int query = pair / num_classes;
        const auto found = slot.emplace(query, slot.size()).first;
        if (found->second == selected.unique.size()) selected.unique.push_back(query);
        selected.pair_queries.push_back(query);
        selected.pair_labels.push_back(pair % num_classes);
        selected.pair_scores.push_back(scores[pair]);
        selected.mask_of.push_back(found->second);
    }
    return selected;
}

namespace {

// First and one past the last set entry of `occupied` [count] (0, 0 if none).
std::pair<int, int> span(const std::uint8_t* occupied, int count) {
    int first = 0;
    while (first < count && !occupied[first]) ++first;
    if (first == count) return {0, 0};
    int last = count - 1;
    while (!occupied[last]) --last;
    return {first, last + 1};
}

}  // namespace

std::vector<Instance> rank(const InstanceQueries& selected, std::vector<Mask> masks, const float* scores,
                           const std::uint8_t* rows, const std::uint8_t* cols, Size size) {
    std::vector<int> uses(masks.size(), 0);
    for (const std::size_t j : selected.mask_of) ++uses[j];
    std::vector<Instance> found;
    for (std::size_t i = 0; i < selected.pair_queries.size(); ++i) {
        const std::size_t j = selected.mask_of[i];
        const auto [x1, x2] = span(cols + j * size.width, size.width);
        const auto [y1, y2] = span(rows + j * size.height, size.height);
        found.push_back({--uses[j] == 0 ? std::move(masks[j]) : masks[j], selected.pair_labels[i],
                         selected.pair_scores[i] * scores[j],
                         {static_cast<float>(x1), static_cast<float>(y1), static_cast<float>(x2),
                          static_cast<float>(y2)},
                         selected.pair_queries[i]});
    }
    std::stable_sort(found.begin(), found.end(),
                     [](const Instance& a, const Instance& b) { return a.score > b.score; });
    return found;
}

}  // namespace rapsam::detail
