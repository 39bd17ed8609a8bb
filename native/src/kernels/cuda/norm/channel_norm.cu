// Normalizations of [batch, channels, spatial] tensors by channel: BatchNormalization
// (inference: given mean and variance), InstanceNormalization (the mean and variance of each
// (n, c) plane), and LRN (across neighbouring channels). The arithmetic follows the cpu's kernels
// step by step: k = scale / sqrt(var + epsilon) in double, rounded to float, then (x - mean) * k +
// bias in float with no fused multiply-add (the cpu rounds the product).
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/norm/row_reduce.cuh"

namespace kiln::cuda {
namespace {

__device__ float affine(float x, float mean, float k, float bias) {
  return __fadd_rn(__fmul_rn(__fsub_rn(x, mean), k), bias);
}

template <typename T>
__global__ void batchNormKernel(const T* x, T* y, int64_t count, int64_t channels, int64_t spatial,
                                const float* scale, const float* bias, const float* mean,
                                const float* var, float epsilon) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t c = (i / spatial) % channels;
    const float k = static_cast<float>(scale[c] / sqrt(static_cast<double>(var[c]) + epsilon));
    rows::store(y, i, affine(rows::load(x, i), mean[c], k, bias[c]));
  }
}

__device__ double blockSum(double v, double* scratch) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = scratch[0];
  for (int w = 1; w < static_cast<int>(blockDim.x / 32); ++w) v += scratch[w];
  return v;
}

// One block per (n, c) plane: a two-pass mean and variance in double, as the cpu's meanVar.
template <typename T>
__global__ void instanceNormKernel(const T* x, T* y, int64_t channels, int64_t spatial,
                                   const float* scale, const float* bias, float epsilon) {
  __shared__ double scratch[rows::kThreads / 32];
  const int64_t plane = blockIdx.x;
  const int64_t c = plane % channels;
  const int64_t base = plane * spatial;
  double sum = 0;
  for (int64_t j = threadIdx.x; j < spatial; j += blockDim.x) sum += rows::load(x, base + j);
  const double m = blockSum(sum, scratch) / static_cast<double>(spatial);
  double sq = 0;
  for (int64_t j = threadIdx.x; j < spatial; j += blockDim.x) {
    const double d = rows::load(x, base + j) - m;
    sq += d * d;
  }
  const double v = blockSum(sq, scratch) / static_cast<double>(spatial);
  const float k = static_cast<float>(scale[c] * (1.0 / sqrt(v + epsilon)));
  const float fm = static_cast<float>(m);
  for (int64_t j = threadIdx.x; j < spatial; j += blockDim.x)
    rows::store(y, base + j, affine(rows::load(x, base + j), fm, k, bias[c]));
}

// One thread per element: its window's squares summed afresh in double (the cpu slides one sum
// along the channels; the window is clamped to the channels, so at most C terms).
template <typename T>
__global__ void lrnKernel(const T* x, T* y, int64_t count, int64_t channels, int64_t inner,
                          int64_t size, float alpha, float beta, float bias) {
  const int64_t before = (size - 1) / 2, after = size - 1 - before;
  const float scale = alpha / static_cast<float>(size);
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t c = (i / inner) % channels;
    const int64_t first = c - before < 0 ? 0 : c - before;
    const int64_t last = c + after >= channels ? channels - 1 : c + after;
    double sum = 0;
    for (int64_t k = first; k <= last; ++k) {
      const double v = rows::load(x, i + (k - c) * inner);
      sum += v * v;
    }
    const float base = __fadd_rn(bias, __fmul_rn(scale, static_cast<float>(sum)));
    rows::store(y, i, rows::load(x, i) / powf(base, beta));
  }
}

}  // namespace

template <typename T>
cudaError_t lrn(const T* x, T* y, int64_t batch, int64_t channels, int64_t inner, int64_t size,
                float alpha, float beta, float bias, cudaStream_t stream) {
  const int64_t count = batch * channels * inner;
  if (count == 0) return cudaSuccess;
  const int64_t blocks = (count + rows::kThreads - 1) / rows::kThreads;
  lrnKernel<<<static_cast<int>(blocks < 65535 * 16 ? blocks : 65535 * 16), rows::kThreads, 0,
              stream>>>(x, y, count, channels, inner, size, alpha, beta, bias);
  return cudaGetLastError();
}

template <typename T>
cudaError_t batchNorm(const T* x, T* y, int64_t batch, int64_t channels, int64_t spatial,
                      const float* scale, const float* bias, const float* mean, const float* var,
                      float epsilon, cudaStream_t stream) {
  const int64_t count = batch * channels * spatial;
  if (count == 0) return cudaSuccess;
  const int64_t blocks = (count + rows::kThreads - 1) / rows::kThreads;
  batchNormKernel<<<static_cast<int>(blocks < 65535 * 16 ? blocks : 65535 * 16), rows::kThreads, 0,
                    stream>>>(x, y, count, channels, spatial, scale, bias, mean, var, epsilon);
  return cudaGetLastError();
}

template <typename T>
cudaError_t instanceNorm(const T* x, T* y, int64_t batch, int64_t channels, int64_t spatial,
                         const float* scale, const float* bias, float epsilon,
                         cudaStream_t stream) {
  const int64_t planes = batch * channels;
  if (planes == 0 || spatial == 0) return cudaSuccess;
  if (planes > 0x7fffffff) return cudaErrorInvalidConfiguration;
  instanceNormKernel<<<static_cast<unsigned>(planes), rows::kThreads, 0, stream>>>(
      x, y, channels, spatial, scale, bias, epsilon);
  return cudaGetLastError();
}

#define KILN_CHANNEL_NORM(T)                                                                  \
  template cudaError_t batchNorm<T>(const T*, T*, int64_t, int64_t, int64_t, const float*,    \
                                    const float*, const float*, const float*, float,          \
                                    cudaStream_t);                                            \
  template cudaError_t instanceNorm<T>(const T*, T*, int64_t, int64_t, int64_t, const float*, \
                                       const float*, float, cudaStream_t);                    \
  template cudaError_t lrn<T>(const T*, T*, int64_t, int64_t, int64_t, int64_t, float, float, \
                              float, cudaStream_t);
KILN_CHANNEL_NORM(float)
KILN_CHANNEL_NORM(__half)
#undef KILN_CHANNEL_NORM

}  // namespace kiln::cuda
