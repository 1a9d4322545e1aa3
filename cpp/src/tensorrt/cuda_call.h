// CUDA runtime errors as rapsam::Error, naming the call that failed.
#ifndef RAPSAM_SRC_TENSORRT_CUDA_CALL_H
#define RAPSAM_SRC_TENSORRT_CUDA_CALL_H

#include <cuda_runtime_api.h>

#include <string>

#include "rapsam/error.h"

namespace rapsam::detail {

inline void cuda_call(cudaError_t status, const char* what) {
    if (status != cudaSuccess) {
        throw Error(
            std::string(what) + " failed: " + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")",
            "check the GPU with nvidia-smi and that CUDA_VISIBLE_DEVICES shows it");
    }
}

}  // namespace rapsam::detail

#endif  // RAPSAM_SRC_TENSORRT_CUDA_CALL_H
