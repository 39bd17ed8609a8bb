// out[i] = a[offset of i], the offset given by per-dim strides into `a` (BroadcastShape's
// strideA): broadcasting (stride 0, Expand and GEMM biases) and permuting (Transpose) are both
// this copy. The element is moved as raw bytes, so one kernel serves every dtype.
#include <cstdint>

#include "kernels/cuda/cuda_kernels.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

template <typename E>
__global__ void stridedCopyKernel(const E* a, E* out, BroadcastShape s, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    int64_t rest = i, offset = 0;
    for (int d = s.rank - 1; d >= 0; --d) {
      offset += (rest % s.dims[d]) * s.strideA[d];
      rest /= s.dims[d];
    }
    out[i] = a[offset];
  }
}

template <typename E>
cudaError_t launch(const void* a, void* out, const BroadcastShape& s, int64_t count,
                   cudaStream_t stream) {
  const int64_t blocks = (count + kThreads - 1) / kThreads;
  stridedCopyKernel<<<static_cast<int>(blocks < 65535 * 16 ? blocks : 65535 * 16), kThreads, 0,
                      stream>>>(static_cast<const E*>(a), static_cast<E*>(out), s, count);
  return cudaGetLastError();
}

}  // namespace

cudaError_t stridedCopy(const void* a, void* out, int elementBytes, const BroadcastShape& shape,
                        int64_t count, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  switch (elementBytes) {
    case 1:
      return launch<uint8_t>(a, out, shape, count, stream);
    case 2:
      return launch<uint16_t>(a, out, shape, count, stream);
    case 4:
      return launch<uint32_t>(a, out, shape, count, stream);
    case 8:
      return launch<uint64_t>(a, out, shape, count, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace kiln::cuda
