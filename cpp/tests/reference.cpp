#include "reference.h"

#include <cstdlib>
#include <fstream>

#include "check.h"

#ifndef RAPSAM_CPP_REFERENCE_DEFAULT
#error "define RAPSAM_CPP_REFERENCE_DEFAULT (the build tree's reference folder)"
#endif

namespace rapsam::test {

std::filesystem::path reference_dir() {
    const char* set = std::getenv("RAPSAM_CPP_REFERENCE");
    const std::filesystem::path dir = set && *set ? set : RAPSAM_CPP_REFERENCE_DEFAULT;
    if (!std::filesystem::is_regular_file(dir / "index.json")) {
        const std::string message =
            "no reference data in " + dir.string() +
            ": write it with `python tests/cpp_reference.py DIR` and set RAPSAM_CPP_REFERENCE=DIR "
            "(pytest tests/test_cpp.py does both)";
        if (set && *set) throw Failure(message);
        throw Skip(message);
    }
    return dir;
}

const nlohmann::json& reference() {
    static const nlohmann::json index = [] {
        std::ifstream file(reference_dir() / "index.json");
        return nlohmann::json::parse(file);
    }();
    return index;
}

detail::NpyArray npy(const std::string& relative) { return detail::read_npy(reference_dir() / relative); }

ModelOutputs::ModelOutputs(const nlohmann::json& c) {
    const detail::NpyArray class_array = npy(c["classes"]);
    const detail::NpyArray mask_array = npy(c["masks"]);
    class_values = class_array.values<float>();
    mask_values = mask_array.values<float>();
    classes = {class_values.data(), static_cast<int>(class_array.shape[0]), static_cast<int>(class_array.shape[1])};
    masks = {mask_values.data(), static_cast<int>(mask_array.shape[0]), static_cast<int>(mask_array.shape[1]),
             static_cast<int>(mask_array.shape[2])};
}

ImageMeta meta_from(const nlohmann::json& meta) {
    const auto size = [&](const char* key) { return Size{meta[key][0].get<int>(), meta[key][1].get<int>()}; };
    return {size("original"), size("resized"), size("padded")};
}

ResizePolicy policy_from(const nlohmann::json& policy) {
    return {{policy["scale"][0].get<int>(), policy["scale"][1].get<int>()}, policy["long_side"].get<int>()};
}

Mask mask_from(const std::vector<std::uint8_t>& pixels, int height, int width, std::size_t index) {
    const std::size_t plane = static_cast<std::size_t>(height) * width;
    const auto begin = pixels.begin() + static_cast<std::ptrdiff_t>(index * plane);
    return {height, width, std::vector<std::uint8_t>(begin, begin + static_cast<std::ptrdiff_t>(plane))};
}

}  // namespace rapsam::test
