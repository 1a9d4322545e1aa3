// The graph contract (DESIGN.md, "Graph contract"; rapsam_deploy/contract.py): graph and tensor
// names, dtypes and symbolic shapes, image normalisation and prompt conventions. The C++ side
// reads an export only through manifest.json and checks it against these.
#ifndef RAPSAM_CONTRACT_H
#define RAPSAM_CONTRACT_H

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rapsam/export.h"

namespace rapsam::contract {

inline constexpr int kChannels = 256;
inline constexpr int kFeatureStride = 4;
inline constexpr int kSizeDivisor = 32;

// RGB, 0..255, as the official data preprocessor; the encoder normalises inside the graph, and
// padding is the mean colour (the official code pads with 0 after normalising).
inline constexpr std::array<double, 3> kImageMean{123.675, 116.28, 103.53};
inline constexpr std::array<double, 3> kImageStd{58.395, 57.12, 57.375};

// Prompts as the official evaluation makes them: kind 1, a point is the box of +-3 pixels
// around it in resized-image pixels.
inline constexpr std::int64_t kPromptKindDefault = 1;
inline constexpr int kPointBoxHalfSize = 3;

inline constexpr std::string_view kEncoder = "encoder";
inline constexpr std::string_view kPromptEncoder = "prompt_encoder";
inline constexpr std::string_view kDecoder = "decoder";
inline constexpr std::string_view kAdapterObject = "adapter_object";
inline constexpr std::string_view kAdapterPrompt = "adapter_prompt";

inline constexpr std::string_view kManifestFile = "manifest.json";
inline constexpr std::string_view kManifestFormat = "rapsam-deploy/manifest";
inline constexpr int kManifestVersion = 1;

// One dimension of a symbolic shape: a symbol such as "B" or "Hq", or a fixed size.
struct Dim {
    std::string symbol;  // empty for a fixed size
    std::int64_t size = 0;
};

// One graph input or output: name, dtype (numpy spelling: float32, int64, bool) and shape.
struct TensorSpec {
    std::string name;
    std::string dtype;
    std::vector<Dim> shape;
};

struct GraphSpec {
    std::string name;
    std::vector<TensorSpec> inputs;
    std::vector<TensorSpec> outputs;
};

// The five graphs, in the contract's order.
RAPSAM_EXPORT const std::vector<GraphSpec>& graphs();

// The graph called `name`; rapsam::Error for a name that is not in the contract.
RAPSAM_EXPORT const GraphSpec& graph(std::string_view name);

}  // namespace rapsam::contract

#endif  // RAPSAM_CONTRACT_H
