// Cast between float32, float16, int8, uint8, int32, int64 and bool with the cpu's
// kernels::cast semantics: every source is read as a double or an int64 (both hold every
// source value exactly), then converted once to the destination.
#include <cstdint>

#include "kernels/cuda/eltwise/elementwise.cuh"

namespace kiln::cuda {
namespace {

using elementwise::blocksFor;
using elementwise::kThreads;

// A source element, as the value it holds.
struct Value {
  double f;   // float sources
  int64_t i;  // integer and bool sources
};

__device__ Value read(const void* x, CastType t, int64_t k) {
  switch (t) {
    case CastType::kFloat32:
      return {static_cast<const float*>(x)[k], 0};
    case CastType::kFloat16:
      return {__half2float(static_cast<const __half*>(x)[k]), 0};
    case CastType::kInt8:
      return {0, static_cast<const int8_t*>(x)[k]};
    case CastType::kUInt8:
      return {0, static_cast<const uint8_t*>(x)[k]};
    case CastType::kInt32:
      return {0, static_cast<const int32_t*>(x)[k]};
    case CastType::kInt64:
      return {0, static_cast<const int64_t*>(x)[k]};
    case CastType::kBool:
      return {0, static_cast<const uint8_t*>(x)[k] != 0};
  }
  return {0, 0};
}

// Truncate toward zero and clamp into [lo, hi]; NaN -> 0. `hi1` is hi + 1 (exact in double).
__device__ int64_t saturate(double v, double lo, double hi1, int64_t loInt, int64_t hiInt) {
  if (v != v) return 0;
  const double t = trunc(v);
  if (t >= hi1) return hiInt;
  if (t < lo) return loInt;
  return static_cast<int64_t>(t);
}

__global__ void castKernel(const void* x, CastType from, void* y, CastType to, int64_t count) {
  const bool floatSource = from == CastType::kFloat32 || from == CastType::kFloat16;
  for (int64_t k = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; k < count;
       k += int64_t{gridDim.x} * blockDim.x) {
    const Value v = read(x, from, k);
    // Integers reach floats as the cpu's static_cast does (int64 -> float rounds to nearest).
    const float asFloat = floatSource ? static_cast<float>(v.f) : static_cast<float>(v.i);
    switch (to) {
      case CastType::kFloat32:
        static_cast<float*>(y)[k] = asFloat;
        break;
      case CastType::kFloat16:
        static_cast<__half*>(y)[k] = __float2half_rn(asFloat);
        break;
      case CastType::kBool:
        static_cast<uint8_t*>(y)[k] = floatSource ? v.f != 0 : v.i != 0;
        break;
      case CastType::kInt8:
        static_cast<int8_t*>(y)[k] = static_cast<int8_t>(
            floatSource ? saturate(v.f, -128.0, 128.0, -128, 127) : static_cast<int8_t>(v.i));
        break;
      case CastType::kUInt8:
        static_cast<uint8_t*>(y)[k] = static_cast<uint8_t>(
            floatSource ? saturate(v.f, 0.0, 256.0, 0, 255) : static_cast<uint8_t>(v.i));
        break;
      case CastType::kInt32:
        static_cast<int32_t*>(y)[k] = static_cast<int32_t>(
            floatSource ? saturate(v.f, -2147483648.0, 2147483648.0, INT32_MIN, INT32_MAX)
                        : static_cast<int32_t>(v.i));
        break;
      case CastType::kInt64:
        static_cast<int64_t*>(y)[k] =
            floatSource
                ? saturate(v.f, -9223372036854775808.0, 9223372036854775808.0, INT64_MIN, INT64_MAX)
                : v.i;
        break;
    }
  }
}

}  // namespace

cudaError_t cast(const void* x, CastType from, void* y, CastType to, int64_t count,
                 cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  castKernel<<<blocksFor(count), kThreads, 0, stream>>>(x, from, y, to, count);
  return cudaGetLastError();
}

}  // namespace kiln::cuda
