// FP16 weight storage: a plan may hold weights as float16 behind a Cast to float32 (the
// builder's 'fp16' flag); when an engine loads, each such Cast of a constant becomes a float32
// constant (F16C conversion), so the FP32 kernels and their weight packing run unchanged.
#pragma once

#include "graph/network.h"

namespace kiln {

// Rewrites `network` in place; layers stay in order, and tensor indices do not change.
void expandHalfWeights(Network& network);

}  // namespace kiln
