// A naive ConvInteger reference for the tests: the exact sum of centred products in int64,
// wrapped to int32 through unsigned arithmetic (the overflow rule of kiln/kernels/conv_integer.h).
#pragma once

#include <cstdint>
#include <vector>

#include "kiln/kernels/conv_integer.h"

namespace kt {

inline int32_t value(const std::vector<uint8_t>& bytes, size_t i, bool isSigned) {
  return isSigned ? static_cast<int8_t>(bytes[i]) : bytes[i];
}

inline std::vector<int32_t> integerConvReference(const kiln::kernels::IntegerConvParams& p,
                                                 const std::vector<uint8_t>& x,
                                                 const std::vector<uint8_t>& w) {
  const size_t rank = p.in.size();
  int64_t inSize = 1, outSize = 1, kSize = 1;
  for (size_t d = 0; d < rank; ++d) {
    inSize *= p.in[d];
    outSize *= p.out[d];
    kSize *= p.kernel[d];
  }
  const int64_t cg = p.inChannels / p.group, mg = p.outChannels / p.group;
  std::vector<int32_t> y(static_cast<size_t>(p.batch * p.outChannels * outSize));
  std::vector<int64_t> o(rank), t(rank);
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t m = 0; m < p.outChannels; ++m) {
      const int32_t wz = p.wZeroPoints[p.wZeroPoints.size() == 1 ? 0 : m];
      const int64_t g = m / mg;
      for (int64_t op = 0; op < outSize; ++op) {
        for (int64_t r = op, d = static_cast<int64_t>(rank) - 1; d >= 0; --d) {
          o[d] = r % p.out[d];
          r /= p.out[d];
        }
        int64_t sum = 0;
        for (int64_t c = 0; c < cg; ++c)
          for (int64_t tap = 0; tap < kSize; ++tap) {
            for (int64_t r = tap, d = static_cast<int64_t>(rank) - 1; d >= 0; --d) {
              t[d] = r % p.kernel[d];
              r /= p.kernel[d];
            }
            int64_t offset = 0;
            bool inside = true;
            for (size_t d = 0; d < rank; ++d) {
              const int64_t i = o[d] * p.stride[d] - p.padBegin[d] + t[d] * p.dilation[d];
              inside = inside && i >= 0 && i < p.in[d];
              offset = offset * p.in[d] + i;
            }
            if (!inside) continue;
            const int64_t xi = (b * p.inChannels + g * cg + c) * inSize + offset;
            const int64_t wi = (m * cg + c) * kSize + tap;
            sum += int64_t{value(x, static_cast<size_t>(xi), p.xSigned) - p.xZeroPoint} *
                   (value(w, static_cast<size_t>(wi), p.wSigned) - wz);
          }
        y[static_cast<size_t>((b * p.outChannels + m) * outSize + op)] =
            static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(sum)));
      }
    }
  return y;
}

}  // namespace kt
