#include "overlay.h"

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace rapsam::demo {

namespace {

constexpr float kAlpha = 0.5f;

cv::Mat mask_mat(const Mask& mask) {
    return cv::Mat(mask.height, mask.width, CV_8UC1, const_cast<std::uint8_t*>(mask.pixels.data()));
}

cv::Scalar scalar(const std::array<std::uint8_t, 3>& rgb) { return cv::Scalar(rgb[0], rgb[1], rgb[2]); }

bool any(const Mask& mask) {
    return std::any_of(mask.pixels.begin(), mask.pixels.end(), [](std::uint8_t v) { return v; });
}

// The text on a filled box of the mask's colour, at its largest region's centre, kept inside.
void label(cv::Mat& image, const Mask& mask, const std::string& text, const std::array<std::uint8_t, 3>& rgb) {
    cv::Mat components, stats, centroids;
    const int count = cv::connectedComponentsWithStats(mask_mat(mask), components, stats, centroids);
    int largest = 0;
    for (int i = 1; i < count; ++i) {
        if (largest == 0 || stats.at<int>(i, cv::CC_STAT_AREA) > stats.at<int>(largest, cv::CC_STAT_AREA)) largest = i;
    }
    int x = static_cast<int>(centroids.at<double>(largest, 0));
    int y = static_cast<int>(centroids.at<double>(largest, 1));
    const double scale = std::max(0.4, std::min(image.rows, image.cols) / 1000.0);
    int base = 0;
    const cv::Size size = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &base);
    x = std::min(std::max(0, x - size.width / 2), image.cols - size.width);
    y = std::min(std::max(size.height, y), image.rows - base);
    cv::rectangle(image, cv::Point(x, y - size.height - base), cv::Point(x + size.width, y + base), scalar(rgb), -1);
    cv::putText(image, text, cv::Point(x, y), cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
}

}  // namespace

std::array<std::uint8_t, 3> colour(int index) {
    // colorsys.hsv_to_rgb(hue, 0.75, 0.95), then int(c * 255).
    const double hue = std::fmod(index * 0.618033988749895, 1.0);
    const double s = 0.75;
    const double v = 0.95;
    const int sector = static_cast<int>(hue * 6.0);
    const double f = hue * 6.0 - sector;
    const double p = v * (1.0 - s);
    const double q = v * (1.0 - s * f);
    const double t = v * (1.0 - s * (1.0 - f));
    const std::array<std::array<double, 3>, 6> sectors{
        {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}}};
    const std::array<double, 3>& rgb = sectors[sector % 6];
    return {static_cast<std::uint8_t>(rgb[0] * 255), static_cast<std::uint8_t>(rgb[1] * 255),
            static_cast<std::uint8_t>(rgb[2] * 255)};
}

RgbImage overlay(const RgbImage& image, const std::vector<const Mask*>& masks, const std::vector<std::string>& labels,
                 const std::vector<int>& colour_keys) {
    // Blending in float32 across all masks, truncated to uint8 once, as numpy's astype.
    std::vector<float> blended(image.pixels.begin(), image.pixels.end());
    std::vector<std::pair<std::vector<std::vector<cv::Point>>, std::array<std::uint8_t, 3>>> outlines;
    for (std::size_t m = 0; m < masks.size(); ++m) {
        const Mask& mask = *masks[m];
        if (!any(mask)) continue;
        const std::array<std::uint8_t, 3> rgb = colour(colour_keys[m]);
        for (std::size_t p = 0; p < mask.pixels.size(); ++p) {
            if (!mask.pixels[p]) continue;
            for (int c = 0; c < 3; ++c) {
                float& value = blended[3 * p + c];
                value = value * (1 - kAlpha) + static_cast<float>(rgb[c]) * kAlpha;
            }
        }
        std::vector<std::vector<cv::Point>> contours;
        cv::findContours(mask_mat(mask), contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
        outlines.emplace_back(std::move(contours), rgb);
    }
    RgbImage out{image.height, image.width, std::vector<std::uint8_t>(blended.size())};
    std::transform(blended.begin(), blended.end(), out.pixels.begin(),
                   [](float v) { return static_cast<std::uint8_t>(std::clamp(v, 0.0f, 255.0f)); });
    cv::Mat canvas(out.height, out.width, CV_8UC3, out.pixels.data());
    for (const auto& [contours, rgb] : outlines) cv::drawContours(canvas, contours, -1, scalar(rgb), 2);
    for (std::size_t m = 0; m < masks.size(); ++m) {
        if (any(*masks[m]) && !labels[m].empty()) label(canvas, *masks[m], labels[m], colour(colour_keys[m]));
    }
    return out;
}

}  // namespace rapsam::demo
