// Built with AVX-512 flags: the strided copy of im2col rows for stride-2 convolutions (ResNet's
// stem and downsampling layers), two loads and one permute per 16 outputs.
#include <immintrin.h>

#include "kernels/cpu/conv/im2col.h"

namespace kiln::kernels::isa_avx512 {

void copyEvens(const float* src, float* dst, int64_t n) {
  const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  int64_t i = 0;
  // Full vectors read src[2i .. 2i + 31]; the last one may need src[2(n-1)] only, so it and
  // the tail use masked loads that touch nothing past it.
  for (; i + 16 < n; i += 16) {
    const __m512 lo = _mm512_loadu_ps(src + 2 * i), hi = _mm512_loadu_ps(src + 2 * i + 16);
    _mm512_storeu_ps(dst + i, _mm512_permutex2var_ps(lo, evens, hi));
  }
  if (i < n) {
    const int64_t span = 2 * (n - i) - 1;  // floats read: up to src[2(n-1)]
    const __mmask16 m0 = span >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << span) - 1);
    const __mmask16 m1 = span > 16 ? static_cast<__mmask16>((1u << (span - 16)) - 1) : 0;
    const __m512 lo = _mm512_maskz_loadu_ps(m0, src + 2 * i);
    const __m512 hi = _mm512_maskz_loadu_ps(m1, src + 2 * i + 16);
    const __mmask16 out = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(dst + i, out, _mm512_permutex2var_ps(lo, evens, hi));
  }
}

}  // namespace kiln::kernels::isa_avx512
