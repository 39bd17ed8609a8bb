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
// Whether im2colRows takes this geometry (output stride 1 or 2 along the width).
bool im2colRowsApply(const Im2colShape& s);
// The lowering of im2colColumns for rows [rb, re) on this thread, with vector segments.
void im2colRows(const Im2colShape& s, const float* x, int64_t p0, int64_t p1, float* dst,
                int64_t rb, int64_t re);
}  // namespace isa_avx512

}  // namespace kiln::kernels
