// ConvInteger's convolution: 8-bit integer data and weights (uint8 or int8), each minus its zero
// point, summed into int32 as ONNX defines the op's output. N-D (any spatial rank), groups,
// strides, dilations, pads, and one weight zero point per output channel or one for all.
// Overflow: the sums wrap modulo 2^32, as onnxruntime's int32 accumulators do; the kernel adds in
// unsigned arithmetic, so a wrap is defined behaviour, not signed overflow.
#pragma once

#include <cstdint>
#include <vector>

namespace kiln::kernels {

struct ScratchNeed;

struct IntegerConvParams {
  int64_t batch = 1, inChannels = 0, outChannels = 0, group = 1;
  // One entry per spatial dim. Output positions whose window leaves the input read the padding,
  // which is the data zero point (so it adds nothing).
  std::vector<int64_t> in, out, kernel, stride, dilation, padBegin;
  bool xSigned = false, wSigned = false;  // int8 when set, uint8 otherwise
  int32_t xZeroPoint = 0;
  std::vector<int32_t> wZeroPoints{0};  // one per output channel, or one for all
};

// x: [batch, inChannels, in...]; w: [outChannels, inChannels / group, kernel...];
// y: [batch, outChannels, out...] int32. Throws kInvalidArgument for inconsistent parameters.
void integerConv(const IntegerConvParams& p, const void* x, const void* w, int32_t* y);

// The scratch one thread of integerConv asks for at most (zero points do not matter).
void integerConvScratch(const IntegerConvParams& p, ScratchNeed* need);

}  // namespace kiln::kernels
