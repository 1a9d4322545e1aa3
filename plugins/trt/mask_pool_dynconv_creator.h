// Creates MaskPoolDynConvPlugin from the ONNX node's attributes (build) or from the fields the
// plugin serialised into an engine (runtime).
#ifndef RAPSAM_TRT_MASK_POOL_DYNCONV_CREATOR_H
#define RAPSAM_TRT_MASK_POOL_DYNCONV_CREATOR_H

#include <NvInferRuntime.h>

#include <array>

namespace rapsam::trt {

class MaskPoolDynConvCreator final : public nvinfer1::IPluginCreatorV3One {
public:
    MaskPoolDynConvCreator();

    nvinfer1::IPluginV3* createPlugin(const char* name, const nvinfer1::PluginFieldCollection* fc,
                                      nvinfer1::TensorRTPhase phase) noexcept override;
    const nvinfer1::PluginFieldCollection* getFieldNames() noexcept override;
    const char* getPluginName() const noexcept override;
    const char* getPluginVersion() const noexcept override;
    const char* getPluginNamespace() const noexcept override;

private:
    std::array<nvinfer1::PluginField, 1> fields_;
    nvinfer1::PluginFieldCollection field_names_{};
};

}  // namespace rapsam::trt

#endif  // RAPSAM_TRT_MASK_POOL_DYNCONV_CREATOR_H
