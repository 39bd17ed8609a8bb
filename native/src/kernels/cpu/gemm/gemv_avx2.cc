// Built with -mavx2 -mfma: GEMV with 8-wide FMAs.
#include <immintrin.h>

#include "kernels/cpu/gemm/gemv.h"

namespace kiln::kernels::isa_avx2 {
namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Columns in blocks of 32 (4 accumulators), then 8, then a scalar tail.
void rows(int64_t k, const float* a, const float* b, int64_t ldb, int64_t n, float* y) {
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
    const float* p = b + j;
    for (int64_t kk = 0; kk < k; ++kk, p += ldb) {
      const __m256 av = _mm256_broadcast_ss(a + kk);
      c0 = _mm256_fmadd_ps(av, _mm256_loadu_ps(p), c0);
      c1 = _mm256_fmadd_ps(av, _mm256_loadu_ps(p + 8), c1);
      c2 = _mm256_fmadd_ps(av, _mm256_loadu_ps(p + 16), c2);
      c3 = _mm256_fmadd_ps(av, _mm256_loadu_ps(p + 24), c3);
    }
    _mm256_storeu_ps(y + j, c0);
    _mm256_storeu_ps(y + j + 8, c1);
    _mm256_storeu_ps(y + j + 16, c2);
    _mm256_storeu_ps(y + j + 24, c3);
  }
  for (; j + 8 <= n; j += 8) {
    __m256 c0 = _mm256_setzero_ps();
    const float* p = b + j;
    for (int64_t kk = 0; kk < k; ++kk, p += ldb)
      c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + kk), _mm256_loadu_ps(p), c0);
    _mm256_storeu_ps(y + j, c0);
  }
  for (; j < n; ++j) {
    float s = 0.0f;
    for (int64_t kk = 0; kk < k; ++kk) s = __builtin_fmaf(a[kk], b[kk * ldb + j], s);
    y[j] = s;
  }
}

// Four rows of B at a time, two k-steps per iteration: 8 independent accumulators.
void dots(int64_t k, const float* a, const float* b, int64_t ldb, int64_t n, float* y) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const float* r0 = b + j * ldb;
    const float* r1 = r0 + ldb;
    const float* r2 = r1 + ldb;
    const float* r3 = r2 + ldb;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
    int64_t kk = 0;
    for (; kk + 16 <= k; kk += 16) {
      const __m256 a0 = _mm256_loadu_ps(a + kk), a1 = _mm256_loadu_ps(a + kk + 8);
      s0 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(r0 + kk), s0);
      s1 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(r1 + kk), s1);
      s2 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(r2 + kk), s2);
      s3 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(r3 + kk), s3);
      t0 = _mm256_fmadd_ps(a1, _mm256_loadu_ps(r0 + kk + 8), t0);
      t1 = _mm256_fmadd_ps(a1, _mm256_loadu_ps(r1 + kk + 8), t1);
      t2 = _mm256_fmadd_ps(a1, _mm256_loadu_ps(r2 + kk + 8), t2);
      t3 = _mm256_fmadd_ps(a1, _mm256_loadu_ps(r3 + kk + 8), t3);
    }
    for (; kk + 8 <= k; kk += 8) {
      const __m256 a0 = _mm256_loadu_ps(a + kk);
      s0 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(r0 + kk), s0);
      s1 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(r1 + kk), s1);
      s2 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(r2 + kk), s2);
      s3 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(r3 + kk), s3);
    }
    float f0 = hsum(_mm256_add_ps(s0, t0)), f1 = hsum(_mm256_add_ps(s1, t1));
    float f2 = hsum(_mm256_add_ps(s2, t2)), f3 = hsum(_mm256_add_ps(s3, t3));
    for (; kk < k; ++kk) {
      f0 = __builtin_fmaf(a[kk], r0[kk], f0);
      f1 = __builtin_fmaf(a[kk], r1[kk], f1);
      f2 = __builtin_fmaf(a[kk], r2[kk], f2);
      f3 = __builtin_fmaf(a[kk], r3[kk], f3);
    }
    y[j] = f0;
    y[j + 1] = f1;
    y[j + 2] = f2;
    y[j + 3] = f3;
  }
  for (; j < n; ++j) {
    const float* r = b + j * ldb;
    __m256 s = _mm256_setzero_ps();
    int64_t kk = 0;
    for (; kk + 8 <= k; kk += 8)
      s = _mm256_fmadd_ps(_mm256_loadu_ps(a + kk), _mm256_loadu_ps(r + kk), s);
    float f = hsum(s);
    for (; kk < k; ++kk) f = __builtin_fmaf(a[kk], r[kk], f);
    y[j] = f;
  }
}

}  // namespace

GemvKernels gemvKernels() { return {rows, dots}; }

}  // namespace kiln::kernels::isa_avx2
