// The engine file written by rapsam-build (rapsam_deploy/runtime/engine_file.py): a 16-byte
// magic, the header's length (uint32, little endian), the header (UTF-8 JSON), then the
// serialized TensorRT engine. An engine only runs with the TensorRT version, GPU architecture
// and plugin library it was built with, so the header is checked before TensorRT sees a byte,
// with the same rules and messages as the Python runtime.
#ifndef RAPSAM_ENGINE_FILE_H
#define RAPSAM_ENGINE_FILE_H

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "rapsam/export.h"

namespace rapsam {

// min/opt/max shape of one engine input.
struct ProfileShapes {
    std::vector<std::int64_t> min;
    std::vector<std::int64_t> opt;
    std::vector<std::int64_t> max;
};

// What an engine was built from and for.
struct EngineHeader {
    std::string tensorrt;
    std::string gpu_name;
    std::string compute_capability;  // e.g. sm_90
    std::string precision;
    std::string variant;
    std::string graph;
    std::string onnx_file;
    std::string onnx_sha256;
    std::optional<std::string> plugin_sha256;  // librapsam_trt_plugin's, for plugin-variant engines
    std::map<std::string, ProfileShapes> profile;
    std::string rapsam_deploy;
    std::string created;
    std::int64_t engine_bytes = 0;
    std::string engine_sha256;
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

struct EngineFile {
    EngineHeader header;
    std::vector<char> engine;  // the serialized TensorRT engine
};

// EXPORT_DIR/engines/<precision>-<variant>, where rapsam-build writes engines by default.
RAPSAM_EXPORT std::filesystem::path default_engine_dir(const std::filesystem::path& export_dir,
                                                       const std::string& precision, const std::string& variant);

// ENGINE_DIR/<graph>.engine
RAPSAM_EXPORT std::filesystem::path engine_path(const std::filesystem::path& engine_dir, const std::string& graph);

// The rapsam-build command line that (re)builds these engines.
RAPSAM_EXPORT std::string rebuild_command(const std::string& export_dir, const std::string& precision,
                                          const std::string& variant, const std::vector<std::string>& graphs);

// Versions are the same TensorRT release when major.minor.patch agree: a loaded libnvinfer
// reports only those (getInferLibVersion), and Python's tensorrt.__version__ may add a build.
RAPSAM_EXPORT bool same_tensorrt_version(const std::string& a, const std::string& b);

// Each way in which `header` differs from `expect`, as a sentence; empty if none.
RAPSAM_EXPORT std::vector<std::string> engine_mismatches(const EngineHeader& header, const EngineExpectation& expect);

// Only the header (the engine bytes are not read); EngineFileError for anything malformed.
RAPSAM_EXPORT EngineHeader read_engine_header(const std::filesystem::path& path);

// The header after checking that the engine was built for `expect` (the engine bytes are not
// read: cheap enough to check every engine up front).
RAPSAM_EXPORT EngineHeader check_engine_file(const std::filesystem::path& path, const EngineExpectation& expect);

// Header and engine after checking that the file is whole (size and sha256) and the engine was
// built for `expect`; one EngineFileError naming every difference and the rebuild command.
RAPSAM_EXPORT EngineFile read_engine_file(const std::filesystem::path& path, const EngineExpectation& expect);

}  // namespace rapsam

#endif  // RAPSAM_ENGINE_FILE_H
