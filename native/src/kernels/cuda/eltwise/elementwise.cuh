// What the elementwise kernels share: the launch shape (one thread per element, grid-stride
// loops), float / half loads and stores (half computes in float and rounds once on store), and
// the broadcast offsets of an output element.
#pragma once

#include <cuda_fp16.h>

#include "kernels/cuda/cuda_kernels.h"

namespace kiln::cuda::elementwise {

constexpr int kThreads = 256;

inline int blocksFor(int64_t count) {
  const int64_t blocks = (count + kThreads - 1) / kThreads;
  return static_cast<int>(blocks < 65535 * 16 ? blocks : 65535 * 16);
}

__device__ inline float load(const float* p, int64_t i) { return p[i]; }
__device__ inline float load(const __half* p, int64_t i) { return __half2float(p[i]); }
__device__ inline void store(float* p, int64_t i, float v) { p[i] = v; }
__device__ inline void store(__half* p, int64_t i, float v) { p[i] = __float2half_rn(v); }

// The offsets into the operands (strideA, strideB, strideC) of output element i.
__device__ inline void offsets(const BroadcastShape& s, int64_t i, int64_t* a, int64_t* b,
                               int64_t* c = nullptr) {
  int64_t oa = 0, ob = 0, oc = 0;
  for (int d = s.rank - 1; d >= 0; --d) {
    const int64_t coord = i % s.dims[d];
    i /= s.dims[d];
    oa += coord * s.strideA[d];
    ob += coord * s.strideB[d];
    oc += coord * s.strideC[d];
  }
  *a = oa;
  *b = ob;
  if (c != nullptr) *c = oc;
}

}  // namespace kiln::cuda::elementwise
