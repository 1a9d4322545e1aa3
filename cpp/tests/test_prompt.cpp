// Prompts against the Python runtime: the normalised boxes (float64 arithmetic rounded once to
// float32, so equal bit for bit), its errors and warnings, and masks ordered by predicted IoU.
#include "check.h"
#include "rapsam/prompt.h"
#include "reference.h"

namespace {
using nlohmann::json;
using rapsam::test::npy;
using rapsam::test::reference;
}  // namespace

TEST(prompt, boxes_errors_and_warnings_equal_python) {
    for (const json& c : reference()["prompt_boxes"]) {
        const std::string name = c["name"];
        std::vector<rapsam::Point> points;
        for (const json& p : c["points"])
            points.push_back({std::stod(p[0].get<std::string>()), std::stod(p[1].get<std::string>())});
        std::vector<rapsam::Box> boxes;
        for (const json& b : c["boxes"]) boxes.push_back({b[0], b[1], b[2], b[3]});
        const rapsam::ImageMeta meta = rapsam::test::meta_from(c["meta"]);
        if (!c["error"].is_null()) {
            const std::string error = ERROR_OF(rapsam::prompt_boxes(points, boxes, meta));
            const std::string python = c["error"];
            // Python's numpy check also prints the array's shape; C++ takes typed points.
            const std::string expected = name == "not_finite" ? "points must be finite numbers" : python;
            CHECK_MSG(error == expected, name + ":\n  C++:    " + error + "\n  Python: " + python);
            continue;
        }
        const rapsam::PromptBoxes out = rapsam::prompt_boxes(points, boxes, meta);
        const std::vector<std::vector<float>> expected = c["expected"];
        CHECK_MSG(out.boxes.size() == 4 * expected.size(), name);
        for (std::size_t i = 0; i < out.boxes.size(); ++i) CHECK_MSG(out.boxes[i] == expected[i / 4][i % 4], name);
        CHECK_MSG(out.warnings == c["warnings"].get<std::vector<std::string>>(), name);
    }
}

TEST(prompt, masks_best_iou_first_as_python) {
    const json& c = reference()["prompt_masks"][0];
    const rapsam::ImageMeta meta = rapsam::test::meta_from(c["meta"]);
    const auto masks = npy(c["masks"]);
    const std::vector<float> values = masks.values<float>();
    const std::vector<float> iou = c["iou"];
    const std::vector<rapsam::PromptMask> out =
        rapsam::prompt_masks(iou.data(),
                             {values.data(), static_cast<int>(masks.shape[0]), static_cast<int>(masks.shape[1]),
                              static_cast<int>(masks.shape[2])},
                             meta);
    const std::vector<int> order = c["order"];
    const std::vector<std::uint8_t> expected = npy(c["expected"]).values<std::uint8_t>();
    const std::size_t plane = static_cast<std::size_t>(meta.original.height) * meta.original.width;
    CHECK(out.size() == order.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
        CHECK(out[i].prompt == order[i] && out[i].iou == iou[order[i]]);
        CHECK(out[i].mask.height == meta.original.height && out[i].mask.width == meta.original.width);
        CHECK(std::equal(out[i].mask.pixels.begin(), out[i].mask.pixels.end(), expected.begin() + i * plane));
    }
}
