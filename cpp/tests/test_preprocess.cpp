// Pre-processing against the Python runtime's preprocess() on the same images: the encoder's
// input tensors are compared value for value (OpenCV's INTER_LINEAR on uint8 is fixed-point,
// and the same in Debian's OpenCV 4.6 and the opencv-python wheels).
#include <cmath>

#include "check.h"
#include "rapsam/preprocess.h"
#include "reference.h"

namespace {
using nlohmann::json;
using rapsam::test::npy;
using rapsam::test::reference;
}  // namespace

TEST(preprocess, resize_rule_as_mmcv) {
    for (const json& c : reference()["preprocess"]["sizes"]) {
        const rapsam::ResizePolicy policy = rapsam::test::policy_from(c["policy"]);
        const rapsam::Size size = policy.size(c["size"][0], c["size"][1]);
        CHECK_MSG(size.height == c["resized"][0] && size.width == c["resized"][1], c.dump());
    }
    CHECK(rapsam::ResizePolicy::long_edge(15).size(10, 7).width == 11);  // 10.5 rounds half up
    CHECK((rapsam::padded_size({800, 1067}) == rapsam::Size{800, 1088}));
}

TEST(preprocess, encoder_input_equals_python) {
    for (const json& c : reference()["preprocess"]["images"]) {
        const auto image = npy(c["image"]);
        const rapsam::ImageView view{reinterpret_cast<const std::uint8_t*>(image.bytes.data()),
                                     static_cast<int>(image.shape[1]), static_cast<int>(image.shape[0]), 0};
        const rapsam::EncoderInput input = rapsam::preprocess(view, rapsam::test::policy_from(c["policy"]));
        const rapsam::ImageMeta meta = rapsam::test::meta_from(c["meta"]);
        const std::string name = c["name"];
        CHECK_MSG(input.meta.original == meta.original && input.meta.resized == meta.resized &&
                      input.meta.padded == meta.padded,
                  name);
        const std::vector<float> expected = npy(c["expected"]).values<float>();
        CHECK_MSG(expected.size() == input.image.size(), name);
        std::size_t different = 0;
        for (std::size_t i = 0; i < expected.size(); ++i) different += expected[i] != input.image[i];
        CHECK_MSG(different == 0, name + ": " + std::to_string(different) + " values differ");
    }
}

TEST(preprocess, strided_views_read_only_their_pixels) {
    // 2x3 RGB pixels in rows of 16 bytes; the padding bytes must not show.
    std::vector<std::uint8_t> rows(32, 255);
    for (int y = 0; y < 2; ++y) {
        for (int i = 0; i < 9; ++i) rows[16 * y + i] = static_cast<std::uint8_t>(10 * y + i);
    }
    const rapsam::EncoderInput input = rapsam::preprocess({rows.data(), 3, 2, 16}, rapsam::ResizePolicy::long_edge(3));
    CHECK((input.meta.padded == rapsam::Size{32, 32}));
    CHECK(input.image[0] == 0.0f && input.image[1] == 3.0f && input.image[32] == 10.0f);  // red of (0,0), (0,1), (1,0)
    CHECK(input.image[3] == 123.675f && input.image[2 * 1024] == 2.0f);  // padding is the mean; blue of (0,0)
}

TEST(preprocess, bad_images_are_refused) {
    const std::vector<std::uint8_t> pixels(12);
    CHECK(ERROR_OF(rapsam::preprocess({nullptr, 2, 2, 0}, {})).find("the image is empty") == 0);
    CHECK(ERROR_OF(rapsam::preprocess({pixels.data(), 0, 2, 0}, {})).find("the image is empty (0x2)") == 0);
    CHECK(ERROR_OF(rapsam::preprocess({pixels.data(), 2, 2, 5}, {})).find("stride (5 bytes)") != std::string::npos);
    const std::vector<std::uint8_t> line(3 * 4000);
    CHECK(ERROR_OF(rapsam::preprocess({line.data(), 4000, 1, 0}, {})).find("resizes to") != std::string::npos);
}
