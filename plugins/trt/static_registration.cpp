// Registration at load time, for loaders that only dlopen a plugin library (polygraphy
// --plugins, trtexec --staticPlugins, ctypes.CDLL). Built into librapsam_trt_plugin_static.so
// only: IPluginRegistry::loadLibrary (trtexec --dynamicPlugins) fails on a library whose plugins
// are already registered when it is opened, so librapsam_trt_plugin.so registers through
// getCreators alone. A process loads one of the two, never both.
#include <NvInferRuntime.h>

#include "mask_pool_dynconv_creator.h"
#include "plugin_logger.h"
#include "rapsam/mask_pool_dynconv.h"

namespace rapsam::trt {
namespace {

struct LoadTimeRegistration {
    LoadTimeRegistration() {
        nvinfer1::IPluginRegistry* registry = getPluginRegistry();
        if (registry == nullptr || !registry->registerCreator(creator, RAPSAM_FUSED_OP_DOMAIN)) {
            log_error("could not register the plugin creator when the library was loaded (already registered?)");
        }
    }

    MaskPoolDynConvCreator creator;
};

const LoadTimeRegistration registration;

}  // namespace
}  // namespace rapsam::trt
