// Shared by the row kernels (LayerNorm, Softmax): one block per row, float32 accumulation for
// float32 and half data alike, and block-wide sum / max.
#pragma once

#include <cuda_fp16.h>

namespace kiln::cuda::rows {

constexpr int kThreads = 256;  // a multiple of the warp size

__device__ inline float load(const float* p, int64_t i) { return p[i]; }
__device__ inline float load(const __half* p, int64_t i) { return __half2float(p[i]); }
__device__ inline void store(float* p, int64_t i, float v) { p[i] = v; }
__device__ inline void store(__half* p, int64_t i, float v) { p[i] = __float2half_rn(v); }

struct Sum {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct Max {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// Combines every thread's `v` over the block; all threads get the result. `scratch` holds one
// float per warp; the block must not use it concurrently for another reduction.
template <typename Op>
__device__ float blockReduce(float v, Op op, float* scratch) {
  for (int offset = 16; offset > 0; offset >>= 1)
    v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int warps = blockDim.x / 32;
  __syncthreads();  // an earlier reduction may still read scratch
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = scratch[0];
  for (int w = 1; w < warps; ++w) v = op(v, scratch[w]);
  return v;
}

}  // namespace kiln::cuda::rows
