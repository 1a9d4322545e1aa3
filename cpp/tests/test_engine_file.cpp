// Engine files as rapsam-build writes them (a plan and its JSON sidecar), plans built elsewhere
// (no sidecar) and rapsam-deploy's old format: read and checked here with the Python runtime's
// rules, messages and warnings (which the reference data records for each case).
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

std::string compared(const std::string& name, const std::string& cpp, const std::string& python) {
    return name + ":\n  C++:    " + cpp + "\n  Python: " + python;
}

// A plan that passed: its size, sidecar or warning, and the error if TensorRT refused it.
void check_accepted(const std::string& name, const std::filesystem::path& path,
                    const rapsam::EngineExpectation& expect, const json& c) {
    const rapsam::EngineFile file = rapsam::read_engine_file(path, expect);
    CHECK_MSG(file.path == path && file.plan.size() == c["plan_bytes"].get<std::size_t>(), name);
    const std::string python_warning = c["warning"].is_null() ? "" : c["warning"].get<std::string>();
    CHECK_MSG(file.provenance.warning == python_warning, compared(name, file.provenance.warning, python_warning));
    CHECK_MSG(file.provenance.sidecar.has_value() == python_warning.empty(), name);
    if (file.provenance.sidecar) {
        const rapsam::EngineSidecar& sidecar = *file.provenance.sidecar;
        std::string plugin;
        for (int i = 0; i < 32; ++i) plugin += "cd";
        CHECK_MSG(sidecar.graph == "decoder" && sidecar.plugin_sha256 == plugin, name);
        CHECK_MSG((sidecar.profile.at("queries").max == std::vector<std::int64_t>{2, 256, 256}), name);
        CHECK_MSG(rapsam::read_engine_sidecar(path)->plan_sha256 == sidecar.plan_sha256, name);
    } else {
        CHECK_MSG(!rapsam::read_engine_sidecar(path), name);
    }
    const rapsam::EngineProvenance checked = rapsam::check_engine_file(path, expect);
    CHECK_MSG(checked.warning == file.provenance.warning &&
                  checked.sidecar.has_value() == file.provenance.sidecar.has_value(),
              name);
    const std::string refused = rapsam::refused_by_tensorrt(file, expect, "TensorRT: refused").what();
    const std::string python_refused = c["refused"];
    CHECK_MSG(refused == python_refused, compared(name, refused, python_refused));
}

}  // namespace

TEST(engine_file, same_results_and_messages_as_python) {
    for (const json& c : reference()["engine_files"]) {
        const std::filesystem::path path = reference_dir() / c["file"].get<std::string>();
        const rapsam::EngineExpectation expect = expectation(c["expect"]);
        const std::string name = c["name"];
        if (c["error"].is_null()) {
            check_accepted(name, path, expect, c);
            continue;
        }
        const std::string error = ERROR_OF(rapsam::read_engine_file(path, expect));
        const std::string python = c["error"];
        if (name == "sidecar_corrupt") {
            // The JSON parsers' own words differ; the rest is the same.
            const std::string prefix = python.substr(0, python.find('(') + 1);
            const std::string fix = python.substr(python.find("\n  fix: "));
            CHECK_MSG(error.rfind(prefix, 0) == 0 && error.size() > fix.size() &&
                          error.compare(error.size() - fix.size(), fix.size(), fix) == 0,
                      compared(name, error, python));
        } else {
            CHECK_MSG(error == python, compared(name, error, python));
        }
    }
}

TEST(engine_file, engine_dirs_as_python) {
    for (const json& c : reference()["engine_dirs"]) {
        std::vector<rapsam::EngineExpectation> expects;
        for (const json& e : c["expects"]) expects.push_back(expectation(e));
        const std::filesystem::path dir = reference_dir() / c["dir"].get<std::string>();
        if (c["error"].is_null()) {
            rapsam::check_engine_dir(dir, expects);
            continue;
        }
        const std::string error = ERROR_OF(rapsam::check_engine_dir(dir, expects));
        const std::string python = c["error"];
        CHECK_MSG(error == python, compared(dir.string(), error, python));
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
    CHECK(rapsam::engine_path("e", "decoder") == "e/decoder.plan");
    CHECK(rapsam::sidecar_path("e/decoder.plan") == "e/decoder.plan.json");
    CHECK(rapsam::rebuild_command("x", "fp32", "standard", {"encoder", "decoder"}) ==
          "rapsam-build x --precision fp32 --variant standard --graphs encoder decoder --force");
}
