// Pieces of conv2d shared between its files.
#pragma once

#include "kiln/kernels/conv.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

// Direct convolution for groups with a single input channel (depthwise, any channel multiplier).
void depthwiseConv2d(const Conv2dParams& p, int64_t outH, int64_t outW, const float* x,
                     const float* w, const float* bias, const float* residual, float* y);

// The most taps (kH x kW) the vector depthwise path takes; larger kernels run the scalar path.
constexpr int64_t kDepthwiseMaxTaps = 64;

namespace isa_avx512 {
// Floats of scratch depthwisePlane needs (a zero-padded copy of one input plane).
int64_t depthwisePlaneScratch(const Conv2dParams& p, int64_t outH, int64_t outW);

// Zeroes the padding of a depthwisePlane scratch buffer; the planes of one layer share its
// geometry, so a thread does this once before its first plane.
void depthwiseZeroBorders(const Conv2dParams& p, int64_t outH, int64_t outW, float* scratch);

// One plane of depthwiseConv2d (before the activation) for strideW 1 or 2 and at most
// kDepthwiseMaxTaps taps: out = taps of xin
// (one input plane) with the kH x kW weights wk, + residual plane (or null) + bias; scratch has
// been through depthwiseZeroBorders for this geometry.
void depthwisePlane(const Conv2dParams& p, int64_t outH, int64_t outW, const float* xin,
                    const float* wk, float bias, const float* residual, float* out, float* scratch);

// Whether depthwise3x3Plane takes this geometry: 3x3, undilated, stride 1 or 2 (any pads).
bool depthwise3x3Applies(const Conv2dParams& p);

// One plane of depthwiseConv2d for depthwise3x3Applies geometry, activation included, read in
// place (no padded copy): out = taps of xin + residual plane (or null) + bias.
void depthwise3x3Plane(const Conv2dParams& p, int64_t outH, int64_t outW, const float* xin,
                       const float* wk, float bias, const float* residual, float* out, int64_t oh0,
                       int64_t oh1);

// Output rows depthwise3x3Plane computes together.
inline int64_t depthwise3x3RowBlock(const Conv2dParams& p) { return p.strideW == 1 ? 4 : 2; }

// Largest K (input channels) pointwiseConv takes at any image size: a tile's 32 columns of all
// K input rows stay in L2 (32 KB at this K) while its row panels pass over them; longer K runs
// the GEMM path, whose K blocking does that. 1024 was no slower on one thread, but ResNet-50 on
// two threads ran 4% slower with it than with 256 (bench harness, A/B, kiln/ORT 1.38 vs 1.33).
constexpr int64_t kPointwiseMaxK = 256;

// Largest input (K x P floats) pointwiseConv takes at any K: deep layers with few pixels
// (MobileNet's and ResNet-50's 7 x 7 and 14 x 14 1x1s, K up to 2048) keep their whole input in
// half of a 1 MB L2, so no K blocking is needed, and the GEMM path's packing of that input (a
// second barrier between the threads) is saved. ResNet-50's 1024 x 14 x 14 layers (800 KB) stay
// on the GEMM path, which was faster for them.
constexpr int64_t kPointwiseMaxInput = int64_t{128} << 10;

// Whether pointwiseConv takes a 1x1 layer with K input channels and P pixels.
inline bool pointwiseInPlaceApplies(int64_t K, int64_t P) {
  return K <= kPointwiseMaxK || K * P <= kPointwiseMaxInput;
}

// One image and group of a 1x1 stride-1 unpadded convolution: y (M x P) = activation(packedA
// (weights packed as packGemmA does for 12-row panels) x x (K x P) + residual (or null) + bias
// (or null)), split over pool's threads.
void pointwiseConv(int64_t M, int64_t K, int64_t P, const float* packedA, const float* x,
                   const float* bias, const float* residual, const Activation& act, float* y,
                   ThreadPool& pool);

// Whether stemConv takes this geometry: ungrouped, stride 2, undilated, a filter of at most 7 x 7
// over at most 4 input channels (any pads).
bool stemConvApplies(const Conv2dParams& p);

// One image of a stemConvApplies convolution from weights packed as for the GEMM path (12-row
// panels, K = channel x kernelH x kernelW): y = activation(conv + residual (or null) + bias (or
// null)).
void stemConv(const Conv2dParams& p, int64_t outH, int64_t outW, const float* x,
              const float* panels, const float* bias, const float* residual, float* y,
              ThreadPool& pool);
}  // namespace isa_avx512

}  // namespace kiln::kernels
