// Max and average pooling over NCHW tensors (1-D runs as H = 1), and global pooling.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

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

// One spatial axis of a pooling window, output size included.
struct PoolAxis {
  int64_t in = 1, out = 1, kernel = 1, stride = 1, dilation = 1, padBegin = 0, padEnd = 0;
};

// The axes of pool2d's window (H then W; H is 1 for 1-D pooling).
std::vector<PoolAxis> pool2dAxes(const Pool2dParams& p);

// Windows of more taps than this run through poolSeparable: the direct kernels visit every tap
// of every window, which for a window far larger than its input (a kernel of 2^30 with pads
// just below it is valid ONNX) would take hours.
inline constexpr int64_t kPoolDirectMaxTaps = 64;
bool poolWindowIsWide(const std::vector<PoolAxis>& axes);

// Max or average pooling over any number of spatial axes, for `planes` planes laid out one after
// the other, in time linear in the input plus output size whatever the window. Max propagates
// NaN; average sums in double and divides by the taps inside the input (or the padded input).
void poolSeparable(PoolKind kind, bool countIncludePad, int64_t planes,
                   const std::vector<PoolAxis>& axes, const float* x, float* y);
// The same max for 8-bit planes (uint8_t or int8_t).
template <typename T>
void maxPoolSeparable(int64_t planes, const std::vector<PoolAxis>& axes, const T* x, T* y);
// MaxPool with ONNX's Indices output: the flat index (N and C included) of each window's first
// maximum in row-major order, its spatial part numbered column-major when `columnMajor`
// (storage_order = 1). A window with no tap inside the input gives -inf and the plane's index 0.
void maxPoolWithIndices(int64_t planes, const std::vector<PoolAxis>& axes, bool columnMajor,
                        const float* x, float* y, int64_t* indices);
// The memory one thread of poolSeparable / maxPoolWithIndices allocates for one call.
size_t poolSeparableScratchBytes(const std::vector<PoolAxis>& axes, bool withIndices, bool mean);

// GlobalMaxPool / GlobalAveragePool: y[i] = max or mean of x[i * spatial .. (i + 1) * spatial).
void globalPool(PoolKind kind, int64_t planes, int64_t spatial, const float* x, float* y);

}  // namespace kiln::kernels
