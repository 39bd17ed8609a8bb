// Pooling: one thread per output element for windows (eight channels of one position for
// NHWC half tensors whose channels come in eights), one warp per row for NCHW global pools and
// one thread per channel (coalesced across channels) for NHWC ones.
#include <cfloat>
#include <cstdint>
#include <type_traits>

#include "kernels/cuda/cuda_kernels.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

__device__ float load(const float* p, int64_t i) { return p[i]; }
__device__ float load(const __half* p, int64_t i) { return __half2float(p[i]); }
__device__ void store(float* p, int64_t i, float v) { p[i] = v; }
__device__ void store(__half* p, int64_t i, float v) { p[i] = __float2half_rn(v); }

int blocksFor(int64_t count) {
  const int64_t blocks = (count + kThreads - 1) / kThreads;
  return static_cast<int>(blocks < 65535 * 16 ? blocks : 65535 * 16);
}

template <typename T>
__global__ void pool2dKernel(Pool2dParams p, const T* x, T* y, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    // Output coordinates of element i in its layout; `step` is the distance between
    // neighbouring input positions of one channel.
    int64_t ow, oh, n, c;
    if (p.nhwc) {
      c = i % p.channels;
      ow = (i / p.channels) % p.outW;
      oh = (i / (p.channels * p.outW)) % p.outH;
      n = i / (p.channels * p.outW * p.outH);
    } else {
      ow = i % p.outW;
      oh = (i / p.outW) % p.outH;
      c = (i / (p.outW * p.outH)) % p.channels;
      n = i / (p.outW * p.outH * p.channels);
    }
    const int64_t plane = p.inH * p.inW;
    const T* in = p.nhwc ? x + n * plane * p.channels + c : x + (n * p.channels + c) * plane;
    const int64_t step = p.nhwc ? p.channels : 1;
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
        const float v = load(in, (h * p.inW + w) * step);
        best = v > best ? v : best;
        sum += v;
        ++valid;
      }
    }
    if (p.max) {
      store(y, i, best);
    } else {
      const int64_t divisor = p.countIncludePad ? padded : valid;
      store(y, i, divisor > 0 ? sum / static_cast<float>(divisor) : 0.0f);
    }
  }
}

// NHWC half, channels a multiple of 8: a thread pools eight neighbouring channels of one output
// position with 16-byte loads, in 32-bit index arithmetic (the caller checks the sizes); per
// channel the same float steps as pool2dKernel, so the same bits. The generic kernel's 64-bit
// divisions per element made resnet50's stem MaxPool at batch 64 take 470 us (10x its bytes).
__global__ void pool2dNhwcHalf8Kernel(Pool2dParams p, const uint4* x, uint4* y, int count) {
  const int groups = static_cast<int>(p.channels) / 8;
  const int inH = static_cast<int>(p.inH), inW = static_cast<int>(p.inW);
  const int outW = static_cast<int>(p.outW), outH = static_cast<int>(p.outH);
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < count; i += gridDim.x * blockDim.x) {
    const int g = i % groups;
    const int pos = i / groups;
    const int ow = pos % outW;
    const int oh = (pos / outW) % outH;
    const int n = pos / (outW * outH);
    const uint4* in = x + static_cast<int64_t>(n) * inH * inW * groups + g;
    const int h0 = oh * static_cast<int>(p.strideH) - static_cast<int>(p.padTop);
    const int w0 = ow * static_cast<int>(p.strideW) - static_cast<int>(p.padLeft);
    float best[8], sum[8];
    for (int k = 0; k < 8; ++k) best[k] = -FLT_MAX, sum[k] = 0.0f;
    int valid = 0, padded = 0;
    for (int kh = 0; kh < p.kernelH; ++kh) {
      const int h = h0 + kh * static_cast<int>(p.dilationH);
      for (int kw = 0; kw < p.kernelW; ++kw) {
        const int w = w0 + kw * static_cast<int>(p.dilationW);
        if (h < inH + p.padBottom && w < inW + p.padRight) ++padded;
        if (h < 0 || h >= inH || w < 0 || w >= inW) continue;
        const uint4 raw = in[(h * inW + w) * groups];
        const __half2* v = reinterpret_cast<const __half2*>(&raw);
        for (int k = 0; k < 4; ++k) {
          const float2 f = __half22float2(v[k]);
          best[2 * k] = f.x > best[2 * k] ? f.x : best[2 * k];
          best[2 * k + 1] = f.y > best[2 * k + 1] ? f.y : best[2 * k + 1];
          sum[2 * k] += f.x;
          sum[2 * k + 1] += f.y;
        }
        ++valid;
      }
    }
    uint4 out;
    __half* o = reinterpret_cast<__half*>(&out);
    const int divisor = p.countIncludePad ? padded : valid;
    for (int k = 0; k < 8; ++k) {
      const float r = p.max ? best[k] : (divisor > 0 ? sum[k] / static_cast<float>(divisor) : 0.0f);
      o[k] = __float2half_rn(r);
    }
    y[i] = out;
  }
}

template <typename T>
__global__ void globalPoolKernel(const T* x, T* y, int64_t rows, int64_t spatial, bool max) {
  const int64_t warp = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (warp >= rows) return;
  const T* in = x + warp * spatial;
  float acc = max ? -FLT_MAX : 0.0f;
  for (int64_t k = lane; k < spatial; k += 32) {
    const float v = load(in, k);
    acc = max ? fmaxf(acc, v) : acc + v;
  }
  for (int offset = 16; offset > 0; offset /= 2) {
    const float other = __shfl_down_sync(0xffffffffu, acc, offset);
    acc = max ? fmaxf(acc, other) : acc + other;
  }
  if (lane == 0) store(y, warp, max ? acc : acc / static_cast<float>(spatial));
}

template <typename T>
__global__ void globalPoolNhwcKernel(const T* x, T* y, int64_t batch, int64_t channels,
                                     int64_t spatial, bool max) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;  // n * channels + c
  if (i >= batch * channels) return;
  const int64_t n = i / channels, c = i % channels;
  const T* in = x + n * spatial * channels + c;
  float acc = max ? -FLT_MAX : 0.0f;
  for (int64_t k = 0; k < spatial; ++k) {
    const float v = load(in, k * channels);
    acc = max ? fmaxf(acc, v) : acc + v;
  }
  store(y, i, max ? acc : acc / static_cast<float>(spatial));
}

}  // namespace

template <typename T>
cudaError_t pool2d(const Pool2dParams& p, const T* x, T* y, cudaStream_t stream) {
  const int64_t count = p.batch * p.channels * p.outH * p.outW;
  if (count == 0) return cudaSuccess;
  const bool aligned =
      reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(y) % 16 == 0;
  // Every input offset (at most batch * inH * inW * channels) fits a 32-bit int.
  const bool small = p.batch * p.inH * p.inW * p.channels < (int64_t{1} << 31) &&
                     p.inH + p.padBottom < (1 << 20) && p.inW + p.padRight < (1 << 20);
  if (std::is_same_v<T, __half> && p.nhwc && p.channels % 8 == 0 && aligned && small) {
    pool2dNhwcHalf8Kernel<<<blocksFor(count / 8), kThreads, 0, stream>>>(
        p, reinterpret_cast<const uint4*>(x), reinterpret_cast<uint4*>(y),
        static_cast<int>(count / 8));
  } else {
    pool2dKernel<<<blocksFor(count), kThreads, 0, stream>>>(p, x, y, count);
  }
  return cudaGetLastError();
}

template <typename T>
cudaError_t globalPool(const T* x, T* y, int64_t batch, int64_t channels, int64_t spatial, bool max,
                       bool nhwc, cudaStream_t stream) {
  const int64_t rows = batch * channels;
  if (rows == 0) return cudaSuccess;
  if (nhwc) {
    globalPoolNhwcKernel<<<blocksFor(rows), kThreads, 0, stream>>>(x, y, batch, channels, spatial,
                                                                   max);
  } else {
    const int64_t blocks = (rows * 32 + kThreads - 1) / kThreads;
    globalPoolKernel<<<static_cast<int>(blocks), kThreads, 0, stream>>>(x, y, rows, spatial, max);
  }
  return cudaGetLastError();
}

#define KILN_POOL(T)                                                                      \
  template cudaError_t pool2d<T>(const Pool2dParams&, const T*, T*, cudaStream_t);        \
  template cudaError_t globalPool<T>(const T*, T*, int64_t, int64_t, int64_t, bool, bool, \
                                     cudaStream_t);
KILN_POOL(float)
KILN_POOL(__half)
#undef KILN_POOL

}  // namespace kiln::cuda
