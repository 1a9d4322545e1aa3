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

// The formats the demo reads, by their first bytes. OpenCV's other decoders are not offered:
// Debian's OpenCV reads DICOM through GDCM, whose assert() aborts the process on a malformed
// file (found by cpp/fuzz: 134 bytes with "DICM" at offset 128).
bool known_format(const std::vector<std::uint8_t>& data) {
    const auto has = [&](std::size_t at, const char* magic, std::size_t size) {
        return data.size() >= at + size && std::memcmp(data.data() + at, magic, size) == 0;
    };
    return has(0, "\xff\xd8\xff", 3) || has(0, "\x89PNG\r\n\x1a\n", 8) || has(0, "II*\0", 4) ||
           has(0, "MM\0*", 4) || has(0, "II+\0", 4) || has(0, "MM\0+", 4) || has(0, "BM", 2) ||
           (has(0, "RIFF", 4) && has(8, "WEBP", 4));
}

// IMREAD_COLOR applies EXIF orientation and maps 16-bit, gray and RGBA to 8-bit BGR. OpenCV
// reports most bad files with an empty result but asserts, as the Python runtime's load_image
// says, on a header that asks for more pixels than it decodes.
cv::Mat decode_bgr(const std::vector<std::uint8_t>& data, const std::string& name, const char* formats) {
    try {
        return cv::imdecode(data, cv::IMREAD_COLOR);
    } catch (const cv::Exception& error) {
        std::string detail = error.what();
        detail.erase(detail.find_last_not_of('\n') + 1);
        detail.erase(0, detail.find_last_of('\n') + 1);
        if (detail.find("CV_IO_MAX_IMAGE_PIXELS") != std::string::npos) {
            detail = "its header says more pixels than OpenCV decodes (2^30, or $OPENCV_IO_MAX_IMAGE_PIXELS)";
        }
        throw Error(name + " cannot be decoded: " + detail, formats);
    }
}

}  // namespace

RgbImage decode_image(const std::vector<std::uint8_t>& data, const std::string& name) {
    const char* const formats = "pass a JPEG, PNG, TIFF, BMP or WebP image";
    if (data.empty()) throw Error(name + " is empty", formats);
    if (truncated(data))
        throw Error(name + " is truncated (the file ends before the image does)", "copy or download it again");
    const std::string undecodable = name + " cannot be decoded as an image (corrupt, truncated or not an image)";
    if (!known_format(data)) throw Error(undecodable, formats);
    const cv::Mat bgr = decode_bgr(data, name, formats);
    if (bgr.empty()) throw Error(undecodable, formats);
    RgbImage image{bgr.rows, bgr.cols, std::vector<std::uint8_t>(static_cast<std::size_t>(bgr.rows) * bgr.cols * 3)};
    cv::Mat rgb(bgr.rows, bgr.cols, CV_8UC3, image.pixels.data());
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    return image;
}

// The Python runtime's check_input_file (rapsam_deploy/artifacts/files.py), in its words.
RgbImage load_image(const std::filesystem::path& path) {
    const std::string what = "image " + path.string();
    std::error_code error;
    if (!std::filesystem::exists(path, error)) throw Error(what + " does not exist", "check the path");
    if (!std::filesystem::is_regular_file(path, error)) throw Error(what + " is not a file", "pass a file");
    std::ifstream file(path, std::ios::binary);
    const std::vector<std::uint8_t> data((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    if (data.empty()) throw Error(what + " is empty", "copy or download it again");
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
