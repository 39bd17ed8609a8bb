// Lowers a convolution input to the GEMM operand B: rows (c, ky, kx), columns output pixels.
#pragma once

#include <cstdint>

namespace kiln::kernels {

// Geometry of one group's im2col.
struct Im2colShape {
  int64_t channels, inH, inW, outH, outW;
  int64_t kernelH, kernelW, strideH, strideW, padTop, padLeft, dilationH, dilationW;
};

// Writes rows (c, ky, kx) x output pixels [p0, p1) of the im2col matrix into dst (row stride
// p1 - p0); taps that land in the padding are 0. Parallel over rows on the global pool.
void im2colColumns(const Im2colShape& s, const float* x, int64_t p0, int64_t p1, float* dst);

}  // namespace kiln::kernels
