// Element-wise score functions shared by the panoptic merge, the instances and the prompts, in
// float32 as the Python runtime computes them (small differences in the last bits from
// PyTorch's vectorised exp remain; the tests bound them).
#ifndef RAPSAM_SRC_SCORES_H
#define RAPSAM_SRC_SCORES_H

#include <cmath>
#include <vector>

namespace rapsam::detail {

// torch.sigmoid: 1 / (1 + exp(-x)).
inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// Softmax of one row of class logits, summed in double and rounded once to float32.
std::vector<float> softmax(const float* logits, int count);

}  // namespace rapsam::detail

#endif  // RAPSAM_SRC_SCORES_H
