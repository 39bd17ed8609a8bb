// Built with AVX-512 flags: im2col rows for stride-1 and stride-2 convolutions. Deep layers have
// few output pixels per row (7 or 14 for ResNet-50's last stages), so the portable loop's
// per-segment memcpy and fill calls cost more than the copying: layer4's 3x3 lowered 4608 rows
// of 7 x 7 pixels in ~0.3 ms. Here each output row segment is one masked load (two and a
// permute at stride 2) and one masked store, with the padding as zeroed lanes.
#include <immintrin.h>

#include <algorithm>

#include "kernels/cpu/conv/im2col.h"

namespace kiln::kernels::isa_avx512 {

namespace {

// Lanes [lo, hi) of 16, empty when hi <= lo.
inline __mmask16 laneRange(int64_t lo, int64_t hi) {
  lo = std::max<int64_t>(lo, 0);
  hi = std::min<int64_t>(hi, 16);
  if (hi <= lo) return 0;
  return static_cast<__mmask16>(((1u << (hi - lo)) - 1) << lo);
}

inline int64_t ceilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
inline int64_t floorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Output columns [a, a + 16) of one im2col row segment: ow in [lo, hi) read irow[ow * stride +
// offW] (stride 1 or 2), the others are 0. Masked-off lanes neither load nor fault.
template <int Stride>
inline __m512 gatherRow(const float* irow, int64_t offW, int64_t a, int64_t lo, int64_t hi) {
  const int64_t vlo = std::max(a, lo), vhi = std::min(a + 16, hi);
  if (vhi <= vlo) return _mm512_setzero_ps();
  if (Stride == 1) return _mm512_maskz_loadu_ps(laneRange(vlo - a, vhi - a), irow + a + offW);
  // Source elements 2 * ow + offW for ow in [vlo, vhi), relative to 2 * a + offW: indices
  // 2 * (vlo - a) .. 2 * (vhi - 1 - a), spread over two vectors.
  const int64_t first = 2 * (vlo - a), last = 2 * (vhi - 1 - a);
  const float* base = irow + 2 * a + offW;
  const __m512 v0 = _mm512_maskz_loadu_ps(laneRange(first, last + 1), base);
  const __m512 v1 = _mm512_maskz_loadu_ps(laneRange(first - 16, last + 1 - 16), base + 16);
  const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  return _mm512_maskz_permutex2var_ps(laneRange(vlo - a, vhi - a), v0, evens, v1);
}

template <int Stride>
void lowerRows(const Im2colShape& s, const float* x, int64_t p0, int64_t p1, float* dst, int64_t rb,
               int64_t re) {
  const int64_t width = p1 - p0;
  for (int64_t r = rb; r < re; ++r) {
    const int64_t kx = r % s.kernelW;
    const int64_t ky = (r / s.kernelW) % s.kernelH;
    const int64_t c = r / (s.kernelW * s.kernelH);
    const float* plane = x + c * s.inH * s.inW;
    float* out = dst + r * width - p0;  // indexed by output pixel
    const int64_t offW = kx * s.dilationW - s.padLeft;
    // Output columns whose tap lies inside the row: 0 <= ow * Stride + offW < inW.
    const int64_t lo = std::max<int64_t>(0, ceilDiv(-offW, Stride));
    const int64_t hi = std::min<int64_t>(s.outW, floorDiv(s.inW - 1 - offW, Stride) + 1);
    for (int64_t oh = p0 / s.outW; oh * s.outW < p1; ++oh) {
      const int64_t rowStart = oh * s.outW;
      const int64_t owStart = std::max<int64_t>(0, p0 - rowStart);
      const int64_t owEnd = std::min<int64_t>(s.outW, p1 - rowStart);
      const int64_t ih = oh * s.strideH - s.padTop + ky * s.dilationH;
      const bool inside = ih >= 0 && ih < s.inH;
      const float* irow = plane + ih * s.inW;
      float* o = out + rowStart;
      for (int64_t a = owStart; a < owEnd; a += 16) {
        const __m512 v = inside ? gatherRow<Stride>(irow, offW, a, lo, hi) : _mm512_setzero_ps();
        _mm512_mask_storeu_ps(o + a, laneRange(0, owEnd - a), v);
      }
    }
  }
}

}  // namespace

bool im2colRowsApply(const Im2colShape& s) { return s.strideW == 1 || s.strideW == 2; }

void im2colRows(const Im2colShape& s, const float* x, int64_t p0, int64_t p1, float* dst,
                int64_t rb, int64_t re) {
  if (s.strideW == 1)
    lowerRows<1>(s, x, p0, p1, dst, rb, re);
  else
    lowerRows<2>(s, x, p0, p1, dst, rb, re);
}

}  // namespace kiln::kernels::isa_avx512
