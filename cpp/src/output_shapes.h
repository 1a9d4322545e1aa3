// Each output's shape of a contract graph from its inputs' shapes, so that outputs can be
// allocated before an engine runs (as the Python runtime's backend.output_shapes).
#ifndef RAPSAM_SRC_OUTPUT_SHAPES_H
#define RAPSAM_SRC_OUTPUT_SHAPES_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rapsam/contract.h"

namespace rapsam::detail {

using Shape = std::vector<std::int64_t>;

// Symbols take their sizes from the inputs; Hf, Wf = H/4, W/4 and K1 = classes + 1.
std::map<std::string, Shape> output_shapes(const contract::GraphSpec& spec, const std::map<std::string, Shape>& inputs,
                                           int num_classes);

}  // namespace rapsam::detail

#endif  // RAPSAM_SRC_OUTPUT_SHAPES_H
