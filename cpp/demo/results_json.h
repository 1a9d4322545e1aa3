// Results as rapsam-infer writes them (rapsam_deploy/runtime/results.py): JSON with COCO RLE
// masks, and COCO-panoptic PNGs (id = R + 256 G + 256^2 B).
#ifndef RAPSAM_DEMO_RESULTS_JSON_H
#define RAPSAM_DEMO_RESULTS_JSON_H

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "image_io.h"
#include "rapsam/types.h"

namespace rapsam::demo {

// {"size", "segments_info", "instances"}; instances at or below `score_thr` are left out.
nlohmann::json panoptic_json(const PanopticPrediction& prediction, const std::vector<std::string>& names,
                             float score_thr);

// {"masks": [{"prompt", "iou", "mask"}, ...]}
nlohmann::json prompt_json(const PromptPrediction& prediction);

// {"size": [h, w], "counts": "..."}
nlohmann::json mask_rle(const Mask& mask);

RgbImage panoptic_png(const PanopticResult& result);

}  // namespace rapsam::demo

#endif  // RAPSAM_DEMO_RESULTS_JSON_H
