#include "tensorrt_env.h"

#include <NvInferPlugin.h>
#include <NvInferVersion.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <cstdlib>
#include <iostream>
#include <map>

#include "../sha256.h"
#include "cuda_call.h"
#include "rapsam/error.h"
#include "rapsam/mask_pool_dynconv.h"

#if NV_TENSORRT_MAJOR < 10
#error "librapsam's engine runner needs TensorRT 10 or newer"
#endif

namespace rapsam::detail {

namespace {
const char* const kPluginFile = "librapsam_trt_plugin.so";
}  // namespace

void Logger::log(Severity severity, const char* message) noexcept {
    if (severity > Severity::kWARNING) return;
    std::cerr << "[TensorRT] " << message << std::endl;
    if (severity <= Severity::kERROR) {
        const std::lock_guard<std::mutex> lock(mutex_);
        last_error_ = message;
    }
}

std::string Logger::last_error() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return last_error_;
}

Logger& tensorrt_logger() {
    static Logger logger;
    static const bool registered = initLibNvInferPlugins(&logger, "");
    if (!registered) {
        throw Error("TensorRT's standard plugins (libnvinfer_plugin) could not be registered",
                    "install libnvinfer_plugin of the same TensorRT version as libnvinfer");
    }
    return logger;
}

std::string tensorrt_version() {
    const int version = getInferLibVersion();
    const int major = version / 10000;
    if (major != NV_TENSORRT_MAJOR) {
        throw Error("librapsam was compiled against TensorRT " + std::to_string(NV_TENSORRT_MAJOR) +
                        " but the libnvinfer loaded is TensorRT " + std::to_string(major),
                    "put the TensorRT it was built against first on the library path, or rebuild librapsam");
    }
    return std::to_string(major) + "." + std::to_string(version / 100 % 100) + "." + std::to_string(version % 100);
}

GpuIdentity use_gpu(int device) {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
        throw Error("no CUDA GPU is visible: TensorRT engines run on a CUDA GPU",
                    "run on a machine with an NVIDIA GPU and its driver (check CUDA_VISIBLE_DEVICES)");
    }
    if (device < 0 || device >= count) {
        throw Error("CUDA device " + std::to_string(device) + " does not exist (" + std::to_string(count) + " visible)",
                    "choose a device from 0 to " + std::to_string(count - 1));
    }
    cuda_call(cudaSetDevice(device), "cudaSetDevice");
    cudaDeviceProp properties{};
    cuda_call(cudaGetDeviceProperties(&properties, device), "cudaGetDeviceProperties");
    return {properties.name, "sm_" + std::to_string(properties.major) + std::to_string(properties.minor)};
}

std::string load_plugin_library(const std::filesystem::path& path) {
    static std::mutex mutex;
    static std::map<std::filesystem::path, std::string> loaded;
    const std::lock_guard<std::mutex> lock(mutex);
    const auto found = loaded.find(path);
    if (found != loaded.end()) return found->second;
    const std::string fix =
        "build it against this TensorRT: bash .ci/build_plugins.sh -DTENSORRT_ROOT=/path/to/TensorRT";
    if (!std::filesystem::is_regular_file(path)) {
        throw Error("the TensorRT plugin library " + path.string() + " does not exist",
                    fix + " (or set RAPSAM_PLUGIN_DIR, or SegmenterOptions::plugin_library)");
    }
    Logger& logger = tensorrt_logger();
    nvinfer1::IPluginRegistry* registry = getPluginRegistry();
    // loadLibrary fails when the plugin is already registered (by another loader in this
    // process), which is fine: what matters is that the creator is there.
    const bool opened = registry->loadLibrary(path.c_str()) != nullptr;
    if (!opened &&
        registry->getCreator(RAPSAM_FUSED_OP_NAME, RAPSAM_FUSED_OP_VERSION, RAPSAM_FUSED_OP_DOMAIN) == nullptr) {
        throw Error(
            "TensorRT could not load the plugin library " + path.string() + " (TensorRT: " + logger.last_error() + ")",
            fix);
    }
    return loaded[path] = sha256_file(path);
}

std::filesystem::path default_plugin_library() {
    if (const char* dir = std::getenv("RAPSAM_PLUGIN_DIR"); dir != nullptr && *dir != '\0') {
        return std::filesystem::path(dir) / kPluginFile;
    }
    // Beside librapsam itself: the build tree's lib/ and an install's lib/ hold both.
    static const int anchor = 0;
    Dl_info info{};
    if (dladdr(&anchor, &info) != 0 && info.dli_fname != nullptr) {
        return std::filesystem::path(info.dli_fname).parent_path() / kPluginFile;
    }
    return kPluginFile;
}

}  // namespace rapsam::detail
