// AVX512-VNNI micro-kernel: 8 rows x 32 columns of int32 sums in 16 zmm registers, one vpdpbusd
// per row and 16 columns for each 4 values of k.
#include <immintrin.h>

#include "kernels/cpu/qgemm/qgemm_internal.h"

namespace kiln::kernels::qgemm {
namespace {

constexpr int64_t kNr = 32;

// Requantizes one row of 16 sums and stores its first n bytes.
inline void storeRow(__m512i acc, int32_t bias, float scale, const QRequant& rq, uint8_t* c,
                     int64_t n) {
  __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(acc, _mm512_set1_epi32(bias))),
                           _mm512_set1_ps(scale));
  v = _mm512_max_ps(_mm512_min_ps(v, _mm512_set1_ps(kRequantBound)),
                    _mm512_set1_ps(-kRequantBound));
  __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(v), _mm512_set1_epi32(rq.zeroPoint));
  q = _mm512_min_epi32(_mm512_max_epi32(q, _mm512_set1_epi32(rq.lo)), _mm512_set1_epi32(rq.hi));
  const __mmask16 mask = n >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << n) - 1);
  _mm_mask_storeu_epi8(c, mask, _mm512_cvtepi32_epi8(q));
}

// Every loop over rows and vectors is unrolled, so each accumulator is a fixed register: with
// rolled loops GCC 12 kept copying the 16 accumulators between registers and spilling some to
// the stack inside the k loop (the kernel ran at ~55% of the vpdpbusd rate).
template <int NV>
void tile(int64_t k4, const int32_t* a, const uint8_t* b, const int64_t* bOff, int64_t rows,
          int64_t n, const int32_t* bias, const float* scale, const QRequant& rq, uint8_t* c,
          int64_t ldc) {
  __m512i acc[kQGemmMr][NV];
#pragma GCC unroll 8
  for (int r = 0; r < kQGemmMr; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_si512();
  for (int64_t kk = 0; kk < k4; ++kk) {
    __m512i bv[NV];
    const uint8_t* bk = b + bOff[kk];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v)
      bv[v] = _mm512_loadu_si512(reinterpret_cast<const void*>(bk + v * 64));
    const int32_t* ak = a + kk * kQGemmMr;
#pragma GCC unroll 8
    for (int r = 0; r < kQGemmMr; ++r) {
      const __m512i w = _mm512_set1_epi32(ak[r]);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], bv[v], w);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kQGemmMr; ++r) {
    if (r >= rows) break;
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v)
      if (v * 16 < n) storeRow(acc[r][v], bias[r], scale[r], rq, c + r * ldc + v * 16, n - v * 16);
  }
}

void ukernel(int64_t k4, const int32_t* a, const uint8_t* b, const int64_t* bOff, int64_t rows,
             int64_t n, const int32_t* bias, const float* scale, const QRequant& rq, uint8_t* c,
             int64_t ldc) {
  // Packed B is padded to 16 columns only, so a last block of <= 16 reads one vector.
  if (n > 16)
    tile<2>(k4, a, b, bOff, rows, n, bias, scale, rq, c, ldc);
  else
    tile<1>(k4, a, b, bOff, rows, n, bias, scale, rq, c, ldc);
}

}  // namespace

Variant avx512VnniVariant() { return {"avx512-vnni", ukernel, kNr}; }

}  // namespace kiln::kernels::qgemm
