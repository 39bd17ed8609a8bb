// Softmax and LogSoftmax along one axis.
#pragma once

#include <cstdint>

namespace kiln::kernels {

// x viewed as [outer, axisDim, inner]: normalizes along the middle axis (ONNX opset >= 13 with
// outer = prod(shape[:axis]), inner = prod(shape[axis+1:]); for opset < 13 pass
// axisDim = prod(shape[axis:]) and inner = 1). Computes log-softmax when `logSoftmax`.
void softmax(int64_t outer, int64_t axisDim, int64_t inner, const float* x, float* y,
             bool logSoftmax = false);

}  // namespace kiln::kernels
