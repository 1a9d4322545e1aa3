// rapsam::Segmenter where it cannot run engines: built without TensorRT it says so; with
// TensorRT but no GPU or no engines (as on CI machines) it fails with a rapsam::Error that
// says what is missing. Running engines needs a GPU: see the README.
#include "check.h"
#include "output_shapes.h"
#include "rapsam/segmenter.h"
#include "reference.h"

TEST(segmenter, refuses_clearly_where_it_cannot_run) {
    const std::filesystem::path export_dir = rapsam::test::reference_dir() / "export";
    const std::string error = ERROR_OF(rapsam::Segmenter segmenter(export_dir));
    if (!rapsam::tensorrt_available()) {
        CHECK_MSG(error.find("built without TensorRT") != std::string::npos &&
                      error.find("TENSORRT_ROOT") != std::string::npos,
                  error);
    } else {
        const bool explained = error.find("no CUDA GPU") != std::string::npos ||
                               error.find("no TensorRT engines for") != std::string::npos;
        CHECK_MSG(explained, error);
    }
}

TEST(segmenter, output_shapes_follow_the_contract) {
    using rapsam::detail::output_shapes;
    const auto encoder = output_shapes(rapsam::contract::graph("encoder"), {{"image", {1, 3, 800, 1344}}}, 133);
    CHECK((encoder.at("features") == rapsam::detail::Shape{1, 256, 200, 336}));
    const auto decoder =
        output_shapes(rapsam::contract::graph("decoder"),
                      {{"features", {1, 256, 600, 336}}, {"queries", {1, 7, 256}}, {"attn_mask", {7, 7}}}, 133);
    CHECK((decoder.at("mask_logits") == rapsam::detail::Shape{1, 7, 600, 336}));
    CHECK((decoder.at("class_logits") == rapsam::detail::Shape{1, 7, 134}));
    CHECK((decoder.at("iou") == rapsam::detail::Shape{1, 7, 1}) && decoder.size() == 4);
}
