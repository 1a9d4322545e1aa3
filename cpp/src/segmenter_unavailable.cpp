// Segmenter where librapsam was built without TensorRT: the API links, and using it says why it
// cannot run (the rest of the library, pre/post-processing and checks, works everywhere).
#include "rapsam/error.h"
#include "rapsam/segmenter.h"

namespace rapsam {

class Segmenter::Impl {};

namespace {
[[noreturn]] void unavailable() {
    throw Error("this librapsam was built without TensorRT, so Segmenter cannot run engines",
                "rebuild it where TensorRT's headers and libraries are found: "
                "cmake -DTENSORRT_ROOT=/path/to/TensorRT (CMake says whether it found them)");
}
}  // namespace

Segmenter::Segmenter(const std::filesystem::path& /*export_dir*/, const SegmenterOptions& /*options*/) {
    unavailable();
}
Segmenter::~Segmenter() = default;
Segmenter::Segmenter(Segmenter&&) noexcept = default;
Segmenter& Segmenter::operator=(Segmenter&&) noexcept = default;
PanopticPrediction Segmenter::panoptic(const ImageView& /*image*/) { unavailable(); }
void Segmenter::set_image(const ImageView& /*image*/) { unavailable(); }
PromptPrediction Segmenter::prompt(const std::vector<Point>& /*points*/, const std::vector<Box>& /*boxes*/) {
    unavailable();
}
const Manifest& Segmenter::manifest() const { unavailable(); }

bool tensorrt_available() { return false; }

}  // namespace rapsam
