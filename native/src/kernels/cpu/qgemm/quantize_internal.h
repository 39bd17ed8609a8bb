// The AVX-512 bodies of quantize.h's kernels; they return how many leading elements they did
// (a multiple of 16) and the portable loop in quantize.cc finishes the rest.
#pragma once

#include <cstdint>

#include "kiln/kernels/quantize.h"

namespace kiln::kernels::qgemm {

int64_t quantizeLinearAvx512(const float* x, int64_t n, float scale, int32_t zeroPoint,
                             bool outSigned, void* y);
int64_t dequantizeLinearAvx512(const void* x, bool inSigned, int64_t n, float scale,
                               int32_t zeroPoint, float* y);
int64_t qlinearAddAvx512(const void* a, const void* b, int64_t n, const QAddParams& p, void* c);

}  // namespace kiln::kernels::qgemm
