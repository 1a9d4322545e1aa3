/* librapsam's C entry points, for callers that cannot use its C++ API (the Python runtime loads
 * them with ctypes). */
#ifndef RAPSAM_C_API_H
#define RAPSAM_C_API_H

#include <stddef.h>
#include <stdint.h>

#include "rapsam/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever an entry point's arguments change. */
#define RAPSAM_C_API_VERSION 1
RAPSAM_EXPORT int rapsam_c_api_version(void);

/* Post-processing's per-pixel half for one image (rapsam::segment does the same, then builds
 * its results): each listed query's stride-4 mask logits, mask_logits [count, height, width],
 * upsampled to the original size H x W once, feeding
 *   - the panoptic contest over the `kept` queries panoptic_queries (ascending) with their
 *     scores: owner [H*W] (index into panoptic_queries), owner_prob [H*W], original_area [kept];
 *   - the `unique` instance queries: binary[j] -> [H*W] (logit > 0), scores [unique] (mean
 *     probability inside), rows [unique*H], cols [unique*W] (0 or 1).
 * sizes: original H, W, resized height, width, padded height, width. threads <= 0: every core.
 * Returns 0, or -1 with a message in error[error_size]. */
RAPSAM_EXPORT int rapsam_query_masks(const float* mask_logits, int count, int height, int width, const int* sizes,
                                     const int* panoptic_queries, const float* panoptic_scores, int kept,
                                     const int* instance_queries, int unique, int threads, int64_t* owner,
                                     float* owner_prob, int64_t* original_area, uint8_t* const* binary, float* scores,
                                     uint8_t* rows, uint8_t* cols, char* error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif /* RAPSAM_C_API_H */
