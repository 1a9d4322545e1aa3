// The exceptions of librapsam: what is wrong, and what to do about it (as the Python runtime's
// RapSamError, whose text what() reproduces: "problem\n  fix: fix").
#ifndef RAPSAM_ERROR_H
#define RAPSAM_ERROR_H

#include <stdexcept>
#include <string>

#include "rapsam/export.h"

namespace rapsam {

class RAPSAM_EXPORT Error : public std::runtime_error {
public:
    explicit Error(const std::string& problem, const std::string& fix = "");
    ~Error() override;

    const std::string& problem() const noexcept { return problem_; }
    const std::string& fix() const noexcept { return fix_; }

private:
    std::string problem_;
    std::string fix_;
};

// manifest.json missing, malformed, of another format version, or not this library's contract.
class RAPSAM_EXPORT ManifestError : public Error {
public:
    using Error::Error;
    ~ManifestError() override;
};

// An engine file that is missing, damaged, or built for another TensorRT, GPU, plugin or graph.
class RAPSAM_EXPORT EngineFileError : public Error {
public:
    using Error::Error;
    ~EngineFileError() override;
};

}  // namespace rapsam

#endif  // RAPSAM_ERROR_H
