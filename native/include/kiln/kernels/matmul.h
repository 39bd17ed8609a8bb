// ONNX MatMul: numpy matmul semantics with broadcast batch dims and 1-D promotion.
#pragma once

#include "kiln/kernels/activation.h"
#include "kiln/kernels/shape.h"

namespace kiln::kernels {

// Output shape of matmul(a, b); throws kInvalidArgument when K differs or batch dims do not
// broadcast.
Shape matmulOutputShape(const Shape& a, const Shape& b);

// y = act(a @ b + bias) with bias (N values, may be null) added to every row; batches run as
// one GEMM when b has no batch dims, else per batch (in parallel when they are many and small).
void matmul(const float* a, const Shape& aShape, const float* b, const Shape& bShape, float* y,
            const float* bias = nullptr, const Activation& act = {});

}  // namespace kiln::kernels
