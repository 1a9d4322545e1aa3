#include "results_json.h"

#include <cmath>

#include "rle.h"

namespace rapsam::demo {

namespace {

// Python's round(x, digits) for the values written (scores and box corners).
double rounded(double value, int digits) {
    const double scale = std::pow(10.0, digits);
    return std::nearbyint(value * scale) / scale;
}

}  // namespace

nlohmann::json mask_rle(const Mask& mask) {
    return {{"size", {mask.height, mask.width}}, {"counts", rle_counts(mask)}};
}

nlohmann::json panoptic_json(const PanopticPrediction& prediction, const std::vector<std::string>& names,
                             float score_thr) {
    nlohmann::json segments = nlohmann::json::array();
    for (const Segment& s : prediction.panoptic.segments) {
        segments.push_back({{"id", s.id},
                            {"category_id", s.label},
                            {"name", names.at(s.label)},
                            {"isthing", s.isthing},
                            {"score", rounded(s.score, 5)},
                            {"area", s.area},
                            {"bbox", s.bbox},
                            {"iscrowd", 0}});
    }
    nlohmann::json instances = nlohmann::json::array();
    for (const Instance& instance : prediction.instances) {
        if (!(instance.score > score_thr)) continue;
        nlohmann::json box = nlohmann::json::array();
        for (const float v : instance.box) box.push_back(rounded(v, 1));
        instances.push_back({{"label", instance.label},
                             {"name", names.at(instance.label)},
                             {"score", rounded(instance.score, 5)},
                             {"box", box},
                             {"mask", mask_rle(instance.mask)}});
    }
    return {{"size", {prediction.meta.original.height, prediction.meta.original.width}},
            {"segments_info", segments},
            {"instances", instances}};
}

nlohmann::json prompt_json(const PromptPrediction& prediction) {
    nlohmann::json masks = nlohmann::json::array();
    for (const PromptMask& m : prediction.masks) {
        masks.push_back({{"prompt", m.prompt}, {"iou", rounded(m.iou, 5)}, {"mask", mask_rle(m.mask)}});
    }
    return {{"masks", masks}};
}

RgbImage panoptic_png(const PanopticResult& result) {
    RgbImage png{result.size.height, result.size.width, std::vector<std::uint8_t>(result.id_map.size() * 3)};
    for (std::size_t p = 0; p < result.id_map.size(); ++p) {
        const auto id = static_cast<std::uint32_t>(result.id_map[p]);
        png.pixels[3 * p] = static_cast<std::uint8_t>(id % 256);
        png.pixels[3 * p + 1] = static_cast<std::uint8_t>(id / 256 % 256);
        png.pixels[3 * p + 2] = static_cast<std::uint8_t>(id / 65536 % 256);
    }
    return png;
}

}  // namespace rapsam::demo
