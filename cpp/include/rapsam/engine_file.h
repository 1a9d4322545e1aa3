// Engine files as rapsam-build writes them (rapsam_deploy/engines/engine_file.py): a plain
// serialized TensorRT plan, ENGINE_DIR/<graph>.plan, which trtexec, Triton and DeepStream load as
// it is, and beside it a JSON sidecar, <graph>.plan.json, saying what it was built from and for.
// A plan only runs with the TensorRT version, GPU architecture and plugin library it was built
// with, so the sidecar is checked before TensorRT sees a byte, with the same rules and messages
// as the Python runtime.
#ifndef RAPSAM_ENGINE_FILE_H
#define RAPSAM_ENGINE_FILE_H

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "rapsam/error.h"
#include "rapsam/export.h"

namespace rapsam {

// min/opt/max shape of one engine input.
struct ProfileShapes {
    std::vector<std::int64_t> min;
    std::vector<std::int64_t> opt;
    std::vector<std::int64_t> max;
};

// What a plan was built from and for: its sidecar, ENGINE_DIR/<graph>.plan.json.
struct EngineSidecar {
    std::string tensorrt;
    std::string gpu_name;
    std::string compute_capability;  // e.g. sm_90
    std::string precision;
    std::string variant;
    std::string graph;
    std::string onnx_file;
    std::string onnx_sha256;
    std::optional<std::string> plugin_sha256;  // librapsam_trt_plugin's, for plugin-variant plans
    std::map<std::string, ProfileShapes> profile;
    std::string rapsam_deploy;
    std::string created;
    std::int64_t plan_bytes = 0;  // the plan file's size and sha256
    std::string plan_sha256;
};

// What this process needs an engine to be.
struct EngineExpectation {
    std::string tensorrt;
    std::string gpu_name;
    std::string compute_capability;
    std::string precision;
    std::string variant;
    std::string graph;
    std::string onnx_sha256;
    std::optional<std::string> plugin_sha256;
    std::string export_dir = "EXPORT_DIR";
};

// What is known of a plan that passed the checks: its sidecar, or, for a plan without one (built
// elsewhere, e.g. by trtexec), no sidecar and the warning to give: TensorRT's own compatibility
// check is then all it gets. The warning is the Python runtime's UncheckedEngineWarning text.
struct EngineProvenance {
    std::optional<EngineSidecar> sidecar;
    std::string warning;  // empty when there is a sidecar
};

struct EngineFile {
    std::filesystem::path path;  // the plan's
    EngineProvenance provenance;
    std::vector<char> plan;  // the serialized TensorRT engine, as build_serialized_network made it
};

// EXPORT_DIR/engines/<precision>-<variant>, where rapsam-build writes engines by default.
RAPSAM_EXPORT std::filesystem::path default_engine_dir(const std::filesystem::path& export_dir,
                                                       const std::string& precision, const std::string& variant);

// ENGINE_DIR/<graph>.plan
RAPSAM_EXPORT std::filesystem::path engine_path(const std::filesystem::path& engine_dir, const std::string& graph);

// The sidecar of a plan: ENGINE_DIR/<graph>.plan.json
RAPSAM_EXPORT std::filesystem::path sidecar_path(const std::filesystem::path& plan);

// The rapsam-build command line that (re)builds these engines.
RAPSAM_EXPORT std::string rebuild_command(const std::string& export_dir, const std::string& precision,
                                          const std::string& variant, const std::vector<std::string>& graphs);

// Versions are the same TensorRT release when major.minor.patch agree: a loaded libnvinfer
// reports only those (getInferLibVersion), and Python's tensorrt.__version__ may add a build.
RAPSAM_EXPORT bool same_tensorrt_version(const std::string& a, const std::string& b);

// Each way in which `sidecar` differs from `expect`, as a sentence; empty if none.
RAPSAM_EXPORT std::vector<std::string> engine_mismatches(const EngineSidecar& sidecar,
                                                         const EngineExpectation& expect);

// Only the sidecar of `plan` (the plan is not read); none if it has none, EngineFileError if it
// is malformed.
RAPSAM_EXPORT std::optional<EngineSidecar> read_engine_sidecar(const std::filesystem::path& plan);

// EngineFileError naming every graph of `expects` (one export, precision and variant) whose plan
// is missing from `engine_dir`, and those still in the old format, with the one command that
// builds them; nothing if none is missing.
RAPSAM_EXPORT void check_engine_dir(const std::filesystem::path& engine_dir,
                                    const std::vector<EngineExpectation>& expects);

// The sidecar after checking that the plan at `path` was built for `expect`, or the warning for
// a plan without one (of the plan, only a sidecar-less one's first bytes are read, for the old
// format's magic: cheap enough to check every engine up front). EngineFileError for a missing
// plan, an engine in rapsam-deploy's old format (a header in front of the plan, as
// ENGINE_DIR/<graph>.engine or renamed), a malformed sidecar or a mismatch.
RAPSAM_EXPORT EngineProvenance check_engine_file(const std::filesystem::path& path, const EngineExpectation& expect);

// check_engine_file, then the plan, after checking that it is the one its sidecar describes
// (size and sha256); one EngineFileError naming every difference and the rebuild command.
RAPSAM_EXPORT EngineFile read_engine_file(const std::filesystem::path& path, const EngineExpectation& expect);

// The error for a plan that TensorRT would not deserialise; `why` is TensorRT's own message.
RAPSAM_EXPORT EngineFileError refused_by_tensorrt(const EngineFile& file, const EngineExpectation& expect,
                                                  const std::string& why);

}  // namespace rapsam

#endif  // RAPSAM_ENGINE_FILE_H
