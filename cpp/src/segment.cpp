// Post-processing of one image: the queries each result needs, one pass of the per-pixel kernel
// over them, then each result (see fusion.h and query_masks.h).
#include "fusion.h"
#include "query_masks.h"

namespace rapsam {

Segmentation segment(ClassLogitsView classes, LogitsView masks, const ImageMeta& meta, int num_things,
                     const PanopticConfig& config, const SegmentOptions& options) {
    const Size size = meta.original;
    const std::size_t pixels = static_cast<std::size_t>(size.height) * size.width;
    detail::PanopticQueries kept;
    detail::InstanceQueries selected;
    if (options.panoptic) kept = detail::panoptic_queries(classes, config);
    if (options.instances) selected = detail::instance_queries(classes, num_things, config);

    std::vector<std::int64_t> owner(kept.queries.empty() ? 0 : pixels);
    std::vector<float> owner_prob(owner.size());
    std::vector<std::int64_t> original_area(kept.queries.size());
    const std::size_t unique = selected.unique.size();
    std::vector<Mask> masks_of(unique, Mask{size.height, size.width, std::vector<std::uint8_t>(pixels)});
    std::vector<std::uint8_t*> binary(unique);
    for (std::size_t j = 0; j < unique; ++j) binary[j] = masks_of[j].pixels.data();
    std::vector<float> scores(unique);
    std::vector<std::uint8_t> rows(unique * size.height);
    std::vector<std::uint8_t> cols(unique * size.width);
    detail::query_masks(masks, meta, {kept.queries, kept.scores, selected.unique},
                        {owner.data(), owner_prob.data(), original_area.data(), binary.data(), scores.data(),
                         rows.data(), cols.data()},
                        options.threads);

    Segmentation out;
    if (options.panoptic) {
        out.panoptic = detail::merge(kept, owner.data(), owner_prob.data(), original_area.data(), size, num_things,
                                     config);
    }
    if (options.instances) {
        out.instances =
            detail::rank(selected, std::move(masks_of), scores.data(), rows.data(), cols.data(), size);
    }
    return out;
}

PanopticResult panoptic(ClassLogitsView classes, LogitsView masks, const ImageMeta& meta, int num_things,
                        const PanopticConfig& config) {
    return segment(classes, masks, meta, num_things, config, {true, false}).panoptic;
}

std::vector<Instance> instances(ClassLogitsView classes, LogitsView masks, const ImageMeta& meta, int num_things,
                                const PanopticConfig& config) {
    return segment(classes, masks, meta, num_things, config, {false, true}).instances;
}

}  // namespace rapsam
