// Image files for the demo: read as the Python runtime's load_image (OpenCV decoding, EXIF
// orientation applied, 8/16-bit, gray, RGB, RGBA -> 8-bit RGB; cut JPEGs and PNGs refused) and
// PNGs written whole or not at all.
#ifndef RAPSAM_DEMO_IMAGE_IO_H
#define RAPSAM_DEMO_IMAGE_IO_H

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "rapsam/types.h"

namespace rapsam::demo {

// An owned RGB image, rows packed.
struct RgbImage {
    int height = 0;
    int width = 0;
    std::vector<std::uint8_t> pixels;
    ImageView view() const { return {pixels.data(), width, height, 0}; }
};

// rapsam::Error for a missing, empty, truncated or undecodable file, or one that is not a JPEG,
// PNG, TIFF, BMP or WebP image (by its first bytes).
RgbImage load_image(const std::filesystem::path& path);

// The same from the file's bytes (`name` says where they came from in errors).
RgbImage decode_image(const std::vector<std::uint8_t>& data, const std::string& name);

void write_png(const std::filesystem::path& path, const RgbImage& image);

// Write `data` through a temporary file beside `path` and a rename.
void write_atomic(const std::filesystem::path& path, const std::string& data);

}  // namespace rapsam::demo

#endif  // RAPSAM_DEMO_IMAGE_IO_H
