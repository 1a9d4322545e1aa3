// The C entry points (rapsam/c_api.h): arguments checked, exceptions turned into messages.
#include "rapsam/c_api.h"

#include <cstdio>
#include <exception>
#include <string>

#include "query_masks.h"

namespace {

int fail(const std::string& message, char* error, std::size_t error_size) {
    if (error != nullptr && error_size > 0) std::snprintf(error, error_size, "%s", message.c_str());
    return -1;
}

}  // namespace

extern "C" {

int rapsam_c_api_version(void) { return RAPSAM_C_API_VERSION; }

int rapsam_query_masks(const float* mask_logits, int count, int height, int width, const int* sizes,
                       const int* panoptic_queries, const float* panoptic_scores, int kept,
                       const int* instance_queries, int unique, int threads, int64_t* owner, float* owner_prob,
                       int64_t* original_area, uint8_t* const* binary, float* scores, uint8_t* rows, uint8_t* cols,
                       char* error, size_t error_size) {
    if (mask_logits == nullptr || sizes == nullptr || count < 0 || height <= 0 || width <= 0 || kept < 0 ||
        unique < 0) {
        return fail("rapsam_query_masks: invalid mask logits, sizes or counts", error, error_size);
    }
    for (int i = 0; i < 6; ++i) {
        if (sizes[i] <= 0) return fail("rapsam_query_masks: image sizes must be positive", error, error_size);
    }
    if ((kept > 0 && (panoptic_queries == nullptr || panoptic_scores == nullptr || owner == nullptr ||
                      owner_prob == nullptr || original_area == nullptr)) ||
        (unique > 0 &&
         (instance_queries == nullptr || binary == nullptr || scores == nullptr || rows == nullptr || cols == nullptr))) {
        return fail("rapsam_query_masks: a result with queries needs all of its outputs", error, error_size);
    }
    try {
        const rapsam::ImageMeta meta{{sizes[0], sizes[1]}, {sizes[2], sizes[3]}, {sizes[4], sizes[5]}};
        rapsam::detail::QueryMaskJobs jobs;
        if (kept > 0) {
            jobs.panoptic_queries.assign(panoptic_queries, panoptic_queries + kept);
            jobs.panoptic_scores.assign(panoptic_scores, panoptic_scores + kept);
        }
        if (unique > 0) jobs.instance_queries.assign(instance_queries, instance_queries + unique);
        rapsam::detail::query_masks({mask_logits, count, height, width}, meta, jobs,
                                    {owner, owner_prob, original_area, binary, scores, rows, cols}, threads);
    } catch (const std::exception& e) {
        return fail(std::string("rapsam_query_masks: ") + e.what(), error, error_size);
    }
    return 0;
}

}  // extern "C"
