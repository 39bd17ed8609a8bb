// Normalizations: BatchNormalization (inference), InstanceNormalization, LayerNormalization.
#pragma once

#include <cstdint>

#include "kiln/kernels/activation.h"

namespace kiln::kernels {

// y = act(scale[c] * (x - mean[c]) / sqrt(var[c] + eps) + bias[c]) over x[N, C, spatial].
void batchNormInference(int64_t batch, int64_t channels, int64_t spatial, const float* x,
                        const float* scale, const float* bias, const float* mean, const float* var,
                        float epsilon, float* y, const Activation& act = {});

// y = scale[c] * (x - mean) / sqrt(var + eps) + bias[c], mean/var over each (n, c) plane of
// x[N, C, spatial] (population variance).
void instanceNorm(int64_t batch, int64_t channels, int64_t spatial, const float* x,
                  const float* scale, const float* bias, float epsilon, float* y);

// LayerNormalization with x viewed as [rows, cols] (rows = prod(shape[:axis]), cols =
// prod(shape[axis:])): y = (x - mean) / sqrt(var + eps) * scale + bias per row; scale/bias have
// cols values (bias may be null). mean / invStdDev (the optional outputs, rows values each) may
// be null.
void layerNorm(int64_t rows, int64_t cols, const float* x, const float* scale, const float* bias,
               float epsilon, float* y, float* mean = nullptr, float* invStdDev = nullptr);

}  // namespace kiln::kernels
