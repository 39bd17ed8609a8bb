#include <cmath>
#include <cstring>
#include <string>

#include "kernels/cpu/eltwise/binary_loop.h"
#include "kiln/error.h"
#include "kiln/kernels/eltwise.h"

namespace kiln::kernels {

namespace {

template <typename T, typename F>
void run(const float* a, const Shape& as, const float* b, const Shape& bs, T* y, F f) {
  runBinary(a, as, b, bs, y, f);
}

// Where/Expand move elements as unsigned integers of their size, so every dtype is bit-exact.
template <typename T>
void whereTyped(const uint8_t* cond, const Shape& cs, const T* x, const Shape& xs, const T* yv,
                const Shape& ys, const Shape& outShape, T* out) {
  const BroadcastPlan plan = planBroadcast(outShape, {&cs, &xs, &ys});
  runBroadcast(plan, [&](int64_t o, const std::array<int64_t, 3>& off, int64_t n,
                         const std::array<int64_t, 3>& st) {
    const uint8_t* c = cond + off[0];
    const T* a = x + off[1];
    const T* b = yv + off[2];
    T* d = out + o;
    if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
      for (int64_t i = 0; i < n; ++i) d[i] = c[i] ? a[i] : b[i];
    } else {
      for (int64_t i = 0; i < n; ++i) d[i] = c[i * st[0]] ? a[i * st[1]] : b[i * st[2]];
    }
  });
}

template <typename T>
void expandTyped(const T* x, const Shape& xs, const Shape& outShape, T* y) {
  const BroadcastPlan plan = planBroadcast(outShape, {&xs});
  runBroadcast(plan, [&](int64_t o, const std::array<int64_t, 3>& off, int64_t n,
                         const std::array<int64_t, 3>& st) {
    const T* s = x + off[0];
    T* d = y + o;
    if (st[0] == 1) {
      std::memcpy(d, s, sizeof(T) * static_cast<size_t>(n));
    } else {
      const T v = s[0];  // stride 0: one value repeated along the row
      for (int64_t i = 0; i < n; ++i) d[i] = v;
    }
  });
}

void badElemSize(const char* op, size_t es) {
  throw Error(ErrorCode::kInvalidArgument, std::string(op) + ": element size " +
                                               std::to_string(es) + " is not 1, 2, 4 or 8 bytes");
}

// Negative bases with integral exponents are defined (pow(-2, 3) = -8), as ONNX Pow requires.
inline float onnxPow(float x, float e) { return std::pow(x, e); }

}  // namespace

void binary(BinaryOp op, const float* a, const Shape& as, const float* b, const Shape& bs,
            float* y) {
  switch (op) {
    case BinaryOp::kAdd:
      return run(a, as, b, bs, y, [](float x, float z) { return x + z; });
    case BinaryOp::kSub:
      return run(a, as, b, bs, y, [](float x, float z) { return x - z; });
    case BinaryOp::kMul:
      return run(a, as, b, bs, y, [](float x, float z) { return x * z; });
    case BinaryOp::kDiv:
      return run(a, as, b, bs, y, [](float x, float z) { return x / z; });
    case BinaryOp::kPow:
      return run(a, as, b, bs, y, [](float x, float z) { return onnxPow(x, z); });
    // NaN-propagating, like onnxruntime's Max/Min.
    case BinaryOp::kMax:
      return run(a, as, b, bs, y, [](float x, float z) { return (x != x || x > z) ? x : z; });
    case BinaryOp::kMin:
      return run(a, as, b, bs, y, [](float x, float z) { return (x != x || x < z) ? x : z; });
    case BinaryOp::kFmod:
      return run(a, as, b, bs, y, [](float x, float z) { return std::fmod(x, z); });
    case BinaryOp::kPRelu:
      return run(a, as, b, bs, y, [](float x, float s) { return x < 0 ? x * s : x; });
    // Floor-mod (sign of the divisor): fmod, then shift a nonzero remainder of the wrong sign.
    case BinaryOp::kMod:
      return run(a, as, b, bs, y, [](float x, float z) {
        const float r = std::fmod(x, z);
        return (r != 0 && ((r < 0) != (z < 0))) ? r + z : r;
      });
    default:
      throw Error(ErrorCode::kInvalidArgument, "binary: shifts and bitwise ops need integers");
  }
}

void compare(CompareOp op, const float* a, const Shape& as, const float* b, const Shape& bs,
             uint8_t* y) {
  switch (op) {
    case CompareOp::kEqual:
      return run(a, as, b, bs, y, [](float x, float z) -> uint8_t { return x == z; });
    case CompareOp::kLess:
      return run(a, as, b, bs, y, [](float x, float z) -> uint8_t { return x < z; });
    case CompareOp::kLessOrEqual:
      return run(a, as, b, bs, y, [](float x, float z) -> uint8_t { return x <= z; });
    case CompareOp::kGreater:
      return run(a, as, b, bs, y, [](float x, float z) -> uint8_t { return x > z; });
    case CompareOp::kGreaterOrEqual:
      return run(a, as, b, bs, y, [](float x, float z) -> uint8_t { return x >= z; });
  }
}

void where(const uint8_t* cond, const Shape& cs, const void* x, const Shape& xs, const void* yv,
           const Shape& ys, const Shape& outShape, size_t es, void* out) {
  if (broadcastShapes(broadcastShapes(cs, xs), ys) != outShape)
    throw Error(ErrorCode::kInvalidArgument,
                "where: outShape is not the broadcast of the three inputs");
  if (es != 1 && es != 2 && es != 4 && es != 8) badElemSize("where", es);
  if (shapeSize(outShape) == 0) return;
  switch (es) {
    case 1:
      return whereTyped(cond, cs, static_cast<const uint8_t*>(x), xs,
                        static_cast<const uint8_t*>(yv), ys, outShape, static_cast<uint8_t*>(out));
    case 2:
      return whereTyped(cond, cs, static_cast<const uint16_t*>(x), xs,
                        static_cast<const uint16_t*>(yv), ys, outShape,
                        static_cast<uint16_t*>(out));
    case 4:
      return whereTyped(cond, cs, static_cast<const uint32_t*>(x), xs,
                        static_cast<const uint32_t*>(yv), ys, outShape,
                        static_cast<uint32_t*>(out));
    default:
      return whereTyped(cond, cs, static_cast<const uint64_t*>(x), xs,
                        static_cast<const uint64_t*>(yv), ys, outShape,
                        static_cast<uint64_t*>(out));
  }
}

void where(const uint8_t* cond, const Shape& cs, const float* x, const Shape& xs, const float* yv,
           const Shape& ys, const Shape& outShape, float* out) {
  where(cond, cs, static_cast<const void*>(x), xs, static_cast<const void*>(yv), ys, outShape,
        sizeof(float), static_cast<void*>(out));
}

void expand(const void* x, const Shape& xs, const Shape& outShape, size_t es, void* y) {
  if (broadcastShapes(xs, outShape) != outShape)
    throw Error(ErrorCode::kInvalidArgument,
                "expand: input does not broadcast to the output shape");
  if (es != 1 && es != 2 && es != 4 && es != 8) badElemSize("expand", es);
  if (shapeSize(outShape) == 0) return;
  switch (es) {
    case 1:
      return expandTyped(static_cast<const uint8_t*>(x), xs, outShape, static_cast<uint8_t*>(y));
    case 2:
      return expandTyped(static_cast<const uint16_t*>(x), xs, outShape, static_cast<uint16_t*>(y));
    case 4:
      return expandTyped(static_cast<const uint32_t*>(x), xs, outShape, static_cast<uint32_t*>(y));
    default:
      return expandTyped(static_cast<const uint64_t*>(x), xs, outShape, static_cast<uint64_t*>(y));
  }
}

void expand(const float* x, const Shape& xs, const Shape& outShape, float* y) {
  expand(static_cast<const void*>(x), xs, outShape, sizeof(float), static_cast<void*>(y));
}

}  // namespace kiln::kernels
