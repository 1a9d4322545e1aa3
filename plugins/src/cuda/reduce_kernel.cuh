// Sums the per-slice pooling partials: pooled[i] = sum over s of partials[s, i], in a fixed order.
#ifndef RAPSAM_CUDA_REDUCE_KERNEL_CUH
#define RAPSAM_CUDA_REDUCE_KERNEL_CUH

#include <cstdint>

#include "device_math.cuh"

namespace rapsam::cuda {
namespace reduce {

constexpr int kColumns = kWarpSize;  // consecutive outputs per block: one coalesced 128-byte row
constexpr int kLanes = 8;            // slices summed in parallel per output, then combined
constexpr int kThreads = kColumns * kLanes;

}  // namespace reduce

// Grid: ceil(count / kColumns) blocks. Each warp sums every kLanes-th slice for 32 outputs.
__global__ void __launch_bounds__(reduce::kThreads)
    reduce_partials_kernel(const float* partials, int64_t count, int64_t splits, float* pooled) {
    __shared__ float sums[reduce::kLanes][reduce::kColumns];
    const int column = threadIdx.x % reduce::kColumns;
    const int lane = threadIdx.x / reduce::kColumns;
    const int64_t i = static_cast<int64_t>(blockIdx.x) * reduce::kColumns + column;
    float sum = 0.0f;
    if (i < count) {
        for (int64_t s = lane; s < splits; s += reduce::kLanes) {
            sum += partials[s * count + i];
        }
    }
    sums[lane][column] = sum;
    __syncthreads();
    if (lane == 0 && i < count) {
        float total = 0.0f;
#pragma unroll
        for (int l = 0; l < reduce::kLanes; ++l) {
            total += sums[l][column];
        }
        pooled[i] = total;
    }
}

}  // namespace rapsam::cuda

#endif  // RAPSAM_CUDA_REDUCE_KERNEL_CUH
