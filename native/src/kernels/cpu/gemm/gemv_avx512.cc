// Built with AVX-512 flags: GEMV with 16-wide FMAs; tails use masked loads, so no element is read
// past the end of a row.
#include <immintrin.h>

#include "kernels/cpu/gemm/gemv.h"

namespace kiln::kernels::isa_avx512 {
namespace {

inline __mmask16 tailMask(int64_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
}

// Columns in blocks of 64 (4 accumulators), then one of 32, then masked 16-wide blocks.
void rows(int64_t k, const float* a, const float* b, int64_t ldb, int64_t n, float* y) {
  int64_t j = 0;
  for (; j + 64 <= n; j += 64) {
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
    const float* p = b + j;
    for (int64_t kk = 0; kk < k; ++kk, p += ldb) {
      const __m512 av = _mm512_set1_ps(a[kk]);
      c0 = _mm512_fmadd_ps(av, _mm512_loadu_ps(p), c0);
      c1 = _mm512_fmadd_ps(av, _mm512_loadu_ps(p + 16), c1);
      c2 = _mm512_fmadd_ps(av, _mm512_loadu_ps(p + 32), c2);
      c3 = _mm512_fmadd_ps(av, _mm512_loadu_ps(p + 48), c3);
    }
    _mm512_storeu_ps(y + j, c0);
    _mm512_storeu_ps(y + j + 16, c1);
    _mm512_storeu_ps(y + j + 32, c2);
    _mm512_storeu_ps(y + j + 48, c3);
  }
  if (j + 32 <= n) {
    // A packed B panel is 32 columns wide (the GEMV of a fully connected layer): one pass over
    // its contiguous rows with two chains per vector, instead of two strided passes of 16
    // columns (half the memory-level parallelism on weights that come from L3 or DRAM). The
    // even and odd k-steps sum apart and meet at the end, as in the 16-wide blocks.
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, d0 = c0, d1 = c0;
    const float* p = b + j;
    int64_t kk = 0;
    for (; kk + 2 <= k; kk += 2, p += 2 * ldb) {
      const __m512 a0 = _mm512_set1_ps(a[kk]), a1 = _mm512_set1_ps(a[kk + 1]);
      c0 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(p), c0);
      d0 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(p + 16), d0);
      c1 = _mm512_fmadd_ps(a1, _mm512_loadu_ps(p + ldb), c1);
      d1 = _mm512_fmadd_ps(a1, _mm512_loadu_ps(p + ldb + 16), d1);
    }
    if (kk < k) {
      const __m512 a0 = _mm512_set1_ps(a[kk]);
      c0 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(p), c0);
      d0 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(p + 16), d0);
    }
    _mm512_storeu_ps(y + j, _mm512_add_ps(c0, c1));
    _mm512_storeu_ps(y + j + 16, _mm512_add_ps(d0, d1));
    j += 32;
  }
  for (; j < n; j += 16) {
    const __mmask16 m = tailMask(n - j);
    __m512 c0 = _mm512_setzero_ps(), c1 = c0;
    const float* p = b + j;
    int64_t kk = 0;
    // Two chains so the FMA latency is hidden even for a single 16-column block.
    for (; kk + 2 <= k; kk += 2, p += 2 * ldb) {
      c0 = _mm512_fmadd_ps(_mm512_set1_ps(a[kk]), _mm512_maskz_loadu_ps(m, p), c0);
      c1 = _mm512_fmadd_ps(_mm512_set1_ps(a[kk + 1]), _mm512_maskz_loadu_ps(m, p + ldb), c1);
    }
    if (kk < k) c0 = _mm512_fmadd_ps(_mm512_set1_ps(a[kk]), _mm512_maskz_loadu_ps(m, p), c0);
    _mm512_mask_storeu_ps(y + j, m, _mm512_add_ps(c0, c1));
  }
}

// Four rows of B at a time, two 16-wide k-steps per iteration: 8 independent accumulators.
void dots(int64_t k, const float* a, const float* b, int64_t ldb, int64_t n, float* y) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const float* r0 = b + j * ldb;
    const float* r1 = r0 + ldb;
    const float* r2 = r1 + ldb;
    const float* r3 = r2 + ldb;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
    int64_t kk = 0;
    for (; kk + 32 <= k; kk += 32) {
      const __m512 a0 = _mm512_loadu_ps(a + kk), a1 = _mm512_loadu_ps(a + kk + 16);
      s0 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(r0 + kk), s0);
      s1 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(r1 + kk), s1);
      s2 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(r2 + kk), s2);
      s3 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(r3 + kk), s3);
      t0 = _mm512_fmadd_ps(a1, _mm512_loadu_ps(r0 + kk + 16), t0);
      t1 = _mm512_fmadd_ps(a1, _mm512_loadu_ps(r1 + kk + 16), t1);
      t2 = _mm512_fmadd_ps(a1, _mm512_loadu_ps(r2 + kk + 16), t2);
      t3 = _mm512_fmadd_ps(a1, _mm512_loadu_ps(r3 + kk + 16), t3);
    }
    for (; kk < k; kk += 16) {
      const __mmask16 m = tailMask(k - kk);
      const __m512 a0 = _mm512_maskz_loadu_ps(m, a + kk);
      s0 = _mm512_fmadd_ps(a0, _mm512_maskz_loadu_ps(m, r0 + kk), s0);
      s1 = _mm512_fmadd_ps(a0, _mm512_maskz_loadu_ps(m, r1 + kk), s1);
      s2 = _mm512_fmadd_ps(a0, _mm512_maskz_loadu_ps(m, r2 + kk), s2);
      s3 = _mm512_fmadd_ps(a0, _mm512_maskz_loadu_ps(m, r3 + kk), s3);
    }
    y[j] = _mm512_reduce_add_ps(_mm512_add_ps(s0, t0));
    y[j + 1] = _mm512_reduce_add_ps(_mm512_add_ps(s1, t1));
    y[j + 2] = _mm512_reduce_add_ps(_mm512_add_ps(s2, t2));
    y[j + 3] = _mm512_reduce_add_ps(_mm512_add_ps(s3, t3));
  }
  for (; j < n; ++j) {
    const float* r = b + j * ldb;
    __m512 s = _mm512_setzero_ps();
    for (int64_t kk = 0; kk < k; kk += 16) {
      const __mmask16 m = tailMask(k - kk);
      s = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + kk), _mm512_maskz_loadu_ps(m, r + kk), s);
    }
    y[j] = _mm512_reduce_add_ps(s);
  }
}

}  // namespace

GemvKernels gemvKernels() { return {rows, dots}; }

}  // namespace kiln::kernels::isa_avx512
