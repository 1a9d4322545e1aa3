// rapsam::Segmenter: RAP-SAM's TensorRT engines (rapsam-build) in an application.
//
//   rapsam::Segmenter segmenter("exports/r18");                  // engines/fp32-standard/*.plan
//   rapsam::PanopticPrediction result = segmenter.panoptic(image);
//   segmenter.set_image(image);                                    // the encoder runs once
//   rapsam::PromptPrediction masks = segmenter.prompt({{320, 240}}, {{10, 20, 200, 300}});
//
// Pre- and post-processing are the Python runtime's (preprocess.h, postprocess.h, prompt.h).
// Errors are rapsam::Error (ManifestError, EngineFileError) with what to do about them. One
// Segmenter runs one call at a time (it owns one CUDA stream and reuses its device buffers);
// use one per thread.
#ifndef RAPSAM_SEGMENTER_H
#define RAPSAM_SEGMENTER_H

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "rapsam/export.h"
#include "rapsam/manifest.h"
#include "rapsam/postprocess.h"
#include "rapsam/preprocess.h"
#include "rapsam/types.h"

namespace rapsam {

struct SegmenterOptions {
    std::string precision = "fp32";    // fp32 | fp16 engines (I/O is fp32 either way)
    std::string variant = "standard";  // standard | plugin (loads librapsam_trt_plugin)
    std::filesystem::path engine_dir;  // default: EXPORT_DIR/engines/<precision>-<variant>
    // Default: $RAPSAM_PLUGIN_DIR/librapsam_trt_plugin.so, else the one beside librapsam.
    std::filesystem::path plugin_library;
    int device = 0;  // CUDA device
    ResizePolicy resize = ResizePolicy::coco();
    PanopticConfig panoptic;
};

class RAPSAM_EXPORT Segmenter {
public:
    // Reads the manifest and checks every plan's sidecar against this TensorRT, GPU, plugin
    // library and export (a plan without one, built elsewhere, is loaded with a warning on
    // stderr); each engine is deserialised on first use.
    explicit Segmenter(const std::filesystem::path& export_dir, const SegmenterOptions& options = {});
    ~Segmenter();
    Segmenter(Segmenter&&) noexcept;
    Segmenter& operator=(Segmenter&&) noexcept;
    Segmenter(const Segmenter&) = delete;
    Segmenter& operator=(const Segmenter&) = delete;

    // Panoptic segmentation and instances of one RGB image, at its original size.
    PanopticPrediction panoptic(const ImageView& image);

    // Encode an image once for the prompts that follow (panoptic() does not disturb it).
    void set_image(const ImageView& image);

    // Points (x, y) and boxes (x1, y1, x2, y2) in the image's pixels -> one mask per prompt,
    // best predicted IoU first. rapsam::Error without set_image() or for bad prompts.
    PromptPrediction prompt(const std::vector<Point>& points, const std::vector<Box>& boxes = {});

    const Manifest& manifest() const;

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

// Whether this librapsam was built with TensorRT (without it, Segmenter's constructor throws).
RAPSAM_EXPORT bool tensorrt_available();

}  // namespace rapsam

#endif  // RAPSAM_SEGMENTER_H
