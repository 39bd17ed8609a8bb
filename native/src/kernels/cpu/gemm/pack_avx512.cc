// Built with AVX-512 flags: packing operands into the panels of the AVX-512 micro-kernel.
// A: dst[k * 12 + r] = a[r * lda + k]. Blocks of 4 rows x 4 columns are loaded and transposed
// in registers; writing element by element 12 floats apart left activation operands (MatMul of
// a transformer) as slow to pack as to multiply.
// B: dst[k * 32 + j] = b[k * ldb + j], two vectors per row; a memcpy call per 128-byte row
// cost about as much as the copy (a 1x1 convolution packs all its input this way).
#include <immintrin.h>

#include "kernels/cpu/gemm/gemm_internal.h"

namespace kiln::kernels::isa_avx512 {

void packARows12(const float* a, int64_t lda, int64_t k, int mr, float* dst) {
  const int64_t k4 = k / 4 * 4;
  for (int r0 = 0; r0 < 12; r0 += 4) {
    // Rows past mr read as zero: the padded rows of a partial panel.
    const float* row[4];
    for (int i = 0; i < 4; ++i) row[i] = r0 + i < mr ? a + (r0 + i) * lda : nullptr;
    const __m128 zero = _mm_setzero_ps();
    for (int64_t kk = 0; kk < k4; kk += 4) {
      __m128 v0 = row[0] ? _mm_loadu_ps(row[0] + kk) : zero;
      __m128 v1 = row[1] ? _mm_loadu_ps(row[1] + kk) : zero;
      __m128 v2 = row[2] ? _mm_loadu_ps(row[2] + kk) : zero;
      __m128 v3 = row[3] ? _mm_loadu_ps(row[3] + kk) : zero;
      _MM_TRANSPOSE4_PS(v0, v1, v2, v3);  // v_j now holds column kk + j of the 4 rows
      float* d = dst + kk * 12 + r0;
      _mm_storeu_ps(d, v0);
      _mm_storeu_ps(d + 12, v1);
      _mm_storeu_ps(d + 24, v2);
      _mm_storeu_ps(d + 36, v3);
    }
    for (int64_t kk = k4; kk < k; ++kk)
      for (int i = 0; i < 4; ++i) dst[kk * 12 + r0 + i] = row[i] ? row[i][kk] : 0.0f;
  }
}

void packBCols32(const float* b, int64_t ldb, int64_t k, float* dst) {
  for (int64_t kk = 0; kk < k; ++kk) {
    const float* src = b + kk * ldb;
    // Rows lie ldb apart (a whole image plane for a convolution): ask for one a few rows
    // ahead, which the stride prefetcher alone did not cover for deep K.
    _mm_prefetch(reinterpret_cast<const char*>(src + 8 * ldb), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(src + 8 * ldb + 16), _MM_HINT_T0);
    _mm512_storeu_ps(dst + kk * 32, _mm512_loadu_ps(src));
    _mm512_storeu_ps(dst + kk * 32 + 16, _mm512_loadu_ps(src + 16));
  }
}

}  // namespace kiln::kernels::isa_avx512
