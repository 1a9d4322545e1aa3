// Reading .npy files (numpy's format, version 1-3) of little-endian float32 in C order: the
// export's object_queries.npy, and the tests' reference data written by numpy.
#ifndef RAPSAM_SRC_NPY_H
#define RAPSAM_SRC_NPY_H

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace rapsam::detail {

struct NpyArray {
    std::string dtype;  // numpy's descr: <f4, <i4, <i8, |u1, |b1
    std::vector<std::int64_t> shape;
    std::vector<char> bytes;

    template <typename T>
    std::vector<T> values() const;
};

// rapsam::Error for a file that is missing, not .npy, Fortran-ordered or big-endian.
NpyArray read_npy(const std::filesystem::path& path);

// The same from a file's bytes (`name` says where they came from in errors).
NpyArray parse_npy(const std::vector<char>& data, const std::string& name);

// The array as float32, after checking its dtype is <f4 and its shape is `shape`.
std::vector<float> read_npy_float32(const std::filesystem::path& path, const std::vector<std::int64_t>& shape);

}  // namespace rapsam::detail

#endif  // RAPSAM_SRC_NPY_H
