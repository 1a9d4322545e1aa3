// SHA-256 (FIPS 180-4), hex digests as Python's hashlib.sha256().hexdigest(): engine sidecars
// record the plan's and the plugin library's, and checking them needs no crypto library.
#ifndef RAPSAM_SRC_SHA256_H
#define RAPSAM_SRC_SHA256_H

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace rapsam::detail {

class Sha256 {
public:
    Sha256();
    void update(const void* data, std::size_t size);
    std::string hexdigest();  // finishes the hash

private:
    void block(const std::uint8_t* data);

    std::array<std::uint32_t, 8> state_;
    std::array<std::uint8_t, 64> buffer_{};
    std::size_t buffered_ = 0;
    std::uint64_t length_ = 0;
};

std::string sha256(const void* data, std::size_t size);

// The file's digest; rapsam::Error if it cannot be read.
std::string sha256_file(const std::filesystem::path& path);

}  // namespace rapsam::detail

#endif  // RAPSAM_SRC_SHA256_H
