// manifest.json of an export directory (rapsam-export), read and checked against the contract
// this library was built for.
#ifndef RAPSAM_MANIFEST_H
#define RAPSAM_MANIFEST_H

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "rapsam/contract.h"
#include "rapsam/export.h"

namespace rapsam {

// One ONNX file of the export.
struct Artifact {
    std::string graph;
    std::string file;
    std::string variant;    // standard | plugin
    std::string precision;  // fp32 | fp16
    std::string sha256;
    std::int64_t bytes = 0;
    int opset = 0;
    std::vector<contract::TensorSpec> inputs;
    std::vector<contract::TensorSpec> outputs;
    std::vector<std::string> custom_ops;
};

// min/opt/max of one symbolic dimension (B, H, W, N, T) for engine optimisation profiles.
struct AxisRange {
    std::int64_t min = 0;
    std::int64_t opt = 0;
    std::int64_t max = 0;
};

struct Manifest {
    std::filesystem::path directory;
    std::string label;  // e.g. "r18, random weights (seed 0), untrained"
    int num_classes = 0;
    int num_queries = 0;
    std::string vocabulary;  // e.g. coco_panoptic
    std::vector<std::string> classes;
    int num_things = 0;  // classes [0, num_things) are things, the rest stuff
    std::map<std::string, AxisRange> profiles;
    std::string object_queries_file;
    std::vector<std::int64_t> object_queries_shape;
    std::vector<Artifact> artifacts;

    // The artefact of `graph` in `variant`/`precision`; ManifestError naming what there is.
    RAPSAM_EXPORT const Artifact& artifact(const std::string& graph, const std::string& variant,
                                           const std::string& precision) const;
};

// Read and check EXPORT_DIR/manifest.json: format and version, every field this library uses,
// the image normalisation and prompt conventions, and every artefact of a contract graph has the
// contract's tensor names, dtypes and fixed sizes. ManifestError otherwise.
RAPSAM_EXPORT Manifest read_manifest(const std::filesystem::path& export_dir);

// The same checks on manifest text (`source` names it in errors).
RAPSAM_EXPORT Manifest parse_manifest(const std::string& text, const std::filesystem::path& export_dir,
                                      const std::string& source);

}  // namespace rapsam

#endif  // RAPSAM_MANIFEST_H
