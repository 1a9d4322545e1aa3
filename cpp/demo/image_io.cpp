#include "image_io.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "rapsam/error.h"

namespace rapsam::demo {

namespace {

// Whether the last `tail` bytes hold `marker`.
bool ends_with_marker(const std::vector<std::uint8_t>& data, std::size_t tail, const std::string& marker) {
    const auto start = data.end() - static_cast<std::ptrdiff_t>(std::min(tail, data.size()));
    const auto same = [](std::uint8_t byte, char c) { return byte == static_cast<unsigned char>(c); };
    return std::search(start, data.end(), marker.begin(), marker.end(), same) != data.end();
}

// JPEG and PNG files end with a marker; OpenCV decodes a cut JPEG without error (grey rows).
bool truncated(const std::vector<std::uint8_t>& data) {
    if (data.size() >= 2 && data[0] == 0xff && data[1] == 0xd8) return !ends_with_marker(data, 64, "\xff\xd9");
    if (data.size() >= 8 && std::memcmp(data.data(), "\x89PNG\r\n\x1a\n", 8) == 0) {
        return !ends_with_marker(data, 16, "IEND");
    }
    return false;
}

}  // namespace

RgbImage decode_image(const std::vector<std::uint8_t>& data, const std::string& name) {
    const char* const formats = "pass a JPEG, PNG, TIFF, BMP or WebP image";
    if (data.empty()) throw Error(name + " is empty", formats);
    if (truncated(data))
        throw Error(name + " is truncated (the file ends before the image does)", "copy or download it again");
    // IMREAD_COLOR applies EXIF orientation and maps 16-bit, gray and RGBA to 8-bit BGR.
    const cv::Mat bgr = cv::imdecode(data, cv::IMREAD_COLOR);
    if (bgr.empty()) throw Error(name + " cannot be decoded as an image (corrupt, truncated or not an image)", formats);
    RgbImage image{bgr.rows, bgr.cols, std::vector<std::uint8_t>(static_cast<std::size_t>(bgr.rows) * bgr.cols * 3)};
    cv::Mat rgb(bgr.rows, bgr.cols, CV_8UC3, image.pixels.data());
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    return image;
}

RgbImage load_image(const std::filesystem::path& path) {
    if (!std::filesystem::is_regular_file(path))
        throw Error("image " + path.string() + " does not exist", "check the path");
    std::ifstream file(path, std::ios::binary);
    const std::vector<std::uint8_t> data((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    return decode_image(data, path.string());
}

void write_atomic(const std::filesystem::path& path, const std::string& data) {
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    const std::filesystem::path temporary = path.string() + ".partial";
    {
        std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
        file.write(data.data(), static_cast<std::streamsize>(data.size()));
        if (!file.flush()) {
            std::filesystem::remove(temporary);
            throw Error("cannot write " + path.string(), "check the folder's permissions and free space");
        }
    }
    std::filesystem::rename(temporary, path);
}

void write_png(const std::filesystem::path& path, const RgbImage& image) {
    const cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.pixels.data()));
    cv::Mat bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    std::vector<std::uint8_t> encoded;
    if (!cv::imencode(".png", bgr, encoded)) throw Error("cannot encode " + path.string() + " as PNG");
    write_atomic(path, std::string(encoded.begin(), encoded.end()));
}

}  // namespace rapsam::demo
