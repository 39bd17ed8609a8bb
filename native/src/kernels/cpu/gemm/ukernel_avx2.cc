// Built with -mavx2 -mfma: 6 x 16 tile, 12 accumulators + 2 B vectors + 1 broadcast of 16 ymm.
#include <immintrin.h>

#include "kernels/cpu/gemm/gemm_ukernel.h"

namespace kiln::kernels::isa_avx2 {
namespace {
constexpr int kMr = 6;
constexpr int kNr = 16;

void microKernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr,
                 float alpha, float beta, const GemmTileEpilogue* /*ep: not fused on this tier*/) {
  __m256 acc[kMr][2];
  for (int r = 0; r < kMr; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
    for (int r = 0; r < kMr; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r);
      acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
    }
    a += kMr;
    b += kNr;
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  if (nr == kNr) {
    for (int r = 0; r < mr; ++r) {
      float* row = c + r * ldc;
      __m256 o0 = _mm256_mul_ps(va, acc[r][0]), o1 = _mm256_mul_ps(va, acc[r][1]);
      if (beta != 0.0f) {
        o0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(row), o0);
        o1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(row + 8), o1);
      }
      _mm256_storeu_ps(row, o0);
      _mm256_storeu_ps(row + 8, o1);
    }
    return;
  }
  // Partial tile: spill and store element by element so nothing outside C is touched.
  alignas(32) float tmp[kMr][kNr];
  for (int r = 0; r < kMr; ++r) {
    _mm256_store_ps(tmp[r], acc[r][0]);
    _mm256_store_ps(tmp[r] + 8, acc[r][1]);
  }
  for (int r = 0; r < mr; ++r) {
    float* row = c + r * ldc;
    for (int j = 0; j < nr; ++j) {
      // fma like the full-tile path, so a value does not depend on where its tile falls.
      row[j] = beta == 0.0f ? alpha * tmp[r][j] : __builtin_fmaf(beta, row[j], alpha * tmp[r][j]);
    }
  }
}
}  // namespace

GemmKernelInfo gemmKernel() { return {kMr, kNr, microKernel, false}; }

}  // namespace kiln::kernels::isa_avx2
