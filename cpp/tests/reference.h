// The reference data that tests/cpp_reference.py writes with the Python runtime: index.json and
// .npy files under $RAPSAM_CPP_REFERENCE (or the build tree's cpp_reference/). Without it the
// tests that need it skip, unless RAPSAM_CPP_REFERENCE is set, which requires it.
#ifndef RAPSAM_TESTS_REFERENCE_H
#define RAPSAM_TESTS_REFERENCE_H

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "npy.h"
#include "rapsam/postprocess.h"
#include "rapsam/preprocess.h"
#include "rapsam/types.h"

namespace rapsam::test {

std::filesystem::path reference_dir();
const nlohmann::json& reference();  // index.json
detail::NpyArray npy(const std::string& relative);

ImageMeta meta_from(const nlohmann::json& meta);
ResizePolicy policy_from(const nlohmann::json& policy);
Mask mask_from(const std::vector<std::uint8_t>& pixels, int height, int width, std::size_t index = 0);

// One panoptic case's model outputs (its "classes" and "masks" arrays) and the views of them
// that post-processing takes.
struct ModelOutputs {
    explicit ModelOutputs(const nlohmann::json& c);
    std::vector<float> class_values;
    std::vector<float> mask_values;
    ClassLogitsView classes;
    LogitsView masks;
};

}  // namespace rapsam::test

#endif  // RAPSAM_TESTS_REFERENCE_H
