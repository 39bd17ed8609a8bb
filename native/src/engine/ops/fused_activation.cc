#include "engine/ops/fused_activation.h"

#include <map>

namespace kiln {

kernels::ActivationKind activationKindOf(const std::string& op) {
  using K = kernels::ActivationKind;
  static const std::map<std::string, K> kinds = {{"Relu", K::kRelu},
                                                 {"LeakyRelu", K::kLeakyRelu},
                                                 {"Clip", K::kClip},
                                                 {"Sigmoid", K::kSigmoid},
                                                 {"HardSigmoid", K::kHardSigmoid},
                                                 {"HardSwish", K::kHardSwish},
                                                 {"Silu", K::kSilu},
                                                 {"Gelu", K::kGelu},
                                                 {"Tanh", K::kTanh},
                                                 {"Elu", K::kElu},
                                                 {"Softplus", K::kSoftplus}};
  auto it = kinds.find(op);
  return it == kinds.end() ? K::kNone : it->second;
}

kernels::Activation fusedActivation(const OpContext& ctx) {
  const std::string name = ctx.layer.attrString("activation", "");
  if (name.empty()) return {};
  const kernels::ActivationKind kind = activationKindOf(name);
  ctx.require(kind != kernels::ActivationKind::kNone, "unknown fused activation '" + name + "'");
  kernels::Activation act = kernels::makeActivation(kind);
  act.alpha = static_cast<float>(ctx.layer.attrFloat("activation_alpha", act.alpha));
  act.beta = static_cast<float>(ctx.layer.attrFloat("activation_beta", act.beta));
  return act;
}

}  // namespace kiln
