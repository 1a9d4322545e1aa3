#include "rapsam/preprocess.h"

#include <algorithm>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "rapsam/contract.h"
#include "rapsam/error.h"

namespace rapsam {

double ResizePolicy::factor(int height, int width) const {
    const double long_edge = std::max(height, width);
    const double short_edge = std::min(height, width);
    if (long_side > 0) return long_side / long_edge;
    const double scale_long = std::max(scale[0], scale[1]);
    const double scale_short = std::min(scale[0], scale[1]);
    return std::min(scale_long / long_edge, scale_short / short_edge);
}

Size ResizePolicy::size(int height, int width) const {
    const double f = factor(height, width);
    // int(x + 0.5) in Python truncates; x is positive, so this is mmcv's half-up rounding.
    const Size resized{static_cast<int>(height * f + 0.5), static_cast<int>(width * f + 0.5)};
    if (resized.height < 1 || resized.width < 1) {
        throw Error("a " + std::to_string(width) + "x" + std::to_string(height) + " image resizes to " +
                        std::to_string(resized.width) + "x" + std::to_string(resized.height) + " pixels",
                    "pass an image whose sides are less extreme in ratio");
    }
    return resized;
}

Size padded_size(Size size, int divisor) {
    return {(size.height + divisor - 1) / divisor * divisor, (size.width + divisor - 1) / divisor * divisor};
}

void check_image(const ImageView& image) {
    if (image.data == nullptr || image.width < 1 || image.height < 1) {
        throw Error("the image is empty (" + std::to_string(image.width) + "x" + std::to_string(image.height) + ")",
                    "pass an RGB image with pixels");
    }
    if (image.stride != 0 && image.stride < static_cast<std::size_t>(image.width) * 3) {
        throw Error("the image's stride (" + std::to_string(image.stride) + " bytes) is shorter than a row of " +
                        std::to_string(image.width) + " RGB pixels",
                    "pass the distance between rows in bytes, or 0 for packed rows");
    }
}

EncoderInput preprocess(const ImageView& image, const ResizePolicy& policy) {
    check_image(image);
    const std::size_t stride = image.stride ? image.stride : static_cast<std::size_t>(image.width) * 3;
    // A view, not a copy: cv::Mat only reads the caller's pixels here.
    const cv::Mat source(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.data), stride);
    const Size resized = policy.size(image.height, image.width);
    cv::Mat scaled = source;
    if (resized != Size{image.height, image.width}) {
        cv::resize(source, scaled, cv::Size(resized.width, resized.height), 0.0, 0.0, cv::INTER_LINEAR);
    }

    EncoderInput input;
    input.meta = {{image.height, image.width}, resized, padded_size(resized, contract::kSizeDivisor)};
    const int pad_h = input.meta.padded.height;
    const int pad_w = input.meta.padded.width;
    const std::size_t plane = static_cast<std::size_t>(pad_h) * pad_w;
    input.image.resize(3 * plane);
    for (int c = 0; c < 3; ++c) {
        float* out = input.image.data() + c * plane;
        // The mean colour in float32, as torch.tensor(IMAGE_MEAN, dtype=torch.float32).
        std::fill(out, out + plane, static_cast<float>(contract::kImageMean[c]));
        for (int y = 0; y < resized.height; ++y) {
            const std::uint8_t* row = scaled.ptr<std::uint8_t>(y);
            for (int x = 0; x < resized.width; ++x) out[static_cast<std::size_t>(y) * pad_w + x] = row[3 * x + c];
        }
    }
    return input;
}

}  // namespace rapsam
