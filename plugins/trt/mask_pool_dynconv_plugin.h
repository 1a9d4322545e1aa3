// TensorRT IPluginV3 for RapSamMaskPoolDynConv (name, namespace, version as the ONNX node of the
// exporters' `plugin` variant): inputs mask_logits [B,N,H,W], features [B,C,H,W], kernels [B,N,C]
// (all fp32 or all fp16, linear), then the 20 fp32 KernelUpdator tensors; output [B,N,C] in the
// activations' dtype. One field, `eps` (float32).
#ifndef RAPSAM_TRT_MASK_POOL_DYNCONV_PLUGIN_H
#define RAPSAM_TRT_MASK_POOL_DYNCONV_PLUGIN_H

#include <NvInferRuntime.h>

#include <cstdint>
#include <string>

namespace rapsam::trt {

constexpr int32_t kNumInputs = 23;
constexpr int32_t kNumOutputs = 1;
constexpr int32_t kFirstWeightInput = 3;

class MaskPoolDynConvPlugin final : public nvinfer1::IPluginV3,
                                    public nvinfer1::IPluginV3OneCore,
                                    public nvinfer1::IPluginV3OneBuild,
                                    public nvinfer1::IPluginV3OneRuntime {
public:
    MaskPoolDynConvPlugin(float eps, std::string plugin_namespace);
    MaskPoolDynConvPlugin(const MaskPoolDynConvPlugin&) = default;  // getFieldsToSerialize re-points its fields
    MaskPoolDynConvPlugin& operator=(const MaskPoolDynConvPlugin&) = delete;
    ~MaskPoolDynConvPlugin() override = default;

    // IPluginV3
    nvinfer1::IPluginCapability* getCapabilityInterface(nvinfer1::PluginCapabilityType type) noexcept override;
    nvinfer1::IPluginV3* clone() noexcept override;

    // IPluginV3OneCore
    const char* getPluginName() const noexcept override;
    const char* getPluginVersion() const noexcept override;
    const char* getPluginNamespace() const noexcept override;

    // IPluginV3OneBuild
    int32_t getNbOutputs() const noexcept override;
    int32_t getOutputDataTypes(nvinfer1::DataType* output_types, int32_t nb_outputs,
                               const nvinfer1::DataType* input_types, int32_t nb_inputs) const noexcept override;
    int32_t getOutputShapes(const nvinfer1::DimsExprs* inputs, int32_t nb_inputs, const nvinfer1::DimsExprs* shape_inputs,
                            int32_t nb_shape_inputs, nvinfer1::DimsExprs* outputs, int32_t nb_outputs,
                            nvinfer1::IExprBuilder& expr_builder) noexcept override;
    bool supportsFormatCombination(int32_t pos, const nvinfer1::DynamicPluginTensorDesc* in_out, int32_t nb_inputs,
                                   int32_t nb_outputs) noexcept override;
    int32_t configurePlugin(const nvinfer1::DynamicPluginTensorDesc* in, int32_t nb_inputs,
                            const nvinfer1::DynamicPluginTensorDesc* out, int32_t nb_outputs) noexcept override;
    size_t getWorkspaceSize(const nvinfer1::DynamicPluginTensorDesc* inputs, int32_t nb_inputs,
                            const nvinfer1::DynamicPluginTensorDesc* outputs, int32_t nb_outputs) const noexcept override;

    // IPluginV3OneRuntime
    int32_t onShapeChange(const nvinfer1::PluginTensorDesc* in, int32_t nb_inputs, const nvinfer1::PluginTensorDesc* out,
                          int32_t nb_outputs) noexcept override;
    int32_t enqueue(const nvinfer1::PluginTensorDesc* input_desc, const nvinfer1::PluginTensorDesc* output_desc,
                    const void* const* inputs, void* const* outputs, void* workspace,
                    cudaStream_t stream) noexcept override;
    nvinfer1::IPluginV3* attachToContext(nvinfer1::IPluginResourceContext* context) noexcept override;
    const nvinfer1::PluginFieldCollection* getFieldsToSerialize() noexcept override;

private:
    float eps_;
    std::string namespace_;
    nvinfer1::PluginField serialized_field_{};
    nvinfer1::PluginFieldCollection serialized_{};
};

}  // namespace rapsam::trt

#endif  // RAPSAM_TRT_MASK_POOL_DYNCONV_PLUGIN_H
