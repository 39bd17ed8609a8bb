// Gather along one axis: y[o, j, k] = x[o, indices[j], k] over [outer, count, inner], with
// negative indices counted from the end. The caller has checked every index against the axis
// (the cuda device takes constant indices only), so the kernel does not.
#include <cstdint>

#include "kernels/cuda/cuda_kernels.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

template <typename E, typename I>
__global__ void gatherKernel(const E* x, const I* indices, E* y, int64_t axisDim, int64_t count,
                             int64_t inner, int64_t total) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t k = i % inner, j = (i / inner) % count, o = i / (inner * count);
    int64_t index = static_cast<int64_t>(indices[j]);
    if (index < 0) index += axisDim;
    y[i] = x[(o * axisDim + index) * inner + k];
  }
}

template <typename E, typename I>
cudaError_t launch(const GatherShape& s, const void* x, const void* indices, void* y,
                   cudaStream_t stream) {
  const int64_t total = s.outer * s.count * s.inner;
  const int64_t blocks = (total + kThreads - 1) / kThreads;
  gatherKernel<<<static_cast<int>(blocks < 65535 * 16 ? blocks : 65535 * 16), kThreads, 0,
                 stream>>>(static_cast<const E*>(x), static_cast<const I*>(indices),
                           static_cast<E*>(y), s.axisDim, s.count, s.inner, total);
  return cudaGetLastError();
}

template <typename I>
cudaError_t byElement(const GatherShape& s, const void* x, const void* indices, void* y,
                      cudaStream_t stream) {
  switch (s.elementBytes) {
    case 1:
      return launch<uint8_t, I>(s, x, indices, y, stream);
    case 2:
      return launch<uint16_t, I>(s, x, indices, y, stream);
    case 4:
      return launch<uint32_t, I>(s, x, indices, y, stream);
    case 8:
      return launch<uint64_t, I>(s, x, indices, y, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace

cudaError_t gather(const GatherShape& s, const void* x, const void* indices, void* y,
                   cudaStream_t stream) {
  if (s.outer * s.count * s.inner == 0) return cudaSuccess;
  return s.indices64 ? byElement<int64_t>(s, x, indices, y, stream)
                     : byElement<int32_t>(s, x, indices, y, stream);
}

}  // namespace kiln::cuda
