// Small device helpers shared by the kernels: dtype conversion, warp sums, LayerNorm statistics.
#ifndef RAPSAM_CUDA_DEVICE_MATH_CUH
#define RAPSAM_CUDA_DEVICE_MATH_CUH

#include <cuda_fp16.h>

#include <cstdint>

namespace rapsam::cuda {

constexpr int kWarpSize = 32;

__host__ __device__ __forceinline__ int64_t min_i64(int64_t a, int64_t b) { return a < b ? a : b; }

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }

template <typename T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ float from_float<float>(float x) {
    return x;
}
template <>
__device__ __forceinline__ __half from_float<__half>(float x) {
    return __float2half_rn(x);
}

// Butterfly sum: every lane ends with the same total, in the same order on every run.
__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
    for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
        x += __shfl_xor_sync(0xffffffffu, x, offset);
    }
    return x;
}

struct RowStats {
    float mean;
    float inv_std;
};

// LayerNorm statistics of one row of n floats, computed by a whole warp: two passes (mean, then
// the mean squared deviation) so that large means do not cancel the variance; biased variance.
__device__ __forceinline__ RowStats warp_row_stats(const float* x, int n, float eps) {
    float sum = 0.0f;
    for (int k = threadIdx.x % kWarpSize; k < n; k += kWarpSize) {
        sum += x[k];
    }
    const float mean = warp_sum(sum) / static_cast<float>(n);
    float squares = 0.0f;
    for (int k = threadIdx.x % kWarpSize; k < n; k += kWarpSize) {
        const float d = x[k] - mean;
        squares += d * d;
    }
    const float variance = warp_sum(squares) / static_cast<float>(n);
    return {mean, 1.0f / sqrtf(variance + eps)};
}

__device__ __forceinline__ float layer_norm(float x, RowStats s, float gamma, float beta) {
    return (x - s.mean) * s.inv_std * gamma + beta;
}

__device__ __forceinline__ float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

}  // namespace rapsam::cuda

#endif  // RAPSAM_CUDA_DEVICE_MATH_CUH
