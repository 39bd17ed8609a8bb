// NCHW pooling: one thread per output element for windows, one warp per row for global pools.
#include <cfloat>

#include "kernels/cuda/cuda_kernels.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void pool2dKernel(Pool2dParams p, const float* x, float* y, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t ow = i % p.outW;
    const int64_t oh = (i / p.outW) % p.outH;
    const int64_t plane = i / (p.outW * p.outH);  // n * C + c
    const float* in = x + plane * p.inH * p.inW;
    const int64_t h0 = oh * p.strideH - p.padTop;
    const int64_t w0 = ow * p.strideW - p.padLeft;
    float best = -FLT_MAX;
    float sum = 0.0f;
    int64_t valid = 0, padded = 0;
    for (int64_t kh = 0; kh < p.kernelH; ++kh) {
      const int64_t h = h0 + kh * p.dilationH;
      for (int64_t kw = 0; kw < p.kernelW; ++kw) {
        const int64_t w = w0 + kw * p.dilationW;
        // Window positions inside the padded input count for count_include_pad; those past
        // it (ceil_mode's extra window) never do.
        if (h < p.inH + p.padBottom && w < p.inW + p.padRight) ++padded;
        if (h < 0 || h >= p.inH || w < 0 || w >= p.inW) continue;
        const float v = in[h * p.inW + w];
        best = v > best ? v : best;
        sum += v;
        ++valid;
      }
    }
    if (p.max) {
      y[i] = best;
    } else {
      const int64_t divisor = p.countIncludePad ? padded : valid;
      y[i] = divisor > 0 ? sum / static_cast<float>(divisor) : 0.0f;
    }
  }
}

__global__ void globalPoolKernel(const float* x, float* y, int64_t rows, int64_t spatial,
                                 bool max) {
  const int64_t warp = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (warp >= rows) return;
  const float* in = x + warp * spatial;
  float acc = max ? -FLT_MAX : 0.0f;
  for (int64_t k = lane; k < spatial; k += 32) acc = max ? fmaxf(acc, in[k]) : acc + in[k];
  for (int offset = 16; offset > 0; offset /= 2) {
    const float other = __shfl_down_sync(0xffffffffu, acc, offset);
    acc = max ? fmaxf(acc, other) : acc + other;
  }
  if (lane == 0) y[warp] = max ? acc : acc / static_cast<float>(spatial);
}

}  // namespace

cudaError_t pool2d(const Pool2dParams& p, const float* x, float* y, cudaStream_t stream) {
  const int64_t count = p.batch * p.channels * p.outH * p.outW;
  if (count == 0) return cudaSuccess;
  int64_t blocks = (count + kThreads - 1) / kThreads;
  if (blocks > 65535 * 16) blocks = 65535 * 16;
  pool2dKernel<<<static_cast<int>(blocks), kThreads, 0, stream>>>(p, x, y, count);
  return cudaGetLastError();
}

cudaError_t globalPool(const float* x, float* y, int64_t rows, int64_t spatial, bool max,
                       cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  const int64_t threads = rows * 32;
  const int64_t blocks = (threads + kThreads - 1) / kThreads;
  globalPoolKernel<<<static_cast<int>(blocks), kThreads, 0, stream>>>(x, y, rows, spatial, max);
  return cudaGetLastError();
}

}  // namespace kiln::cuda
