// One call of the fused op, checked once at the C ABI and shared by the CPU and CUDA paths.
#ifndef RAPSAM_COMMON_PROBLEM_H
#define RAPSAM_COMMON_PROBLEM_H

#include <cstdint>

#include "rapsam/mask_pool_dynconv.h"

namespace rapsam {

// Dimensions with the image flattened: `pixels` = H * W, `rows` = B * N (one kernel per row).
struct Dims {
    int64_t batch;
    int64_t queries;
    int64_t channels;
    int64_t pixels;

    int64_t rows() const { return batch * queries; }
};

struct Problem {
    Dims dims;
    rapsam_dtype dtype;
    const void* mask_logits;
    const void* features;
    const void* kernels;
    rapsam_kernel_updator_weights weights;
    float eps;
    void* out;
};

// Checks the arguments of an entry point and fills `problem`; on failure records the reason
// (rapsam_last_error) and returns its status.
rapsam_status make_problem(const rapsam_mpdc_shape* shape, rapsam_dtype dtype, const void* mask_logits,
                           const void* features, const void* kernels, const rapsam_kernel_updator_weights* weights,
                           float eps, void* out, Problem* problem);

// Dimensions of a shape whose every element count fits in int64 (else RAPSAM_ERROR_INVALID_ARGUMENT).
rapsam_status make_dims(const rapsam_mpdc_shape* shape, Dims* dims);

}  // namespace rapsam

#endif  // RAPSAM_COMMON_PROBLEM_H
