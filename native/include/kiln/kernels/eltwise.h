// Elementwise ops: binary arithmetic and comparisons with numpy broadcasting, Where, Expand,
// and unary math.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kiln/kernels/shape.h"

namespace kiln::kernels {

// Binary arithmetic ops (ONNX Add, Sub, Mul, Div, Pow, Max, Min, Mod with fmod = 1, PRelu).
enum class BinaryOp { kAdd, kSub, kMul, kDiv, kPow, kMax, kMin, kFmod, kPRelu };

// y = op(a, b) with y's shape broadcastShapes(aShape, bShape).
void binary(BinaryOp op, const float* a, const Shape& aShape, const float* b, const Shape& bShape,
            float* y);

// Comparison ops producing bool (one byte per element, 0 or 1).
enum class CompareOp { kEqual, kLess, kLessOrEqual, kGreater, kGreaterOrEqual };

// y = op(a, b) as bytes, broadcast like binary.
void compare(CompareOp op, const float* a, const Shape& aShape, const float* b, const Shape& bShape,
             uint8_t* y);

// out = cond ? x : y, all three broadcast together into outShape (which the caller computes
// with broadcastShapes).
void where(const uint8_t* cond, const Shape& condShape, const float* x, const Shape& xShape,
           const float* y, const Shape& yShape, const Shape& outShape, float* out);

// Copies x broadcast to outShape (ONNX Expand once outShape = broadcastShapes(xShape, shape)).
void expand(const float* x, const Shape& xShape, const Shape& outShape, float* y);

// Unary ops; those with attributes read alpha/beta (LeakyRelu/Elu alpha, HardSigmoid alpha/beta,
// Clip min = alpha, max = beta).
enum class UnaryOp {
  kRelu,
  kSigmoid,
  kTanh,
  kExp,
  kLog,
  kSqrt,
  kErf,
  kAbs,
  kNeg,
  kReciprocal,
  kFloor,
  kCeil,
  kRound,
  kHardSigmoid,
  kHardSwish,
  kLeakyRelu,
  kClip,
  kElu,
  kGelu,
  kSoftplus,
  kSin,
  kCos,
  kSign,
  kSilu,
};

// y[i] = op(x[i]) for n elements (x == y allowed).
void unary(UnaryOp op, const float* x, float* y, size_t n, float alpha = 0.0f, float beta = 0.0f);

}  // namespace kiln::kernels
