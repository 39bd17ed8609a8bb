#include "kiln/kernels/activation.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/activation/activation_isa.h"
#include "kiln/cpu_features.h"

namespace kiln::kernels {

namespace {
inline float sigmoid(float x) {
  // Split by sign so exp never overflows into inf/inf.
  if (x >= 0) return 1.0f / (1.0f + std::exp(-x));
  const float e = std::exp(x);
  return e / (1.0f + e);
}
}  // namespace

float activate(const Activation& act, float x) {
  switch (act.kind) {
    case ActivationKind::kNone:
      return x;
    case ActivationKind::kRelu:
      return x > 0 ? x : 0.0f;
    case ActivationKind::kLeakyRelu:
      return x >= 0 ? x : act.alpha * x;
    case ActivationKind::kClip:
      return std::min(std::max(x, act.alpha), act.beta);
    case ActivationKind::kSigmoid:
      return sigmoid(x);
    case ActivationKind::kHardSigmoid:
      return std::max(0.0f, std::min(1.0f, act.alpha * x + act.beta));
    case ActivationKind::kHardSwish:
      return x * std::max(0.0f, std::min(1.0f, x / 6.0f + 0.5f));
    case ActivationKind::kSilu:
      return x * sigmoid(x);
    case ActivationKind::kGelu:
      return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));
    case ActivationKind::kGeluTanh: {
      const float inner = 0.79788456080286536f * (x + 0.044715f * x * x * x);
      return 0.5f * x * (1.0f + std::tanh(inner));
    }
    case ActivationKind::kTanh:
      return std::tanh(x);
    case ActivationKind::kElu:
      return x >= 0 ? x : act.alpha * (std::exp(x) - 1.0f);
    case ActivationKind::kSoftplus:
      // log(1 + e^x) without overflow for large x.
      return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
  }
  return x;
}

namespace isa_scalar {
void applyActivation(const Activation& act, float* d, size_t n) {
  // The cheap kinds get their own loops so the compiler vectorizes them at the baseline ISA.
  switch (act.kind) {
    case ActivationKind::kNone:
      return;
    case ActivationKind::kRelu:
      for (size_t i = 0; i < n; ++i) d[i] = d[i] > 0 ? d[i] : 0.0f;
      return;
    case ActivationKind::kClip: {
      const float lo = act.alpha, hi = act.beta;
      for (size_t i = 0; i < n; ++i) d[i] = std::min(std::max(d[i], lo), hi);
      return;
    }
    case ActivationKind::kLeakyRelu: {
      const float a = act.alpha;
      for (size_t i = 0; i < n; ++i) d[i] = d[i] >= 0 ? d[i] : a * d[i];
      return;
    }
    default:
      for (size_t i = 0; i < n; ++i) d[i] = activate(act, d[i]);
  }
}
}  // namespace isa_scalar

void applyActivation(const Activation& act, float* data, size_t n) {
  if (act.kind == ActivationKind::kNone || n == 0) return;
  if (activeIsa() == CpuIsa::kAvx512) {
    const size_t done = isa_avx512::applyActivation(act, data, n);
    if (done < n) isa_scalar::applyActivation(act, data + done, n - done);
    return;
  }
  isa_scalar::applyActivation(act, data, n);
}

void applyBiasActivation(const Activation& act, float bias, float* data, size_t n) {
  if (n == 0) return;
  if (activeIsa() == CpuIsa::kAvx512) {
    if (!isa_avx512::addBiasActivation(act, bias, data, n)) applyActivation(act, data, n);
    return;
  }
  for (size_t i = 0; i < n; ++i) data[i] += bias;
  applyActivation(act, data, n);
}

Activation makeActivation(ActivationKind kind) {
  Activation a;
  a.kind = kind;
  switch (kind) {
    case ActivationKind::kLeakyRelu:
      a.alpha = 0.01f;
      break;
    case ActivationKind::kHardSigmoid:
      a.alpha = 0.2f;
      a.beta = 0.5f;
      break;
    case ActivationKind::kElu:
      a.alpha = 1.0f;
      break;
    case ActivationKind::kClip:
      a.alpha = -std::numeric_limits<float>::infinity();
      a.beta = std::numeric_limits<float>::infinity();
      break;
    default:
      break;
  }
  return a;
}

}  // namespace kiln::kernels
