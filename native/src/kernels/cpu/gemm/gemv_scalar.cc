// Portable GEMV; the j loop of rows() vectorizes at the baseline ISA.
#include "kernels/cpu/gemm/gemv.h"

namespace kiln::kernels::isa_scalar {
namespace {

void rows(int64_t k, const float* a, const float* b, int64_t ldb, int64_t n, float* y) {
  for (int64_t j = 0; j < n; ++j) y[j] = 0.0f;
  for (int64_t kk = 0; kk < k; ++kk) {
    const float av = a[kk];
    const float* row = b + kk * ldb;
    for (int64_t j = 0; j < n; ++j) y[j] += av * row[j];
  }
}

void dots(int64_t k, const float* a, const float* b, int64_t ldb, int64_t n, float* y) {
  for (int64_t j = 0; j < n; ++j) {
    const float* row = b + j * ldb;
    // Four partial sums break the add dependency chain.
    float s[4] = {0, 0, 0, 0};
    int64_t kk = 0;
    for (; kk + 4 <= k; kk += 4)
      for (int t = 0; t < 4; ++t) s[t] += a[kk + t] * row[kk + t];
    for (; kk < k; ++kk) s[0] += a[kk] * row[kk];
    y[j] = (s[0] + s[1]) + (s[2] + s[3]);
  }
}

}  // namespace

GemvKernels gemvKernels() { return {rows, dots}; }

}  // namespace kiln::kernels::isa_scalar
