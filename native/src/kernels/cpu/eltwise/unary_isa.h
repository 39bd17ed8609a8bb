// Vector paths of unary(), for the ops whose scalar form calls libm per element.
#pragma once

#include <cstddef>

#include "kiln/kernels/eltwise.h"

namespace kiln::kernels::isa_avx512 {
// y = op(x) for n elements; false (nothing written) when op has no vector path here.
bool unaryVector(UnaryOp op, const float* x, float* y, size_t n);
}  // namespace kiln::kernels::isa_avx512
