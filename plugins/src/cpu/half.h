// IEEE fp16 <-> fp32 on the host, bit-exact and independent of compiler half-float support.
#ifndef RAPSAM_CPU_HALF_H
#define RAPSAM_CPU_HALF_H

#include <cmath>
#include <cstdint>
#include <cstring>

namespace rapsam::cpu {

inline float half_to_float(uint16_t h) {
    const float sign = (h & 0x8000u) ? -1.0f : 1.0f;
    const int exponent = (h >> 10) & 0x1f;
    const int mantissa = h & 0x3ff;
    if (exponent == 0x1f) {
        return mantissa == 0 ? sign * INFINITY : NAN;
    }
    if (exponent == 0) {
        return sign * std::ldexp(static_cast<float>(mantissa), -24);
    }
    return sign * std::ldexp(static_cast<float>(mantissa + 0x400), exponent - 25);
}

// Round to nearest, ties to even, as CUDA's __float2half_rn and PyTorch's .half().
inline uint16_t float_to_half(float value) {
    uint32_t bits = 0;
    std::memcpy(&bits, &value, sizeof bits);
    const auto sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
    const uint32_t magnitude = bits & 0x7fffffffu;
    if (magnitude > 0x7f800000u) {
        return static_cast<uint16_t>(sign | 0x7e00u);
    }
    if (magnitude >= 0x477ff000u) {  // >= 65520 rounds to infinity
        return static_cast<uint16_t>(sign | 0x7c00u);
    }
    if (magnitude < 0x38800000u) {  // below 2^-14: a multiple of the subnormal step 2^-24
        float scaled = 0.0f;
        std::memcpy(&scaled, &magnitude, sizeof scaled);
        return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(scaled * 16777216.0f)));
    }
    const uint32_t rounded = magnitude + 0xfffu + ((magnitude >> 13) & 1u);
    return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
}

}  // namespace rapsam::cpu

#endif  // RAPSAM_CPU_HALF_H
