/*
 * RapSamMaskPoolDynConv: hard-mask sum pooling followed by RAP-SAM's gated dynamic convolution
 * (the official KernelUpdator). C ABI shared by librapsam_ops.so (ctypes), the TensorRT plugin
 * and the C++ embedding library.
 *
 *   pooled[b,n,c] = sum over (h,w) of [mask_logits[b,n,h,w] > 0] * features[b,c,h,w]
 *   new_kernels   = KernelUpdator(update_feature = pooled, input_feature = kernels)
 *
 * Tensors are dense, row-major (C order):
 *   mask_logits [B,N,H,W], features [B,C,H,W], kernels [B,N,C], out [B,N,C]
 * in the activation dtype (fp32 or fp16), and the 20 KernelUpdator tensors always fp32 in
 * PyTorch layouts (Linear weight [out,in]). Sums are accumulated in fp32 or wider in every
 * implementation: sums over 65,536 pixels overflow fp16.
 */
#ifndef RAPSAM_MASK_POOL_DYNCONV_H
#define RAPSAM_MASK_POOL_DYNCONV_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define RAPSAM_API __declspec(dllexport)
#else
#define RAPSAM_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Same spelling as the ONNX node of the exporters' `plugin` variant (rapsam_deploy/contract.py). */
#define RAPSAM_FUSED_OP_NAME "RapSamMaskPoolDynConv"
#define RAPSAM_FUSED_OP_DOMAIN "rapsam"
#define RAPSAM_FUSED_OP_VERSION "1"
#define RAPSAM_FUSED_OP_NUM_ACTIVATIONS 3
#define RAPSAM_FUSED_OP_NUM_WEIGHTS 20
#define RAPSAM_FUSED_OP_DEFAULT_EPS 1e-5f

typedef enum rapsam_dtype {
    RAPSAM_DTYPE_FLOAT32 = 0,
    RAPSAM_DTYPE_FLOAT16 = 1
} rapsam_dtype;

typedef enum rapsam_status {
    RAPSAM_OK = 0,
    RAPSAM_ERROR_INVALID_ARGUMENT = 1,
    RAPSAM_ERROR_CUDA = 2,
    RAPSAM_ERROR_UNSUPPORTED = 3,
    RAPSAM_ERROR_WORKSPACE_TOO_SMALL = 4
} rapsam_status;

/* Dimensions: B, N queries, C channels, H (T*Hf for stacked video frames) and W. */
typedef struct rapsam_mpdc_shape {
    int64_t batch;
    int64_t queries;
    int64_t channels;
    int64_t height;
    int64_t width;
} rapsam_mpdc_shape;

/* The KernelUpdator's tensors, fp32, in the contract's FUSED_OP_WEIGHTS order, so that the
 * struct is also an array of RAPSAM_FUSED_OP_NUM_WEIGHTS pointers. */
typedef struct rapsam_kernel_updator_weights {
    const float* dynamic_layer_weight;  /* [2C,C] */
    const float* dynamic_layer_bias;    /* [2C] */
    const float* input_layer_weight;    /* [2C,C] */
    const float* input_layer_bias;      /* [2C] */
    const float* input_gate_weight;     /* [C,C] */
    const float* input_gate_bias;       /* [C] */
    const float* update_gate_weight;    /* [C,C] */
    const float* update_gate_bias;      /* [C] */
    const float* norm_in_weight;        /* [C] */
    const float* norm_in_bias;          /* [C] */
    const float* norm_out_weight;       /* [C] */
    const float* norm_out_bias;         /* [C] */
    const float* input_norm_in_weight;  /* [C] */
    const float* input_norm_in_bias;    /* [C] */
    const float* input_norm_out_weight; /* [C] */
    const float* input_norm_out_bias;   /* [C] */
    const float* fc_layer_weight;       /* [C,C] */
    const float* fc_layer_bias;         /* [C] */
    const float* fc_norm_weight;        /* [C] */
    const float* fc_norm_bias;          /* [C] */
} rapsam_kernel_updator_weights;

/* Struct of CUDA's cudaStream_t, named without including the CUDA headers. */
struct CUstream_st;
typedef struct CUstream_st* rapsam_cuda_stream;

/* Text of the last error on the calling thread (empty when none); valid until its next call. */
RAPSAM_API const char* rapsam_last_error(void);

/* CPU reference on host pointers. */
RAPSAM_API rapsam_status rapsam_mask_pool_dynconv_cpu(const rapsam_mpdc_shape* shape, rapsam_dtype dtype,
                                                      const void* mask_logits, const void* features,
                                                      const void* kernels, const rapsam_kernel_updator_weights* weights,
                                                      float eps, void* out);

/* 1 when the library was built with the CUDA kernels, else 0 (the CUDA entry points then fail
 * with RAPSAM_ERROR_UNSUPPORTED). */
RAPSAM_API int rapsam_cuda_available(void);

/* Bytes of device workspace the CUDA op needs for this shape; it only grows with each dimension,
 * so the size for the largest shape serves every smaller one. */
RAPSAM_API size_t rapsam_mask_pool_dynconv_cuda_workspace_size(const rapsam_mpdc_shape* shape);

/* CUDA kernels on device pointers, enqueued on `stream` (asynchronous; no allocation, no sync)
 * on the calling thread's current device. `workspace` must hold
 * rapsam_mask_pool_dynconv_cuda_workspace_size(shape) bytes (any cudaMalloc or TensorRT
 * workspace pointer is aligned enough). Weights are device pointers. */
RAPSAM_API rapsam_status rapsam_mask_pool_dynconv_cuda(const rapsam_mpdc_shape* shape, rapsam_dtype dtype,
                                                       const void* mask_logits, const void* features,
                                                       const void* kernels,
                                                       const rapsam_kernel_updator_weights* weights, float eps,
                                                       void* out, void* workspace, size_t workspace_size,
                                                       rapsam_cuda_stream stream);

#ifdef __cplusplus
}
#endif

#endif /* RAPSAM_MASK_POOL_DYNCONV_H */
