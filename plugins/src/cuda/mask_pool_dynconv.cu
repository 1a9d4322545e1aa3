/*
 * RapSamMaskPoolDynConv on CUDA: design and memory traffic.
 *
 * The op is memory-bound: pooling reads every mask logit and every feature once, and everything
 * after pooling works on [B*N, C] rows (N ~ 100, C = 256), tiny next to the inputs. Five kernels:
 *
 * 1. mask_pool_kernel (pool_kernel.cuh): pooled = hard(mask) [N x P] @ features^T [P x C], a
 *    GEMM with K = P pixels (65,536 at 256x256). Block tile: 128 queries x 128 channels x one
 *    slice of ~1,024 pixels (split-K, grid = C/128 x slices x B*ceil(N/128)), 8 warps of 64 x 32.
 *    Each stage loads 64 (fp16) or 32 (fp32) pixels of 128 mask rows and 128 feature rows with
 *    coalesced 16-byte loads into registers, one stage ahead of the tensor cores; the logits are
 *    thresholded (> 0) while being written to shared memory as exact 0/1 operands, so the hard
 *    mask never exists in global memory. fp16 runs fp16 WMMA; fp32 splits each feature into
 *    three bf16 terms (exact 0/1 masks times hi + mid + lo), i.e. fp32 accuracy with bf16 tensor
 *    cores. Accumulation is fp32 in both (sums over 65,536 pixels overflow fp16). Each block
 *    writes its [128 x 128] fp32 partial sum; query fragments past N are skipped.
 * 2. reduce_partials_kernel: pooled = sum of the partials over slices, in a fixed order, so the
 *    result is deterministic and independent of the GPU model (no atomics).
 * 3. dual_linear_kernel, two jobs: gate = (pooled Wdyn[:C]^T + b)(kernels Win[:C]^T + b) in one
 *    tile, and param_out, input_out from Wdyn[C:], Win[C:].
 * 4. dual_linear_kernel: input_gate and update_gate from gate (before their LayerNorms).
 * 5. mix_fc_kernel: the four LayerNorms, sigmoids and the gated sum, then fc, LayerNorm and ReLU,
 *    8 whole rows per block (LayerNorm needs whole rows), Wfc streamed through shared memory.
 *
 * Memory traffic, B=1, N=100, C=256, Hf x Wf = 200 x 336 (P = 67,200):
 *   fp16: masks 13.4 MB + features 34.4 MB from DRAM (the second channel tile's mask reads are
 *         L2 hits: both tiles of a slice are neighbours in the grid), partials 66 x 100 KB =
 *         6.6 MB written and read back through L2, KernelUpdator weights 1.8 MB and [N, C]
 *         intermediates < 1 MB. DRAM floor ~48 MB, about 14 us at 3.35 TB/s (H100 SXM).
 *   fp32: 96 MB of inputs, about 29 us at the same bandwidth.
 * The eager PyTorch decomposition moves more: the comparison writes a bool mask, the cast reads
 * it and writes a float mask, the matmul reads that again, and the KernelUpdator is about twenty
 * launches.
 */
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "../common/last_error.h"
#include "../common/problem.h"
#include "dual_linear_kernel.cuh"
#include "mix_fc_kernel.cuh"
#include "plan.h"
#include "pool_kernel.cuh"
#include "rapsam/mask_pool_dynconv.h"
#include "reduce_kernel.cuh"

namespace rapsam::cuda {
namespace {

constexpr int64_t kMaxGridYZ = 65535;

struct Buffers {
    float* partials;
    float* pooled;
    float* gate;
    float* param_out;
    float* input_out;
    float* input_gate;
    float* update_gate;
};

Buffers carve(void* workspace, const Plan& plan) {
    auto* base = static_cast<unsigned char*>(workspace);
    const auto at = [base](size_t offset) { return reinterpret_cast<float*>(base + offset); };
    return {at(plan.partials),  at(plan.pooled),     at(plan.gate),       at(plan.param_out),
            at(plan.input_out), at(plan.input_gate), at(plan.update_gate)};
}

rapsam_status check_launch(const char* kernel) {
    const cudaError_t error = cudaGetLastError();
    if (error != cudaSuccess) {
        return fail(RAPSAM_ERROR_CUDA, std::string(kernel) + ": " + cudaGetErrorString(error));
    }
    return RAPSAM_OK;
}

bool aligned_16(const void* pointer) { return reinterpret_cast<uintptr_t>(pointer) % 16 == 0; }

template <typename T>
rapsam_status launch_pool(const Problem& problem, const Plan& plan, const Buffers& buffers, cudaStream_t stream) {
    const Dims& d = problem.dims;
    const int64_t query_tiles = ceil_div(d.queries, pool::kQueryTile);
    const int64_t channel_tiles = ceil_div(d.channels, pool::kChannelTile);
    if (d.batch * query_tiles > kMaxGridYZ) {
        return fail(RAPSAM_ERROR_UNSUPPORTED, "B * ceil(N / 128) must be <= 65535");
    }
    PoolParams<T> params{};
    params.mask_logits = static_cast<const T*>(problem.mask_logits);
    params.features = static_cast<const T*>(problem.features);
    params.partials = buffers.partials;
    params.batch = d.batch;
    params.queries = d.queries;
    params.channels = d.channels;
    params.pixels = d.pixels;
    params.pixels_per_split = plan.pixels_per_split;
    params.query_tiles = static_cast<int>(query_tiles);
    params.vectorised = d.pixels % PoolTraits<T>::kVector == 0 && aligned_16(problem.mask_logits) &&
                        aligned_16(problem.features);
    const dim3 grid(static_cast<unsigned>(channel_tiles), static_cast<unsigned>(plan.splits),
                    static_cast<unsigned>(d.batch * query_tiles));
    mask_pool_kernel<T><<<grid, pool::kThreads, 0, stream>>>(params);
    return check_launch("mask_pool_kernel");
}

rapsam_status launch_reduce(const Problem& problem, const Plan& plan, const Buffers& buffers, cudaStream_t stream) {
    const int64_t count = problem.dims.rows() * problem.dims.channels;
    const auto blocks = static_cast<unsigned>(ceil_div(count, reduce::kColumns));
    reduce_partials_kernel<<<blocks, reduce::kThreads, 0, stream>>>(buffers.partials, count, plan.splits,
                                                                      buffers.pooled);
    return check_launch("reduce_partials_kernel");
}

template <typename X2>
rapsam_status launch_dual_linear(const DualLinearParams<X2>& params, int jobs, cudaStream_t stream) {
    const dim3 grid(static_cast<unsigned>(ceil_div(params.cols, linear::kCols)),
                    static_cast<unsigned>(ceil_div(params.rows, linear::kRows)), static_cast<unsigned>(jobs));
    dual_linear_kernel<X2><<<grid, linear::kThreads, 0, stream>>>(params);
    return check_launch("dual_linear_kernel");
}

// gate = param_in * input_in, and param_out, input_out, from the two input Linear layers.
template <typename T>
rapsam_status launch_input_layers(const Problem& problem, const Buffers& buffers, cudaStream_t stream) {
    const rapsam_kernel_updator_weights& w = problem.weights;
    const int64_t c = problem.dims.channels;
    const auto* kernels = static_cast<const T*>(problem.kernels);
    DualLinearParams<T> params{};
    params.jobs[0] = DualLinearJob<T>{buffers.pooled,         kernels,
                                      w.dynamic_layer_weight, w.dynamic_layer_bias,
                                      w.input_layer_weight,   w.input_layer_bias,
                                      buffers.gate,           nullptr,
                                      DualEpilogue::kProduct};
    params.jobs[1] = DualLinearJob<T>{buffers.pooled,                 kernels,
                                      w.dynamic_layer_weight + c * c, w.dynamic_layer_bias + c,
                                      w.input_layer_weight + c * c,   w.input_layer_bias + c,
                                      buffers.param_out,              buffers.input_out,
                                      DualEpilogue::kPair};
    params.rows = problem.dims.rows();
    params.cols = static_cast<int>(c);
    params.depth = static_cast<int>(c);
    return launch_dual_linear(params, 2, stream);
}

rapsam_status launch_gate_layers(const Problem& problem, const Buffers& buffers, cudaStream_t stream) {
    const rapsam_kernel_updator_weights& w = problem.weights;
    DualLinearParams<float> params{};
    params.jobs[0] = DualLinearJob<float>{buffers.gate,         buffers.gate,
                                          w.input_gate_weight,  w.input_gate_bias,
                                          w.update_gate_weight, w.update_gate_bias,
                                          buffers.input_gate,   buffers.update_gate,
                                          DualEpilogue::kPair};
    params.rows = problem.dims.rows();
    params.cols = static_cast<int>(problem.dims.channels);
    params.depth = static_cast<int>(problem.dims.channels);
    return launch_dual_linear(params, 1, stream);
}

// Raises a kernel's dynamic shared-memory limit once per device and size, so that later calls
// (e.g. under CUDA-graph capture in TensorRT or PyTorch) do not repeat the attribute call.
template <typename Kernel>
rapsam_status allow_dynamic_smem(Kernel* kernel, size_t bytes) {
    static std::mutex mutex;
    static std::map<int, size_t> allowed;
    int device = 0;
    cudaError_t error = cudaGetDevice(&device);
    const std::lock_guard<std::mutex> lock(mutex);
    if (error == cudaSuccess && allowed[device] >= bytes) {
        return RAPSAM_OK;
    }
    if (error == cudaSuccess) {
        error = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
    }
    if (error != cudaSuccess) {
        return fail(RAPSAM_ERROR_UNSUPPORTED, "a kernel needs " + std::to_string(bytes) +
                                                  " bytes of shared memory per block (is C too large?): " +
                                                  cudaGetErrorString(error));
    }
    allowed[device] = bytes;
    return RAPSAM_OK;
}

template <typename T>
rapsam_status launch_mix_fc(const Problem& problem, const Buffers& buffers, cudaStream_t stream) {
    const rapsam_kernel_updator_weights& w = problem.weights;
    MixFcParams<T> params{};
    params.input_gate = buffers.input_gate;
    params.update_gate = buffers.update_gate;
    params.param_out = buffers.param_out;
    params.input_out = buffers.input_out;
    params.input_norm_in = {w.input_norm_in_weight, w.input_norm_in_bias};
    params.norm_in = {w.norm_in_weight, w.norm_in_bias};
    params.norm_out = {w.norm_out_weight, w.norm_out_bias};
    params.input_norm_out = {w.input_norm_out_weight, w.input_norm_out_bias};
    params.fc_weight = w.fc_layer_weight;
    params.fc_bias = w.fc_layer_bias;
    params.fc_norm = {w.fc_norm_weight, w.fc_norm_bias};
    params.out = static_cast<T*>(problem.out);
    params.rows = problem.dims.rows();
    params.channels = static_cast<int>(problem.dims.channels);
    params.eps = problem.eps;

    const size_t smem = mix_fc_smem_bytes(params.channels);
    const rapsam_status status = allow_dynamic_smem(mix_fc_kernel<T>, smem);
    if (status != RAPSAM_OK) {
        return status;
    }
    const auto blocks = static_cast<unsigned>(ceil_div(params.rows, mix::kRows));
    mix_fc_kernel<T><<<blocks, mix::kThreads, smem, stream>>>(params);
    return check_launch("mix_fc_kernel");
}

template <typename T>
rapsam_status run(const Problem& problem, const Plan& plan, void* workspace, cudaStream_t stream) {
    const Buffers buffers = carve(workspace, plan);
    rapsam_status status = launch_pool<T>(problem, plan, buffers, stream);
    if (status == RAPSAM_OK) {
        status = launch_reduce(problem, plan, buffers, stream);
    }
    if (status == RAPSAM_OK) {
        status = launch_input_layers<T>(problem, buffers, stream);
    }
    if (status == RAPSAM_OK) {
        status = launch_gate_layers(problem, buffers, stream);
    }
    if (status == RAPSAM_OK) {
        status = launch_mix_fc<T>(problem, buffers, stream);
    }
    return status;
}

}  // namespace
}  // namespace rapsam::cuda

extern "C" int rapsam_cuda_available(void) { return 1; }

extern "C" size_t rapsam_mask_pool_dynconv_cuda_workspace_size(const rapsam_mpdc_shape* shape) {
    rapsam::clear_last_error();
    rapsam::Dims dims{};
    if (rapsam::make_dims(shape, &dims) != RAPSAM_OK) {
        return 0;
    }
    return rapsam::cuda::make_plan(dims).workspace_bytes;
}

extern "C" rapsam_status rapsam_mask_pool_dynconv_cuda(const rapsam_mpdc_shape* shape, rapsam_dtype dtype,
                                                       const void* mask_logits, const void* features,
                                                       const void* kernels,
                                                       const rapsam_kernel_updator_weights* weights, float eps,
                                                       void* out, void* workspace, size_t workspace_size,
                                                       rapsam_cuda_stream stream) {
    rapsam::clear_last_error();
    rapsam::Problem problem{};
    const rapsam_status status =
        rapsam::make_problem(shape, dtype, mask_logits, features, kernels, weights, eps, out, &problem);
    if (status != RAPSAM_OK) {
        return status;
    }
    if (problem.dims.rows() == 0) {
        return RAPSAM_OK;
    }
    if (problem.dims.channels > INT32_MAX / 4) {
        return rapsam::fail(RAPSAM_ERROR_UNSUPPORTED, "C is too large for the CUDA kernels");
    }
    if (rapsam::cuda::ceil_div(problem.dims.rows(), rapsam::cuda::linear::kRows) > rapsam::cuda::kMaxGridYZ) {
        return rapsam::fail(RAPSAM_ERROR_UNSUPPORTED, "B * N must be <= 1,048,560 for the CUDA kernels");
    }
    const rapsam::cuda::Plan plan = rapsam::cuda::make_plan(problem.dims);
    if (workspace == nullptr || workspace_size < plan.workspace_bytes) {
        return rapsam::fail(RAPSAM_ERROR_WORKSPACE_TOO_SMALL, "the workspace needs " +
                                                                  std::to_string(plan.workspace_bytes) + " bytes, got " +
                                                                  std::to_string(workspace_size));
    }
    if (dtype == RAPSAM_DTYPE_FLOAT32) {
        return rapsam::cuda::run<float>(problem, plan, workspace, stream);
    }
    return rapsam::cuda::run<__half>(problem, plan, workspace, stream);
}
