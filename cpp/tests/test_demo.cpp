// rapsam_demo's parts against the Python runtime (what rapsam-infer writes): image decoding and
// its errors, COCO RLE (pycocotools), overlays (visualize.overlay), panoptic PNGs and JSON, and
// the command line.
#include <cmath>

#include "arguments.h"
#include "check.h"
#include "image_io.h"
#include "overlay.h"
#include "rapsam/postprocess.h"
#include "reference.h"
#include "results_json.h"
#include "rle.h"

namespace {

using nlohmann::json;
using rapsam::test::npy;
using rapsam::test::reference;
using rapsam::test::reference_dir;

std::vector<std::uint8_t> bytes_of(const rapsam::detail::NpyArray& array) {
    return {array.bytes.begin(), array.bytes.end()};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST(demo, images_decode_as_python) {
    for (const json& c : reference()["images"]) {
        const std::filesystem::path path = reference_dir() / c["file"].get<std::string>();
        if (!c["error"].is_null()) {
            CHECK_MSG(ERROR_OF(rapsam::demo::load_image(path)) == c["error"].get<std::string>(), path.string());
            continue;
        }
        const rapsam::demo::RgbImage image = rapsam::demo::load_image(path);
        const auto expected = npy(c["expected"]);
        CHECK_MSG(image.height == expected.shape[0] && image.width == expected.shape[1], path.string());
        const std::vector<std::uint8_t> want = bytes_of(expected);
        int worst = 0;
        for (std::size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::abs(image.pixels[i] - want[i]));
        // PNG is lossless; JPEG decoders (libjpeg-turbo versions) may round a level apart.
        CHECK_MSG(worst <= (path.extension() == ".jpg" ? 2 : 0), path.string() + ": " + std::to_string(worst));
    }
    CHECK(contains(ERROR_OF(rapsam::demo::load_image("/nonexistent.png")), "image /nonexistent.png does not exist"));
}

TEST(demo, rle_equals_pycocotools) {
    for (const json& c : reference()["rle"]) {
        const auto array = npy(c["mask"]);
        const rapsam::Mask mask = rapsam::test::mask_from(bytes_of(array), static_cast<int>(array.shape[0]),
                                                          static_cast<int>(array.shape[1]));
        CHECK_MSG(rapsam::demo::mask_rle(mask) == c["rle"], c["mask"].get<std::string>());
    }
}

TEST(demo, colours_equal_python) {
    const json& colours = reference()["overlay"][0]["colours"];
    for (std::size_t i = 0; i < colours.size(); ++i) {
        const auto rgb = rapsam::demo::colour(static_cast<int>(i));
        CHECK_MSG(rgb[0] == colours[i][0] && rgb[1] == colours[i][1] && rgb[2] == colours[i][2], std::to_string(i));
    }
}

TEST(demo, overlay_equals_python) {
    const json& c = reference()["overlay"][0];
    const auto image_array = npy(c["image"]);
    const rapsam::demo::RgbImage image{static_cast<int>(image_array.shape[0]), static_cast<int>(image_array.shape[1]),
                                       bytes_of(image_array)};
    const auto mask_array = npy(c["masks"]);
    std::vector<rapsam::Mask> masks;
    for (int m = 0; m < mask_array.shape[0]; ++m) {
        masks.push_back(rapsam::test::mask_from(bytes_of(mask_array), image.height, image.width, m));
    }
    std::vector<const rapsam::Mask*> views;
    for (const rapsam::Mask& mask : masks) views.push_back(&mask);
    // Blending and outlines equal Python's; labels are not compared pixel by pixel, because
    // OpenCV 5 (the opencv-python wheels) draws Hershey text with other metrics than OpenCV 4.
    const std::vector<std::string> labels = c["labels"];
    const rapsam::demo::RgbImage plain =
        rapsam::demo::overlay(image, views, std::vector<std::string>(labels.size()), c["keys"]);
    const std::vector<std::uint8_t> expected = bytes_of(npy(c["expected"]));
    std::size_t differ = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) differ += plain.pixels[i] != expected[i];
    CHECK_MSG(differ == 0, std::to_string(differ) + " of " + std::to_string(expected.size()) + " values differ");
    // Each label is a small box of text: it changes some pixels, and not many.
    const rapsam::demo::RgbImage labelled = rapsam::demo::overlay(image, views, labels, c["keys"]);
    std::size_t changed = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) changed += labelled.pixels[i] != plain.pixels[i];
    CHECK_MSG(changed > 100 && changed < expected.size() / 5, std::to_string(changed));
}

TEST(demo, panoptic_png_equals_python) {
    const json& c = reference()["overlay"][0];
    const auto ids = npy(c["id_map"]);
    rapsam::PanopticResult result{
        {static_cast<int>(ids.shape[0]), static_cast<int>(ids.shape[1])}, ids.values<std::int32_t>(), {}};
    CHECK(rapsam::demo::panoptic_png(result).pixels == bytes_of(npy(c["panoptic_png"])));
}

TEST(demo, panoptic_json_equals_rapsam_infer) {
    for (const json& c : reference()["panoptic"]) {
        const auto ambiguous = npy(c["ambiguous"]).values<std::uint8_t>();
        if (std::any_of(ambiguous.begin(), ambiguous.end(), [](std::uint8_t v) { return v; })) continue;
        rapsam::PanopticPrediction prediction;
        prediction.meta = rapsam::test::meta_from(c["meta"]);
        const rapsam::test::ModelOutputs outputs(c);
        const rapsam::ClassLogitsView class_view = outputs.classes;
        const rapsam::LogitsView mask_view = outputs.masks;
        prediction.panoptic = rapsam::panoptic(class_view, mask_view, prediction.meta, c["num_things"]);
        prediction.instances = rapsam::instances(class_view, mask_view, prediction.meta, c["num_things"]);
        const json mine = rapsam::demo::panoptic_json(prediction, c["names"], -1.0f);
        const json& python = c["json"];
        CHECK(mine["size"] == python["size"] && mine["segments_info"].size() == python["segments_info"].size());
        // Scores are rounded to 5 decimals: a last-bit difference of a float32 score may round
        // the other way.
        for (std::size_t i = 0; i < mine["segments_info"].size(); ++i) {
            json a = mine["segments_info"][i];
            json b = python["segments_info"][i];
            CHECK(std::abs(a["score"].get<double>() - b["score"].get<double>()) <= 1.5e-5);
            a.erase("score");
            b.erase("score");
            CHECK_MSG(a == b, a.dump() + " vs " + b.dump());
        }
        CHECK(mine["instances"].size() == python["instances"].size());
        // Instances are matched by mask (Python's order of equal scores is arbitrary).
        for (const json& instance : mine["instances"]) {
            const bool found = std::any_of(python["instances"].begin(), python["instances"].end(), [&](const json& p) {
                return p["mask"] == instance["mask"] && p["label"] == instance["label"] &&
                       p["box"] == instance["box"] &&
                       std::abs(p["score"].get<double>() - instance["score"].get<double>()) <= 2e-5;
            });
            CHECK_MSG(found, instance.dump().substr(0, 200));
        }
    }
}

TEST(demo, arguments) {
    using rapsam::demo::parse_arguments;
    const rapsam::demo::Arguments args =
        parse_arguments({"photo.jpg", "--points", "320,240", "10.5,7", "--boxes", "1,2,3,4", "--precision", "fp32",
                         "--resize", "long:1024", "--output", "out"});
    CHECK(args.image == "photo.jpg" && args.output == "out" && args.options.precision == "fp32");
    CHECK(args.points.size() == 2 && args.points[1].x == 10.5 && args.boxes.size() == 1 && args.boxes[0].y2 == 4);
    CHECK(args.options.resize.long_side == 1024);
    CHECK(parse_arguments({"--help"}).help);
    CHECK(contains(ERROR_OF(parse_arguments({"a.jpg", "--points", "1,x"})), "bad point '1,x'"));
    CHECK(contains(ERROR_OF(parse_arguments({"a.jpg", "--boxes", "1,2,3"})), "bad box '1,2,3'"));
    CHECK(contains(ERROR_OF(parse_arguments({"a.jpg", "--resize", "long:8"})), "bad --resize 'long:8'"));
    CHECK(contains(ERROR_OF(parse_arguments({"a.jpg", "--variant", "fast"})), "bad --variant 'fast'"));
    CHECK(contains(ERROR_OF(parse_arguments({"a.jpg", "b.jpg"})), "give one image (got 2)"));
    CHECK(contains(ERROR_OF(parse_arguments({"a.jpg", "--frobnicate", "1"})), "unknown option --frobnicate"));
}
