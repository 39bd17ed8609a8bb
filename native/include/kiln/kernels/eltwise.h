// Elementwise ops: binary arithmetic and comparisons with numpy broadcasting, Where, Expand,
// and unary math, on float32 and (for the ops shape subgraphs use) int32/int64/bool.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kiln/kernels/shape.h"

namespace kiln::kernels {

// Binary arithmetic ops (ONNX Add, Sub, Mul, Div, Pow, Max, Min, Mod with fmod = 1, PRelu, Mod
// with fmod = 0, BitShift left/right, BitwiseAnd/Or/Xor). The last six are integer-only except
// kMod, which on floats is the floor-mod x - floor(x / y) * y.
enum class BinaryOp {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kPow,
  kMax,
  kMin,
  kFmod,
  kPRelu,
  kMod,
  kShiftLeft,
  kShiftRight,
  kBitwiseAnd,
  kBitwiseOr,
  kBitwiseXor,
};

// y = op(a, b) with y's shape broadcastShapes(aShape, bShape). The integer-only ops (shifts,
// bitwise) throw kInvalidArgument on floats.
void binary(BinaryOp op, const float* a, const Shape& aShape, const float* b, const Shape& bShape,
            float* y);

// Integer forms of binary, with defined results where C++ would trap or be undefined:
// Add/Sub/Mul/Neg wrap modulo 2^bits; Div truncates toward zero and x / 0 = 0; Mod (fmod = 0)
// takes the divisor's sign and Fmod the dividend's, both with x % 0 = 0; INT_MIN / -1 wraps to
// INT_MIN and INT_MIN % -1 = 0; Pow with a negative exponent is 0 unless the base is +-1; shifts
// by a negative amount or >= bits give 0 (right shifts are logical, as ONNX BitShift is defined
// on unsigned types). PRelu is x < 0 ? x * slope : x.
void binary(BinaryOp op, const int32_t* a, const Shape& aShape, const int32_t* b,
            const Shape& bShape, int32_t* y);

// int64 form of binary (same definitions as int32).
void binary(BinaryOp op, const int64_t* a, const Shape& aShape, const int64_t* b,
            const Shape& bShape, int64_t* y);

// Comparison ops producing bool (one byte per element, 0 or 1).
enum class CompareOp { kEqual, kLess, kLessOrEqual, kGreater, kGreaterOrEqual };

// y = op(a, b) as bytes, broadcast like binary.
void compare(CompareOp op, const float* a, const Shape& aShape, const float* b, const Shape& bShape,
             uint8_t* y);

// compare on int32.
void compare(CompareOp op, const int32_t* a, const Shape& aShape, const int32_t* b,
             const Shape& bShape, uint8_t* y);

// compare on int64.
void compare(CompareOp op, const int64_t* a, const Shape& aShape, const int64_t* b,
             const Shape& bShape, uint8_t* y);

// compare on bool/uint8 bytes (ONNX Equal on bool, Less on uint8).
void compare(CompareOp op, const uint8_t* a, const Shape& aShape, const uint8_t* b,
             const Shape& bShape, uint8_t* y);

// Logical ops on bool bytes (any nonzero byte is true; outputs are 0 or 1).
enum class LogicalOp { kAnd, kOr, kXor };

// y = op(a, b) on bool bytes, broadcast like binary.
void logical(LogicalOp op, const uint8_t* a, const Shape& aShape, const uint8_t* b,
             const Shape& bShape, uint8_t* y);

// y[i] = !x[i] on bool bytes (x == y allowed).
void logicalNot(const uint8_t* x, uint8_t* y, size_t n);

// out = cond ? x : y, all three broadcast together into outShape (which the caller computes
// with broadcastShapes). x, y and out hold elements of elemSize bytes (1, 2, 4 or 8).
void where(const uint8_t* cond, const Shape& condShape, const void* x, const Shape& xShape,
           const void* y, const Shape& yShape, const Shape& outShape, size_t elemSize, void* out);

// where on float32.
void where(const uint8_t* cond, const Shape& condShape, const float* x, const Shape& xShape,
           const float* y, const Shape& yShape, const Shape& outShape, float* out);

// Copies x broadcast to outShape (ONNX Expand once outShape = broadcastShapes(xShape, shape)),
// elements of elemSize bytes (1, 2, 4 or 8).
void expand(const void* x, const Shape& xShape, const Shape& outShape, size_t elemSize, void* y);

// expand on float32.
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

// Integer unary ops: kNeg and kAbs (both wrap at INT_MIN), kSign, kRelu; others throw
// kInvalidArgument.
void unary(UnaryOp op, const int32_t* x, int32_t* y, size_t n);

// int64 form of the integer unary ops.
void unary(UnaryOp op, const int64_t* x, int64_t* y, size_t n);

}  // namespace kiln::kernels
