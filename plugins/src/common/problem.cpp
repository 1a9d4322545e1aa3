#include "problem.h"

#include <cmath>
#include <limits>
#include <string>

#include "last_error.h"
#include "weights.h"

namespace rapsam {
namespace {

constexpr int64_t kMaxElements = std::numeric_limits<int64_t>::max() / 8;

// a * b, or -1 when it would pass kMaxElements.
int64_t checked_product(int64_t a, int64_t b) {
    if (a != 0 && b > kMaxElements / a) {
        return -1;
    }
    return a * b;
}

bool all_weights_set(const rapsam_kernel_updator_weights& weights) {
    for (const float* tensor : weight_list(weights)) {
        if (tensor == nullptr) {
            return false;
        }
    }
    return true;
}

}  // namespace

rapsam_status make_dims(const rapsam_mpdc_shape* shape, Dims* dims) {
    if (shape == nullptr) {
        return fail(RAPSAM_ERROR_INVALID_ARGUMENT, "shape is null");
    }
    if (shape->batch < 0 || shape->queries < 0 || shape->height < 0 || shape->width < 0 || shape->channels < 1) {
        return fail(RAPSAM_ERROR_INVALID_ARGUMENT,
                    "dimensions must be >= 0 (channels >= 1), got B=" + std::to_string(shape->batch) +
                        " N=" + std::to_string(shape->queries) + " C=" + std::to_string(shape->channels) +
                        " H=" + std::to_string(shape->height) + " W=" + std::to_string(shape->width));
    }
    const int64_t pixels = checked_product(shape->height, shape->width);
    const int64_t rows = checked_product(shape->batch, shape->queries);
    const int64_t channel_rows = checked_product(shape->batch, shape->channels);
    if (pixels < 0 || rows < 0 || channel_rows < 0 || checked_product(rows, pixels) < 0 ||
        checked_product(channel_rows, pixels) < 0 || checked_product(rows, shape->channels) < 0) {
        return fail(RAPSAM_ERROR_INVALID_ARGUMENT, "tensor sizes overflow int64");
    }
    *dims = Dims{shape->batch, shape->queries, shape->channels, pixels};
    return RAPSAM_OK;
}

rapsam_status make_problem(const rapsam_mpdc_shape* shape, rapsam_dtype dtype, const void* mask_logits,
                           const void* features, const void* kernels, const rapsam_kernel_updator_weights* weights,
                           float eps, void* out, Problem* problem) {
    Dims dims{};
    const rapsam_status status = make_dims(shape, &dims);
    if (status != RAPSAM_OK) {
        return status;
    }
    if (dtype != RAPSAM_DTYPE_FLOAT32 && dtype != RAPSAM_DTYPE_FLOAT16) {
        return fail(RAPSAM_ERROR_INVALID_ARGUMENT, "dtype must be RAPSAM_DTYPE_FLOAT32 or RAPSAM_DTYPE_FLOAT16");
    }
    if (!std::isfinite(eps) || eps < 0.0f) {
        return fail(RAPSAM_ERROR_INVALID_ARGUMENT, "eps must be finite and >= 0");
    }
    if (weights == nullptr || !all_weights_set(*weights)) {
        return fail(RAPSAM_ERROR_INVALID_ARGUMENT, "all 20 KernelUpdator tensors must be given");
    }
    const bool has_rows = dims.rows() > 0;
    const bool has_pixels = dims.pixels > 0;
    if (has_rows && (kernels == nullptr || out == nullptr)) {
        return fail(RAPSAM_ERROR_INVALID_ARGUMENT, "kernels and out must not be null");
    }
    if (has_rows && has_pixels && (mask_logits == nullptr || features == nullptr)) {
        return fail(RAPSAM_ERROR_INVALID_ARGUMENT, "mask_logits and features must not be null");
    }
    *problem = Problem{dims, dtype, mask_logits, features, kernels, *weights, eps, out};
    return RAPSAM_OK;
}

}  // namespace rapsam
