// The requantizing epilogue of the AVX-512 kernels (for files built with AVX-512 flags only).
#pragma once

#include <immintrin.h>

#include "kiln/kernels/qgemm.h"

namespace kiln::kernels::qgemm {

// Requantization constants. Clamping in float to [lo - zp, hi - zp] (integers, so exact) before
// rounding gives requantizeOne's bytes: rounding is monotonic and leaves integers alone, so
// clamp-then-round equals round-then-clamp, and the int32 conversion can no longer overflow.
// Two float ops replace requantizeOne's two bounds and two integer clamps.
struct RequantAvx512 {
  __m512 lo, hi;
  __m512i zero;
  explicit RequantAvx512(const QRequant& rq)
      : lo(_mm512_set1_ps(static_cast<float>(rq.lo - rq.zeroPoint))),
        hi(_mm512_set1_ps(static_cast<float>(rq.hi - rq.zeroPoint))),
        zero(_mm512_set1_epi32(rq.zeroPoint)) {}
  // 16 sums (the bias included) as 16 bytes. NaN (only from a NaN or infinite scale) meets
  // min's second operand first and becomes hi, where requantizeOne's bound sends it too.
  __m128i bytes(__m512i sums, __m512 scale) const {
    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(sums), scale);
    v = _mm512_max_ps(_mm512_min_ps(v, hi), lo);
    return _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(v), zero));
  }
};

}  // namespace kiln::kernels::qgemm
