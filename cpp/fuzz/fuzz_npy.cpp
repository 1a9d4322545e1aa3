// libFuzzer target: .npy files (the export's object_queries.npy), parsed and their values read.
// A rapsam::Error is the answer to bad input; anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "npy.h"
#include "rapsam/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::vector<char> bytes(data, data + size);
    try {
        const rapsam::detail::NpyArray array = rapsam::detail::parse_npy(bytes, "object_queries.npy");
        if (array.dtype == "<f4") array.values<float>();
        if (array.dtype == "<i4") array.values<std::int32_t>();
        if (array.dtype == "|u1" || array.dtype == "|b1") array.values<std::uint8_t>();
    } catch (const rapsam::Error&) {
    }
    return 0;
}
