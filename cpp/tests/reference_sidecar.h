// The engine expectation that tests/cpp_reference.py's SIDECAR was built for, shared by the
// regression tests and the sidecar fuzz target so that a well-formed sidecar passes every check.
#ifndef RAPSAM_TESTS_REFERENCE_SIDECAR_H
#define RAPSAM_TESTS_REFERENCE_SIDECAR_H

#include <string>

#include "rapsam/engine_file.h"

namespace rapsam::test {

// 32 times `pair`: the reference's hex digests ("ab" * 32).
inline std::string digest(const char* pair) {
    std::string text;
    for (int i = 0; i < 32; ++i) text += pair;
    return text;
}

inline EngineExpectation reference_expectation() {
    EngineExpectation expect;
    expect.tensorrt = "10.13.0";
    expect.gpu_name = "NVIDIA H100";
    expect.compute_capability = "sm_90";
    expect.precision = "fp16";
    expect.variant = "plugin";
    expect.graph = "decoder";
    expect.onnx_sha256 = digest("ab");
    expect.plugin_sha256 = digest("cd");
    return expect;
}

}  // namespace rapsam::test

#endif
