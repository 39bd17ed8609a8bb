// Depthwise 8-bit convolution of one channel, written for the compiler to vectorize over output
// columns; included by qdepthwise.cc (baseline) and qdepthwise_avx512.cc (AVX-512 flags).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/qgemm/qgemm_internal.h"

namespace kiln::kernels::qgemm {

// plane: the channel's input padded on every side with the zero point, width pw. acc: scratch
// for one output row. Writes oh x ow bytes to out.
inline void depthwiseChannel(const QConv2dParams& p, const uint8_t* plane, int64_t pw,
                             const int8_t* filter, int32_t bias, float scale, const QRequant& rq,
                             int64_t oh, int64_t ow, int32_t* __restrict acc,
                             uint8_t* __restrict out) {
  for (int64_t y = 0; y < oh; ++y) {
    for (int64_t x = 0; x < ow; ++x) acc[x] = bias;
    for (int64_t ky = 0; ky < p.kernelH; ++ky) {
      const uint8_t* row = plane + (y * p.strideH + ky * p.dilationH) * pw;
      for (int64_t kx = 0; kx < p.kernelW; ++kx) {
        const int32_t w = filter[ky * p.kernelW + kx];
        // restrict: uint8_t may alias acc, which would keep these loops scalar.
        const uint8_t* __restrict src = row + kx * p.dilationW;
        if (p.strideW == 1) {
          for (int64_t x = 0; x < ow; ++x) acc[x] += w * static_cast<int32_t>(src[x]);
        } else {
          const int64_t s = p.strideW;
          for (int64_t x = 0; x < ow; ++x) acc[x] += w * static_cast<int32_t>(src[x * s]);
        }
      }
    }
    uint8_t* o = out + y * ow;
    for (int64_t x = 0; x < ow; ++x) {
      float v = static_cast<float>(acc[x]) * scale;
      v = v < -kRequantBound ? -kRequantBound : (v > kRequantBound ? kRequantBound : v);
      int32_t q = static_cast<int32_t>(std::nearbyint(v)) + rq.zeroPoint;
      q = q < rq.lo ? rq.lo : (q > rq.hi ? rq.hi : q);
      o[x] = static_cast<uint8_t>(q);
    }
  }
}

}  // namespace kiln::kernels::qgemm
