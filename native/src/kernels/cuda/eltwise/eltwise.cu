// Elementwise kernels: fused bias/residual/activation epilogues, broadcast binary ops and
// storage conversions. One thread per element with a grid-stride loop; these are memory-bound,
// so the loads are coalesced along the innermost dim and nothing else is attempted yet.
#include <cmath>

#include "kernels/cuda/eltwise/elementwise.cuh"

namespace kiln::cuda {
namespace {

using elementwise::blocksFor;
using elementwise::kThreads;
using elementwise::load;
using elementwise::offsets;
using elementwise::store;

// Mirrors kernels::activate (kiln/kernels/activation.h), the cpu reference.
__device__ float activate(kernels::ActivationKind kind, float alpha, float beta, float x) {
  using K = kernels::ActivationKind;
  switch (kind) {
    case K::kNone:
      return x;
    case K::kRelu:
      return x > 0.0f ? x : 0.0f;
    case K::kLeakyRelu:
      return x >= 0.0f ? x : alpha * x;
    case K::kClip:
      return fminf(fmaxf(x, alpha), beta);
    case K::kSigmoid:
      return 1.0f / (1.0f + expf(-x));
    case K::kHardSigmoid:
      return fmaxf(0.0f, fminf(1.0f, alpha * x + beta));
    case K::kHardSwish:
      return x * fmaxf(0.0f, fminf(1.0f, x / 6.0f + 0.5f));
    case K::kSilu:
      return x / (1.0f + expf(-x));
    case K::kGelu:
      return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case K::kGeluTanh:
      return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case K::kTanh:
      return tanhf(x);
    case K::kElu:
      return x >= 0.0f ? x : alpha * (expf(x) - 1.0f);
    case K::kSoftplus:
      return x > 20.0f ? x : log1pf(expf(x));
  }
  return x;
}

// `channelStride`: elements between consecutive channels (inner for NCHW, 1 for NHWC).
template <typename T>
__global__ void biasActivationKernel(const T* x, T* y, int64_t count, int64_t channels,
                                     int64_t channelStride, const T* bias, const T* residual,
                                     kernels::Activation act) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    float v = load(x, i);
    if (bias != nullptr) v += load(bias, (i / channelStride) % channels);
    if (residual != nullptr) v += load(residual, i);
    store(y, i, activate(act.kind, act.alpha, act.beta, v));
  }
}

template <typename T>
__global__ void binaryKernel(BinaryOp op, const T* a, const T* b, T* out, BroadcastShape shape,
                             int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    int64_t ia, ib;
    offsets(shape, i, &ia, &ib);
    const float x = load(a, ia), y = load(b, ib);
    switch (op) {
      case BinaryOp::kAdd:
        store(out, i, x + y);
        break;
      case BinaryOp::kSub:
        store(out, i, x - y);
        break;
      case BinaryOp::kMul:
        store(out, i, x * y);
        break;
      case BinaryOp::kDiv:
        store(out, i, x / y);
        break;
      case BinaryOp::kPow:
        store(out, i, powf(x, y));
        break;
      case BinaryOp::kMax:
        store(out, i, (x != x || x > y) ? x : y);
        break;
      case BinaryOp::kMin:
        store(out, i, (x != x || x < y) ? x : y);
        break;
      case BinaryOp::kMod: {
        const float r = fmodf(x, y);
        store(out, i, (r != 0 && ((r < 0) != (y < 0))) ? r + y : r);
        break;
      }
      case BinaryOp::kFmod:
        store(out, i, fmodf(x, y));
        break;
      case BinaryOp::kPRelu:
        store(out, i, x < 0 ? x * y : x);
        break;
    }
  }
}

// One output element per thread: `i` indexes y in its own order, the source index follows.
template <typename From, typename To>
__global__ void convertKernel(const From* x, bool fromNhwc, To* y, bool toNhwc, int64_t c,
                              int64_t inner, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    int64_t src = i;
    if (fromNhwc != toNhwc) {
      const int64_t plane = c * inner;
      const int64_t n = i / plane, rest = i % plane;
      // (channel, position) of output element i, then its offset in the other layout.
      const int64_t ch = toNhwc ? rest % c : rest / inner;
      const int64_t pos = toNhwc ? rest / c : rest % inner;
      src = n * plane + (fromNhwc ? pos * c + ch : ch * inner + pos);
    }
    store(y, i, load(x, src));
  }
}

template <typename From, typename To>
cudaError_t launchConvert(const void* x, bool fromNhwc, void* y, bool toNhwc, int64_t c,
                          int64_t inner, int64_t count, cudaStream_t stream) {
  convertKernel<<<blocksFor(count), kThreads, 0, stream>>>(
      static_cast<const From*>(x), fromNhwc, static_cast<To*>(y), toNhwc, c, inner, count);
  return cudaGetLastError();
}

}  // namespace

template <typename T>
cudaError_t biasActivation(const T* x, T* y, int64_t outer, int64_t channels, int64_t inner,
                           const T* bias, const T* residual, kernels::Activation act,
                           cudaStream_t stream, bool nhwc) {
  const int64_t count = outer * channels * inner;
  if (count == 0) return cudaSuccess;
  biasActivationKernel<<<blocksFor(count), kThreads, 0, stream>>>(
      x, y, count, channels, nhwc ? 1 : inner, bias, residual, act);
  return cudaGetLastError();
}

template <typename T>
cudaError_t binary(BinaryOp op, const T* a, const T* b, T* out, const BroadcastShape& shape,
                   int64_t count, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  binaryKernel<<<blocksFor(count), kThreads, 0, stream>>>(op, a, b, out, shape, count);
  return cudaGetLastError();
}

cudaError_t convert(const void* x, Storage from, void* y, Storage to, int64_t n, int64_t c,
                    int64_t inner, cudaStream_t stream) {
  const int64_t count = n * c * inner;
  if (count == 0) return cudaSuccess;
  if (from == Storage::kByteNhwc || to == Storage::kByteNhwc) {
    if (from == to) return cudaMemcpyAsync(y, x, count, cudaMemcpyDeviceToDevice, stream);
    if (from != Storage::kFloat && to != Storage::kFloat) return cudaErrorInvalidValue;
    return from == Storage::kByteNhwc ? transpose8(x, y, n, inner, c, stream)
                                      : transpose8(x, y, n, c, inner, stream);
  }
  const bool fromNhwc = from == Storage::kHalfNhwc, toNhwc = to == Storage::kHalfNhwc;
  if (from == Storage::kFloat) {
    if (to == Storage::kFloat)
      return cudaMemcpyAsync(y, x, count * 4, cudaMemcpyDeviceToDevice, stream);
    return launchConvert<float, __half>(x, false, y, toNhwc, c, inner, count, stream);
  }
  if (to == Storage::kFloat)
    return launchConvert<__half, float>(x, fromNhwc, y, false, c, inner, count, stream);
  return launchConvert<__half, __half>(x, fromNhwc, y, toNhwc, c, inner, count, stream);
}

#define KILN_ELTWISE(T)                                                                            \
  template cudaError_t biasActivation<T>(const T*, T*, int64_t, int64_t, int64_t, const T*,        \
                                         const T*, kernels::Activation, cudaStream_t, bool);       \
  template cudaError_t binary<T>(BinaryOp, const T*, const T*, T*, const BroadcastShape&, int64_t, \
                                 cudaStream_t);
KILN_ELTWISE(float)
KILN_ELTWISE(__half)
#undef KILN_ELTWISE

}  // namespace kiln::cuda
