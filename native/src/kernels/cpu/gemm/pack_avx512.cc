// Built with AVX-512 flags: packing a row-major A into the 12-row panels of the AVX-512
// micro-kernel. Each k step gathers one column of the 12 rows; the scalar loop wrote 12 floats
// apart, which left activation operands (MatMul of a transformer) as slow to pack as to multiply.
#include <immintrin.h>

#include "kernels/cpu/gemm/gemm_internal.h"

namespace kiln::kernels::isa_avx512 {

void packARows12(const float* a, int64_t lda, int64_t k, int mr, float* dst) {
  const __m512i idx =
      _mm512_mullo_epi32(_mm512_set_epi32(0, 0, 0, 0, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                         _mm512_set1_epi32(static_cast<int>(lda)));
  const __mmask16 rows = static_cast<__mmask16>((1u << mr) - 1);
  const __mmask16 out = 0x0FFF;
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t kk = 0; kk < k; ++kk) {
    // Lanes past mr stay zero: the padded rows of a partial panel.
    const __m512 col = _mm512_mask_i32gather_ps(zero, rows, idx, a + kk, 4);
    _mm512_mask_storeu_ps(dst + kk * 12, out, col);
  }
}

}  // namespace kiln::kernels::isa_avx512
