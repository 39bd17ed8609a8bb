// Broadcast ops that write or read bool bytes: comparisons, And / Or / Xor / Not, and Where
// (which moves elements of any type as raw bytes).
#include "kernels/cuda/eltwise/elementwise.cuh"

namespace kiln::cuda {
namespace {

using elementwise::blocksFor;
using elementwise::kThreads;
using elementwise::load;
using elementwise::offsets;

template <typename T>
__global__ void compareKernel(CompareOp op, const T* a, const T* b, uint8_t* out, BroadcastShape s,
                              int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    int64_t ia, ib;
    offsets(s, i, &ia, &ib);
    const float x = load(a, ia), y = load(b, ib);
    bool r = false;
    switch (op) {
      case CompareOp::kEqual:
        r = x == y;
        break;
      case CompareOp::kLess:
        r = x < y;
        break;
      case CompareOp::kLessOrEqual:
        r = x <= y;
        break;
      case CompareOp::kGreater:
        r = x > y;
        break;
      case CompareOp::kGreaterOrEqual:
        r = x >= y;
        break;
    }
    out[i] = r;
  }
}

__global__ void logicalKernel(LogicalOp op, const uint8_t* a, const uint8_t* b, uint8_t* out,
                              BroadcastShape s, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    int64_t ia, ib;
    offsets(s, i, &ia, &ib);
    const bool x = a[ia] != 0;
    const bool y = op == LogicalOp::kNot ? false : b[ib] != 0;
    bool r = false;
    switch (op) {
      case LogicalOp::kAnd:
        r = x && y;
        break;
      case LogicalOp::kOr:
        r = x || y;
        break;
      case LogicalOp::kXor:
        r = x != y;
        break;
      case LogicalOp::kNot:
        r = !x;
        break;
    }
    out[i] = r;
  }
}

template <typename E>
__global__ void whereKernel(const uint8_t* cond, const E* x, const E* y, E* out, BroadcastShape s,
                            int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    int64_t ic, ix, iy;
    offsets(s, i, &ic, &ix, &iy);
    out[i] = cond[ic] ? x[ix] : y[iy];
  }
}

template <typename E>
cudaError_t launchWhere(const uint8_t* cond, const void* x, const void* y, void* out,
                        const BroadcastShape& s, int64_t count, cudaStream_t stream) {
  whereKernel<<<blocksFor(count), kThreads, 0, stream>>>(
      cond, static_cast<const E*>(x), static_cast<const E*>(y), static_cast<E*>(out), s, count);
  return cudaGetLastError();
}

}  // namespace

template <typename T>
cudaError_t compare(CompareOp op, const T* a, const T* b, uint8_t* out, const BroadcastShape& shape,
                    int64_t count, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  compareKernel<<<blocksFor(count), kThreads, 0, stream>>>(op, a, b, out, shape, count);
  return cudaGetLastError();
}

cudaError_t logical(LogicalOp op, const uint8_t* a, const uint8_t* b, uint8_t* out,
                    const BroadcastShape& shape, int64_t count, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  logicalKernel<<<blocksFor(count), kThreads, 0, stream>>>(op, a, b, out, shape, count);
  return cudaGetLastError();
}

cudaError_t where(const uint8_t* cond, const void* x, const void* y, void* out, int elementBytes,
                  const BroadcastShape& shape, int64_t count, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  switch (elementBytes) {
    case 1:
      return launchWhere<uint8_t>(cond, x, y, out, shape, count, stream);
    case 2:
      return launchWhere<uint16_t>(cond, x, y, out, shape, count, stream);
    case 4:
      return launchWhere<uint32_t>(cond, x, y, out, shape, count, stream);
    case 8:
      return launchWhere<uint64_t>(cond, x, y, out, shape, count, stream);
  }
  return cudaErrorInvalidValue;
}

template cudaError_t compare<float>(CompareOp, const float*, const float*, uint8_t*,
                                    const BroadcastShape&, int64_t, cudaStream_t);
template cudaError_t compare<__half>(CompareOp, const __half*, const __half*, uint8_t*,
                                     const BroadcastShape&, int64_t, cudaStream_t);

}  // namespace kiln::cuda
