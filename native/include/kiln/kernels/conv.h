// 2-D convolution and transposed convolution over NCHW tensors (1-D runs as H = 1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kiln/kernels/activation.h"

namespace kiln::kernels {

// ONNX Conv attributes with explicit (possibly asymmetric) pads; auto_pad is resolved by the
// caller with convSamePads.
struct Conv2dParams {
  int64_t batch = 1;
  int64_t inChannels = 0;
  int64_t inH = 0;
  int64_t inW = 0;
  int64_t outChannels = 0;
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
  int64_t group = 1;
  Activation activation;  // applied after bias and residual
};

// Output length along one axis: floor((in + padBegin + padEnd - dilation * (k - 1) - 1) / stride)
// + 1.
int64_t convOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t padBegin, int64_t padEnd,
                       int64_t dilation);

// Pads for auto_pad SAME_UPPER (upper = true) or SAME_LOWER: output = ceil(in / stride), the odd
// pad going to the end (upper) or the beginning (lower).
void convSamePads(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, bool upper,
                  int64_t* padBegin, int64_t* padEnd);

// y = act(conv(x, w) + bias + residual). x: [N, C, H, W]; w: [M, C / group, kH, kW]; bias: [M] or
// null; residual: same shape as y or null (fused skip connection); y: [N, M, OH, OW].
// Picks a direct depthwise kernel when each group has one input channel, a plain GEMM for
// unpadded stride-1 1x1, and im2col + GEMM otherwise.
void conv2d(const Conv2dParams& p, const float* x, const float* w, const float* bias,
            const float* residual, float* y);

// Output height and width of conv2d.
void conv2dOutputShape(const Conv2dParams& p, int64_t* outH, int64_t* outW);

// The ways conv2dPacked can run a layer (the conv tactics the builder times).
enum class ConvAlgo : uint32_t {
  kGemm = 0,     // im2col + GEMM (a plain GEMM for unpadded stride-1 1x1, direct for depthwise)
  kWinograd = 1  // Winograd F(4x4, 3x3): 3x3, stride 1, dilation 1, group 1 only
};

// Whether `algo` can run the layer p.
bool conv2dAlgoApplies(const Conv2dParams& p, ConvAlgo algo);

// The algorithm picked without timing: Winograd where it applies and the channel counts keep
// its GEMMs efficient, im2col + GEMM otherwise.
ConvAlgo conv2dHeuristicAlgo(const Conv2dParams& p);

struct ScratchNeed;
// The scratch one thread of conv2d (or of conv2dPacked with weights packed for algo, when
// packedWeights) asks for at most.
void conv2dScratch(const Conv2dParams& p, bool packedWeights, ScratchNeed* need,
                   ConvAlgo algo = ConvAlgo::kGemm);

// Packs w ([M, C / group, kH, kW]) once for conv2dPacked on the active ISA tier: GEMM panels per
// group for the im2col and 1x1 paths, the weights as given for depthwise, the 36 transformed
// matrices as GEMM panels for Winograd (throws kInvalidArgument where algo does not apply). The
// blob format and its tier/dims checks are those of gemm.h's packed weights (PackedKind::kConv*).
// Only the channel counts, kernel size, group and (for 1x1) strides and pads of p matter.
std::vector<uint8_t> packConv2dWeights(const Conv2dParams& p, const float* w,
                                       ConvAlgo algo = ConvAlgo::kGemm);

// The algorithm a packConv2dWeights blob was made for; throws kInvalidArgument unless blob is
// a packConv2dWeights result for p on this tier.
ConvAlgo validatePackedConv2dWeights(const Conv2dParams& p, const void* blob, size_t bytes);

// conv2d with weights from packConv2dWeights, run by the algorithm they were packed for
// (validated on every call; the check is O(1)).
void conv2dPacked(const Conv2dParams& p, const float* x, const void* packedW, size_t bytes,
                  const float* bias, const float* residual, float* y);

// ONNX ConvTranspose attributes with explicit pads and output_padding.
struct ConvTranspose2dParams {
  int64_t batch = 1;
  int64_t inChannels = 0;
  int64_t inH = 0;
  int64_t inW = 0;
  int64_t outChannels = 0;  // total, = group * (w.shape[1])
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
  int64_t outputPaddingH = 0;
  int64_t outputPaddingW = 0;
  int64_t group = 1;
  Activation activation;
};

// Output height and width: stride * (in - 1) + outputPadding + dilation * (k - 1) + 1 - pads.
void convTranspose2dOutputShape(const ConvTranspose2dParams& p, int64_t* outH, int64_t* outW);

// y = act(convTranspose(x, w) + bias). x: [N, C, H, W]; w: [C, M / group, kH, kW]; bias: [M] or
// null; y: [N, M, OH, OW]. GEMM to columns, then col2im.
void convTranspose2d(const ConvTranspose2dParams& p, const float* x, const float* w,
                     const float* bias, float* y);
// The scratch one thread of convTranspose2d asks for at most.
void convTranspose2dScratch(const ConvTranspose2dParams& p, ScratchNeed* need);

}  // namespace kiln::kernels
