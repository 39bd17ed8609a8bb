// Integer and bool elementwise ops for shape subgraphs and index math. Every op has a defined
// result for every input (no traps on x / 0 or INT_MIN / -1, no signed-overflow UB): arithmetic
// that can overflow is done on the unsigned type, which wraps modulo 2^bits.
#include <limits>
#include <string>
#include <type_traits>

#include "kernels/cpu/eltwise/binary_loop.h"
#include "kiln/error.h"
#include "kiln/kernels/eltwise.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

namespace {

template <typename T>
using U = std::make_unsigned_t<T>;

template <typename T>
inline T wrapAdd(T a, T b) {
  return static_cast<T>(static_cast<U<T>>(a) + static_cast<U<T>>(b));
}
template <typename T>
inline T wrapSub(T a, T b) {
  return static_cast<T>(static_cast<U<T>>(a) - static_cast<U<T>>(b));
}
template <typename T>
inline T wrapMul(T a, T b) {
  return static_cast<T>(static_cast<U<T>>(a) * static_cast<U<T>>(b));
}

// Truncating division; x / 0 = 0 (numpy's choice) and INT_MIN / -1 wraps to INT_MIN.
template <typename T>
inline T intDiv(T a, T b) {
  if (b == 0) return 0;
  if (b == -1) return wrapSub<T>(0, a);
  return a / b;
}

// Remainder with the dividend's sign (C's %, ONNX Mod fmod = 1); x % 0 = 0.
template <typename T>
inline T intFmod(T a, T b) {
  if (b == 0 || b == -1) return 0;
  return a % b;
}

// Remainder with the divisor's sign (Python's %, ONNX Mod fmod = 0); x % 0 = 0.
template <typename T>
inline T intMod(T a, T b) {
  const T r = intFmod(a, b);
  return (r != 0 && ((r < 0) != (b < 0))) ? static_cast<T>(r + b) : r;
}

// Exponentiation by squaring, wrapping; negative exponents truncate 1 / a^|e| toward zero.
template <typename T>
inline T intPow(T a, T e) {
  if (e < 0) {
    if (a == 1) return 1;
    if (a == -1) return (e & 1) ? -1 : 1;
    return 0;
  }
  U<T> result = 1, base = static_cast<U<T>>(a);
  for (U<T> n = static_cast<U<T>>(e); n; n >>= 1) {
    if (n & 1) result *= base;
    base *= base;
  }
  return static_cast<T>(result);
}

template <typename T>
inline T shiftLeft(T a, T s) {
  if (s < 0 || s >= static_cast<T>(sizeof(T) * 8)) return 0;
  return static_cast<T>(static_cast<U<T>>(a) << s);
}
template <typename T>
inline T shiftRight(T a, T s) {
  if (s < 0 || s >= static_cast<T>(sizeof(T) * 8)) return 0;
  return static_cast<T>(static_cast<U<T>>(a) >> s);
}

template <typename T>
void binaryInt(BinaryOp op, const T* a, const Shape& as, const T* b, const Shape& bs, T* y) {
  switch (op) {
    case BinaryOp::kAdd:
      return runBinary(a, as, b, bs, y, [](T x, T z) { return wrapAdd(x, z); });
    case BinaryOp::kSub:
      return runBinary(a, as, b, bs, y, [](T x, T z) { return wrapSub(x, z); });
    case BinaryOp::kMul:
      return runBinary(a, as, b, bs, y, [](T x, T z) { return wrapMul(x, z); });
    case BinaryOp::kDiv:
      return runBinary(a, as, b, bs, y, [](T x, T z) { return intDiv(x, z); });
    case BinaryOp::kPow:
      return runBinary(a, as, b, bs, y, [](T x, T z) { return intPow(x, z); });
    case BinaryOp::kMax:
      return runBinary(a, as, b, bs, y, [](T x, T z) { return x > z ? x : z; });
    case BinaryOp::kMin:
      return runBinary(a, as, b, bs, y, [](T x, T z) { return x < z ? x : z; });
    case BinaryOp::kFmod:
      return runBinary(a, as, b, bs, y, [](T x, T z) { return intFmod(x, z); });
    case BinaryOp::kMod:
      return runBinary(a, as, b, bs, y, [](T x, T z) { return intMod(x, z); });
    case BinaryOp::kPRelu:
      return runBinary(a, as, b, bs, y, [](T x, T s) { return x < 0 ? wrapMul(x, s) : x; });
    case BinaryOp::kShiftLeft:
      return runBinary(a, as, b, bs, y, [](T x, T s) { return shiftLeft(x, s); });
    case BinaryOp::kShiftRight:
      return runBinary(a, as, b, bs, y, [](T x, T s) { return shiftRight(x, s); });
    case BinaryOp::kBitwiseAnd:
      return runBinary(a, as, b, bs, y, [](T x, T z) { return static_cast<T>(x & z); });
    case BinaryOp::kBitwiseOr:
      return runBinary(a, as, b, bs, y, [](T x, T z) { return static_cast<T>(x | z); });
    case BinaryOp::kBitwiseXor:
      return runBinary(a, as, b, bs, y, [](T x, T z) { return static_cast<T>(x ^ z); });
  }
  throw Error(ErrorCode::kInvalidArgument, "binary: unknown op");
}

template <typename T>
void compareAny(CompareOp op, const T* a, const Shape& as, const T* b, const Shape& bs,
                uint8_t* y) {
  switch (op) {
    case CompareOp::kEqual:
      return runBinary(a, as, b, bs, y, [](T x, T z) -> uint8_t { return x == z; });
    case CompareOp::kLess:
      return runBinary(a, as, b, bs, y, [](T x, T z) -> uint8_t { return x < z; });
    case CompareOp::kLessOrEqual:
      return runBinary(a, as, b, bs, y, [](T x, T z) -> uint8_t { return x <= z; });
    case CompareOp::kGreater:
      return runBinary(a, as, b, bs, y, [](T x, T z) -> uint8_t { return x > z; });
    case CompareOp::kGreaterOrEqual:
      return runBinary(a, as, b, bs, y, [](T x, T z) -> uint8_t { return x >= z; });
  }
  throw Error(ErrorCode::kInvalidArgument, "compare: unknown op");
}

template <typename T>
void unaryInt(UnaryOp op, const T* x, T* y, size_t n) {
  if (n == 0) return;
  if (!x || !y) throw Error(ErrorCode::kInvalidArgument, "unary: null pointer");
  auto map = [&](auto f) {
    globalThreadPool().parallelFor(n, 32768, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) y[i] = f(x[i]);
    });
  };
  switch (op) {
    case UnaryOp::kNeg:
      return map([](T v) { return wrapSub<T>(0, v); });
    case UnaryOp::kAbs:
      return map([](T v) { return v < 0 ? wrapSub<T>(0, v) : v; });
    case UnaryOp::kSign:
      return map([](T v) { return static_cast<T>((v > 0) - (v < 0)); });
    case UnaryOp::kRelu:
      return map([](T v) { return v > 0 ? v : T{0}; });
    default:
      throw Error(ErrorCode::kInvalidArgument,
                  "unary: only Neg, Abs, Sign and Relu are defined on integers");
  }
}

}  // namespace

void binary(BinaryOp op, const int32_t* a, const Shape& as, const int32_t* b, const Shape& bs,
            int32_t* y) {
  binaryInt(op, a, as, b, bs, y);
}

void binary(BinaryOp op, const int64_t* a, const Shape& as, const int64_t* b, const Shape& bs,
            int64_t* y) {
  binaryInt(op, a, as, b, bs, y);
}

void compare(CompareOp op, const int32_t* a, const Shape& as, const int32_t* b, const Shape& bs,
             uint8_t* y) {
  compareAny(op, a, as, b, bs, y);
}

void compare(CompareOp op, const int64_t* a, const Shape& as, const int64_t* b, const Shape& bs,
             uint8_t* y) {
  compareAny(op, a, as, b, bs, y);
}

void compare(CompareOp op, const uint8_t* a, const Shape& as, const uint8_t* b, const Shape& bs,
             uint8_t* y) {
  compareAny(op, a, as, b, bs, y);
}

void logical(LogicalOp op, const uint8_t* a, const Shape& as, const uint8_t* b, const Shape& bs,
             uint8_t* y) {
  switch (op) {
    case LogicalOp::kAnd:
      return runBinary(a, as, b, bs, y,
                       [](uint8_t x, uint8_t z) -> uint8_t { return (x != 0) & (z != 0); });
    case LogicalOp::kOr:
      return runBinary(a, as, b, bs, y,
                       [](uint8_t x, uint8_t z) -> uint8_t { return (x != 0) | (z != 0); });
    case LogicalOp::kXor:
      return runBinary(a, as, b, bs, y,
                       [](uint8_t x, uint8_t z) -> uint8_t { return (x != 0) ^ (z != 0); });
  }
  throw Error(ErrorCode::kInvalidArgument, "logical: unknown op");
}

void logicalNot(const uint8_t* x, uint8_t* y, size_t n) {
  if (n == 0) return;
  if (!x || !y) throw Error(ErrorCode::kInvalidArgument, "logicalNot: null pointer");
  for (size_t i = 0; i < n; ++i) y[i] = x[i] == 0;
}

void unary(UnaryOp op, const int32_t* x, int32_t* y, size_t n) { unaryInt(op, x, y, n); }

void unary(UnaryOp op, const int64_t* x, int64_t* y, size_t n) { unaryInt(op, x, y, n); }

}  // namespace kiln::kernels
