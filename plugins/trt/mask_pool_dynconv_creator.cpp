#include "mask_pool_dynconv_creator.h"

#include <cmath>
#include <cstring>
#include <exception>
#include <memory>
#include <string>

#include "mask_pool_dynconv_plugin.h"
#include "plugin_logger.h"
#include "rapsam/mask_pool_dynconv.h"

namespace rapsam::trt {
namespace {

// `eps` as the ONNX parser (float32) or a Python caller (float64) passes it; other fields, such
// as the parser's plugin_namespace / plugin_version strings, are not ours to read.
bool read_eps(const nvinfer1::PluginField& field, float* eps) {
    if (field.name == nullptr || std::strcmp(field.name, "eps") != 0 || field.data == nullptr || field.length != 1) {
        return false;
    }
    if (field.type == nvinfer1::PluginFieldType::kFLOAT32) {
        *eps = *static_cast<const float*>(field.data);
        return true;
    }
    if (field.type == nvinfer1::PluginFieldType::kFLOAT64) {
        *eps = static_cast<float>(*static_cast<const double*>(field.data));
        return true;
    }
    return false;
}

}  // namespace

MaskPoolDynConvCreator::MaskPoolDynConvCreator()
    : fields_{nvinfer1::PluginField("eps", nullptr, nvinfer1::PluginFieldType::kFLOAT32, 1)} {
    field_names_.nbFields = static_cast<int32_t>(fields_.size());
    field_names_.fields = fields_.data();
}

nvinfer1::IPluginV3* MaskPoolDynConvCreator::createPlugin(const char* /*name*/,
                                                          const nvinfer1::PluginFieldCollection* fc,
                                                          nvinfer1::TensorRTPhase /*phase*/) noexcept {
    try {
        float eps = RAPSAM_FUSED_OP_DEFAULT_EPS;
        for (int32_t i = 0; fc != nullptr && i < fc->nbFields; ++i) {
            read_eps(fc->fields[i], &eps);
        }
        if (!std::isfinite(eps) || eps < 0.0f) {
            log_error("eps must be finite and >= 0, got " + std::to_string(eps));
            return nullptr;
        }
        return std::make_unique<MaskPoolDynConvPlugin>(eps, RAPSAM_FUSED_OP_DOMAIN).release();
    } catch (const std::exception& error) {
        log_error(std::string("createPlugin: ") + error.what());
    }
    return nullptr;
}

const nvinfer1::PluginFieldCollection* MaskPoolDynConvCreator::getFieldNames() noexcept { return &field_names_; }

const char* MaskPoolDynConvCreator::getPluginName() const noexcept { return RAPSAM_FUSED_OP_NAME; }

const char* MaskPoolDynConvCreator::getPluginVersion() const noexcept { return RAPSAM_FUSED_OP_VERSION; }

const char* MaskPoolDynConvCreator::getPluginNamespace() const noexcept { return RAPSAM_FUSED_OP_DOMAIN; }

}  // namespace rapsam::trt
