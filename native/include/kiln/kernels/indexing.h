// Ops that produce indices: NonZero and TopK.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kiln/dtype.h"
#include "kiln/kernels/shape.h"

namespace kiln::kernels {

// Number of nonzero elements of x (float: != 0, so -0.0 is zero and NaN is not; float16/bfloat16
// likewise; integers and bool: != 0).
int64_t countNonZero(const void* x, DataType type, const Shape& xShape);

// ONNX NonZero: y is int64 [rank, count] (count from countNonZero), row d holding the d-th
// coordinate of each nonzero element in row-major order. A scalar is treated as shape [1].
void nonZero(const void* x, DataType type, const Shape& xShape, int64_t count, int64_t* y);

// ONNX TopK along axis: values/indices have x's shape with dim axis = k (k <= dim). Largest or
// smallest first; equal values keep the lower index first; NaN counts as larger than every
// number. Results are always sorted (ONNX allows any order when sorted = 0).
void topK(const float* x, const Shape& xShape, int64_t axis, int64_t k, bool largest, float* values,
          int64_t* indices);

// topK on int64 values.
void topK(const int64_t* x, const Shape& xShape, int64_t axis, int64_t k, bool largest,
          int64_t* values, int64_t* indices);

}  // namespace kiln::kernels
