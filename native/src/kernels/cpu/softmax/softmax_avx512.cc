// Built with AVX-512 flags: softmax over one contiguous line (the last axis, as attention uses).
#include <immintrin.h>

#include "kernels/cpu/activation/vec_math_avx512.h"
#include "kernels/cpu/softmax/softmax_isa.h"

namespace kiln::kernels::isa_avx512 {

namespace {
// Horizontal max / sum through memory: GCC 12's _mm512_reduce_* trip -Wuninitialized.
float laneMax(__m512 v) {
  alignas(64) float l[16];
  _mm512_store_ps(l, v);
  float m = l[0];
  for (int i = 1; i < 16; ++i) m = l[i] > m ? l[i] : m;
  return m;
}
float laneSum(__m512 v) {
  alignas(64) float l[16];
  _mm512_store_ps(l, v);
  float s = 0.0f;
  for (int i = 0; i < 16; ++i) s += l[i];
  return s;
}
}  // namespace

void softmaxContiguous(const float* x, float* y, int64_t n) {
  const int64_t full = n / 16 * 16;
  const __mmask16 tail = static_cast<__mmask16>((1u << (n - full)) - 1);
  const __m512 lowest = _mm512_set1_ps(-__builtin_inff());
  __m512 mv = lowest;
  for (int64_t i = 0; i < full; i += 16) mv = _mm512_max_ps(mv, _mm512_loadu_ps(x + i));
  if (tail) mv = _mm512_max_ps(mv, _mm512_mask_loadu_ps(lowest, tail, x + full));
  const __m512 m = _mm512_set1_ps(laneMax(mv));
  // Subtracting the max keeps every exponent <= 0, so nothing overflows.
  __m512 sv = _mm512_setzero_ps();
  for (int64_t i = 0; i < full; i += 16) {
    const __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), m));
    _mm512_storeu_ps(y + i, e);
    sv = _mm512_add_ps(sv, e);
  }
  if (tail) {
    const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, x + full), m));
    _mm512_mask_storeu_ps(y + full, tail, e);
    sv = _mm512_add_ps(sv, _mm512_maskz_mov_ps(tail, e));
  }
  const __m512 inv = _mm512_set1_ps(1.0f / laneSum(sv));
  for (int64_t i = 0; i < full; i += 16)
    _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_loadu_ps(y + i), inv));
  if (tail)
    _mm512_mask_storeu_ps(y + full, tail,
                          _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, y + full), inv));
}

}  // namespace kiln::kernels::isa_avx512
