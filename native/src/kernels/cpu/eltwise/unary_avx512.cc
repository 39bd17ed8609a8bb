// Built with AVX-512 flags: the unary ops with a vector form in vec_math_avx512.h (exp, erf).
#include <immintrin.h>

#include "kernels/cpu/activation/vec_math_avx512.h"
#include "kernels/cpu/eltwise/unary_isa.h"

namespace kiln::kernels::isa_avx512 {

namespace {
template <typename F>
void map16(const float* x, float* y, size_t n, F f) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, f(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, f(_mm512_maskz_loadu_ps(m, x + i)));
  }
}
}  // namespace

bool unaryVector(UnaryOp op, const float* x, float* y, size_t n) {
  switch (op) {
    case UnaryOp::kExp:
      map16(x, y, n, [](__m512 v) { return exp512(v); });
      return true;
    case UnaryOp::kErf:
      map16(x, y, n, [](__m512 v) { return erf512(v); });
      return true;
    default:
      return false;
  }
}

}  // namespace kiln::kernels::isa_avx512
