// The project's own CUDA kernels (elementwise, activation, pooling), callable from plain C++.
// Every launcher enqueues on `stream` and returns the launch status; callers check it.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kiln/kernels/activation.h"

namespace kiln::cuda {

constexpr int kMaxRank = 8;

// y[i] = act(y[i] + bias[channel of i] + residual[i]) over an [outer, channels, inner] tensor;
// bias and residual may be null. Conv and Gemm epilogues and standalone activations
// (channels = 1, no bias) all use it. In place is allowed (x == y).
cudaError_t biasActivation(const float* x, float* y, int64_t outer, int64_t channels, int64_t inner,
                           const float* bias, const float* residual, kernels::Activation act,
                           cudaStream_t stream);

enum class BinaryOp { kAdd, kSub, kMul, kDiv };

// Element strides of an input broadcast to the output's dims (0 along broadcast dims).
struct BroadcastShape {
  int rank = 0;
  int64_t dims[kMaxRank] = {};  // the output's
  int64_t strideA[kMaxRank] = {};
  int64_t strideB[kMaxRank] = {};
};

// out = a (op) b with numpy broadcasting; `count` output elements.
cudaError_t binary(BinaryOp op, const float* a, const float* b, float* out,
                   const BroadcastShape& shape, int64_t count, cudaStream_t stream);

// out = a broadcast to the output's dims (strideA); strideB is ignored.
cudaError_t expand(const float* a, float* out, const BroadcastShape& shape, int64_t count,
                   cudaStream_t stream);

struct Pool2dParams {
  int64_t batch = 0, channels = 0, inH = 0, inW = 0, outH = 0, outW = 0;
  int64_t kernelH = 1, kernelW = 1, strideH = 1, strideW = 1, dilationH = 1, dilationW = 1;
  int64_t padTop = 0, padLeft = 0, padBottom = 0, padRight = 0;
  bool max = true;
  bool countIncludePad = false;  // AveragePool
};

// NCHW max or average pooling.
cudaError_t pool2d(const Pool2dParams& p, const float* x, float* y, cudaStream_t stream);

// y[n, c] = mean (or max) of x[n, c, :] over `spatial` elements; rows = N * C.
cudaError_t globalPool(const float* x, float* y, int64_t rows, int64_t spatial, bool max,
                       cudaStream_t stream);

}  // namespace kiln::cuda
