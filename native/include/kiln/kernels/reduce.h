// Reductions over any set of axes, and ArgMax/ArgMin.
#pragma once

#include <cstdint>
#include <vector>

#include "kiln/kernels/shape.h"

namespace kiln::kernels {

// ONNX Reduce* ops.
enum class ReduceOp { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kSumSquare, kLogSum, kLogSumExp };

// y = reduce(x) over `axes` (negative allowed; empty = all axes). y has x's shape with reduced
// dims set to 1 (keepdims only changes the shape the caller reports, not the data).
void reduce(ReduceOp op, const float* x, const Shape& xShape, const std::vector<int64_t>& axes,
            float* y);

// Index of the max (or min) along axis, first occurrence unless selectLastIndex; y has x's shape
// with dim `axis` set to 1.
void argReduce(bool isMax, const float* x, const Shape& xShape, int64_t axis, bool selectLastIndex,
               int64_t* y);

}  // namespace kiln::kernels
