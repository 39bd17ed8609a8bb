// Built with AVX-512 flags; only called when activeIsa() is kAvx512.
#include <immintrin.h>

#include "kernels/cpu/activation/activation_isa.h"
#include "kernels/cpu/activation/vec_math_avx512.h"

namespace kiln::kernels::isa_avx512 {

namespace {
template <typename F>
size_t forEach16(float* d, size_t n, F f) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(d + i, f(_mm512_loadu_ps(d + i)));
  if (i < n) {
    // The tail uses a masked load/store so results do not depend on the position of an element.
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(d + i, m, f(_mm512_maskz_loadu_ps(m, d + i)));
  }
  return n;
}
}  // namespace

size_t applyActivation(const Activation& act, float* d, size_t n) {
  const __m512 zero = _mm512_setzero_ps();
  const __m512 one = _mm512_set1_ps(1.0f);
  switch (act.kind) {
    case ActivationKind::kNone:
      return n;
    case ActivationKind::kRelu:
      return forEach16(d, n, [&](__m512 x) { return _mm512_max_ps(x, zero); });
    case ActivationKind::kLeakyRelu: {
      const __m512 a = _mm512_set1_ps(act.alpha);
      return forEach16(d, n, [&](__m512 x) {
        const __mmask16 neg = _mm512_cmp_ps_mask(x, zero, _CMP_LT_OQ);
        return _mm512_mask_mul_ps(x, neg, x, a);
      });
    }
    case ActivationKind::kClip: {
      const __m512 lo = _mm512_set1_ps(act.alpha), hi = _mm512_set1_ps(act.beta);
      return forEach16(d, n, [&](__m512 x) { return _mm512_min_ps(hi, _mm512_max_ps(lo, x)); });
    }
    case ActivationKind::kHardSigmoid: {
      const __m512 a = _mm512_set1_ps(act.alpha), b = _mm512_set1_ps(act.beta);
      return forEach16(d, n, [&](__m512 x) {
        return _mm512_max_ps(zero, _mm512_min_ps(one, _mm512_fmadd_ps(a, x, b)));
      });
    }
    case ActivationKind::kHardSwish: {
      const __m512 six = _mm512_set1_ps(6.0f), half = _mm512_set1_ps(0.5f);
      return forEach16(d, n, [&](__m512 x) {
        // Divides by 6 like the scalar path, so both tiers give identical results.
        const __m512 g =
            _mm512_max_ps(zero, _mm512_min_ps(one, _mm512_add_ps(_mm512_div_ps(x, six), half)));
        return _mm512_mul_ps(x, g);
      });
    }
    case ActivationKind::kSigmoid:
      return forEach16(d, n, [&](__m512 x) { return sigmoid512(x); });
    case ActivationKind::kSilu:
      return forEach16(d, n, [&](__m512 x) { return _mm512_mul_ps(x, sigmoid512(x)); });
    case ActivationKind::kTanh:
      return forEach16(d, n, [&](__m512 x) { return tanh512(x); });
    case ActivationKind::kGelu: {
      const __m512 half = _mm512_set1_ps(0.5f), rs2 = _mm512_set1_ps(0.70710678118654752f);
      return forEach16(d, n, [&](__m512 x) {
        return _mm512_mul_ps(_mm512_mul_ps(half, x), onePlusErf512(_mm512_mul_ps(x, rs2)));
      });
    }
    case ActivationKind::kGeluTanh: {
      const __m512 c0 = _mm512_set1_ps(0.79788456080286536f), c1 = _mm512_set1_ps(0.044715f);
      return forEach16(d, n, [&](__m512 x) {
        const __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
        const __m512 inner = _mm512_mul_ps(c0, _mm512_fmadd_ps(c1, x3, x));
        // 0.5 x (1 + tanh(u)) = x sigmoid(2u): no cancellation for negative u.
        const __m512 s = sigmoid512(_mm512_add_ps(inner, inner));
        return _mm512_mul_ps(x, s);
      });
    }
    default:
      return 0;  // Elu, Softplus: scalar path
  }
}

bool addBiasActivation(const Activation& act, float bias, float* d, size_t n) {
  const __m512 b = _mm512_set1_ps(bias);
  switch (act.kind) {
    case ActivationKind::kRelu: {
      const __m512 zero = _mm512_setzero_ps();
      forEach16(d, n, [&](__m512 x) { return _mm512_max_ps(_mm512_add_ps(x, b), zero); });
      return true;
    }
    case ActivationKind::kClip: {
      const __m512 lo = _mm512_set1_ps(act.alpha), hi = _mm512_set1_ps(act.beta);
      forEach16(d, n, [&](__m512 x) {
        return _mm512_min_ps(hi, _mm512_max_ps(lo, _mm512_add_ps(x, b)));
      });
      return true;
    }
    default:
      forEach16(d, n, [&](__m512 x) { return _mm512_add_ps(x, b); });
      return act.kind == ActivationKind::kNone;
  }
}

}  // namespace kiln::kernels::isa_avx512
