// libFuzzer target: image files as the demo reads them (rapsam::demo::decode_image, OpenCV's
// decoders behind our checks). A rapsam::Error is the answer to bad input; anything else is a
// finding. OpenCV itself is not instrumented: this fuzzes our wrapper and what escapes OpenCV.
// How much OpenCV allocates for the size a header claims is OpenCV's policy (up to 2^30 pixels,
// 3 GB): benchmarks/fuzz.sh lowers it with OPENCV_IO_MAX_IMAGE_PIXELS, which OpenCV reads when
// it is loaded, so that a 30000 x 30000 BMP header is not reported as a huge allocation.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "image_io.h"
#include "rapsam/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::vector<std::uint8_t> bytes(data, data + size);
    try {
        const rapsam::demo::RgbImage image = rapsam::demo::decode_image(bytes, "image");
        if (image.pixels.size() != static_cast<std::size_t>(image.height) * image.width * 3) std::abort();
    } catch (const rapsam::Error&) {
    }
    return 0;
}
