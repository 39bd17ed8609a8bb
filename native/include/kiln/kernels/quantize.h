// Per-tensor linear quantization kernels: float32 <-> 8-bit (ONNX QuantizeLinear /
// DequantizeLinear with one scale and zero point) and the 8-bit addition of two quantized
// tensors (QLinearAdd), and max pooling of 8-bit tensors. Every ISA tier gives the same bytes.
#pragma once

#include <cstdint>

#include "kiln/kernels/pool.h"

namespace kiln::kernels {

// y = saturate(round_half_even(x / scale) + zeroPoint) into uint8 or int8.
void quantizeLinear(const float* x, int64_t n, float scale, int32_t zeroPoint, bool outSigned,
                    void* y);

// y = (x - zeroPoint) * scale from uint8 or int8.
void dequantizeLinear(const void* x, bool inSigned, int64_t n, float scale, int32_t zeroPoint,
                      float* y);

// c = saturate(round_half_even(fma(a - za, sa / sc, (b - zb) * (sb / sc))) + zc), all operands
// of one signedness; with relu, c >= zc.
struct QAddParams {
  float aScale = 1, bScale = 1, cScale = 1;
  int32_t aZero = 0, bZero = 0, cZero = 0;
  bool isSigned = false;
  bool relu = false;  // clamp at the output zero point (a fused Relu)
};
void qlinearAdd(const void* a, const void* b, int64_t n, const QAddParams& p, void* c);

// MaxPool over 8-bit NCHW data (p.kind must be kMax): the max of quantized values is the
// quantized max, so 8-bit engines pool without dequantizing.
void maxPool2d8(const Pool2dParams& p, const void* x, bool isSigned, void* y);
// The bytes each worker of maxPool2d8 allocates for one call (its row buffers).
int64_t maxPool2d8ScratchBytes(const Pool2dParams& p);

}  // namespace kiln::kernels
