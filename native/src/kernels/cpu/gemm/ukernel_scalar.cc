// Portable micro-kernel; at the x86-64 baseline the compiler vectorizes the j loops with SSE.
#include "kernels/cpu/gemm/gemm_ukernel.h"

namespace kiln::kernels::isa_scalar {
namespace {
constexpr int kMr = 4;
constexpr int kNr = 8;

void microKernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr,
                 float alpha, float beta, const GemmTileEpilogue* /*ep: not fused on this tier*/) {
  float acc[kMr][kNr] = {};
  for (int64_t k = 0; k < kc; ++k) {
    for (int r = 0; r < kMr; ++r) {
      const float av = a[r];
      for (int j = 0; j < kNr; ++j) acc[r][j] += av * b[j];
    }
    a += kMr;
    b += kNr;
  }
  for (int r = 0; r < mr; ++r) {
    float* row = c + r * ldc;
    if (beta == 0.0f) {
      for (int j = 0; j < nr; ++j) row[j] = alpha * acc[r][j];
    } else {
      for (int j = 0; j < nr; ++j) row[j] = alpha * acc[r][j] + beta * row[j];
    }
  }
}
}  // namespace

GemmKernelInfo gemmKernel() { return {kMr, kNr, microKernel, false}; }

}  // namespace kiln::kernels::isa_scalar
