#include "mask_pool_dynconv_plugin.h"

#include <array>
#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "../src/common/weights.h"
#include "plugin_logger.h"
#include "rapsam/mask_pool_dynconv.h"

namespace rapsam::trt {
namespace {

using nvinfer1::DataType;
using nvinfer1::Dims;

// Expected shape of each KernelUpdator tensor in units of C: {rank, dim0 / C}; Linear weights
// are [dim0, C].
struct WeightShape {
    int32_t rank;
    int64_t rows_per_channel;
};

constexpr std::array<WeightShape, RAPSAM_FUSED_OP_NUM_WEIGHTS> kWeightShapes{{
    {2, 2}, {1, 2},                  // dynamic_layer
    {2, 2}, {1, 2},                  // input_layer
    {2, 1}, {1, 1},                  // input_gate
    {2, 1}, {1, 1},                  // update_gate
    {1, 1}, {1, 1}, {1, 1}, {1, 1},  // norm_in, norm_out
    {1, 1}, {1, 1}, {1, 1}, {1, 1},  // input_norm_in, input_norm_out
    {2, 1}, {1, 1},                  // fc_layer
    {1, 1}, {1, 1},                  // fc_norm
}};

// A dimension that is either unknown at build time (-1) or equal to `expected`.
bool fits(int64_t dim, int64_t expected) { return dim < 0 || expected < 0 || dim == expected; }

// Ranks and the dimensions that must agree (B, N, H, W, C) of the 23 inputs, where known.
std::string shape_error(const nvinfer1::DynamicPluginTensorDesc* in) {
    const Dims& mask = in[0].desc.dims;
    const Dims& features = in[1].desc.dims;
    const Dims& kernels = in[2].desc.dims;
    if (mask.nbDims != 4 || features.nbDims != 4 || kernels.nbDims != 3) {
        return "mask_logits and features must be 4-D and kernels 3-D";
    }
    const int64_t channels = features.d[1];
    if (!fits(features.d[0], mask.d[0]) || !fits(kernels.d[0], mask.d[0]) || !fits(kernels.d[1], mask.d[1]) ||
        !fits(features.d[2], mask.d[2]) || !fits(features.d[3], mask.d[3]) || !fits(kernels.d[2], channels)) {
        return "inconsistent shapes: mask_logits [B,N,H,W], features [B,C,H,W], kernels [B,N,C]";
    }
    for (int32_t i = 0; i < RAPSAM_FUSED_OP_NUM_WEIGHTS; ++i) {
        const Dims& w = in[kFirstWeightInput + i].desc.dims;
        const WeightShape expected = kWeightShapes[i];
        const int64_t rows = channels < 0 ? -1 : expected.rows_per_channel * channels;
        if (w.nbDims != expected.rank || !fits(w.d[0], rows) || (expected.rank == 2 && !fits(w.d[1], channels))) {
            return "KernelUpdator tensor " + std::to_string(i) + " (input " + std::to_string(kFirstWeightInput + i) +
                   ") does not have the PyTorch shape for C = " + std::to_string(channels);
        }
    }
    return {};
}

rapsam_mpdc_shape op_shape(const Dims& mask, const Dims& features) {
    return {mask.d[0], mask.d[1], features.d[1], mask.d[2], mask.d[3]};
}

}  // namespace

MaskPoolDynConvPlugin::MaskPoolDynConvPlugin(float eps, std::string plugin_namespace)
    : eps_(eps), namespace_(std::move(plugin_namespace)) {}

nvinfer1::IPluginCapability* MaskPoolDynConvPlugin::getCapabilityInterface(
    nvinfer1::PluginCapabilityType type) noexcept {
    switch (type) {
        case nvinfer1::PluginCapabilityType::kBUILD:
            return static_cast<nvinfer1::IPluginV3OneBuild*>(this);
        case nvinfer1::PluginCapabilityType::kRUNTIME:
            return static_cast<nvinfer1::IPluginV3OneRuntime*>(this);
        case nvinfer1::PluginCapabilityType::kCORE:
            return static_cast<nvinfer1::IPluginV3OneCore*>(this);
    }
    return nullptr;
}

nvinfer1::IPluginV3* MaskPoolDynConvPlugin::clone() noexcept {
    try {
        return std::make_unique<MaskPoolDynConvPlugin>(*this).release();
    } catch (const std::exception& error) {
        log_error(std::string("clone: ") + error.what());
    }
    return nullptr;
}

const char* MaskPoolDynConvPlugin::getPluginName() const noexcept { return RAPSAM_FUSED_OP_NAME; }

const char* MaskPoolDynConvPlugin::getPluginVersion() const noexcept { return RAPSAM_FUSED_OP_VERSION; }

const char* MaskPoolDynConvPlugin::getPluginNamespace() const noexcept { return namespace_.c_str(); }

int32_t MaskPoolDynConvPlugin::getNbOutputs() const noexcept { return kNumOutputs; }

int32_t MaskPoolDynConvPlugin::getOutputDataTypes(DataType* output_types, int32_t nb_outputs,
                                                  const DataType* input_types, int32_t nb_inputs) const noexcept {
    if (nb_inputs != kNumInputs || nb_outputs != kNumOutputs) {
        return -1;
    }
    output_types[0] = input_types[0];
    return 0;
}

int32_t MaskPoolDynConvPlugin::getOutputShapes(const nvinfer1::DimsExprs* inputs, int32_t nb_inputs,
                                               const nvinfer1::DimsExprs* /*shape_inputs*/,
                                               int32_t /*nb_shape_inputs*/, nvinfer1::DimsExprs* outputs,
                                               int32_t nb_outputs, nvinfer1::IExprBuilder& /*expr_builder*/) noexcept {
    if (nb_inputs != kNumInputs || nb_outputs != kNumOutputs || inputs[2].nbDims != 3) {
        return -1;
    }
    outputs[0] = inputs[2];  // new kernels have the shape of the kernels: [B, N, C]
    return 0;
}

// Linear layout everywhere; the activations and the output share fp32 or fp16, the KernelUpdator
// tensors stay fp32 (TensorRT keeps or casts them).
bool MaskPoolDynConvPlugin::supportsFormatCombination(int32_t pos, const nvinfer1::DynamicPluginTensorDesc* in_out,
                                                      int32_t nb_inputs, int32_t nb_outputs) noexcept {
    if (nb_inputs != kNumInputs || nb_outputs != kNumOutputs || pos < 0 || pos >= kNumInputs + kNumOutputs) {
        return false;
    }
    const nvinfer1::PluginTensorDesc& desc = in_out[pos].desc;
    if (desc.format != nvinfer1::TensorFormat::kLINEAR) {
        return false;
    }
    if (pos == 0) {
        return desc.type == DataType::kFLOAT || desc.type == DataType::kHALF;
    }
    if (pos < kFirstWeightInput || pos == kNumInputs) {
        return desc.type == in_out[0].desc.type;
    }
    return desc.type == DataType::kFLOAT;
}

int32_t MaskPoolDynConvPlugin::configurePlugin(const nvinfer1::DynamicPluginTensorDesc* in, int32_t nb_inputs,
                                               const nvinfer1::DynamicPluginTensorDesc* /*out*/,
                                               int32_t nb_outputs) noexcept {
    if (nb_inputs != kNumInputs || nb_outputs != kNumOutputs) {
        log_error("expects 23 inputs (3 activations, 20 KernelUpdator tensors) and 1 output, got " +
                  std::to_string(nb_inputs) + " and " + std::to_string(nb_outputs));
        return -1;
    }
    const std::string error = shape_error(in);
    if (!error.empty()) {
        log_error(error);
        return -1;
    }
    return 0;
}

// The workspace only grows with each dimension, so the size at the profile's maxima serves every
// shape the engine will see.
size_t MaskPoolDynConvPlugin::getWorkspaceSize(const nvinfer1::DynamicPluginTensorDesc* inputs, int32_t nb_inputs,
                                               const nvinfer1::DynamicPluginTensorDesc* /*outputs*/,
                                               int32_t /*nb_outputs*/) const noexcept {
    if (nb_inputs != kNumInputs) {
        return 0;
    }
    const rapsam_mpdc_shape shape = op_shape(inputs[0].max, inputs[1].max);
    return rapsam_mask_pool_dynconv_cuda_workspace_size(&shape);
}

int32_t MaskPoolDynConvPlugin::onShapeChange(const nvinfer1::PluginTensorDesc* /*in*/, int32_t nb_inputs,
                                             const nvinfer1::PluginTensorDesc* /*out*/, int32_t nb_outputs) noexcept {
    return nb_inputs == kNumInputs && nb_outputs == kNumOutputs ? 0 : -1;
}

int32_t MaskPoolDynConvPlugin::enqueue(const nvinfer1::PluginTensorDesc* input_desc,
                                       const nvinfer1::PluginTensorDesc* /*output_desc*/, const void* const* inputs,
                                       void* const* outputs, void* workspace, cudaStream_t stream) noexcept {
    const rapsam_mpdc_shape shape = op_shape(input_desc[0].dims, input_desc[1].dims);
    const rapsam_dtype dtype = input_desc[0].type == DataType::kHALF ? RAPSAM_DTYPE_FLOAT16 : RAPSAM_DTYPE_FLOAT32;
    WeightList tensors{};
    for (int32_t i = 0; i < RAPSAM_FUSED_OP_NUM_WEIGHTS; ++i) {
        tensors[i] = static_cast<const float*>(inputs[kFirstWeightInput + i]);
    }
    const rapsam_kernel_updator_weights weights = weights_from_list(tensors);
    const size_t workspace_size = rapsam_mask_pool_dynconv_cuda_workspace_size(&shape);
    const rapsam_status status = rapsam_mask_pool_dynconv_cuda(&shape, dtype, inputs[0], inputs[1], inputs[2],
                                                               &weights, eps_, outputs[0], workspace, workspace_size,
                                                               stream);
    if (status != RAPSAM_OK) {
        log_error(std::string("enqueue: ") + rapsam_last_error());
        return -1;
    }
    return 0;
}

nvinfer1::IPluginV3* MaskPoolDynConvPlugin::attachToContext(nvinfer1::IPluginResourceContext* /*context*/) noexcept {
    return clone();
}

const nvinfer1::PluginFieldCollection* MaskPoolDynConvPlugin::getFieldsToSerialize() noexcept {
    serialized_field_ = nvinfer1::PluginField("eps", &eps_, nvinfer1::PluginFieldType::kFLOAT32, 1);
    serialized_.nbFields = 1;
    serialized_.fields = &serialized_field_;
    return &serialized_;
}

}  // namespace rapsam::trt
