// ONNX Resize (opset 11-19 semantics, antialias unsupported) on any rank, separably per axis.
#pragma once

#include <vector>

#include "kiln/kernels/shape.h"

namespace kiln::kernels {

// Interpolation modes of ONNX Resize.
enum class ResizeMode { kNearest, kLinear, kCubic };

// coordinate_transformation_mode values.
enum class ResizeCoordMode {
  kHalfPixel,
  kHalfPixelSymmetric,
  kPytorchHalfPixel,
  kAlignCorners,
  kAsymmetric,
  kTfCropAndResize
};

// nearest_mode values.
enum class ResizeNearestMode { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };

// Attributes plus the per-axis scales (out / in when the model gave sizes) and, for
// tf_crop_and_resize, roi = [starts..., ends...] normalized to [0, 1].
struct ResizeParams {
  ResizeMode mode = ResizeMode::kNearest;
  ResizeCoordMode coordMode = ResizeCoordMode::kHalfPixel;
  ResizeNearestMode nearestMode = ResizeNearestMode::kRoundPreferFloor;
  float cubicCoeffA = -0.75f;
  bool excludeOutside = false;
  float extrapolationValue = 0.0f;
  std::vector<float> scales;
  std::vector<float> roi;
};

// y (outShape) = resize(x). Linear and cubic are applied one axis at a time, which equals the
// N-linear / N-cubic tensor product up to rounding.
void resize(const ResizeParams& p, const float* x, const Shape& xShape, const Shape& outShape,
            float* y);

}  // namespace kiln::kernels
