// Tensors generated from scalars: Range, ConstantOfShape (fill) and OneHot.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kiln/kernels/shape.h"

namespace kiln::kernels {

// ONNX Range length: max(ceil((limit - start) / delta), 0); delta == 0 (or a NaN/inf input)
// throws kInvalidArgument. Integer forms are exact (no float rounding of the count).
int64_t rangeLength(float start, float limit, float delta);
// rangeLength for int32.
int64_t rangeLength(int32_t start, int32_t limit, int32_t delta);
// rangeLength for int64.
int64_t rangeLength(int64_t start, int64_t limit, int64_t delta);

// y[i] = start + i * delta for i < n. The float form computes each element in double and rounds
// once (numpy.arange's values), instead of accumulating rounding by repeated addition.
void range(float start, float delta, int64_t n, float* y);
// range for int32 (wraps on overflow, which rangeLength's n never reaches).
void range(int32_t start, int32_t delta, int64_t n, int32_t* y);
// range for int64.
void range(int64_t start, int64_t delta, int64_t n, int64_t* y);

// ConstantOfShape: writes n copies of the elemSize-byte (1, 2, 4 or 8) value at `value` (nullptr
// = zero bytes) to y.
void fill(void* y, int64_t n, const void* value, size_t elemSize);

// ONNX OneHot: y.shape = indicesShape with `depth` inserted at `axis` (in [-r-1, r]); y is
// `on` where the (wrapped, if in [-depth, 0)) index equals the position, `off` elsewhere; indices
// outside [-depth, depth) give an all-off row. off/on point at one elemSize-byte element.
void oneHot(const int64_t* indices, const Shape& indicesShape, int64_t depth, int64_t axis,
            const void* off, const void* on, size_t elemSize, void* y);

}  // namespace kiln::kernels
