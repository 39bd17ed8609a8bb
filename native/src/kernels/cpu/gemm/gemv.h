// Matrix-vector kernels for M == 1 GEMMs (batch-1 fully connected layers), one set per ISA tier.
// They are memory-bound: each weight is read once, so they stream B directly instead of packing
// it, and the driver splits N across threads.
#pragma once

#include <cstdint>

namespace kiln::kernels {

// y[j] = sum_k a[k] * b[k * ldb + j] for j < n: B walked row by row (op(B) stored K x N, or a
// packed NR-column panel with ldb = NR).
using GemvRowsFn = void (*)(int64_t k, const float* a, const float* b, int64_t ldb, int64_t n,
                            float* y);

// y[j] = sum_k a[k] * b[j * ldb + k] for j < n: dot products with rows of B (op(B) = B^T, the
// layout ONNX Gemm uses for FC weights with transB = 1).
using GemvDotsFn = void (*)(int64_t k, const float* a, const float* b, int64_t ldb, int64_t n,
                            float* y);

// The GEMV pair of one tier.
struct GemvKernels {
  GemvRowsFn rows;
  GemvDotsFn dots;
};

namespace isa_scalar {
GemvKernels gemvKernels();
}
namespace isa_avx2 {
GemvKernels gemvKernels();
}
namespace isa_avx512 {
GemvKernels gemvKernels();
}

}  // namespace kiln::kernels
