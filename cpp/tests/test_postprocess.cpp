// Post-processing against the Python runtime on the same logits: upsampled masks (PyTorch's
// bilinear arithmetic, so equal to the last bit on CPUs with FMA; compared within 1e-5), the
// panoptic merge and the instances. Pixels that the reference marks as near-ties (two scores, a
// probability and 0.5, or a logit and 0 closer than 1e-5) are left out of the comparisons:
// there the result depends on the last bit of exp(), which differs between libm and PyTorch.
#include <cmath>
#include <map>

#include "check.h"
#include "rapsam/postprocess.h"
#include "reference.h"

namespace {

using nlohmann::json;
using rapsam::test::npy;
using rapsam::test::reference;

constexpr float kTolerance = 1e-5f;

}  // namespace

TEST(postprocess, upsampled_logits_equal_pytorch) {
    for (const json& c : reference()["upsample"]) {
        const rapsam::ImageMeta meta = rapsam::test::meta_from(c["meta"]);
        const auto logits = npy(c["logits"]);
        const std::vector<float> input = logits.values<float>();
        const std::vector<float> expected = npy(c["expected"]).values<float>();
        const int h = static_cast<int>(logits.shape[1]);
        const int w = static_cast<int>(logits.shape[2]);
        const std::size_t plane = static_cast<std::size_t>(meta.original.height) * meta.original.width;
        std::size_t exact = 0;
        float worst = 0.0f;
        for (int q = 0; q < logits.shape[0]; ++q) {
            const std::vector<float> out = rapsam::upsample_mask(input.data() + q * h * w, h, w, meta);
            CHECK(out.size() == plane);
            for (std::size_t p = 0; p < plane; ++p) {
                const float want = expected[q * plane + p];
                exact += out[p] == want;
                worst = std::max(worst, std::abs(out[p] - want));
            }
        }
        const std::string name = c["name"];
        std::printf("  %s: %zu of %zu values bit-identical, largest difference %g\n", name.c_str(), exact,
                    plane * logits.shape[0], static_cast<double>(worst));
        CHECK_MSG(worst <= kTolerance, name);
    }
}

TEST(postprocess, panoptic_equals_python) {
    for (const json& c : reference()["panoptic"]) {
        const std::string name = c["name"];
        const rapsam::ImageMeta meta = rapsam::test::meta_from(c["meta"]);
        const rapsam::test::ModelOutputs outputs(c);
        const rapsam::ClassLogitsView class_view = outputs.classes;
        const rapsam::LogitsView mask_view = outputs.masks;
        const rapsam::PanopticResult result = rapsam::panoptic(class_view, mask_view, meta, c["num_things"]);

        const std::vector<std::int32_t> id_map = npy(c["id_map"]).values<std::int32_t>();
        const std::vector<std::uint8_t> ambiguous = npy(c["ambiguous"]).values<std::uint8_t>();
        CHECK_MSG(result.id_map.size() == id_map.size(), name);
        std::size_t differ = 0;
        std::size_t skipped = 0;
        for (std::size_t p = 0; p < id_map.size(); ++p) {
            if (ambiguous[p]) {
                ++skipped;
                continue;
            }
            differ += result.id_map[p] != id_map[p];
        }
        CHECK_MSG(differ == 0, name + ": " + std::to_string(differ) + " pixels of the id map differ");
        const json& segments = c["segments"];
        CHECK_MSG(result.segments.size() == segments.size(), name);
        for (std::size_t i = 0; i < segments.size() && i < result.segments.size(); ++i) {
            const rapsam::Segment& s = result.segments[i];
            const json& want = segments[i];
            CHECK_MSG(s.id == want["id"] && s.label == want["label"] && s.isthing == want["isthing"], name);
            CHECK_MSG(std::abs(s.score - want["score"].get<float>()) <= 1e-6f, name);
            CHECK_MSG(std::abs(s.area - want["area"].get<std::int64_t>()) <= static_cast<std::int64_t>(skipped), name);
            if (skipped == 0) CHECK_MSG((s.bbox == want["bbox"].get<std::array<int, 4>>()), name);
        }
    }
}

TEST(postprocess, instances_equal_python) {
    for (const json& c : reference()["panoptic"]) {
        const std::string name = c["name"];
        const rapsam::ImageMeta meta = rapsam::test::meta_from(c["meta"]);
        const rapsam::test::ModelOutputs outputs(c);
        const std::vector<rapsam::Instance> found =
            rapsam::instances(outputs.classes, outputs.masks, meta, c["num_things"]);
        const json& expected = c["instances"];
        CHECK_MSG(found.size() == expected.size(), name);
        const std::vector<std::uint8_t> expected_masks = npy(c["instance_masks"]).values<std::uint8_t>();
        const std::vector<std::uint8_t> near_zero = npy(c["near_zero"]).values<std::uint8_t>();
        const std::size_t plane = static_cast<std::size_t>(meta.original.height) * meta.original.width;
        // Python sorts with an unstable argsort: match instances by (query, label).
        std::map<std::pair<int, int>, std::size_t> python;
        for (std::size_t i = 0; i < expected.size(); ++i) python[{expected[i]["query"], expected[i]["label"]}] = i;
        for (std::size_t i = 0; i < found.size(); ++i) {
            const rapsam::Instance& mine = found[i];
            const auto match = python.find({mine.query, mine.label});
            CHECK_MSG(match != python.end(), name + ": unexpected instance");
            const json& want = expected[match->second];
            CHECK_MSG(std::abs(mine.score - want["score"].get<float>()) <= kTolerance * std::max(1.0f, mine.score),
                      name);
            CHECK_MSG((mine.box == want["box"].get<std::array<float, 4>>()), name);
            if (i > 0) CHECK_MSG(found[i - 1].score >= mine.score, name + ": not best first");
            for (std::size_t p = 0; p < plane; ++p) {
                if (near_zero[mine.query * plane + p]) continue;
                CHECK_MSG(mine.mask.pixels[p] == expected_masks[match->second * plane + p], name + ": masks differ");
            }
        }
    }
}

TEST(postprocess, masks_and_boxes) {
    const rapsam::Mask mask = rapsam::threshold({0.0f, 1.0f, -1.0f, 0.5f, 0.0f, 0.0f}, {2, 3});
    CHECK((mask.pixels == std::vector<std::uint8_t>{0, 1, 0, 1, 0, 0}));
    CHECK((rapsam::mask_box(mask) == std::array<float, 4>{0, 0, 2, 2}));
    CHECK((rapsam::mask_box(rapsam::threshold(std::vector<float>(6, -1.0f), {2, 3})) == std::array<float, 4>{}));
    // Resizing to the same size is the identity, as in PyTorch.
    const std::vector<float> plane{1.5f, -2.0f, 3.25f, 7.0f, 0.0f, -1.0f};
    CHECK(rapsam::resize_bilinear(plane.data(), 2, 3, 2, 3) == plane);
}

TEST(postprocess, no_queries_kept_gives_an_empty_result) {
    const std::vector<float> classes{0.0f, 0.0f, 5.0f};  // no-object wins
    const std::vector<float> masks(16, 1.0f);
    const rapsam::ImageMeta meta{{16, 16}, {16, 16}, {16, 16}};
    const rapsam::PanopticResult result = rapsam::panoptic({classes.data(), 1, 3}, {masks.data(), 1, 4, 4}, meta, 1);
    CHECK(result.segments.empty() && result.id_map.size() == 256);
    CHECK(std::all_of(result.id_map.begin(), result.id_map.end(), [](std::int32_t id) { return id == 0; }));
}

TEST(postprocess, segment_gives_both_results_as_the_separate_calls) {
    for (const json& c : reference()["panoptic"]) {
        const rapsam::ImageMeta meta = rapsam::test::meta_from(c["meta"]);
        const rapsam::test::ModelOutputs outputs(c);
        const rapsam::ClassLogitsView class_view = outputs.classes;
        const rapsam::LogitsView mask_view = outputs.masks;
        const int num_things = c["num_things"];
        // One thread and every thread: the bands and the per-thread sums must not change results.
        for (const int threads : {1, 0}) {
            const rapsam::Segmentation both =
                rapsam::segment(class_view, mask_view, meta, num_things, {}, {true, true, threads});
            const rapsam::PanopticResult panoptic = rapsam::panoptic(class_view, mask_view, meta, num_things);
            const std::vector<rapsam::Instance> instances = rapsam::instances(class_view, mask_view, meta, num_things);
            CHECK(both.panoptic.id_map == panoptic.id_map);
            CHECK(both.panoptic.segments.size() == panoptic.segments.size());
            CHECK(both.instances.size() == instances.size());
            for (std::size_t i = 0; i < instances.size() && i < both.instances.size(); ++i) {
                CHECK(both.instances[i].mask.pixels == instances[i].mask.pixels);
                CHECK(both.instances[i].box == instances[i].box);
                CHECK(std::abs(both.instances[i].score - instances[i].score) <= 1e-6f);
            }
        }
    }
}
