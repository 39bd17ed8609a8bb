// Elementwise kernels: fused bias/residual/activation epilogues and broadcast binary ops.
// One thread per element with a grid-stride loop; these are memory-bound, so the loads are
// coalesced along the innermost dim and nothing else is attempted yet.
#include <cmath>

#include "kernels/cuda/cuda_kernels.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

int blocksFor(int64_t count) {
  const int64_t blocks = (count + kThreads - 1) / kThreads;
  return static_cast<int>(blocks < 65535 * 16 ? blocks : 65535 * 16);
}

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

__global__ void biasActivationKernel(const float* x, float* y, int64_t count, int64_t channels,
                                     int64_t inner, const float* bias, const float* residual,
                                     kernels::Activation act) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    float v = x[i];
    if (bias != nullptr) v += bias[(i / inner) % channels];
    if (residual != nullptr) v += residual[i];
    y[i] = activate(act.kind, act.alpha, act.beta, v);
  }
}

// The offsets into a and b of output element i.
__device__ void offsets(const BroadcastShape& s, int64_t i, int64_t* a, int64_t* b) {
  int64_t oa = 0, ob = 0;
  for (int d = s.rank - 1; d >= 0; --d) {
    const int64_t coord = i % s.dims[d];
    i /= s.dims[d];
    oa += coord * s.strideA[d];
    ob += coord * s.strideB[d];
  }
  *a = oa;
  *b = ob;
}

__global__ void binaryKernel(BinaryOp op, const float* a, const float* b, float* out,
                             BroadcastShape shape, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    int64_t ia, ib;
    offsets(shape, i, &ia, &ib);
    const float x = a[ia], y = b[ib];
    switch (op) {
      case BinaryOp::kAdd:
        out[i] = x + y;
        break;
      case BinaryOp::kSub:
        out[i] = x - y;
        break;
      case BinaryOp::kMul:
        out[i] = x * y;
        break;
      case BinaryOp::kDiv:
        out[i] = x / y;
        break;
    }
  }
}

__global__ void expandKernel(const float* a, float* out, BroadcastShape shape, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    int64_t ia, ib;
    offsets(shape, i, &ia, &ib);
    out[i] = a[ia];
  }
}

}  // namespace

cudaError_t biasActivation(const float* x, float* y, int64_t outer, int64_t channels, int64_t inner,
                           const float* bias, const float* residual, kernels::Activation act,
                           cudaStream_t stream) {
  const int64_t count = outer * channels * inner;
  if (count == 0) return cudaSuccess;
  biasActivationKernel<<<blocksFor(count), kThreads, 0, stream>>>(x, y, count, channels, inner,
                                                                  bias, residual, act);
  return cudaGetLastError();
}

cudaError_t binary(BinaryOp op, const float* a, const float* b, float* out,
                   const BroadcastShape& shape, int64_t count, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  binaryKernel<<<blocksFor(count), kThreads, 0, stream>>>(op, a, b, out, shape, count);
  return cudaGetLastError();
}

cudaError_t expand(const float* a, float* out, const BroadcastShape& shape, int64_t count,
                   cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  expandKernel<<<blocksFor(count), kThreads, 0, stream>>>(a, out, shape, count);
  return cudaGetLastError();
}

}  // namespace kiln::cuda
