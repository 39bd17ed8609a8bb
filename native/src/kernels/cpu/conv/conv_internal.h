// Pieces of conv2d shared between its files.
#pragma once

#include "kiln/kernels/conv.h"

namespace kiln::kernels {

// Direct convolution for groups with a single input channel (depthwise, any channel multiplier).
void depthwiseConv2d(const Conv2dParams& p, int64_t outH, int64_t outW, const float* x,
                     const float* w, const float* bias, const float* residual, float* y);

}  // namespace kiln::kernels
