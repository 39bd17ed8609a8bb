#include <cmath>
#include <cstring>

#include "kernels/cpu/eltwise/unary_isa.h"
#include "kiln/cpu_features.h"
#include "kiln/error.h"
#include "kiln/kernels/activation.h"
#include "kiln/kernels/eltwise.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

namespace {

template <typename F>
void map(const float* x, float* y, size_t n, F f) {
  globalThreadPool().parallelFor(n, 16384, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) y[i] = f(x[i]);
  });
}

// Ops that are activations reuse the vectorized epilogue code.
bool asActivation(UnaryOp op, float alpha, float beta, Activation* act) {
  switch (op) {
    case UnaryOp::kRelu:
      *act = {ActivationKind::kRelu, 0, 0};
      return true;
    case UnaryOp::kSigmoid:
      *act = {ActivationKind::kSigmoid, 0, 0};
      return true;
    case UnaryOp::kTanh:
      *act = {ActivationKind::kTanh, 0, 0};
      return true;
    case UnaryOp::kHardSigmoid:
      *act = {ActivationKind::kHardSigmoid, alpha, beta};
      return true;
    case UnaryOp::kHardSwish:
      *act = {ActivationKind::kHardSwish, 0, 0};
      return true;
    case UnaryOp::kLeakyRelu:
      *act = {ActivationKind::kLeakyRelu, alpha, 0};
      return true;
    case UnaryOp::kClip:
      *act = {ActivationKind::kClip, alpha, beta};
      return true;
    case UnaryOp::kElu:
      *act = {ActivationKind::kElu, alpha, 0};
      return true;
    case UnaryOp::kGelu:
      *act = {ActivationKind::kGelu, 0, 0};
      return true;
    case UnaryOp::kSoftplus:
      *act = {ActivationKind::kSoftplus, 0, 0};
      return true;
    case UnaryOp::kSilu:
      *act = {ActivationKind::kSilu, 0, 0};
      return true;
    default:
      return false;
  }
}

}  // namespace

void unary(UnaryOp op, const float* x, float* y, size_t n, float alpha, float beta) {
  if (n == 0) return;
  if (!x || !y) throw Error(ErrorCode::kInvalidArgument, "unary: null pointer");
  Activation act;
  if (asActivation(op, alpha, beta, &act)) {
    globalThreadPool().parallelFor(n, 16384, [&](size_t b, size_t e) {
      if (x != y) std::memcpy(y + b, x + b, sizeof(float) * (e - b));
      applyActivation(act, y + b, e - b);
    });
    return;
  }
  if (activeIsa() == CpuIsa::kAvx512 && (op == UnaryOp::kExp || op == UnaryOp::kErf)) {
    globalThreadPool().parallelFor(
        n, 16384, [&](size_t b, size_t e) { isa_avx512::unaryVector(op, x + b, y + b, e - b); });
    return;
  }
  switch (op) {
    case UnaryOp::kExp:
      return map(x, y, n, [](float v) { return std::exp(v); });
    case UnaryOp::kLog:
      return map(x, y, n, [](float v) { return std::log(v); });
    case UnaryOp::kSqrt:
      return map(x, y, n, [](float v) { return std::sqrt(v); });
    case UnaryOp::kErf:
      return map(x, y, n, [](float v) { return std::erf(v); });
    case UnaryOp::kAbs:
      return map(x, y, n, [](float v) { return std::fabs(v); });
    case UnaryOp::kNeg:
      return map(x, y, n, [](float v) { return -v; });
    case UnaryOp::kReciprocal:
      return map(x, y, n, [](float v) { return 1.0f / v; });
    case UnaryOp::kFloor:
      return map(x, y, n, [](float v) { return std::floor(v); });
    case UnaryOp::kCeil:
      return map(x, y, n, [](float v) { return std::ceil(v); });
    // ONNX Round is round-half-to-even: nearbyint under the default rounding mode.
    case UnaryOp::kRound:
      return map(x, y, n, [](float v) { return std::nearbyint(v); });
    case UnaryOp::kSin:
      return map(x, y, n, [](float v) { return std::sin(v); });
    case UnaryOp::kCos:
      return map(x, y, n, [](float v) { return std::cos(v); });
    case UnaryOp::kSign:
      return map(x, y, n, [](float v) { return v > 0 ? 1.0f : v < 0 ? -1.0f : v; });
    default:
      throw Error(ErrorCode::kInvalidArgument, "unary: unknown op");
  }
}

}  // namespace kiln::kernels
