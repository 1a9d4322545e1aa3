#include "rapsam/contract.h"

#include "rapsam/error.h"

namespace rapsam::contract {

namespace {

Dim sym(const char* symbol) { return Dim{symbol, 0}; }
Dim fixed(std::int64_t size) { return Dim{"", size}; }

TensorSpec tensor(const char* name, const char* dtype, std::vector<Dim> shape) {
    return TensorSpec{name, dtype, std::move(shape)};
}

// Spelled once here, as rapsam_deploy/contract.py spells them.
std::vector<GraphSpec> make_graphs() {
    const TensorSpec features = tensor("features", "float32", {sym("B"), fixed(kChannels), sym("Hq"), sym("Wf")});
    const TensorSpec kernels = tensor("kernels", "float32", {sym("B"), sym("N"), fixed(kChannels)});
    const TensorSpec mask_logits = tensor("mask_logits", "float32", {sym("B"), sym("N"), sym("Hq"), sym("Wf")});
    const TensorSpec class_logits = tensor("class_logits", "float32", {sym("B"), sym("N"), sym("K1")});
    const TensorSpec iou = tensor("iou", "float32", {sym("B"), sym("N"), fixed(1)});
    return {
        {std::string(kEncoder),
         {tensor("image", "float32", {sym("B"), fixed(3), sym("H"), sym("W")})},
         {tensor("features", "float32", {sym("B"), fixed(kChannels), sym("Hf"), sym("Wf")})}},
        {std::string(kPromptEncoder),
         {tensor("prompt_boxes", "float32", {sym("B"), sym("N"), fixed(4)}),
          tensor("prompt_kinds", "int64", {sym("B"), sym("N")})},
         {tensor("queries", "float32", {sym("B"), sym("N"), fixed(kChannels)})}},
        {std::string(kDecoder),
         {features, tensor("queries", "float32", {sym("B"), sym("N"), fixed(kChannels)}),
          tensor("attn_mask", "bool", {sym("N"), sym("N")})},
         {kernels, mask_logits, class_logits, iou}},
        // ONNX needs unique value names, so the adapter's outputs that redefine inputs are *_out.
        {std::string(kAdapterObject),
         {features, kernels, mask_logits},
         {tensor("mask_logits_out", "float32", {sym("B"), sym("N"), sym("Hq"), sym("Wf")}), class_logits,
          tensor("kernels_out", "float32", {sym("B"), sym("N"), fixed(kChannels)})}},
        {std::string(kAdapterPrompt), {features, kernels}, {mask_logits, iou}},
    };
}

}  // namespace

const std::vector<GraphSpec>& graphs() {
    static const std::vector<GraphSpec> specs = make_graphs();
    return specs;
}

const GraphSpec& graph(std::string_view name) {
    for (const GraphSpec& spec : graphs()) {
        if (spec.name == name) return spec;
    }
    throw Error("unknown graph '" + std::string(name) + "'",
                "use encoder, prompt_encoder, decoder, adapter_object or adapter_prompt");
}

}  // namespace rapsam::contract
