// Post-processing as the official model (MMDetection's MaskFormerFusionHead with RAP-SAM's test
// config) and the Python runtime (postprocess.py): masks back to the image, the Mask2Former
// panoptic merge, and the top-100 instances.
#ifndef RAPSAM_POSTPROCESS_H
#define RAPSAM_POSTPROCESS_H

#include <array>
#include <vector>

#include "rapsam/export.h"
#include "rapsam/types.h"

namespace rapsam {

// RAP-SAM's test config with MMDetection's defaults. The thresholds are doubles as in Python:
// object_mask_thr is compared with float32 scores (so at float precision), iou_thr with a
// ratio of pixel counts.
struct PanopticConfig {
    double object_mask_thr = 0.8;
    double iou_thr = 0.8;
    bool filter_low_score = true;
    int max_per_image = 100;
};

// Row-major float32 planes [count, height, width] (one image's mask logits), not owned.
struct LogitsView {
    const float* data = nullptr;
    int count = 0;
    int height = 0;
    int width = 0;
};

// Row-major float32 [count, classes] (one image's class logits, classes = K + 1), not owned.
struct ClassLogitsView {
    const float* data = nullptr;
    int count = 0;
    int classes = 0;
};

// One plane [height, width] resized to [out_height, out_width] exactly as PyTorch's
// F.interpolate(mode="bilinear", align_corners=False) computes it on a CPU with FMA.
RAPSAM_EXPORT std::vector<float> resize_bilinear(const float* plane, int height, int width, int out_height,
                                                 int out_width);

// One stride-4 logit plane back to the original image: bilinear to the padded input size, crop
// to the resized image, bilinear to the original size (logits, not thresholded).
RAPSAM_EXPORT std::vector<float> upsample_mask(const float* plane, int height, int width, const ImageMeta& meta);

// Logits > 0 as a mask.
RAPSAM_EXPORT Mask threshold(const std::vector<float>& logits, Size size);

// x1, y1, x2, y2 of the mask's pixels (x2, y2 exclusive); zeros for an empty mask.
RAPSAM_EXPORT std::array<float, 4> mask_box(const Mask& mask);

// Which results segment() makes, and on how many threads (0: one per core).
struct SegmentOptions {
    bool panoptic = true;
    bool instances = true;
    int threads = 0;
};

struct Segmentation {
    PanopticResult panoptic;
    std::vector<Instance> instances;
};

// The panoptic merge and the instances of one image's queries at once: each query's mask is
// upsampled once for both, a band of rows at a time, on every core.
RAPSAM_EXPORT Segmentation segment(ClassLogitsView classes, LogitsView masks, const ImageMeta& meta, int num_things,
                                   const PanopticConfig& config = {}, const SegmentOptions& options = {});

// Mask2Former's panoptic merge of one image's queries.
RAPSAM_EXPORT PanopticResult panoptic(ClassLogitsView classes, LogitsView masks, const ImageMeta& meta, int num_things,
                                      const PanopticConfig& config = {});

// The top max_per_image (query, class) pairs over all classes that are things, score = class
// score x mean mask probability inside the mask, best score first.
RAPSAM_EXPORT std::vector<Instance> instances(ClassLogitsView classes, LogitsView masks, const ImageMeta& meta,
                                              int num_things, const PanopticConfig& config = {});

}  // namespace rapsam

#endif  // RAPSAM_POSTPROCESS_H
