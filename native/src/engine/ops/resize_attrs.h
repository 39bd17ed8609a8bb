// How Resize and Upsample layers' attributes read, shared by the cpu op (reduce_resize_ops.cc)
// and the cuda op (engine/cuda/cuda_resize_ops.cc) so both devices take the same modes.
#pragma once

#include "engine/op.h"
#include "kiln/kernels/resize.h"

namespace kiln {

// Whether the layer is Resize-10 or Upsample (X and scales only, no coordinate attribute).
inline bool resizeIsOld(const OpContext& ctx) {
  return ctx.layer.op == "Upsample" || ctx.inputCount() == 2;
}

// Fills p's mode, coordMode, nearestMode, cubicCoeffA, excludeOutside and extrapolationValue
// from the layer's attributes (ONNX defaults; Resize-10 and Upsample behave 'asymmetric' and
// 'floor'); unknown names fail the layer.
void readResizeAttributes(const OpContext& ctx, kernels::ResizeParams* p);

}  // namespace kiln
