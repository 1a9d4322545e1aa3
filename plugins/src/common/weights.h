// The KernelUpdator's 20 tensors as a struct (the C ABI) and as a list in contract order (the
// ONNX node's inputs 3..22).
#ifndef RAPSAM_COMMON_WEIGHTS_H
#define RAPSAM_COMMON_WEIGHTS_H

#include <array>

#include "rapsam/mask_pool_dynconv.h"

namespace rapsam {

using WeightList = std::array<const float*, RAPSAM_FUSED_OP_NUM_WEIGHTS>;

inline WeightList weight_list(const rapsam_kernel_updator_weights& w) {
    return {w.dynamic_layer_weight,  w.dynamic_layer_bias, w.input_layer_weight,   w.input_layer_bias,
            w.input_gate_weight,     w.input_gate_bias,    w.update_gate_weight,   w.update_gate_bias,
            w.norm_in_weight,        w.norm_in_bias,       w.norm_out_weight,      w.norm_out_bias,
            w.input_norm_in_weight,  w.input_norm_in_bias, w.input_norm_out_weight, w.input_norm_out_bias,
            w.fc_layer_weight,       w.fc_layer_bias,      w.fc_norm_weight,       w.fc_norm_bias};
}

inline rapsam_kernel_updator_weights weights_from_list(const WeightList& t) {
    return {t[0],  t[1],  t[2],  t[3],  t[4],  t[5],  t[6],  t[7],  t[8],  t[9],
            t[10], t[11], t[12], t[13], t[14], t[15], t[16], t[17], t[18], t[19]};
}

}  // namespace rapsam

#endif  // RAPSAM_COMMON_WEIGHTS_H
