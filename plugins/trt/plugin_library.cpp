// Entry points of librapsam_trt_plugin.so, as TensorRT looks them up in a plugin library
// (IPluginRegistry::loadLibrary, trtexec --dynamicPlugins, polygraphy --plugins). Exported with
// RAPSAM_API: TensorRT's own TENSORRTAPI is empty outside TensorRT's build, and this library
// hides every other symbol.
#include <NvInferRuntime.h>

#include <cstdint>

#include "mask_pool_dynconv_creator.h"
#include "plugin_logger.h"
#include "rapsam/mask_pool_dynconv.h"

extern "C" RAPSAM_API nvinfer1::IPluginCreatorInterface* const* getCreators(int32_t& nbCreators) {
    static rapsam::trt::MaskPoolDynConvCreator creator;
    static nvinfer1::IPluginCreatorInterface* const creators[] = {&creator};
    nbCreators = 1;
    return creators;
}

extern "C" RAPSAM_API void setLoggerFinder(nvinfer1::ILoggerFinder* finder) {
    rapsam::trt::set_logger_finder(finder);
}
