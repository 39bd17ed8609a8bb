// The register-blocked inner kernels of sgemm, one per ISA tier.
#pragma once

#include <cstdint>

namespace kiln::kernels {

// Computes an MR x NR tile from packed panels: a holds kc steps of MR values (k-major), b holds
// kc steps of NR values. Stores C[r][j] = alpha * acc + beta * C[r][j] for r < mr, j < nr; with
// beta == 0, C is not read.
using GemmMicroKernel = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                                 int mr, int nr, float alpha, float beta);

// A micro-kernel and its tile shape.
struct GemmKernelInfo {
  int mr;
  int nr;
  GemmMicroKernel fn;
};

namespace isa_scalar {
GemmKernelInfo gemmKernel();
}
namespace isa_avx2 {
GemmKernelInfo gemmKernel();
}
namespace isa_avx512 {
GemmKernelInfo gemmKernel();
}

}  // namespace kiln::kernels
