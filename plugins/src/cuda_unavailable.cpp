// The CUDA entry points of a library built without nvcc (RAPSAM_WITH_CUDA=OFF): they exist, so
// that callers can link and load it, and say how to get the kernels.
#include "common/last_error.h"
#include "rapsam/mask_pool_dynconv.h"

namespace {

constexpr const char* kNoCuda =
    "librapsam_ops was built without CUDA: install the CUDA toolkit (nvcc) and rebuild with "
    "-DRAPSAM_WITH_CUDA=ON";

}  // namespace

extern "C" int rapsam_cuda_available(void) { return 0; }

extern "C" size_t rapsam_mask_pool_dynconv_cuda_workspace_size(const rapsam_mpdc_shape*) {
    rapsam::fail(RAPSAM_ERROR_UNSUPPORTED, kNoCuda);
    return 0;
}

extern "C" rapsam_status rapsam_mask_pool_dynconv_cuda(const rapsam_mpdc_shape*, rapsam_dtype, const void*, const void*,
                                                       const void*, const rapsam_kernel_updator_weights*, float, void*,
                                                       void*, size_t, rapsam_cuda_stream) {
    return rapsam::fail(RAPSAM_ERROR_UNSUPPORTED, kNoCuda);
}
