// The AVX-512 bodies of quantize.h's kernels. The elementwise ones return how many leading
// elements they did (a multiple of 16) and the portable loop in quantize.cc finishes the rest.
#pragma once

#include <cstdint>

#include "kiln/kernels/quantize.h"

namespace kiln::kernels::qgemm {

int64_t quantizeLinearAvx512(const float* x, int64_t n, float scale, int32_t zeroPoint,
                             bool outSigned, void* y);
int64_t dequantizeLinearAvx512(const void* x, bool inSigned, int64_t n, float scale,
                               int32_t zeroPoint, float* y);
int64_t qlinearAddAvx512(const void* a, const void* b, int64_t n, const QAddParams& p, void* c);

// maxPool2d8 over planes [begin, end) (output oh x ow each), whatever the window (the caller
// keeps wide ones away); scratch holds maxPoolAvx512Bytes, of which the first
// maxPoolAvx512RowBytes are the padded row.
void maxPoolPlanesAvx512(const Pool2dParams& p, const void* x, bool isSigned, void* y,
                         int64_t begin, int64_t end, int64_t oh, int64_t ow, uint8_t* scratch);
int64_t maxPoolAvx512RowBytes(const Pool2dParams& p, int64_t ow);
int64_t maxPoolAvx512Bytes(const Pool2dParams& p, int64_t ow);

}  // namespace kiln::kernels::qgemm
