// AVX512-VNNI micro-kernel: 8 rows x 32 columns of int32 sums in 16 zmm registers, one vpdpbusd
// per row and 16 columns for each 4 values of k; and the matrix-vector body of qgemmRowsU8S8.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/qgemm/qgemm_internal.h"
#include "kernels/cpu/qgemm/requant_avx512.h"

namespace kiln::kernels::qgemm {
namespace {

constexpr int64_t kNr = 32;

// Every loop over rows and vectors is unrolled, so each accumulator is a fixed register: with
// rolled loops GCC 12 kept copying the 16 accumulators between registers and spilling some to
// the stack inside the k loop (the kernel ran at ~55% of the vpdpbusd rate); starting the sums
// at the bias brought that back. A whole tile stores without masks or per-row checks: at
// MobileNet's short K (16 to 96) the epilogue took as long as the k loop.
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
  const RequantAvx512 e(rq);
  if (rows == kQGemmMr && n == NV * 16) {
#pragma GCC unroll 8
    for (int r = 0; r < kQGemmMr; ++r) {
      const __m512 s = _mm512_set1_ps(scale[r]);
      const __m512i b = _mm512_set1_epi32(bias[r]);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(c + r * ldc + v * 16),
                         e.bytes(_mm512_add_epi32(acc[r][v], b), s));
    }
    return;
  }
#pragma GCC unroll 8
  for (int r = 0; r < kQGemmMr; ++r) {
    if (r >= rows) break;
    const __m512 s = _mm512_set1_ps(scale[r]);
    const __m512i b = _mm512_set1_epi32(bias[r]);
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      const int64_t left = n - v * 16;
      if (left <= 0) break;
      const __mmask16 mask = left >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << left) - 1);
      _mm_mask_storeu_epi8(c + r * ldc + v * 16, mask, e.bytes(_mm512_add_epi32(acc[r][v], b), s));
    }
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

// R rows of x against one panel of A (kQGemmMr outputs): 256-bit vpdpbusd, U partial sums per
// row over interleaved k so that one row does not wait on a single dependency chain.
template <int R, int U>
void rowsPanel(const int32_t* w, int64_t k4, const uint8_t* const* x, int32_t sums[][kQGemmMr]) {
  __m256i acc[R][U];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) acc[r][u] = _mm256_setzero_si256();
  const auto word = [](const uint8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
  };
  int64_t kk = 0;
  for (; kk + U <= k4; kk += U)
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) {
      const __m256i wv =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + (kk + u) * kQGemmMr));
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r)
        acc[r][u] = _mm256_dpbusd_epi32(acc[r][u], word(x[r] + (kk + u) * 4), wv);
    }
  for (; kk < k4; ++kk) {
    const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + kk * kQGemmMr));
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) acc[r][0] = _mm256_dpbusd_epi32(acc[r][0], word(x[r] + kk * 4), wv);
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    __m256i s = acc[r][0];
#pragma GCC unroll 4
    for (int u = 1; u < U; ++u) s = _mm256_add_epi32(s, acc[r][u]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(sums[r]), s);
  }
}

}  // namespace

Variant avx512VnniVariant() { return {"avx512-vnni", ukernel, kNr}; }

void rowsPanelsAvx512Vnni(const QPackedA& a, const uint8_t* x, int64_t ldx, int64_t rows,
                          int64_t p0, int64_t p1, const int32_t* bias, const float* scale,
                          const QRequant& rq, uint8_t* y, int64_t ldy) {
  for (int64_t r0 = 0; r0 < rows; r0 += 4) {
    const int64_t nr = std::min<int64_t>(4, rows - r0);
    const uint8_t* xr[4];
    for (int64_t r = 0; r < nr; ++r) xr[r] = x + (r0 + r) * ldx;
    for (int64_t panel = p0; panel < p1; ++panel) {
      const int32_t* w = a.data.data() + panel * a.k4 * kQGemmMr;
      int32_t sums[4][kQGemmMr];
      switch (nr) {
        case 1:
          rowsPanel<1, 4>(w, a.k4, xr, sums);
          break;
        case 2:
          rowsPanel<2, 2>(w, a.k4, xr, sums);
          break;
        case 3:
          rowsPanel<3, 1>(w, a.k4, xr, sums);
          break;
        default:
          rowsPanel<4, 1>(w, a.k4, xr, sums);
      }
      const int64_t i0 = panel * kQGemmMr, count = std::min(kQGemmMr, a.m - i0);
      for (int64_t r = 0; r < nr; ++r)
        for (int64_t i = 0; i < count; ++i)
          y[(r0 + r) * ldy + i0 + i] = requantizeOne(sums[r][i] + bias[i0 + i], scale[i0 + i], rq);
    }
  }
}

}  // namespace kiln::kernels::qgemm
