// Shapes as the kernels see them: dims of a dense row-major tensor.
#pragma once

#include <cstdint>
#include <vector>

namespace kiln::kernels {

// Dims of a dense row-major tensor; {} is a scalar.
using Shape = std::vector<int64_t>;

// Number of elements (1 for a scalar).
int64_t shapeSize(const Shape& s);

// Numpy-style broadcast of two shapes; throws kInvalidArgument when a pair of dims is neither
// equal nor 1.
Shape broadcastShapes(const Shape& a, const Shape& b);

}  // namespace kiln::kernels
