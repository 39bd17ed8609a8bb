// FP16 convolutions through cuDNN's graph (backend) API: one operation graph per layer and
// input shape (convolution, then bias, residual and Relu as pointwise operations on float32
// intermediates), the engine configurations cuDNN's heuristics rank first timed on this GPU
// with CUDA events, the fastest kept. The legacy API (cuda_conv.cc) offers only its eight
// fixed algorithms, whose kernels for one image run far slower than the engines the graph API
// reaches (issue 12). Only built with cuDNN.
#pragma once

#include <cudnn.h>

#include <functional>
#include <memory>

#include "engine/cuda/cuda_ops.h"

namespace kiln::cuda {

// A 2-D convolution's geometry (pads symmetric, as cuDNN's).
struct ConvGeometry {
  int n, c, h, w, m, kh, kw, outH, outW;
  int padH, padW, strideH, strideW, dilationH, dilationW, group;
};

// What runs after the convolution inside the graph: y = relu(conv(x, w) + bias + z).
struct ConvFusion {
  bool bias = false, residual = false, relu = false;
};

// The device buffers of one run (NHWC half x, z, y; KRSC half w; half bias).
struct ConvBuffers {
  const void *x = nullptr, *w = nullptr, *bias = nullptr, *residual = nullptr;
  void* y = nullptr;
};

// A finalized execution plan and the scratch it needs.
struct ConvGraphPlan {
  std::shared_ptr<void> plan;  // cudnnBackendDescriptor_t
  size_t workspace = 0;
  int64_t engine = -1;  // cuDNN's global engine index (for diagnostics)
  float ms = 0;         // its time on this GPU when it was chosen
};

// The fastest plan for this geometry and fusion among cuDNN's heuristic candidates, timed on
// `buffers` (y is overwritten; x, w, bias and residual are only read) on `stream`, which the
// handle is bound to. A candidate counts only when its output is within kPlanTolerance of
// `reference` (y as the legacy calls and the epilogue kernel compute it, half NHWC): the
// runtime-fused engines are not all right for every geometry. Blocks until the timing is
// done. Empty (no plan) when the graph API offers no engine that passes; the caller then uses
// the legacy API. `workspace(bytes)` returns device scratch of at least that size.
ConvGraphPlan chooseConvGraphPlan(cudnnHandle_t handle, cudaStream_t stream, const ConvGeometry& g,
                                  const ConvFusion& fusion, const ConvBuffers& buffers,
                                  const void* reference,
                                  const std::function<void*(size_t)>& workspace);

// Runs `plan` on the handle's stream; returns cuDNN's status.
cudnnStatus_t runConvGraphPlan(cudnnHandle_t handle, const ConvGraphPlan& plan,
                               const ConvFusion& fusion, const ConvBuffers& buffers,
                               void* workspace);

}  // namespace kiln::cuda
