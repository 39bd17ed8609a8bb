// The broadcast loop shared by every binary elementwise op, templated on element and result
// types so float, integer and bool ops all run through one plan.
#pragma once

#include <array>
#include <cstdint>

#include "kernels/cpu/common/broadcast.h"
#include "kiln/kernels/shape.h"

namespace kiln::kernels {

// The inner loop with compile-time stride patterns, so the common cases (both contiguous, one
// side a scalar) vectorize.
template <typename T, typename R, typename F>
inline void binaryInnerLoop(const T* a, const T* b, R* y, int64_t n, int64_t sa, int64_t sb, F f) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    const T bv = b[0];
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], bv);
  } else if (sa == 0 && sb == 1) {
    const T av = a[0];
    for (int64_t i = 0; i < n; ++i) y[i] = f(av, b[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i * sa], b[i * sb]);
  }
}

// y = f(a, b) broadcast into broadcastShapes(as, bs).
template <typename T, typename R, typename F>
void runBinary(const T* a, const Shape& as, const T* b, const Shape& bs, R* y, F f) {
  const Shape out = broadcastShapes(as, bs);
  if (shapeSize(out) == 0) return;
  const BroadcastPlan plan = planBroadcast(out, {&as, &bs});
  runBroadcast(plan, [&](int64_t o, const std::array<int64_t, 3>& off, int64_t n,
                         const std::array<int64_t, 3>& st) {
    binaryInnerLoop(a + off[0], b + off[1], y + o, n, st[0], st[1], f);
  });
}

}  // namespace kiln::kernels
