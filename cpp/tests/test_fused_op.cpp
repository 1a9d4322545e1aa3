// The fused op's CPU reference in librapsam_ops (plugins/) against PyTorch's
// KernelUpdator(mask_pool(...)) in fp32, through its C ABI as C++ callers use it. Tolerance as
// tests/test_fused_op.py: the reference sums in double, PyTorch in float.
#include <cmath>
#include <cstring>

#include "check.h"
#include "rapsam/mask_pool_dynconv.h"
#include "reference.h"

namespace {
using nlohmann::json;
using rapsam::test::npy;
using rapsam::test::reference;
}  // namespace

TEST(fused_op, cpu_reference_equals_pytorch_fp32) {
    for (const json& c : reference()["fused_op"]) {
        const std::string name = c["name"];
        const std::vector<std::int64_t> dims = c["shape"];
        const rapsam_mpdc_shape shape{dims[0], dims[1], dims[2], dims[3], dims[4]};
        std::vector<std::vector<float>> weights;
        for (const json& file : c["weights"]) weights.push_back(npy(file).values<float>());
        const float* pointers[RAPSAM_FUSED_OP_NUM_WEIGHTS];
        for (int i = 0; i < RAPSAM_FUSED_OP_NUM_WEIGHTS; ++i) pointers[i] = weights.at(i).data();
        // The struct is the 20 pointers in the contract's order (mask_pool_dynconv.h).
        static_assert(sizeof(rapsam_kernel_updator_weights) == sizeof(pointers));
        rapsam_kernel_updator_weights updator{};
        std::memcpy(&updator, pointers, sizeof(pointers));

        const std::vector<float> logits = npy(c["mask_logits"]).values<float>();
        const std::vector<float> features = npy(c["features"]).values<float>();
        const std::vector<float> kernels = npy(c["kernels"]).values<float>();
        const std::vector<float> expected = npy(c["expected"]).values<float>();
        std::vector<float> out(expected.size());
        const rapsam_status status =
            rapsam_mask_pool_dynconv_cpu(&shape, RAPSAM_DTYPE_FLOAT32, logits.data(), features.data(), kernels.data(),
                                         &updator, c["eps"].get<float>(), out.data());
        CHECK_MSG(status == RAPSAM_OK, name + ": " + rapsam_last_error());
        for (std::size_t i = 0; i < out.size(); ++i) {
            CHECK_MSG(std::abs(out[i] - expected[i]) <= 1e-5f + 1e-5f * std::abs(expected[i]),
                      name + " at " + std::to_string(i));
        }
    }
}

TEST(fused_op, bad_shapes_are_refused) {
    const rapsam_mpdc_shape shape{1, 1, 0, 4, 4};
    float out = 0.0f;
    rapsam_kernel_updator_weights updator{};
    const rapsam_status status =
        rapsam_mask_pool_dynconv_cpu(&shape, RAPSAM_DTYPE_FLOAT32, &out, &out, &out, &updator, 1e-5f, &out);
    CHECK(status == RAPSAM_ERROR_INVALID_ARGUMENT && std::strlen(rapsam_last_error()) > 0);
}
