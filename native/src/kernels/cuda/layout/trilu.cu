// Trilu: each element kept or zeroed by its (row, column) in its matrix, moved as raw bytes.
#include <cstdint>

#include "kernels/cuda/cuda_kernels.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

template <typename E>
__global__ void triluKernel(const E* x, E* y, int64_t count, int64_t rows, int64_t cols, int64_t k,
                            bool upper) {
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < count;
       e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t j = e % cols, i = (e / cols) % rows;
    const bool keep = upper ? j - i >= k : j - i <= k;
    y[e] = keep ? x[e] : E{};
  }
}

template <typename E>
cudaError_t launch(const void* x, void* y, int64_t count, int64_t rows, int64_t cols, int64_t k,
                   bool upper, cudaStream_t stream) {
  const int64_t blocks = (count + kThreads - 1) / kThreads;
  triluKernel<<<static_cast<int>(blocks < 65535 * 16 ? blocks : 65535 * 16), kThreads, 0, stream>>>(
      static_cast<const E*>(x), static_cast<E*>(y), count, rows, cols, k, upper);
  return cudaGetLastError();
}

}  // namespace

cudaError_t trilu(const void* x, void* y, int elementBytes, int64_t matrices, int64_t rows,
                  int64_t cols, int64_t k, bool upper, cudaStream_t stream) {
  const int64_t count = matrices * rows * cols;
  if (count == 0) return cudaSuccess;
  switch (elementBytes) {
    case 1:
      return launch<uint8_t>(x, y, count, rows, cols, k, upper, stream);
    case 2:
      return launch<uint16_t>(x, y, count, rows, cols, k, upper, stream);
    case 4:
      return launch<uint32_t>(x, y, count, rows, cols, k, upper, stream);
    case 8:
      return launch<uint64_t>(x, y, count, rows, cols, k, upper, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace kiln::cuda
