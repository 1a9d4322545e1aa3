// The KernelUpdator's tail for a block of rows, in one kernel:
//   f   = sigmoid(LN_norm_in(update_gate)) * LN_norm_out(param_out)
//       + sigmoid(LN_input_norm_in(input_gate)) * LN_input_norm_out(input_out)
//   out = ReLU(LN_fc_norm(f @ Wfc^T + bfc))
// LayerNorm needs whole rows, so a block owns whole rows and streams all of Wfc.
#ifndef RAPSAM_CUDA_MIX_FC_KERNEL_CUH
#define RAPSAM_CUDA_MIX_FC_KERNEL_CUH

#include <cstdint>

#include "device_math.cuh"

namespace rapsam::cuda {
namespace mix {

constexpr int kThreads = 256;
constexpr int kRows = kThreads / kWarpSize;  // one warp per row for the row-wise steps
constexpr int kColumns = kThreads;           // output features per pass, one per thread
constexpr int kDepth = 32;                   // Wfc input features per shared-memory stage
constexpr int kWeightLoads = kDepth * kColumns / kThreads;

}  // namespace mix

struct LayerNormParams {
    const float* gamma;
    const float* beta;
};

template <typename T>
struct MixFcParams {
    const float* input_gate;   // [rows, C] before input_norm_in
    const float* update_gate;  // [rows, C] before norm_in
    const float* param_out;    // [rows, C] before norm_out
    const float* input_out;    // [rows, C] before input_norm_out
    LayerNormParams input_norm_in;
    LayerNormParams norm_in;
    LayerNormParams norm_out;
    LayerNormParams input_norm_out;
    const float* fc_weight;  // [C, C]
    const float* fc_bias;    // [C]
    LayerNormParams fc_norm;
    T* out;  // [rows, C]
    int64_t rows;
    int channels;
    float eps;
};

// Dynamic shared memory: f and the fc output for kRows rows, and one stage of Wfc^T.
__host__ __device__ constexpr size_t mix_fc_smem_bytes(int channels) {
    return (2 * static_cast<size_t>(mix::kRows) * channels + mix::kDepth * (mix::kColumns + 1)) * sizeof(float);
}

template <typename T>
__device__ void mix_row(const MixFcParams<T>& p, int64_t row, float* f) {
    const int64_t offset = row * p.channels;
    const RowStats input_gate = warp_row_stats(p.input_gate + offset, p.channels, p.eps);
    const RowStats update_gate = warp_row_stats(p.update_gate + offset, p.channels, p.eps);
    const RowStats param_out = warp_row_stats(p.param_out + offset, p.channels, p.eps);
    const RowStats input_out = warp_row_stats(p.input_out + offset, p.channels, p.eps);
    for (int k = threadIdx.x % kWarpSize; k < p.channels; k += kWarpSize) {
        const float ig = sigmoid(
            layer_norm(p.input_gate[offset + k], input_gate, p.input_norm_in.gamma[k], p.input_norm_in.beta[k]));
        const float ug =
            sigmoid(layer_norm(p.update_gate[offset + k], update_gate, p.norm_in.gamma[k], p.norm_in.beta[k]));
        const float po = layer_norm(p.param_out[offset + k], param_out, p.norm_out.gamma[k], p.norm_out.beta[k]);
        const float io =
            layer_norm(p.input_out[offset + k], input_out, p.input_norm_out.gamma[k], p.input_norm_out.beta[k]);
        f[k] = ug * po + ig * io;
    }
}

// Stage of Wfc^T: thread t loads elements t, t + kThreads, ... of the [kColumns, kDepth] block of
// Wfc rows, so that a warp reads one 128-byte row segment.
__device__ __forceinline__ void load_fc_stage(const float* weight, int channels, int col0, int k0,
                                              float (&stage)[mix::kWeightLoads]) {
#pragma unroll
    for (int i = 0; i < mix::kWeightLoads; ++i) {
        const int v = threadIdx.x + i * mix::kThreads;
        const int col = col0 + v / mix::kDepth;
        const int k = k0 + v % mix::kDepth;
        stage[i] = col < channels && k < channels ? weight[static_cast<int64_t>(col) * channels + k] : 0.0f;
    }
}

__device__ __forceinline__ void store_fc_stage(const float (&stage)[mix::kWeightLoads], float* weight_t) {
#pragma unroll
    for (int i = 0; i < mix::kWeightLoads; ++i) {
        const int v = threadIdx.x + i * mix::kThreads;
        weight_t[(v % mix::kDepth) * (mix::kColumns + 1) + v / mix::kDepth] = stage[i];
    }
}

// fc[r, c] = f[r, :] . Wfc[c, :] + bfc[c] for the block's rows; Wfc prefetched a stage ahead.
template <typename T>
__device__ void fc_rows(const MixFcParams<T>& p, const float* f, float* fc, float* weight_t) {
    for (int col0 = 0; col0 < p.channels; col0 += mix::kColumns) {
        float acc[mix::kRows] = {};
        float stage[mix::kWeightLoads];
        load_fc_stage(p.fc_weight, p.channels, col0, 0, stage);
        for (int k0 = 0; k0 < p.channels; k0 += mix::kDepth) {
            __syncthreads();  // the previous stage has been read, f has been written
            store_fc_stage(stage, weight_t);
            __syncthreads();
            if (k0 + mix::kDepth < p.channels) {
                load_fc_stage(p.fc_weight, p.channels, col0, k0 + mix::kDepth, stage);
            }
            const int depth = min(mix::kDepth, p.channels - k0);
            for (int k = 0; k < depth; ++k) {
                const float w = weight_t[k * (mix::kColumns + 1) + threadIdx.x];
#pragma unroll
                for (int r = 0; r < mix::kRows; ++r) {
                    acc[r] += f[r * p.channels + k0 + k] * w;
                }
            }
        }
        const int col = col0 + threadIdx.x;
        if (col < p.channels) {
#pragma unroll
            for (int r = 0; r < mix::kRows; ++r) {
                fc[r * p.channels + col] = acc[r] + p.fc_bias[col];
            }
        }
    }
}

// Grid: ceil(rows / kRows) blocks of kThreads, mix_fc_smem_bytes(C) of dynamic shared memory.
template <typename T>
__global__ void __launch_bounds__(mix::kThreads) mix_fc_kernel(MixFcParams<T> p) {
    extern __shared__ float smem[];
    float* f = smem;                             // [kRows, C]
    float* fc = f + mix::kRows * p.channels;     // [kRows, C]
    float* weight_t = fc + mix::kRows * p.channels;  // [kDepth, kColumns + 1]

    const int warp = threadIdx.x / kWarpSize;
    const int64_t row = static_cast<int64_t>(blockIdx.x) * mix::kRows + warp;
    float* f_row = f + warp * p.channels;
    if (row < p.rows) {
        mix_row(p, row, f_row);
    } else {
        for (int k = threadIdx.x % kWarpSize; k < p.channels; k += kWarpSize) {
            f_row[k] = 0.0f;
        }
    }

    fc_rows(p, f, fc, weight_t);
    __syncthreads();

    if (row >= p.rows) {
        return;
    }
    const float* fc_row = fc + warp * p.channels;
    const RowStats stats = warp_row_stats(fc_row, p.channels, p.eps);
    T* out = p.out + row * p.channels;
    for (int k = threadIdx.x % kWarpSize; k < p.channels; k += kWarpSize) {
        const float y = layer_norm(fc_row[k], stats, p.fc_norm.gamma[k], p.fc_norm.beta[k]);
        out[k] = from_float<T>(y > 0.0f ? y : 0.0f);
    }
}

}  // namespace rapsam::cuda

#endif  // RAPSAM_CUDA_MIX_FC_KERNEL_CUH
