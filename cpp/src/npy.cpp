#include "npy.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "rapsam/error.h"

namespace rapsam::detail {

namespace {

[[noreturn]] void bad(const std::string& name, const std::string& problem) {
    throw Error(name + " " + problem, "write it with numpy.save (little-endian, C order)");
}

std::size_t item_size(const std::string& dtype) {
    if (dtype == "<f4" || dtype == "<i4") return 4;
    if (dtype == "<f8" || dtype == "<i8") return 8;
    if (dtype == "|u1" || dtype == "|b1") return 1;
    return 0;
}

// The sizes in numpy's shape tuple, "(2, 3)", "(4,)" or "()", from the text between the parentheses.
std::vector<std::int64_t> dimensions(const std::string& text, const std::string& name) {
    std::vector<std::int64_t> dims;
    std::stringstream items(text);
    std::string item;
    while (std::getline(items, item, ',')) {
        const std::size_t first = item.find_first_not_of(' ');
        if (first == std::string::npos) continue;
        const std::string digits = item.substr(first, item.find_last_not_of(' ') + 1 - first);
        // At most 18 digits: every such number fits in int64.
        if (digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos) {
            bad(name, "has a shape that is not a tuple of sizes: (" + text + ")");
        }
        dims.push_back(std::stoll(digits));
    }
    return dims;
}

}  // namespace

template <typename T>
std::vector<T> NpyArray::values() const {
    std::vector<T> out(bytes.size() / sizeof(T));
    // Not memcpy: an empty array's data() may be null, which memcpy must not be given.
    std::copy_n(bytes.data(), out.size() * sizeof(T), reinterpret_cast<char*>(out.data()));
    return out;
}

template std::vector<float> NpyArray::values<float>() const;
template std::vector<std::int32_t> NpyArray::values<std::int32_t>() const;
template std::vector<std::uint8_t> NpyArray::values<std::uint8_t>() const;

NpyArray read_npy(const std::filesystem::path& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw Error("cannot read " + path.string(), "check that it exists");
    const std::vector<char> data((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    return parse_npy(data, path.string());
}

NpyArray parse_npy(const std::vector<char>& data, const std::string& name) {
    if (data.size() < 10 || std::memcmp(data.data(), "\x93NUMPY", 6) != 0) bad(name, "is not a .npy file");
    const int major = static_cast<unsigned char>(data[6]);
    if (major < 1 || major > 3) bad(name, "is of .npy format version " + std::to_string(major) + ", not 1, 2 or 3");
    const std::size_t length_bytes = major == 1 ? 2 : 4;
    if (data.size() < 8 + length_bytes) bad(name, "is truncated");
    std::size_t header_length = 0;
    for (std::size_t i = 0; i < length_bytes; ++i) {
        header_length |= std::size_t{static_cast<unsigned char>(data[8 + i])} << (8 * i);
    }
    const std::size_t start = 8 + length_bytes + header_length;
    if (data.size() < start) bad(name, "is truncated");
    const std::string header(data.begin() + static_cast<std::ptrdiff_t>(8 + length_bytes),
                             data.begin() + static_cast<std::ptrdiff_t>(start));

    // The header is a Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
    NpyArray array;
    const std::size_t descr = header.find("'descr':");
    const std::size_t open = descr == std::string::npos ? descr : header.find('\'', descr + 8);
    const std::size_t close = open == std::string::npos ? open : header.find('\'', open + 1);
    if (close == std::string::npos) bad(name, "has no dtype");
    array.dtype = header.substr(open + 1, close - open - 1);
    if (header.find("'fortran_order': False") == std::string::npos) bad(name, "is not in C order");
    const std::size_t shape = header.find("'shape': (");
    const std::size_t end = shape == std::string::npos ? shape : header.find(')', shape);
    if (end == std::string::npos) bad(name, "has no shape");
    array.shape = dimensions(header.substr(shape + 10, end - shape - 10), name);
    const std::size_t size = item_size(array.dtype);
    if (size == 0) bad(name, "has dtype " + array.dtype + ", which is not read here");
    // The data's size in bytes, refused where it would not fit in memory (nor in size_t).
    std::size_t bytes = size;
    for (const std::int64_t d : array.shape) {
        const auto dim = static_cast<std::size_t>(d);
        if (dim != 0 && bytes > static_cast<std::size_t>(PTRDIFF_MAX) / dim) bad(name, "has a shape too large");
        bytes *= dim;
    }
    if (data.size() - start != bytes) bad(name, "is truncated (its data does not match its shape)");
    array.bytes.assign(data.begin() + static_cast<std::ptrdiff_t>(start), data.end());
    return array;
}

std::vector<float> read_npy_float32(const std::filesystem::path& path, const std::vector<std::int64_t>& shape) {
    const NpyArray array = read_npy(path);
    if (array.dtype != "<f4" || array.shape != shape) {
        std::string wanted;
        for (const std::int64_t d : shape) wanted += (wanted.empty() ? "" : ", ") + std::to_string(d);
        bad(path.string(), "is not a float32 array of shape [" + wanted + "]");
    }
    return array.values<float>();
}

}  // namespace rapsam::detail
