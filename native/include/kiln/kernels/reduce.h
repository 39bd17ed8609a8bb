// Reductions over any set of axes, ArgMax/ArgMin and CumSum.
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

// ONNX CumSum along axis (negative allowed): y[i] = sum of x[j] for j <= i (j < i when
// exclusive; j >= i / j > i when reverse). Float sums accumulate in float, in order.
void cumsum(const float* x, const Shape& xShape, int64_t axis, bool exclusive, bool reverse,
            float* y);

// cumsum on int32 (wrapping on overflow).
void cumsum(const int32_t* x, const Shape& xShape, int64_t axis, bool exclusive, bool reverse,
            int32_t* y);

// cumsum on int64 (wrapping on overflow).
void cumsum(const int64_t* x, const Shape& xShape, int64_t axis, bool exclusive, bool reverse,
            int64_t* y);

}  // namespace kiln::kernels
