// LayerNormalization over the last `cols` elements of each row: one block per row, mean and
// variance in two passes over the row (float32 accumulation; the two-pass variance avoids the
// cancellation of E[x^2] - E[x]^2), then y = (x - mean) / sqrt(var + eps) * scale + bias.
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/norm/row_reduce.cuh"

namespace kiln::cuda {
namespace {

template <typename T>
__global__ void layerNormKernel(const T* x, const float* scale, const float* bias, T* y,
                                int64_t cols, float epsilon) {
  __shared__ float scratch[rows::kThreads / 32];
  const int64_t base = blockIdx.x * cols;
  float sum = 0.0f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) sum += rows::load(x, base + c);
  const float mean = rows::blockReduce(sum, rows::Sum{}, scratch) / static_cast<float>(cols);
  float sq = 0.0f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const float d = rows::load(x, base + c) - mean;
    sq += d * d;
  }
  const float var = rows::blockReduce(sq, rows::Sum{}, scratch) / static_cast<float>(cols);
  const float inv = 1.0f / sqrtf(var + epsilon);
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const float v = (rows::load(x, base + c) - mean) * inv * scale[c];
    rows::store(y, base + c, bias != nullptr ? v + bias[c] : v);
  }
}

}  // namespace

template <typename T>
cudaError_t layerNorm(const T* x, const float* scale, const float* bias, T* y, int64_t rowCount,
                      int64_t cols, float epsilon, cudaStream_t stream) {
  if (rowCount == 0 || cols == 0) return cudaSuccess;
  if (rowCount > 0x7fffffff) return cudaErrorInvalidConfiguration;
  layerNormKernel<<<static_cast<unsigned>(rowCount), rows::kThreads, 0, stream>>>(x, scale, bias, y,
                                                                                  cols, epsilon);
  return cudaGetLastError();
}

template cudaError_t layerNorm<float>(const float*, const float*, const float*, float*, int64_t,
                                      int64_t, float, cudaStream_t);
template cudaError_t layerNorm<__half>(const __half*, const float*, const float*, __half*, int64_t,
                                       int64_t, float, cudaStream_t);

}  // namespace kiln::cuda
