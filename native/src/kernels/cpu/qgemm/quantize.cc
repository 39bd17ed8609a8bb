// Per-tensor quantize / dequantize / quantized add: the portable loops, which also finish the
// tail the AVX-512 bodies leave, split over the thread pool for large tensors.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/qgemm/quantize_internal.h"
#include "kiln/cpu_features.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {
namespace {

constexpr size_t kGrain = 1 << 15;

inline int32_t saturate(float v, bool isSigned) {
  if (std::isnan(v)) return 0;  // as the reference QuantizeLinear; a NaN cast to int is undefined
  const float lo = isSigned ? -128.0f : 0.0f, hi = isSigned ? 127.0f : 255.0f;
  return static_cast<int32_t>(std::min(std::max(v, lo), hi));
}

inline int32_t load8(const void* p, int64_t i, bool isSigned) {
  return isSigned ? static_cast<const int8_t*>(p)[i] : static_cast<const uint8_t*>(p)[i];
}

inline void store8(void* p, int64_t i, int32_t v) {
  static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(v);
}

bool useAvx512() { return activeIsa() == CpuIsa::kAvx512; }

// Runs body(offset, count) over [0, n) in parallel chunks.
template <typename Body>
void chunked(int64_t n, Body body) {
  globalThreadPool().parallelFor(static_cast<size_t>(n), kGrain, [&](size_t b, size_t e) {
    body(static_cast<int64_t>(b), static_cast<int64_t>(e - b));
  });
}

}  // namespace

void quantizeLinear(const float* x, int64_t n, float scale, int32_t zeroPoint, bool outSigned,
                    void* y) {
  chunked(n, [&](int64_t off, int64_t count) {
    auto* out = static_cast<uint8_t*>(y) + off;
    int64_t i = useAvx512()
                    ? qgemm::quantizeLinearAvx512(x + off, count, scale, zeroPoint, outSigned, out)
                    : 0;
    for (; i < count; ++i)
      store8(
          out, i,
          saturate(std::nearbyint(x[off + i] / scale) + static_cast<float>(zeroPoint), outSigned));
  });
}

void dequantizeLinear(const void* x, bool inSigned, int64_t n, float scale, int32_t zeroPoint,
                      float* y) {
  chunked(n, [&](int64_t off, int64_t count) {
    const auto* in = static_cast<const uint8_t*>(x) + off;
    int64_t i = useAvx512()
                    ? qgemm::dequantizeLinearAvx512(in, inSigned, count, scale, zeroPoint, y + off)
                    : 0;
    for (; i < count; ++i)
      y[off + i] = static_cast<float>(load8(in, i, inSigned) - zeroPoint) * scale;
  });
}

void qlinearAdd(const void* a, const void* b, int64_t n, const QAddParams& p, void* c) {
  const float ra = p.aScale / p.cScale, rb = p.bScale / p.cScale;
  chunked(n, [&](int64_t off, int64_t count) {
    const auto* pa = static_cast<const uint8_t*>(a) + off;
    const auto* pb = static_cast<const uint8_t*>(b) + off;
    auto* pc = static_cast<uint8_t*>(c) + off;
    int64_t i = useAvx512() ? qgemm::qlinearAddAvx512(pa, pb, count, p, pc) : 0;
    for (; i < count; ++i) {
      const float va = static_cast<float>(load8(pa, i, p.isSigned) - p.aZero);
      const float vb = static_cast<float>(load8(pb, i, p.isSigned) - p.bZero);
      const float v = std::fma(va, ra, vb * rb);
      int32_t q = saturate(std::nearbyint(v) + static_cast<float>(p.cZero), p.isSigned);
      if (p.relu) q = std::max(q, p.cZero);
      store8(pc, i, q);
    }
  });
}

}  // namespace kiln::kernels
