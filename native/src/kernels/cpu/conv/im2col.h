// Lowers a convolution input to the GEMM operand B: rows (c, ky, kx), columns output pixels.
#pragma once

#include <cstdint>

namespace kiln {
class ThreadPool;
}

namespace kiln::kernels {

// Geometry of one group's im2col.
struct Im2colShape {
  int64_t channels, inH, inW, outH, outW;
  int64_t kernelH, kernelW, strideH, strideW, padTop, padLeft, dilationH, dilationW;
};

// Writes rows (c, ky, kx) x output pixels [p0, p1) of the im2col matrix into dst (row stride
// p1 - p0); taps that land in the padding are 0. Parallel over rows on `pool` (nullptr: the
// calling thread only).
void im2colColumns(const Im2colShape& s, const float* x, int64_t p0, int64_t p1, float* dst,
                   ThreadPool* pool);

namespace isa_avx512 {
// dst[i] = src[2 * i] for i < n: a stride-2 row of the im2col matrix.
void copyEvens(const float* src, float* dst, int64_t n);
}  // namespace isa_avx512

}  // namespace kiln::kernels
