// Pad: each output element finds its source coordinate per dim (constant, reflect, edge or
// wrap, as the cpu's kernels::pad maps them) and copies the element as raw bytes.
#include <cstdint>
#include <cstring>

#include "kernels/cuda/cuda_kernels.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

// The input coordinate that output coordinate `i` reads along one dim; -1: the constant.
__device__ int64_t source(PadMode mode, int64_t i, int64_t before, int64_t dim) {
  int64_t src = i - before;
  if (src >= 0 && src < dim) return src;
  switch (mode) {
    case PadMode::kConstant:
      return -1;
    case PadMode::kEdge:
      return src < 0 ? 0 : dim - 1;
    case PadMode::kWrap:
      return ((src % dim) + dim) % dim;
    case PadMode::kReflect: {  // without repeating the edge: period 2 * (dim - 1)
      const int64_t period = 2 * (dim - 1);
      const int64_t m = ((src % period) + period) % period;
      return m < dim ? m : period - m;
    }
  }
  return -1;
}

template <typename E>
__global__ void padKernel(const E* x, E* y, PadShape s, int64_t count) {
  E value;
  memcpy(&value, &s.value, sizeof(E));
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    int64_t rest = i, offset = 0, stride = 1;
    bool inside = true;
    for (int d = s.rank - 1; d >= 0; --d) {
      const int64_t src = source(s.mode, rest % s.outDims[d], s.before[d], s.inDims[d]);
      rest /= s.outDims[d];
      inside = inside && src >= 0;
      offset += src * stride;
      stride *= s.inDims[d];
    }
    y[i] = inside ? x[offset] : value;
  }
}

template <typename E>
cudaError_t launch(const void* x, void* y, const PadShape& s, int64_t count, cudaStream_t stream) {
  const int64_t blocks = (count + kThreads - 1) / kThreads;
  padKernel<<<static_cast<int>(blocks < 65535 * 16 ? blocks : 65535 * 16), kThreads, 0, stream>>>(
      static_cast<const E*>(x), static_cast<E*>(y), s, count);
  return cudaGetLastError();
}

}  // namespace

cudaError_t pad(const void* x, void* y, int elementBytes, const PadShape& shape, int64_t count,
                cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  switch (elementBytes) {
    case 1:
      return launch<uint8_t>(x, y, shape, count, stream);
    case 2:
      return launch<uint16_t>(x, y, shape, count, stream);
    case 4:
      return launch<uint32_t>(x, y, shape, count, stream);
    case 8:
      return launch<uint64_t>(x, y, shape, count, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace kiln::cuda
