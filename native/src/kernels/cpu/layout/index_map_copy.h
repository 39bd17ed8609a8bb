// The engine behind transpose, slice, pad and tile: an output element's source offset is a sum
// of one table entry per output dim (or "padding" when any entry is -1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kiln/kernels/shape.h"

namespace kiln::kernels {

// tables[d][i] = contribution of output index i along dim d to the source offset (in elements),
// -1 = padding, filled with the elemSize bytes at padValue (zeros when null).
void indexMapCopy(const void* x, const Shape& outShape,
                  const std::vector<std::vector<int64_t>>& tables, const void* padValue,
                  size_t elemSize, void* y);

// Throws kInvalidArgument unless elemSize is 1, 2, 4 or 8.
void checkElemSize(const char* op, size_t elemSize);

}  // namespace kiln::kernels
