// One graph's TensorRT engine: deserialised from a checked plan, its tensors checked
// against the contract, one execution context whose activation memory the caller provides
// (so that the engines of a Segmenter, which run one after another on one stream, share it).
#ifndef RAPSAM_SRC_TENSORRT_ENGINE_H
#define RAPSAM_SRC_TENSORRT_ENGINE_H

#include <NvInferRuntime.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "../output_shapes.h"
#include "rapsam/contract.h"
#include "rapsam/engine_file.h"

namespace rapsam::detail {

// A tensor on the device, as the engines take and give them.
struct DeviceTensor {
    void* data = nullptr;
    Shape shape;
};

class Engine {
public:
    // `file` is the checked plan of `expect`, whose rapsam-build command errors suggest.
    Engine(nvinfer1::IRuntime& runtime, const EngineFile& file, const EngineExpectation& expect,
           const contract::GraphSpec& spec);

    // Set the input shapes (when they changed; outputs are checked against the shapes
    // output_shapes() gives) and return the bytes of activation memory they need: sized for the
    // shapes in use, not the profile's maxima, which take several GB with the default profiles.
    std::int64_t prepare(const std::map<std::string, DeviceTensor>& inputs,
                         const std::map<std::string, DeviceTensor>& outputs);

    // Run the shapes of the last prepare() on `stream` with `scratch` (at least what prepare()
    // returned); inputs and outputs by the contract's names.
    void run(const std::map<std::string, DeviceTensor>& inputs, const std::map<std::string, DeviceTensor>& outputs,
             cudaStream_t stream, void* scratch);

private:
    void check_tensors() const;
    std::int64_t scratch_for_shapes();

    const contract::GraphSpec& spec_;
    std::string rebuild_;
    std::unique_ptr<nvinfer1::ICudaEngine> engine_;
    std::unique_ptr<nvinfer1::IExecutionContext> context_;
    std::map<std::string, Shape> shapes_;  // the input shapes last set
    std::int64_t scratch_bytes_ = 0;       // the activation memory they need
};

}  // namespace rapsam::detail

#endif  // RAPSAM_SRC_TENSORRT_ENGINE_H
