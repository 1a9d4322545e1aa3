#include "output_shapes.h"

namespace rapsam::detail {

std::map<std::string, Shape> output_shapes(const contract::GraphSpec& spec, const std::map<std::string, Shape>& inputs,
                                           int num_classes) {
    std::map<std::string, std::int64_t> sizes{{"K1", num_classes + 1}};
    for (const contract::TensorSpec& tensor : spec.inputs) {
        const Shape& shape = inputs.at(tensor.name);
        for (std::size_t d = 0; d < tensor.shape.size(); ++d) {
            if (!tensor.shape[d].symbol.empty()) sizes[tensor.shape[d].symbol] = shape.at(d);
        }
    }
    if (sizes.count("H")) {
        sizes["Hf"] = sizes["H"] / contract::kFeatureStride;
        sizes["Wf"] = sizes["W"] / contract::kFeatureStride;
    }
    std::map<std::string, Shape> outputs;
    for (const contract::TensorSpec& tensor : spec.outputs) {
        Shape shape;
        for (const contract::Dim& dim : tensor.shape)
            shape.push_back(dim.symbol.empty() ? dim.size : sizes.at(dim.symbol));
        outputs[tensor.name] = shape;
    }
    return outputs;
}

}  // namespace rapsam::detail
