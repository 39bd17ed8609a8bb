// AVX2 micro-kernels: 4 rows x 16 columns at a time (the 8-row panel in two halves). With
// AVX-VNNI the 4-way u8 x s8 dot product is one vpdpbusd; without it, vpmaddubsw would saturate
// (255 * 127 * 2 > 32767), so bytes are widened to 16 bits and summed exactly with vpmaddwd.
#include <immintrin.h>

#include "kernels/cpu/qgemm/qgemm_internal.h"

namespace kiln::kernels::qgemm {
namespace {

constexpr int64_t kNr = 16;

template <bool Vnni>
inline __m256i dot4(__m256i acc, __m256i u8, __m256i s8) {
  if constexpr (Vnni) {
    return _mm256_dpbusd_avx_epi32(acc, u8, s8);
  } else {
    const __m256i lowByte = _mm256_set1_epi16(0x00FF);
    const __m256i uEven = _mm256_and_si256(u8, lowByte);
    const __m256i uOdd = _mm256_srli_epi16(u8, 8);
    const __m256i sEven = _mm256_srai_epi16(_mm256_slli_epi16(s8, 8), 8);
    const __m256i sOdd = _mm256_srai_epi16(s8, 8);
    return _mm256_add_epi32(
        acc, _mm256_add_epi32(_mm256_madd_epi16(uEven, sEven), _mm256_madd_epi16(uOdd, sOdd)));
  }
}

inline void storeRow(__m256i acc, int32_t bias, float scale, const QRequant& rq, uint8_t* c,
                     int64_t n) {
  __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(acc, _mm256_set1_epi32(bias))),
                           _mm256_set1_ps(scale));
  v = _mm256_max_ps(_mm256_min_ps(v, _mm256_set1_ps(kRequantBound)),
                    _mm256_set1_ps(-kRequantBound));
  __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(v), _mm256_set1_epi32(rq.zeroPoint));
  q = _mm256_min_epi32(_mm256_max_epi32(q, _mm256_set1_epi32(rq.lo)), _mm256_set1_epi32(rq.hi));
  alignas(32) int32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), q);
  for (int64_t j = 0; j < n && j < 8; ++j) c[j] = static_cast<uint8_t>(lanes[j]);
}

template <bool Vnni, int NV>
void half(int64_t k4, const int32_t* a, const uint8_t* b, const int64_t* bOff, int64_t rows,
          int64_t n, const int32_t* bias, const float* scale, const QRequant& rq, uint8_t* c,
          int64_t ldc) {
  constexpr int kRows = 4;
  __m256i acc[kRows][NV];
  for (int r = 0; r < kRows; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_si256();
  for (int64_t kk = 0; kk < k4; ++kk) {
    __m256i bv[NV];
    for (int v = 0; v < NV; ++v)
      bv[v] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + bOff[kk] + v * 32));
    const int32_t* ak = a + kk * kQGemmMr;
    for (int r = 0; r < kRows; ++r) {
      const __m256i w = _mm256_set1_epi32(ak[r]);
      for (int v = 0; v < NV; ++v) acc[r][v] = dot4<Vnni>(acc[r][v], bv[v], w);
    }
  }
  for (int64_t r = 0; r < rows && r < kRows; ++r)
    for (int v = 0; v < NV && v * 8 < n; ++v)
      storeRow(acc[r][v], bias[r], scale[r], rq, c + r * ldc + v * 8, n - v * 8);
}

template <bool Vnni>
void ukernel(int64_t k4, const int32_t* a, const uint8_t* b, const int64_t* bOff, int64_t rows,
             int64_t n, const int32_t* bias, const float* scale, const QRequant& rq, uint8_t* c,
             int64_t ldc) {
  // The last block may hold as few as 1 column; packed B has 16 columns there either way.
  for (int64_t r0 = 0; r0 < rows; r0 += 4)
    half<Vnni, 2>(k4, a + r0, b, bOff, rows - r0, n, bias + r0, scale + r0, rq, c + r0 * ldc, ldc);
}

}  // namespace

Variant avx2Variant(bool vnni) {
  return vnni ? Variant{"avx-vnni", ukernel<true>, kNr} : Variant{"avx2", ukernel<false>, kNr};
}

}  // namespace kiln::kernels::qgemm
