// Pre-processing as the official test pipeline and the Python runtime (preprocess.py):
// keep-aspect resize by mmcv's rule (sizes rounded half up, bilinear on uint8 with OpenCV's
// INTER_LINEAR), then the RGB 0..255 float tensor padded at the right and bottom to multiples
// of 32 with the mean colour (normalisation happens inside encoder.onnx).
#ifndef RAPSAM_PREPROCESS_H
#define RAPSAM_PREPROCESS_H

#include <array>
#include <vector>

#include "rapsam/export.h"
#include "rapsam/types.h"

namespace rapsam {

// Fit within `scale` (long edge <= max, short edge <= min, mmcv's rule), or with long_side > 0
// make the long edge exactly that (SAM's convention).
struct ResizePolicy {
    std::array<int, 2> scale{1333, 800};  // the COCO test pipelines
    int long_side = 0;

    static ResizePolicy coco() { return {}; }
    static ResizePolicy youtube_vis() { return {{1280, 736}, 0}; }
    static ResizePolicy long_edge(int side) { return {{1333, 800}, side}; }

    RAPSAM_EXPORT double factor(int height, int width) const;
    // The resized size, rounded half up as mmcv does; rapsam::Error if a side would be 0.
    RAPSAM_EXPORT Size size(int height, int width) const;
};

// (H, W) rounded up to multiples of `divisor`.
RAPSAM_EXPORT Size padded_size(Size size, int divisor = 32);

// The encoder's input for one image: [3, padded.height, padded.width] float32, RGB 0..255.
struct EncoderInput {
    std::vector<float> image;
    ImageMeta meta;
};

// rapsam::Error for an image without pixels, a null pointer or a stride shorter than a row.
RAPSAM_EXPORT void check_image(const ImageView& image);

RAPSAM_EXPORT EncoderInput preprocess(const ImageView& image, const ResizePolicy& policy);

}  // namespace rapsam

#endif  // RAPSAM_PREPROCESS_H
