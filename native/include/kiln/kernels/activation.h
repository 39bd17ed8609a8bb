// Pointwise activations shared by standalone unary layers and fused GEMM/conv epilogues.
#pragma once

#include <cstddef>

namespace kiln::kernels {

// The activations a GEMM or convolution can apply to its output before storing it.
enum class ActivationKind {
  kNone,
  kRelu,
  kLeakyRelu,  // alpha = slope for x < 0
  kClip,       // alpha = min, beta = max
  kSigmoid,
  kHardSigmoid,  // max(0, min(1, alpha * x + beta))
  kHardSwish,    // x * max(0, min(1, x / 6 + 1/2))
  kSilu,         // x * sigmoid(x)
  kGelu,         // 0.5 x (1 + erf(x / sqrt 2))
  kGeluTanh,     // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  kTanh,
  kElu,  // alpha
  kSoftplus,
};

// An activation and its attributes; the meaning of alpha/beta depends on the kind (see above).
struct Activation {
  ActivationKind kind = ActivationKind::kNone;
  float alpha = 0.0f;
  float beta = 0.0f;
};

// Applies `act` to one value; the reference every vector path must match.
float activate(const Activation& act, float x);

// Applies `act` in place to n contiguous values, on the active ISA tier.
void applyActivation(const Activation& act, float* data, size_t n);

// Adds `bias` to n contiguous values and applies `act`: a conv/GEMM epilogue row (one output
// channel). The cheap kinds (none, Relu, Clip) take a single pass over the row.
void applyBiasActivation(const Activation& act, float bias, float* data, size_t n);

// Builds the ONNX default for kinds with attributes (LeakyRelu 0.01, HardSigmoid 0.2/0.5,
// Elu 1.0, Clip -inf/+inf).
Activation makeActivation(ActivationKind kind);

}  // namespace kiln::kernels
