// The calling thread's last error text behind rapsam_last_error().
#ifndef RAPSAM_COMMON_LAST_ERROR_H
#define RAPSAM_COMMON_LAST_ERROR_H

#include <string>

#include "rapsam/mask_pool_dynconv.h"

namespace rapsam {

// Records `message` as the thread's last error and returns `status`, so that callers can write
// `return fail(RAPSAM_ERROR_..., "...")`.
rapsam_status fail(rapsam_status status, const std::string& message);

// Forgets the previous error at the start of every entry point.
void clear_last_error();

}  // namespace rapsam

#endif  // RAPSAM_COMMON_LAST_ERROR_H
