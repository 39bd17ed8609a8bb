// The activation a builder fusion pass attached to a layer: attributes "activation"
// (Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid, HardSwish, Silu, Gelu, Tanh, Elu, Softplus),
// "activation_alpha" and "activation_beta" with ONNX's meanings for that op.
#pragma once

#include "engine/op.h"
#include "kiln/kernels/activation.h"

namespace kiln {

kernels::Activation fusedActivation(const OpContext& ctx);

// The activation kind for an ONNX unary op name, or kNone when it is not one.
kernels::ActivationKind activationKindOf(const std::string& op);

}  // namespace kiln
