// Elementwise float math of one input (the cpu's unary and math ops), Clip, and the IsNaN /
// IsInf tests. Each function mirrors the cpu's scalar definition, NaN handling included; half
// data computes in float32 and rounds once when stored.
#include <cmath>

#include "kernels/cuda/eltwise/elementwise.cuh"

namespace kiln::cuda {
namespace {

using elementwise::blocksFor;
using elementwise::kThreads;
using elementwise::load;
using elementwise::store;

__device__ float apply(UnaryFn fn, float x, float a, float b) {
  switch (fn) {
    case UnaryFn::kExp:
      return expf(x);
    case UnaryFn::kLog:
      return logf(x);
    case UnaryFn::kSqrt:
      return sqrtf(x);
    case UnaryFn::kErf:
      return erff(x);
    case UnaryFn::kAbs:
      return fabsf(x);
    case UnaryFn::kNeg:
      return -x;
    case UnaryFn::kReciprocal:
      return 1.0f / x;
    case UnaryFn::kFloor:
      return floorf(x);
    case UnaryFn::kCeil:
      return ceilf(x);
    case UnaryFn::kRound:  // half to even, like the cpu's nearbyint
      return rintf(x);
    case UnaryFn::kSin:
      return sinf(x);
    case UnaryFn::kCos:
      return cosf(x);
    case UnaryFn::kTan:
      return tanf(x);
    case UnaryFn::kSign:  // keeps NaN and signed zeros
      return x > 0 ? 1.0f : x < 0 ? -1.0f : x;
    case UnaryFn::kAcos:
      return acosf(x);
    case UnaryFn::kAcosh:
      return acoshf(x);
    case UnaryFn::kAsin:
      return asinf(x);
    case UnaryFn::kAsinh:
      return asinhf(x);
    case UnaryFn::kAtan:
      return atanf(x);
    case UnaryFn::kAtanh:
      return atanhf(x);
    case UnaryFn::kCosh:
      return coshf(x);
    case UnaryFn::kSinh:
      return sinhf(x);
    case UnaryFn::kSoftsign:
      return x / (1.0f + fabsf(x));
    case UnaryFn::kSelu:  // a = alpha, b = gamma
      return b * (x > 0 ? x : a * (expf(x) - 1.0f));
    case UnaryFn::kCelu:  // fmaxf / fminf drop a NaN like the cpu's std::max(0, x) does
      return fmaxf(0.0f, x) + fminf(0.0f, a * (expf(x / a) - 1.0f));
    case UnaryFn::kThresholdedRelu:
      return x > a ? x : 0.0f;
    case UnaryFn::kShrink:  // a = lambd, b = bias
      return x < -a ? x + b : (x > a ? x - b : 0.0f);
    case UnaryFn::kScale:
      return x * a;
  }
  return x;
}

template <typename T>
__global__ void unaryKernel(UnaryFn fn, const T* x, T* y, int64_t count, float a, float b) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x)
    store(y, i, apply(fn, load(x, i), a, b));
}

// std::min(std::max(x, lo), hi) as the cpu's scalar Clip: a NaN x stays NaN.
template <typename T>
__global__ void clipKernel(const T* x, T* y, int64_t count, const T* loAt, const T* hiAt, float lo,
                           float hi) {
  if (loAt != nullptr) lo = load(loAt, 0);
  if (hiAt != nullptr) hi = load(hiAt, 0);
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    float v = load(x, i);
    v = v < lo ? lo : v;
    store(y, i, hi < v ? hi : v);
  }
}

template <typename T>
__global__ void floatTestKernel(const T* x, uint8_t* y, int64_t count, bool inf, bool positive,
                                bool negative) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    const float v = load(x, i);
    y[i] = inf ? (isinf(v) && ((v > 0 && positive) || (v < 0 && negative))) : isnan(v);
  }
}

}  // namespace

template <typename T>
cudaError_t unaryMath(UnaryFn fn, const T* x, T* y, int64_t count, float a, float b,
                      cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  unaryKernel<<<blocksFor(count), kThreads, 0, stream>>>(fn, x, y, count, a, b);
  return cudaGetLastError();
}

template <typename T>
cudaError_t clip(const T* x, T* y, int64_t count, const T* lo, const T* hi, float loDefault,
                 float hiDefault, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  clipKernel<<<blocksFor(count), kThreads, 0, stream>>>(x, y, count, lo, hi, loDefault, hiDefault);
  return cudaGetLastError();
}

template <typename T>
cudaError_t floatTest(const T* x, uint8_t* y, int64_t count, bool inf, bool positive, bool negative,
                      cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  floatTestKernel<<<blocksFor(count), kThreads, 0, stream>>>(x, y, count, inf, positive, negative);
  return cudaGetLastError();
}

#define KILN_UNARY(T)                                                                            \
  template cudaError_t unaryMath<T>(UnaryFn, const T*, T*, int64_t, float, float, cudaStream_t); \
  template cudaError_t clip<T>(const T*, T*, int64_t, const T*, const T*, float, float,          \
                               cudaStream_t);                                                    \
  template cudaError_t floatTest<T>(const T*, uint8_t*, int64_t, bool, bool, bool, cudaStream_t);
KILN_UNARY(float)
KILN_UNARY(__half)
#undef KILN_UNARY

}  // namespace kiln::cuda
