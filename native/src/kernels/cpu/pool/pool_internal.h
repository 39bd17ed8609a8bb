// Pieces of pool2d shared between its files.
#pragma once

#include <cstdint>

#include "kiln/kernels/pool.h"

namespace kiln::kernels::isa_avx512 {

// Whether maxPoolPlane takes this geometry: max pooling, undilated, strideW 1 or 2.
bool maxPoolPlaneApplies(const Pool2dParams& p);

// Floats of work maxPoolPlane needs for outputs OW wide (one -inf padded input row).
int64_t maxPoolPlaneWork(const Pool2dParams& p, int64_t OW);

// One plane of pool2d for maxPoolPlaneApplies geometry: out (OH x OW) from in (inH x inW), NaN
// propagated as the scalar path does (a NaN tap gives NaN).
void maxPoolPlane(const Pool2dParams& p, int64_t OH, int64_t OW, const float* in, float* out,
                  float* work);

}  // namespace kiln::kernels::isa_avx512
