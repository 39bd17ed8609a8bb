// exp, sigmoid, tanh and 1 + erf on 16 floats; include only from files built with AVX-512 flags.
#pragma once

#include <immintrin.h>

namespace kiln::kernels::isa_avx512 {

// e^x to about 1 ulp: x = n ln2 + r with |r| <= ln2/2, degree-7 Taylor for e^r, then scale by 2^n.
// The clamp keeps n in range; NaN passes it (min/max return their second operand then), and
// from 88.8 on the scaling overflows to +inf, as e^x does past about 88.72.
inline __m512 exp512(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-104.0f), _mm512_min_ps(_mm512_set1_ps(88.8f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // ln2 split in two so n * ln2_hi is exact.
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// 1 / (1 + e^-x), computed from e^-|x| so neither side overflows or cancels.
inline __m512 sigmoid512(__m512 x) {
  const __m512 ax = _mm512_abs_ps(x);
  const __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), ax));
  const __m512 pos = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
  const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mask_mul_ps(pos, neg, pos, e);
}

// tanh: 2 sigmoid(2x) - 1, except near 0 where that cancels and a Taylor series is exact to
// float precision (|x| < 0.25: the next term is below 1e-9 relative).
inline __m512 tanh512(__m512 x) {
  const __m512 big = _mm512_sub_ps(
      _mm512_mul_ps(_mm512_set1_ps(2.0f), sigmoid512(_mm512_add_ps(x, x))), _mm512_set1_ps(1.0f));
  const __m512 x2 = _mm512_mul_ps(x, x);
  __m512 p = _mm512_set1_ps(-1382.0f / 155925.0f);
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(62.0f / 2835.0f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-17.0f / 315.0f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(2.0f / 15.0f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-1.0f / 3.0f));
  const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, x2), x, x);
  const __mmask16 isSmall = _mm512_cmp_ps_mask(_mm512_abs_ps(x), _mm512_set1_ps(0.25f), _CMP_LT_OQ);
  return _mm512_mask_blend_ps(isSmall, big, small);
}

// 1 + erf(x) with absolute error below 2e-7 (Abramowitz-Stegun 7.1.26); for x < 0 it is computed
// as erfc(|x|) directly, so GELU keeps its small negative tail without cancellation.
inline __m512 onePlusErf512(__m512 x) {
  const __m512 ax = _mm512_abs_ps(x);
  const __m512 t = _mm512_div_ps(
      _mm512_set1_ps(1.0f), _mm512_fmadd_ps(_mm512_set1_ps(0.3275911f), ax, _mm512_set1_ps(1.0f)));
  __m512 p = _mm512_set1_ps(1.061405429f);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
  p = _mm512_mul_ps(p, t);
  const __m512 erfc =
      _mm512_mul_ps(p, exp512(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(ax, ax))));
  const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mask_blend_ps(neg, _mm512_sub_ps(_mm512_set1_ps(2.0f), erfc), erfc);
}

// erf(x) to about 2e-7 relative: an odd Taylor series where |x| < 0.75 (no cancellation near
// 0), 1 - erfc(|x|) from onePlusErf512's approximation beyond, with the sign of x.
inline __m512 erf512(__m512 x) {
  const __m512 ax = _mm512_abs_ps(x);
  const __m512 x2 = _mm512_mul_ps(x, x);
  // 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)), n = 0..7.
  __m512 p = _mm512_set1_ps(-1.0f / 75600.0f);
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(1.0f / 9360.0f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-1.0f / 1320.0f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(1.0f / 216.0f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-1.0f / 42.0f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(1.0f / 10.0f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-1.0f / 3.0f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(1.0f));
  const __m512 small = _mm512_mul_ps(_mm512_mul_ps(p, x), _mm512_set1_ps(1.12837916709551257f));
  // onePlusErf512(|x|) = 2 - erfc(|x|), so erf(|x|) = that - 1, exact in float for erf >= 0.7.
  const __m512 big = _mm512_sub_ps(onePlusErf512(ax), _mm512_set1_ps(1.0f));
  const __mmask16 isSmall = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.75f), _CMP_LT_OQ);
  const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512 r = _mm512_mask_blend_ps(isSmall, big, small);
  // Only the large branch needs the sign put back (the series is odd already).
  return _mm512_mask_blend_ps(_mm512_kandn(isSmall, neg), r, _mm512_sub_ps(_mm512_setzero_ps(), r));
}

}  // namespace kiln::kernels::isa_avx512
