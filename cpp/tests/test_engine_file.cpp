// Engine files as rapsam-build writes them: read and checked here with the Python runtime's
// rules and messages (which the reference data records for each case).
#include "check.h"
#include "rapsam/engine_file.h"
#include "rapsam/error.h"
#include "reference.h"

namespace {

using nlohmann::json;
using rapsam::test::reference;
using rapsam::test::reference_dir;

rapsam::EngineExpectation expectation(const json& e) {
    rapsam::EngineExpectation expect;
    expect.tensorrt = e["tensorrt"];
    expect.gpu_name = e["gpu_name"];
    expect.compute_capability = e["compute_capability"];
    expect.precision = e["precision"];
    expect.variant = e["variant"];
    expect.graph = e["graph"];
    expect.onnx_sha256 = e["onnx_sha256"];
    if (!e["plugin_sha256"].is_null()) expect.plugin_sha256 = e["plugin_sha256"].get<std::string>();
    expect.export_dir = e["export_dir"];
    return expect;
}

}  // namespace

TEST(engine_file, same_results_and_messages_as_python) {
    for (const json& c : reference()["engine_files"]) {
        const std::filesystem::path path = reference_dir() / c["file"].get<std::string>();
        const rapsam::EngineExpectation expect = expectation(c["expect"]);
        const std::string name = c["name"];
        if (c["error"].is_null()) {
            const rapsam::EngineFile file = rapsam::read_engine_file(path, expect);
            CHECK_MSG(file.engine.size() == c["engine_bytes"].get<std::size_t>(), name);
            std::string plugin;
            for (int i = 0; i < 32; ++i) plugin += "cd";
            CHECK_MSG(file.header.graph == "decoder" && file.header.plugin_sha256 == plugin, name);
            CHECK_MSG((file.header.profile.at("queries").max == std::vector<std::int64_t>{2, 256, 256}), name);
            CHECK_MSG(rapsam::check_engine_file(path, expect).engine_sha256 == file.header.engine_sha256, name);
            continue;
        }
        const std::string error = ERROR_OF(rapsam::read_engine_file(path, expect));
        const std::string python = c["error"];
        if (name == "bad_json") {
            // The JSON parsers' own words differ; the rest is the same.
            const std::string prefix = python.substr(0, python.find('(') + 1);
            CHECK_MSG(
                error.rfind(prefix, 0) == 0 && error.find("fix: rebuild it with rapsam-build") != std::string::npos,
                error);
        } else {
            CHECK_MSG(error == python, name + ":\n  C++:    " + error + "\n  Python: " + python);
        }
    }
}

TEST(engine_file, tensorrt_versions_compare_by_release) {
    CHECK(rapsam::same_tensorrt_version("10.13.0", "10.13.0.35"));
    CHECK(rapsam::same_tensorrt_version("11.1.0.106", "11.1.0"));
    CHECK(!rapsam::same_tensorrt_version("10.13.0", "10.13.1"));
    CHECK(!rapsam::same_tensorrt_version("10.13", "10.13.0"));
    CHECK(rapsam::same_tensorrt_version("custom", "custom"));
}

TEST(engine_file, paths_and_rebuild_command) {
    CHECK(rapsam::default_engine_dir("exports/r18", "fp16", "plugin") == "exports/r18/engines/fp16-plugin");
    CHECK(rapsam::engine_path("e", "decoder") == "e/decoder.engine");
    CHECK(rapsam::rebuild_command("x", "fp32", "standard", {"encoder", "decoder"}) ==
          "rapsam-build x --precision fp32 --variant standard --graphs encoder decoder --force");
}
