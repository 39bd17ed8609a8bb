// integerConv's tile with AVX-512BW: vpmaddwd over 16 columns a register, four times the SSE2
// tile's width (compiled with AVX-512 flags, called after the run-time ISA check).
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/qgemm/conv_integer_internal.h"

namespace kiln::kernels::isa_avx512 {

KILN_NO_COVERAGE void integerConvTile(const int32_t* a, int64_t lda, const int16_t* b, int64_t ldb,
                                      int64_t pairs, int32_t* acc) {
  __m512i sum[4][2];
  for (auto& s : sum) s[0] = s[1] = _mm512_setzero_si512();
  for (int64_t kk = 0; kk < pairs; ++kk) {
    const int16_t* bk = b + kk * ldb;
    const __m512i b0 = _mm512_loadu_si512(bk);
    const __m512i b1 = _mm512_loadu_si512(bk + 32);
    for (int r = 0; r < 4; ++r) {
      const __m512i w = _mm512_set1_epi32(a[r * lda + kk]);
      sum[r][0] = _mm512_add_epi32(sum[r][0], _mm512_madd_epi16(w, b0));
      sum[r][1] = _mm512_add_epi32(sum[r][1], _mm512_madd_epi16(w, b1));
    }
  }
  for (int r = 0; r < 4; ++r) {
    _mm512_storeu_si512(acc + r * 32, sum[r][0]);
    _mm512_storeu_si512(acc + r * 32 + 16, sum[r][1]);
  }
}

}  // namespace kiln::kernels::isa_avx512
