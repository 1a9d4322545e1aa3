// One graph's TensorRT engine: deserialised from a checked engine file, its tensors checked
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
    // `rebuild` is the rapsam-build command that errors suggest.
    Engine(nvinfer1::IRuntime& runtime, const EngineFile& file, const contract::GraphSpec& spec, std::string rebuild);

    // Bytes of activation memory this engine needs for any shape in its profile.
    std::int64_t scratch_bytes() const;

    // Run on `stream` with `scratch` (scratch_bytes() at least); inputs and outputs by the
    // contract's names, outputs of the shapes output_shapes() gives.
    void run(const std::map<std::string, DeviceTensor>& inputs, const std::map<std::string, DeviceTensor>& outputs,
             cudaStream_t stream, void* scratch);

private:
    void check_tensors() const;
    void set_shapes(const std::map<std::string, DeviceTensor>& inputs,
                    const std::map<std::string, DeviceTensor>& outputs);

    const contract::GraphSpec& spec_;
    std::string rebuild_;
    std::unique_ptr<nvinfer1::ICudaEngine> engine_;
    std::unique_ptr<nvinfer1::IExecutionContext> context_;
    std::map<std::string, Shape> shapes_;  // the input shapes last set
};

}  // namespace rapsam::detail

#endif  // RAPSAM_SRC_TENSORRT_ENGINE_H
