#include <cmath>
#include <cstring>

#include "kernels/cpu/common/broadcast.h"
#include "kiln/kernels/eltwise.h"

namespace kiln::kernels {

namespace {

// The inner loop with compile-time stride patterns, so the common cases (both contiguous, one
// side a scalar) vectorize.
template <typename T, typename F>
inline void innerLoop(const float* a, const float* b, T* y, int64_t n, int64_t sa, int64_t sb,
                      F f) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    const float bv = b[0];
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], bv);
  } else if (sa == 0 && sb == 1) {
    const float av = a[0];
    for (int64_t i = 0; i < n; ++i) y[i] = f(av, b[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i * sa], b[i * sb]);
  }
}

template <typename T, typename F>
void run(const float* a, const Shape& as, const float* b, const Shape& bs, T* y, F f) {
  const Shape out = broadcastShapes(as, bs);
  if (shapeSize(out) == 0) return;
  const BroadcastPlan plan = planBroadcast(out, {&as, &bs});
  runBroadcast(plan, [&](int64_t o, const std::array<int64_t, 3>& off, int64_t n,
                         const std::array<int64_t, 3>& st) {
    innerLoop(a + off[0], b + off[1], y + o, n, st[0], st[1], f);
  });
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

void where(const uint8_t* cond, const Shape& cs, const float* x, const Shape& xs, const float* yv,
           const Shape& ys, const Shape& outShape, float* out) {
  if (broadcastShapes(broadcastShapes(cs, xs), ys) != outShape)
    throw Error(ErrorCode::kInvalidArgument,
                "where: outShape is not the broadcast of the three inputs");
  if (shapeSize(outShape) == 0) return;
  const BroadcastPlan plan = planBroadcast(outShape, {&cs, &xs, &ys});
  runBroadcast(plan, [&](int64_t o, const std::array<int64_t, 3>& off, int64_t n,
                         const std::array<int64_t, 3>& st) {
    const uint8_t* c = cond + off[0];
    const float* a = x + off[1];
    const float* b = yv + off[2];
    float* d = out + o;
    for (int64_t i = 0; i < n; ++i) d[i] = c[i * st[0]] ? a[i * st[1]] : b[i * st[2]];
  });
}

void expand(const float* x, const Shape& xs, const Shape& outShape, float* y) {
  if (broadcastShapes(xs, outShape) != outShape)
    throw Error(ErrorCode::kInvalidArgument,
                "expand: input does not broadcast to the output shape");
  if (shapeSize(outShape) == 0) return;
  const BroadcastPlan plan = planBroadcast(outShape, {&xs});
  runBroadcast(plan, [&](int64_t o, const std::array<int64_t, 3>& off, int64_t n,
                         const std::array<int64_t, 3>& st) {
    const float* s = x + off[0];
    float* d = y + o;
    if (st[0] == 1) {
      std::memcpy(d, s, sizeof(float) * static_cast<size_t>(n));
    } else {
      for (int64_t i = 0; i < n; ++i) d[i] = s[i * st[0]];
    }
  });
}

}  // namespace kiln::kernels
