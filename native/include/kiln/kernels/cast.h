// ONNX Cast between float32, float16, bfloat16, int8, uint8, int32, int64 and bool.
#pragma once

#include <cstddef>

#include "kiln/dtype.h"

namespace kiln::kernels {

// Converts n elements of type `from` at x into type `to` at y (x == y only when both types have
// the same size). Semantics, where ONNX leaves them to the implementation:
// - float -> integer: truncate toward zero, then saturate to the target's range; NaN -> 0.
// - integer -> narrower integer: wrap modulo 2^bits (two's complement), as numpy and
//   onnxruntime do.
// - anything -> bool: nonzero (NaN included) -> 1, zero (and -0.0) -> 0; bool -> x: 0 or 1 (any
//   nonzero source byte counts as 1).
// - -> float32: exact when representable, else round to nearest even (int64, int32 > 2^24).
// - -> float16/bfloat16: via float32 (round to nearest even twice for large integers), overflow
//   -> inf; float16/bfloat16 -> anything: exact widening to float32 first.
void cast(const void* x, DataType from, void* y, DataType to, size_t n);

}  // namespace kiln::kernels
