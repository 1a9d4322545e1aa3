#include "engine.h"

#include <NvInferVersion.h>

#include "rapsam/error.h"
#include "tensorrt_env.h"

// TensorRT 10.1 replaced the activation-memory calls by *V2 forms with sizes; TensorRT 11
// keeps only those.
#if NV_TENSORRT_MAJOR > 10 || (NV_TENSORRT_MAJOR == 10 && NV_TENSORRT_MINOR >= 1)
#define RAPSAM_TRT_DEVICE_MEMORY_V2 1
#else
#define RAPSAM_TRT_DEVICE_MEMORY_V2 0
#endif

namespace rapsam::detail {

namespace {

std::string shape_text(const Shape& shape) {
    std::string text;
    for (const std::int64_t d : shape) text += (text.empty() ? "" : ", ") + std::to_string(d);
    return "(" + text + ")";
}

Shape to_shape(const nvinfer1::Dims& dims) { return Shape(dims.d, dims.d + std::max(dims.nbDims, 0)); }

nvinfer1::Dims to_dims(const Shape& shape) {
    nvinfer1::Dims dims{};
    dims.nbDims = static_cast<std::int32_t>(shape.size());
    for (std::size_t i = 0; i < shape.size(); ++i) dims.d[i] = shape[i];
    return dims;
}

// The contract's dtypes as TensorRT's; I/O is fp32 (int64, bool) whatever the precision inside.
nvinfer1::DataType trt_dtype(const std::string& dtype) {
    if (dtype == "int64") return nvinfer1::DataType::kINT64;
    if (dtype == "bool") return nvinfer1::DataType::kBOOL;
    return nvinfer1::DataType::kFLOAT;
}

}  // namespace

Engine::Engine(nvinfer1::IRuntime& runtime, const EngineFile& file, const EngineExpectation& expect,
               const contract::GraphSpec& spec)
    : spec_(spec), rebuild_(rebuild_command(expect.export_dir, expect.precision, expect.variant, {expect.graph})) {
    engine_.reset(runtime.deserializeCudaEngine(file.plan.data(), file.plan.size()));
    if (!engine_) throw refused_by_tensorrt(file, expect, "TensorRT: " + tensorrt_logger().last_error());
    check_tensors();
    context_.reset(engine_->createExecutionContext(nvinfer1::ExecutionContextAllocationStrategy::kUSER_MANAGED));
    if (!context_) {
        throw Error("TensorRT could not create an execution context for the " + spec_.name +
                    " engine (TensorRT: " + tensorrt_logger().last_error() + ")");
    }
}

void Engine::check_tensors() const {
    std::map<std::string, nvinfer1::DataType> found;
    for (std::int32_t i = 0; i < engine_->getNbIOTensors(); ++i) {
        const char* name = engine_->getIOTensorName(i);
        found[name] = engine_->getTensorDataType(name);
    }
    std::map<std::string, nvinfer1::DataType> wanted;
    std::string names;
    for (const auto* tensors : {&spec_.inputs, &spec_.outputs}) {
        for (const contract::TensorSpec& tensor : *tensors) {
            wanted[tensor.name] = trt_dtype(tensor.dtype);
            names += (names.empty() ? "" : ", ") + tensor.name + " (" + tensor.dtype + ")";
        }
    }
    if (found != wanted) {
        std::string have;
        for (const auto& item : found) have += (have.empty() ? "" : ", ") + item.first;
        throw Error("the " + spec_.name + " engine's tensors [" + have + "] are not the contract's [" + names + "]",
                    "rebuild it: " + rebuild_);
    }
}

std::int64_t Engine::scratch_for_shapes() {
    // 0 means TensorRT could not size it: fall back to the profile's maximum.
    const std::size_t needed = context_->updateDeviceMemorySizeForShapes();
    if (needed > 0) return static_cast<std::int64_t>(needed);
#if RAPSAM_TRT_DEVICE_MEMORY_V2
    return engine_->getDeviceMemorySizeV2();
#else
    return static_cast<std::int64_t>(engine_->getDeviceMemorySize());
#endif
}

std::int64_t Engine::prepare(const std::map<std::string, DeviceTensor>& inputs,
                             const std::map<std::string, DeviceTensor>& outputs) {
    std::map<std::string, Shape> shapes;
    for (const auto& [name, tensor] : inputs) shapes[name] = tensor.shape;
    if (shapes == shapes_) return scratch_bytes_;
    shapes_.clear();
    for (const auto& [name, shape] : shapes) {
        if (!context_->setInputShape(name.c_str(), to_dims(shape))) {
            const Shape low = to_shape(engine_->getProfileShape(name.c_str(), 0, nvinfer1::OptProfileSelector::kMIN));
            const Shape high = to_shape(engine_->getProfileShape(name.c_str(), 0, nvinfer1::OptProfileSelector::kMAX));
            throw Error(spec_.name + " input " + name + " has shape " + shape_text(shape) +
                            ", outside the engine's profile (from " + shape_text(low) + " to " + shape_text(high) + ")",
                        "rebuild with wider --profile-* ranges: " + rebuild_);
        }
    }
    for (const auto& [name, tensor] : outputs) {
        const Shape shape = to_shape(context_->getTensorShape(name.c_str()));
        if (shape != tensor.shape) {
            throw Error("the " + spec_.name + " engine gives " + name + " the shape " + shape_text(shape) +
                            ", the contract " + shape_text(tensor.shape),
                        "re-export and rebuild: the engine does not follow this rapsam-deploy's contract");
        }
    }
    scratch_bytes_ = scratch_for_shapes();
    shapes_ = std::move(shapes);
    return scratch_bytes_;
}

void Engine::run(const std::map<std::string, DeviceTensor>& inputs, const std::map<std::string, DeviceTensor>& outputs,
                 cudaStream_t stream, void* scratch) {
    // The scratch block is shared and may have moved since the last call: set it every time.
#if RAPSAM_TRT_DEVICE_MEMORY_V2
    context_->setDeviceMemoryV2(scratch, scratch_bytes_);
#else
    context_->setDeviceMemory(scratch);
#endif
    for (const auto* tensors : {&inputs, &outputs}) {
        for (const auto& [name, tensor] : *tensors) context_->setTensorAddress(name.c_str(), tensor.data);
    }
    if (!context_->enqueueV3(stream)) {
        throw Error("TensorRT failed to run the " + spec_.name +
                    " engine (TensorRT: " + tensorrt_logger().last_error() + ")");
    }
}

}  // namespace rapsam::detail
