// Vector paths of the normalization kernels.
#pragma once

#include <cstdint>

namespace kiln::kernels::isa_avx512 {
// One row of layerNorm: out = (x - mean) * invStdDev * scale (+ bias when not null), the mean
// and variance summed in double as the baseline path does; writes the row's mean and
// invStdDev as floats.
void layerNormRow(const float* x, int64_t n, const float* scale, const float* bias, float epsilon,
                  float* out, float* mean, float* invStdDev);
}  // namespace kiln::kernels::isa_avx512
