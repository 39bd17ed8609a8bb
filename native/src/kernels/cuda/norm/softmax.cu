// Softmax over the middle dim of an [outer, axis, inner] tensor: one block per (outer, inner)
// row, whose elements are `inner` apart. Subtracts the row's max before exp (no overflow),
// accumulates in float32 for half data too, and divides once per element. LogSoftmax writes
// x - max - log(sum) instead.
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/norm/row_reduce.cuh"

namespace kiln::cuda {
namespace {

template <typename T>
__global__ void softmaxKernel(const T* x, T* y, int64_t axis, int64_t inner, bool log) {
  __shared__ float scratch[rows::kThreads / 32];
  const int64_t row = blockIdx.x;
  const int64_t base = (row / inner) * axis * inner + row % inner;
  float m = -INFINITY;
  for (int64_t j = threadIdx.x; j < axis; j += blockDim.x)
    m = fmaxf(m, rows::load(x, base + j * inner));
  m = rows::blockReduce(m, rows::Max{}, scratch);
  float sum = 0.0f;
  for (int64_t j = threadIdx.x; j < axis; j += blockDim.x)
    sum += expf(rows::load(x, base + j * inner) - m);
  sum = rows::blockReduce(sum, rows::Sum{}, scratch);
  if (log) {
    const float lse = logf(sum);
    for (int64_t j = threadIdx.x; j < axis; j += blockDim.x)
      rows::store(y, base + j * inner, rows::load(x, base + j * inner) - m - lse);
    return;
  }
  for (int64_t j = threadIdx.x; j < axis; j += blockDim.x)
    rows::store(y, base + j * inner, expf(rows::load(x, base + j * inner) - m) / sum);
}

}  // namespace

template <typename T>
cudaError_t softmax(const T* x, T* y, int64_t outer, int64_t axis, int64_t inner,
                    cudaStream_t stream, bool log) {
  const int64_t rowCount = outer * inner;
  if (rowCount == 0 || axis == 0) return cudaSuccess;
  if (rowCount > 0x7fffffff) return cudaErrorInvalidConfiguration;
  softmaxKernel<<<static_cast<unsigned>(rowCount), rows::kThreads, 0, stream>>>(x, y, axis, inner,
                                                                                log);
  return cudaGetLastError();
}

template cudaError_t softmax<float>(const float*, float*, int64_t, int64_t, int64_t, cudaStream_t,
                                    bool);
template cudaError_t softmax<__half>(const __half*, __half*, int64_t, int64_t, int64_t,
                                     cudaStream_t, bool);

}  // namespace kiln::cuda
