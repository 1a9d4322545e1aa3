// Overlays as the Python runtime's visualize.overlay: each mask blended at 50% in a distinct,
// stable colour, outlined, and labelled at the centre of its largest region.
#ifndef RAPSAM_DEMO_OVERLAY_H
#define RAPSAM_DEMO_OVERLAY_H

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "image_io.h"
#include "rapsam/types.h"

namespace rapsam::demo {

// RGB colour of `index` (golden-ratio hues), as visualize.colour.
std::array<std::uint8_t, 3> colour(int index);

// `labels[i]` ("" for none) and `colour_keys[i]` belong to `masks[i]`.
RgbImage overlay(const RgbImage& image, const std::vector<const Mask*>& masks, const std::vector<std::string>& labels,
                 const std::vector<int>& colour_keys);

}  // namespace rapsam::demo

#endif  // RAPSAM_DEMO_OVERLAY_H
