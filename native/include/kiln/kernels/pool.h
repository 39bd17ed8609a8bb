// Max and average pooling over NCHW tensors (1-D runs as H = 1), and global pooling.
#pragma once

#include <cstdint>

namespace kiln::kernels {

// Which reduction a pooling window applies.
enum class PoolKind { kMax, kAverage };

// ONNX MaxPool / AveragePool attributes with explicit pads.
struct Pool2dParams {
  PoolKind kind = PoolKind::kMax;
  int64_t batch = 1;
  int64_t channels = 0;
  int64_t inH = 0;
  int64_t inW = 0;
  int64_t kernelH = 1;
  int64_t kernelW = 1;
  int64_t strideH = 1;
  int64_t strideW = 1;
  int64_t padTop = 0;
  int64_t padLeft = 0;
  int64_t padBottom = 0;
  int64_t padRight = 0;
  int64_t dilationH = 1;
  int64_t dilationW = 1;
  bool ceilMode = false;
  bool countIncludePad = false;  // average only: divide by taps inside the padded input
};

// Output length along one axis; with ceil_mode the last window must start inside the input or
// its leading pad (windows starting in the trailing pad are dropped, as in onnxruntime/PyTorch).
int64_t poolOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t padBegin, int64_t padEnd,
                       int64_t dilation, bool ceilMode);

// Output height and width of pool2d.
void pool2dOutputShape(const Pool2dParams& p, int64_t* outH, int64_t* outW);

// y[N, C, OH, OW] = pool(x[N, C, H, W]). Max ignores padding; average divides by the taps inside
// the input, or inside the padded input when countIncludePad.
void pool2d(const Pool2dParams& p, const float* x, float* y);

// GlobalMaxPool / GlobalAveragePool: y[i] = max or mean of x[i * spatial .. (i + 1) * spatial).
void globalPool(PoolKind kind, int64_t planes, int64_t spatial, const float* x, float* y);

}  // namespace kiln::kernels
