// manifest.json: a manifest the Python runtime wrote and accepts reads the same here; bad ones
// fail with a ManifestError that names the problem.
#include <fstream>
#include <sstream>

#include "check.h"
#include "rapsam/error.h"
#include "rapsam/manifest.h"
#include "reference.h"

namespace {

using nlohmann::json;
using rapsam::test::reference;
using rapsam::test::reference_dir;

std::filesystem::path export_dir() { return reference_dir() / reference()["manifest"]["dir"].get<std::string>(); }

json good_manifest() {
    std::ifstream file(export_dir() / "manifest.json");
    return json::parse(file);
}

// The ManifestError that parsing `data` gives.
std::string manifest_error(const json& data) {
    try {
        rapsam::parse_manifest(data.dump(), export_dir(), "manifest.json");
    } catch (const rapsam::ManifestError& error) {
        return error.what();
    }
    throw rapsam::test::Failure("expected a ManifestError for " + data.dump().substr(0, 200));
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST(manifest, python_manifest_reads_the_same) {
    const json& expected = reference()["manifest"];
    const rapsam::Manifest manifest = rapsam::read_manifest(export_dir());
    CHECK(manifest.num_classes == expected["num_classes"].get<int>());
    CHECK(manifest.num_things == expected["num_things"].get<int>());
    CHECK(manifest.num_queries == expected["num_queries"].get<int>());
    CHECK(manifest.classes.size() == static_cast<std::size_t>(manifest.num_classes));
    CHECK(manifest.artifacts.size() == expected["artifacts"].get<std::size_t>());
    CHECK(manifest.artifact("decoder", "standard", "fp16").file == expected["fp16_decoder_file"].get<std::string>());
    CHECK(manifest.profiles.at("H").max == 1344 && manifest.profiles.at("N").min == 1);
    CHECK((manifest.object_queries_shape == std::vector<std::int64_t>{manifest.num_queries, 256}));
    const rapsam::Artifact& decoder = manifest.artifact("decoder", "standard", "fp32");
    CHECK(decoder.outputs.at(2).name == "class_logits" && decoder.outputs.at(2).shape.at(2).size == 9);
}

TEST(manifest, missing_artifact_names_what_there_is) {
    const rapsam::Manifest manifest = rapsam::read_manifest(export_dir());
    const std::string error = ERROR_OF(manifest.artifact("decoder", "plugin", "fp16"));
    CHECK_MSG(contains(error, "no plugin/fp16 decoder graph (it has: [standard/fp32, standard/fp16])"), error);
    CHECK_MSG(contains(error, "--variant plugin --precision fp16"), error);
}

TEST(manifest, missing_directory_or_file) {
    const std::string error = ERROR_OF(rapsam::read_manifest("/nonexistent/export"));
    CHECK_MSG(contains(error, "/nonexistent/export has no manifest.json") && contains(error, "rapsam-export"), error);
}

TEST(manifest, bad_manifests_name_the_problem) {
    const json good = good_manifest();
    const auto with = [&](const std::function<void(json&)>& change) {
        json data = good;
        change(data);
        return manifest_error(data);
    };
    const std::vector<std::pair<std::string, std::string>> cases = {
        {with([](json& m) { m["version"] = 2; }), "not a rapsam-deploy manifest of version 1"},
        {with([](json& m) { m.erase("format"); }), "not a rapsam-deploy manifest of version 1"},
        {with([](json& m) { m.erase("profiles"); }),
         "missing or has unknown fields (missing: [profiles], unknown: [])"},
        {with([](json& m) { m["extra"] = 1; }), "unknown: [extra]"},
        {with([](json& m) { m["model"].erase("num_classes"); }), "model.num_classes is missing"},
        {with([](json& m) { m["model"]["num_queries"] = "100"; }), "model.num_queries is not an integer"},
        {with([](json& m) { m["image"]["mean"][0] = 0.0; }), "image.mean is [0, 116.28, 103.53], the contract's is"},
        {with([](json& m) { m["image"]["color"] = "BGR"; }), "image.color is not RGB"},
        {with([](json& m) { m["prompts"]["point_box_half_size"] = 4; }), "prompts.point_box_half_size is not 3"},
        {with([](json& m) { m["vocabulary"]["classes"].erase(0); }), "vocabulary.classes has 7 names for 8 classes"},
        {with([](json& m) { m["vocabulary"]["num_things"] = 9; }), "vocabulary.num_things is outside 0..8"},
        {with([](json& m) { m["profiles"]["N"]["min"] = 5; }), "profiles.N needs 1 <= min <= opt <= max"},
        {with([](json& m) {
             m["object_queries"]["shape"] = {10, 128};
         }),
         "object_queries.shape is not"},
        {with([](json& m) { m["artifacts"][0].erase("sha256"); }), "artifacts[0] is missing or has unknown fields"},
        {with([](json& m) { m["artifacts"][1]["variant"] = "fast"; }),
         "artifacts[1].variant is not standard or plugin"},
        {with([](json& m) { m["artifacts"][0]["inputs"][0]["name"] = "pixels"; }),
         "artifacts[0].inputs are [pixels], the contract's are [image]"},
        {with([](json& m) { m["artifacts"][2]["inputs"][2]["dtype"] = "float32"; }),
         "has attn_mask of dtype float32, the contract's is bool"},
        {with([](json& m) { m["artifacts"][2]["outputs"][2]["shape"][2] = 100; }),
         "with dimension 2 unlike the contract"},
        {with([](json& m) { m["artifacts"][0]["outputs"][0]["shape"][1] = 128; }),
         "with dimension 1 unlike the contract"},
        {with([](json& m) { m["artifacts"] = json::object(); }), "artifacts is not a list"},
    };
    for (const auto& [error, part] : cases) CHECK_MSG(contains(error, part), "'" + part + "' not in: " + error);
    for (const auto& [error, part] : cases) CHECK_MSG(contains(error, "fix: re-export"), error);
}

TEST(manifest, invalid_json) {
    const std::string error = ERROR_OF(rapsam::parse_manifest("{\"format\": ", export_dir(), "manifest.json"));
    CHECK_MSG(contains(error, "manifest.json is not valid JSON (") && contains(error, "fix: re-export"), error);
}
