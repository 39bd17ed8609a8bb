// How far one half tensor is from another: the check a candidate convolution plan passes
// before it may be chosen (cuda_conv_graph.cc).
#include <cmath>

#include "kernels/cuda/cuda_kernels.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

// Non-negative floats order like their bit patterns, so atomicMax on the ints is a float max.
__device__ void maxInto(float* at, float v) {
  atomicMax(reinterpret_cast<int*>(at), __float_as_int(v));
}

__global__ void halfDistanceKernel(const __half* a, const __half* b, int64_t count, float* out) {
  float diff = 0.0f, scale = 0.0f;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    const float x = __half2float(a[i]), y = __half2float(b[i]);
    const float d = fabsf(x - y);
    diff = fmaxf(diff, isfinite(d) ? d : INFINITY);  // NaN or Inf anywhere: infinitely far
    scale = fmaxf(scale, fabsf(y));
  }
  for (int offset = 16; offset > 0; offset /= 2) {
    diff = fmaxf(diff, __shfl_down_sync(0xffffffffu, diff, offset));
    scale = fmaxf(scale, __shfl_down_sync(0xffffffffu, scale, offset));
  }
  if (threadIdx.x % 32 == 0) {
    maxInto(out, diff);
    maxInto(out + 1, scale);
  }
}

}  // namespace

cudaError_t halfDistance(const __half* a, const __half* b, int64_t count, float* out,
                         cudaStream_t stream) {
  cudaError_t status = cudaMemsetAsync(out, 0, 2 * sizeof(float), stream);
  if (status != cudaSuccess || count == 0) return status;
  const int64_t blocks = (count + kThreads - 1) / kThreads;
  halfDistanceKernel<<<static_cast<int>(blocks < 1024 ? blocks : 1024), kThreads, 0, stream>>>(
      a, b, count, out);
  return cudaGetLastError();
}

}  // namespace kiln::cuda
