// TensorRT in this process: its one logger (which keeps the last error for our exceptions),
// TensorRT's standard plugins (the ONNX parser maps DeformConv to libnvinfer_plugin's
// ModulatedDeformConv2d, so engines with it need them to deserialise), our plugin library,
// and the identity of the GPU and TensorRT that engines are checked against.
#ifndef RAPSAM_SRC_TENSORRT_TENSORRT_ENV_H
#define RAPSAM_SRC_TENSORRT_TENSORRT_ENV_H

#include <NvInferRuntime.h>

#include <filesystem>
#include <mutex>
#include <string>

namespace rapsam::detail {

class Logger : public nvinfer1::ILogger {
public:
    void log(Severity severity, const char* message) noexcept override;
    // The last error TensorRT reported ("" if none), for the message of the exception that follows.
    std::string last_error() const;

private:
    mutable std::mutex mutex_;
    std::string last_error_;
};

// The process's logger, with TensorRT's standard plugins registered on first use.
Logger& tensorrt_logger();

// The loaded libnvinfer's version, "major.minor.patch"; rapsam::Error if its major version is
// not the one librapsam was compiled against.
std::string tensorrt_version();

struct GpuIdentity {
    std::string name;
    std::string compute_capability;  // sm_90
};

// Makes `device` current and says what it is; rapsam::Error if there is no such GPU.
GpuIdentity use_gpu(int device);

// librapsam_trt_plugin registered with TensorRT (once per process and path); returns its sha256.
std::string load_plugin_library(const std::filesystem::path& path);

// Where the plugin library is looked for: $RAPSAM_PLUGIN_DIR, then beside librapsam.
std::filesystem::path default_plugin_library();

}  // namespace rapsam::detail

#endif  // RAPSAM_SRC_TENSORRT_TENSORRT_ENV_H
