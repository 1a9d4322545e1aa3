// COCO run-length encoding of masks, as pycocotools' mask.encode writes it (counts of
// alternating 0 and 1 runs in column-major order, starting with 0s, compressed to a string).
#ifndef RAPSAM_DEMO_RLE_H
#define RAPSAM_DEMO_RLE_H

#include <string>

#include "rapsam/types.h"

namespace rapsam::demo {

std::string rle_counts(const Mask& mask);

}  // namespace rapsam::demo

#endif  // RAPSAM_DEMO_RLE_H
