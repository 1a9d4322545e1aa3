// How a call is split over the GPU and where its intermediates live in the workspace. Host-only
// and independent of the device, so that the workspace size is known before any launch (the
// TensorRT plugin asks for it at build time) and results do not depend on the GPU model.
#ifndef RAPSAM_CUDA_PLAN_H
#define RAPSAM_CUDA_PLAN_H

#include <cstddef>
#include <cstdint>

#include "../common/problem.h"

namespace rapsam::cuda {

// Each pooling block reduces a slice of about this many pixels (split-K); ~66 slices for a
// 1333x800 image, so that B * ceil(N/128) * ceil(C/128) * splits fills a large GPU once.
constexpr int64_t kPixelsPerSplitTarget = 1024;
constexpr int64_t kMaxSplits = 128;
// Slices start on multiples of both pooling stage widths (32 and 64 pixels), which keeps
// 16-byte loads aligned.
constexpr int64_t kSplitAlignment = 64;
constexpr size_t kBufferAlignment = 256;

struct Plan {
    int64_t splits;
    int64_t pixels_per_split;
    // Byte offsets of the fp32 buffers in the workspace.
    size_t partials;     // [splits, B*N, C] per-slice pooled sums
    size_t pooled;       // [B*N, C]
    size_t gate;         // [B*N, C] input_in * param_in
    size_t param_out;    // [B*N, C] before norm_out
    size_t input_out;    // [B*N, C] before input_norm_out
    size_t input_gate;   // [B*N, C] before input_norm_in
    size_t update_gate;  // [B*N, C] before norm_in
    size_t workspace_bytes;
};

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

inline Plan make_plan(const Dims& d) {
    Plan plan{};
    plan.splits = d.pixels <= kPixelsPerSplitTarget ? 1 : ceil_div(d.pixels, kPixelsPerSplitTarget);
    plan.splits = plan.splits < kMaxSplits ? plan.splits : kMaxSplits;
    plan.pixels_per_split = kSplitAlignment * ceil_div(ceil_div(d.pixels, plan.splits), kSplitAlignment);
    plan.pixels_per_split = plan.pixels_per_split > 0 ? plan.pixels_per_split : kSplitAlignment;

    const size_t matrix = static_cast<size_t>(d.rows() * d.channels) * sizeof(float);
    size_t offset = 0;
    const auto take = [&offset](size_t bytes) {
        const size_t start = offset;
        offset += (bytes + kBufferAlignment - 1) / kBufferAlignment * kBufferAlignment;
        return start;
    };
    plan.partials = take(static_cast<size_t>(plan.splits) * matrix);
    plan.pooled = take(matrix);
    plan.gate = take(matrix);
    plan.param_out = take(matrix);
    plan.input_out = take(matrix);
    plan.input_gate = take(matrix);
    plan.update_gate = take(matrix);
    plan.workspace_bytes = offset;
    return plan;
}

}  // namespace rapsam::cuda

#endif  // RAPSAM_CUDA_PLAN_H
