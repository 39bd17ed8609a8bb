// The engine behind transpose, slice, pad and tile: an output element's source offset is a sum
// of one table entry per output dim (or "padding" when any entry is -1).
#pragma once

#include <cstdint>
#include <vector>

#include "kiln/kernels/shape.h"

namespace kiln::kernels {

// tables[d][i] = contribution of output index i along dim d to the source offset, -1 = padding.
void indexMapCopy(const float* x, const Shape& outShape,
                  const std::vector<std::vector<int64_t>>& tables, float padValue, float* y);

}  // namespace kiln::kernels
