// Vector paths of softmax().
#pragma once

#include <cstdint>

namespace kiln::kernels::isa_avx512 {
// Softmax of n contiguous floats (n >= 1).
void softmaxContiguous(const float* x, float* y, int64_t n);
}  // namespace kiln::kernels::isa_avx512
