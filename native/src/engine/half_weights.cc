#include "engine/half_weights.h"

#include <cstring>

#include "kiln/kernels/cast.h"

namespace kiln {

void expandHalfWeights(Network& network) {
  std::vector<LayerDesc> kept;
  kept.reserve(network.layers.size());
  for (LayerDesc& layer : network.layers) {
    const bool castToFloat = layer.op == "Cast" && layer.attrInt("to", 0) == 1 &&
                             layer.inputs.size() == 1 && layer.outputs.size() == 1 &&
                             layer.guards.empty() && layer.inputs[0] >= 0;
    if (castToFloat) {
      const TensorDesc& in = network.tensors[layer.inputs[0]];
      TensorDesc& out = network.tensors[layer.outputs[0]];
      if (in.constant >= 0 && in.dtype == DataType::kFloat16 && out.constant < 0) {
        const std::vector<uint8_t>& half = network.weights[in.constant];
        const size_t n = half.size() / 2;
        std::vector<uint8_t> full(n * 4);
        kernels::cast(half.data(), DataType::kFloat16, full.data(), DataType::kFloat32, n);
        out.constant = static_cast<int32_t>(network.weights.size());
        out.dtype = DataType::kFloat32;
        out.shape = in.shape;
        out.halfStored = true;
        network.weights.push_back(std::move(full));
        continue;  // the Cast layer is gone: its output is a constant now
      }
    }
    kept.push_back(std::move(layer));
  }
  network.layers = std::move(kept);
}

}  // namespace kiln
