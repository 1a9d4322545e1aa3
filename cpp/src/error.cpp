#include "rapsam/error.h"

namespace rapsam {

namespace {
std::string message(const std::string& problem, const std::string& fix) {
    return fix.empty() ? problem : problem + "\n  fix: " + fix;
}
}  // namespace

Error::Error(const std::string& problem, const std::string& fix)
    : std::runtime_error(message(problem, fix)), problem_(problem), fix_(fix) {}

// Out-of-line destructors anchor each class's vtable and type_info in librapsam, so that a
// catch in the application matches what the library throws.
Error::~Error() = default;
ManifestError::~ManifestError() = default;
EngineFileError::~EngineFileError() = default;

}  // namespace rapsam
