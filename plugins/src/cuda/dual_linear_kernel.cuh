// Two Linear layers over the same rows, combined in the epilogue:
//   y1 = x1 @ w1^T + b1,  y2 = x2 @ w2^T + b2,  out = y1 * y2 (kProduct) or (y1, y2) (kPair).
// The KernelUpdator's gate is a product of two Linear outputs, so computing both in one tile
// avoids writing either to memory.
#ifndef RAPSAM_CUDA_DUAL_LINEAR_KERNEL_CUH
#define RAPSAM_CUDA_DUAL_LINEAR_KERNEL_CUH

#include <cstdint>

#include "device_math.cuh"

namespace rapsam::cuda {
namespace linear {

constexpr int kRows = 16;   // rows (queries) per block
constexpr int kCols = 32;   // output features per block
constexpr int kDepth = 32;  // input features per shared-memory stage
constexpr int kThreads = 128;
constexpr int kThreadRows = kThreads / kCols;
constexpr int kRowsPerThread = kRows / kThreadRows;
constexpr int kInputLoads = kRows * kDepth / kThreads;
constexpr int kWeightLoads = kCols * kDepth / kThreads;

static_assert(kThreads % kCols == 0 && kRows % kThreadRows == 0, "thread layout covers the tile");

}  // namespace linear

enum class DualEpilogue : int { kProduct, kPair };

template <typename X2>
struct DualLinearJob {
    const float* x1;  // [rows, depth]
    const X2* x2;     // [rows, depth]
    const float* w1;  // [cols, depth]: the rows of the Linear weight this job computes
    const float* b1;  // [cols]
    const float* w2;
    const float* b2;
    float* out1;  // [rows, cols]: y1 * y2 or y1
    float* out2;  // [rows, cols]: y2 (kPair only)
    DualEpilogue epilogue;
};

template <typename X2>
struct DualLinearParams {
    DualLinearJob<X2> jobs[2];  // blockIdx.z picks one
    int64_t rows;
    int cols;
    int depth;
};

// One stage of inputs and weights, held in registers while the previous stage is multiplied.
struct LinearStage {
    float x1[linear::kInputLoads];
    float x2[linear::kInputLoads];
    float w1[linear::kWeightLoads];
    float w2[linear::kWeightLoads];
};

struct LinearSmem {
    float x1[linear::kRows][linear::kDepth + 1];  // +1: conflict-free column reads
    float x2[linear::kRows][linear::kDepth + 1];
    float w1[linear::kCols][linear::kDepth + 1];
    float w2[linear::kCols][linear::kDepth + 1];
};

template <typename T>
__device__ __forceinline__ float load_or_zero(const T* matrix, int64_t row, int64_t rows, int k, int depth) {
    return row < rows && k < depth ? to_float(matrix[row * depth + k]) : 0.0f;
}

template <typename X2>
__device__ __forceinline__ void load_linear_stage(const DualLinearJob<X2>& job, const DualLinearParams<X2>& p,
                                                  int64_t row0, int col0, int k0, LinearStage& stage) {
#pragma unroll
    for (int i = 0; i < linear::kInputLoads; ++i) {
        const int v = threadIdx.x + i * linear::kThreads;
        const int64_t row = row0 + v / linear::kDepth;
        const int k = k0 + v % linear::kDepth;
        stage.x1[i] = load_or_zero(job.x1, row, p.rows, k, p.depth);
        stage.x2[i] = load_or_zero(job.x2, row, p.rows, k, p.depth);
    }
#pragma unroll
    for (int i = 0; i < linear::kWeightLoads; ++i) {
        const int v = threadIdx.x + i * linear::kThreads;
        const int col = col0 + v / linear::kDepth;
        const int k = k0 + v % linear::kDepth;
        stage.w1[i] = load_or_zero(job.w1, col, p.cols, k, p.depth);
        stage.w2[i] = load_or_zero(job.w2, col, p.cols, k, p.depth);
    }
}

__device__ __forceinline__ void store_linear_stage(const LinearStage& stage, LinearSmem& smem) {
#pragma unroll
    for (int i = 0; i < linear::kInputLoads; ++i) {
        const int v = threadIdx.x + i * linear::kThreads;
        smem.x1[v / linear::kDepth][v % linear::kDepth] = stage.x1[i];
        smem.x2[v / linear::kDepth][v % linear::kDepth] = stage.x2[i];
    }
#pragma unroll
    for (int i = 0; i < linear::kWeightLoads; ++i) {
        const int v = threadIdx.x + i * linear::kThreads;
        smem.w1[v / linear::kDepth][v % linear::kDepth] = stage.w1[i];
        smem.w2[v / linear::kDepth][v % linear::kDepth] = stage.w2[i];
    }
}

// Grid: x = ceil(cols / kCols), y = ceil(rows / kRows), z = number of jobs. Thread (r, c) owns
// column c and rows r, r + kThreadRows, ...; a warp shares its rows, so row reads broadcast.
template <typename X2>
__global__ void __launch_bounds__(linear::kThreads) dual_linear_kernel(DualLinearParams<X2> p) {
    __shared__ LinearSmem smem;
    const DualLinearJob<X2> job = p.jobs[blockIdx.z];
    const int64_t row0 = static_cast<int64_t>(blockIdx.y) * linear::kRows;
    const int col0 = blockIdx.x * linear::kCols;
    const int col = threadIdx.x % linear::kCols;
    const int thread_row = threadIdx.x / linear::kCols;

    float acc1[linear::kRowsPerThread] = {};
    float acc2[linear::kRowsPerThread] = {};
    LinearStage stage;
    load_linear_stage(job, p, row0, col0, 0, stage);
    for (int k0 = 0; k0 < p.depth; k0 += linear::kDepth) {
        store_linear_stage(stage, smem);
        __syncthreads();
        if (k0 + linear::kDepth < p.depth) {
            load_linear_stage(job, p, row0, col0, k0 + linear::kDepth, stage);
        }
#pragma unroll 8
        for (int k = 0; k < linear::kDepth; ++k) {
            const float w1 = smem.w1[col][k];
            const float w2 = smem.w2[col][k];
#pragma unroll
            for (int r = 0; r < linear::kRowsPerThread; ++r) {
                acc1[r] += smem.x1[thread_row + r * linear::kThreadRows][k] * w1;
                acc2[r] += smem.x2[thread_row + r * linear::kThreadRows][k] * w2;
            }
        }
        __syncthreads();
    }

    const int out_col = col0 + col;
    if (out_col >= p.cols) {
        return;
    }
#pragma unroll
    for (int r = 0; r < linear::kRowsPerThread; ++r) {
        const int64_t row = row0 + thread_row + r * linear::kThreadRows;
        if (row < p.rows) {
            const float y1 = acc1[r] + job.b1[out_col];
            const float y2 = acc2[r] + job.b2[out_col];
            const int64_t i = row * p.cols + out_col;
            if (job.epilogue == DualEpilogue::kProduct) {
                job.out1[i] = y1 * y2;
            } else {
                job.out1[i] = y1;
                job.out2[i] = y2;
            }
        }
    }
}

}  // namespace rapsam::cuda

#endif  // RAPSAM_CUDA_DUAL_LINEAR_KERNEL_CUH
