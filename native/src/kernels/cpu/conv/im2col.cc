#include "kernels/cpu/conv/im2col.h"

#include <algorithm>
#include <cstring>

#include "kiln/cpu_features.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

namespace {
// Smallest integer >= a / b for b > 0 and any sign of a.
inline int64_t ceilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
inline int64_t floorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
}  // namespace

void im2colColumns(const Im2colShape& s, const float* x, int64_t p0, int64_t p1, float* dst,
                   ThreadPool* pool) {
  const int64_t rows = s.channels * s.kernelH * s.kernelW;
  const int64_t width = p1 - p0;
  const bool vector = activeIsa() == CpuIsa::kAvx512 && isa_avx512::im2colRowsApply(s);
  const size_t grain =
      static_cast<size_t>(std::max<int64_t>(1, 32768 / std::max<int64_t>(width, 1)));
  const auto lower = [&](size_t rb, size_t re) {
    if (vector)
      return isa_avx512::im2colRows(s, x, p0, p1, dst, static_cast<int64_t>(rb),
                                    static_cast<int64_t>(re));
    for (int64_t r = static_cast<int64_t>(rb); r < static_cast<int64_t>(re); ++r) {
      const int64_t kx = r % s.kernelW;
      const int64_t ky = (r / s.kernelW) % s.kernelH;
      const int64_t c = r / (s.kernelW * s.kernelH);
      const float* plane = x + c * s.inH * s.inW;
      float* out = dst + r * width;
      const int64_t offW = kx * s.dilationW - s.padLeft;
      // Output columns whose tap lies inside the row: 0 <= ow * strideW + offW < inW.
      const int64_t owLo = std::max<int64_t>(0, ceilDiv(-offW, s.strideW));
      const int64_t owHi = std::min<int64_t>(s.outW, floorDiv(s.inW - 1 - offW, s.strideW) + 1);
      int64_t p = p0;
      while (p < p1) {
        const int64_t oh = p / s.outW;
        const int64_t owStart = p % s.outW;
        const int64_t owEnd = std::min<int64_t>(s.outW, owStart + (p1 - p));
        float* o = out + (p - p0) - owStart;  // indexed by ow
        const int64_t ih = oh * s.strideH - s.padTop + ky * s.dilationH;
        if (ih < 0 || ih >= s.inH) {
          std::fill(o + owStart, o + owEnd, 0.0f);
        } else {
          const float* irow = plane + ih * s.inW;
          const int64_t lo = std::min(std::max(owLo, owStart), owEnd);
          const int64_t hi = std::max(std::min(owHi, owEnd), lo);
          std::fill(o + owStart, o + lo, 0.0f);
          if (s.strideW == 1) {
            if (hi > lo)
              std::memcpy(o + lo, irow + lo + offW, sizeof(float) * static_cast<size_t>(hi - lo));
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) o[ow] = irow[ow * s.strideW + offW];
          }
          std::fill(o + hi, o + owEnd, 0.0f);
        }
        p += owEnd - owStart;
      }
    }
  };
  if (pool)
    pool->parallelFor(static_cast<size_t>(rows), grain, lower);
  else
    lower(0, static_cast<size_t>(rows));
}

}  // namespace kiln::kernels
