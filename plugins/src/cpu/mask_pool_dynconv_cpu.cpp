// CPU reference of RapSamMaskPoolDynConv: the definition written out loop by loop, accumulating
// every sum in double so that it is at least as exact as any fp32 implementation it checks.
#include <cmath>
#include <cstdint>
#include <new>
#include <vector>

#include "../common/last_error.h"
#include "../common/problem.h"
#include "half.h"
#include "rapsam/mask_pool_dynconv.h"

namespace rapsam::cpu {
namespace {

using Matrix = std::vector<double>;  // row-major

double load(const float* data, int64_t i) { return data[i]; }
double load(const uint16_t* data, int64_t i) { return half_to_float(data[i]); }

void store(float* data, int64_t i, double value) { data[i] = static_cast<float>(value); }
void store(uint16_t* data, int64_t i, double value) { data[i] = float_to_half(static_cast<float>(value)); }

// pooled [B*N, C]: the sum of each channel over the pixels where the query's logit is > 0.
template <typename T>
Matrix mask_pool(const Dims& d, const T* mask_logits, const T* features) {
    Matrix pooled(d.rows() * d.channels, 0.0);
    std::vector<int64_t> inside;
    for (int64_t row = 0; row < d.rows(); ++row) {
        const int64_t b = row / d.queries;
        inside.clear();
        for (int64_t p = 0; p < d.pixels; ++p) {
            if (load(mask_logits, row * d.pixels + p) > 0.0) {
                inside.push_back(p);
            }
        }
        for (int64_t c = 0; c < d.channels; ++c) {
            const int64_t channel_start = (b * d.channels + c) * d.pixels;
            double sum = 0.0;
            for (const int64_t p : inside) {
                sum += load(features, channel_start + p);
            }
            pooled[row * d.channels + c] = sum;
        }
    }
    return pooled;
}

template <typename T>
Matrix to_matrix(const T* data, int64_t count) {
    Matrix m(count);
    for (int64_t i = 0; i < count; ++i) {
        m[i] = load(data, i);
    }
    return m;
}

// x [rows, in] @ weight[first_out : first_out + out, :]^T + bias[first_out : ...] -> [rows, out]
Matrix linear(const Matrix& x, int64_t rows, int64_t in, const float* weight, const float* bias, int64_t first_out,
              int64_t out) {
    Matrix y(rows * out);
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t j = 0; j < out; ++j) {
            const float* w = weight + (first_out + j) * in;
            double sum = bias[first_out + j];
            for (int64_t k = 0; k < in; ++k) {
                sum += x[r * in + k] * w[k];
            }
            y[r * out + j] = sum;
        }
    }
    return y;
}

// LayerNorm over each row: biased variance, eps inside the square root, affine.
void layer_norm(Matrix& x, int64_t rows, int64_t cols, const float* gamma, const float* beta, double eps) {
    for (int64_t r = 0; r < rows; ++r) {
        double* v = x.data() + r * cols;
        double mean = 0.0;
        for (int64_t k = 0; k < cols; ++k) {
            mean += v[k];
        }
        mean /= static_cast<double>(cols);
        double variance = 0.0;
        for (int64_t k = 0; k < cols; ++k) {
            variance += (v[k] - mean) * (v[k] - mean);
        }
        const double inv_std = 1.0 / std::sqrt(variance / static_cast<double>(cols) + eps);
        for (int64_t k = 0; k < cols; ++k) {
            v[k] = (v[k] - mean) * inv_std * gamma[k] + beta[k];
        }
    }
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// The official KernelUpdator(update_feature = pooled, input_feature = kernels).
Matrix kernel_updator(const Matrix& pooled, const Matrix& kernels, int64_t rows, int64_t c,
                      const rapsam_kernel_updator_weights& w, double eps) {
    const Matrix param_in = linear(pooled, rows, c, w.dynamic_layer_weight, w.dynamic_layer_bias, 0, c);
    Matrix param_out = linear(pooled, rows, c, w.dynamic_layer_weight, w.dynamic_layer_bias, c, c);
    const Matrix input_in = linear(kernels, rows, c, w.input_layer_weight, w.input_layer_bias, 0, c);
    Matrix input_out = linear(kernels, rows, c, w.input_layer_weight, w.input_layer_bias, c, c);

    Matrix gate(rows * c);
    for (int64_t i = 0; i < rows * c; ++i) {
        gate[i] = input_in[i] * param_in[i];
    }
    Matrix input_gate = linear(gate, rows, c, w.input_gate_weight, w.input_gate_bias, 0, c);
    Matrix update_gate = linear(gate, rows, c, w.update_gate_weight, w.update_gate_bias, 0, c);
    layer_norm(input_gate, rows, c, w.input_norm_in_weight, w.input_norm_in_bias, eps);
    layer_norm(update_gate, rows, c, w.norm_in_weight, w.norm_in_bias, eps);
    layer_norm(param_out, rows, c, w.norm_out_weight, w.norm_out_bias, eps);
    layer_norm(input_out, rows, c, w.input_norm_out_weight, w.input_norm_out_bias, eps);

    Matrix mixed(rows * c);
    for (int64_t i = 0; i < rows * c; ++i) {
        mixed[i] = sigmoid(update_gate[i]) * param_out[i] + sigmoid(input_gate[i]) * input_out[i];
    }
    Matrix out = linear(mixed, rows, c, w.fc_layer_weight, w.fc_layer_bias, 0, c);
    layer_norm(out, rows, c, w.fc_norm_weight, w.fc_norm_bias, eps);
    for (double& v : out) {
        v = v > 0.0 ? v : 0.0;
    }
    return out;
}

template <typename T>
void run(const Problem& p) {
    const Dims& d = p.dims;
    const Matrix pooled =
        mask_pool(d, static_cast<const T*>(p.mask_logits), static_cast<const T*>(p.features));
    const Matrix kernels = to_matrix(static_cast<const T*>(p.kernels), d.rows() * d.channels);
    const Matrix out = kernel_updator(pooled, kernels, d.rows(), d.channels, p.weights, p.eps);
    T* dst = static_cast<T*>(p.out);
    for (int64_t i = 0; i < d.rows() * d.channels; ++i) {
        store(dst, i, out[i]);
    }
}

}  // namespace
}  // namespace rapsam::cpu

extern "C" rapsam_status rapsam_mask_pool_dynconv_cpu(const rapsam_mpdc_shape* shape, rapsam_dtype dtype,
                                                      const void* mask_logits, const void* features,
                                                      const void* kernels,
                                                      const rapsam_kernel_updator_weights* weights, float eps,
                                                      void* out) {
    rapsam::clear_last_error();
    rapsam::Problem problem{};
    const rapsam_status status =
        rapsam::make_problem(shape, dtype, mask_logits, features, kernels, weights, eps, out, &problem);
    if (status != RAPSAM_OK) {
        return status;
    }
    try {
        if (dtype == RAPSAM_DTYPE_FLOAT32) {
            rapsam::cpu::run<float>(problem);
        } else {
            rapsam::cpu::run<uint16_t>(problem);
        }
    } catch (const std::bad_alloc&) {
        return rapsam::fail(RAPSAM_ERROR_INVALID_ARGUMENT, "out of host memory");
    }
    return RAPSAM_OK;
}
