#include "rle.h"

#include <cstdint>
#include <vector>

namespace rapsam::demo {

std::string rle_counts(const Mask& mask) {
    std::vector<std::int64_t> counts;
    std::uint8_t previous = 0;
    std::int64_t run = 0;
    for (int x = 0; x < mask.width; ++x) {
        for (int y = 0; y < mask.height; ++y) {
            const std::uint8_t value = mask.at(y, x) ? 1 : 0;
            if (value != previous) {
                counts.push_back(run);
                run = 0;
                previous = value;
            }
            ++run;
        }
    }
    counts.push_back(run);

    // pycocotools' rleToString: each count (after the first two, the difference from the count
    // two before) in 5-bit groups, least significant first, 0x20 marking that more follow.
    std::string text;
    for (std::size_t i = 0; i < counts.size(); ++i) {
        std::int64_t value = counts[i] - (i > 2 ? counts[i - 2] : 0);
        bool more = true;
        while (more) {
            std::int64_t group = value & 0x1f;
            value >>= 5;  // arithmetic shift, as the C code's long
            more = (group & 0x10) ? value != -1 : value != 0;
            if (more) group |= 0x20;
            text += static_cast<char>(group + 48);
        }
    }
    return text;
}

}  // namespace rapsam::demo
