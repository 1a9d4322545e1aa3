#include "last_error.h"

namespace rapsam {
namespace {

std::string& last_error_text() {
    thread_local std::string text;
    return text;
}

}  // namespace

rapsam_status fail(rapsam_status status, const std::string& message) {
    last_error_text() = message;
    return status;
}

void clear_last_error() { last_error_text().clear(); }

}  // namespace rapsam

extern "C" const char* rapsam_last_error(void) { return rapsam::last_error_text().c_str(); }
