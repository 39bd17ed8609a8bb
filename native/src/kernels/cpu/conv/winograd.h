// Winograd F(4x4, 3x3) convolution for 3x3, stride-1, undilated, ungrouped layers. Per image:
// input tiles -> 36 transformed matrices V (C x tiles) -> 36 GEMMs U (M x C) * V with U the
// transformed weights packed once -> output transform with bias, residual and activation.
// It does about 4x fewer multiplies than im2col + GEMM (36 instead of 144 per 4x4 output tile);
// the transforms add rounding error that grows with the input magnitudes (see README).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kiln/kernels/conv.h"

namespace kiln::kernels {

// Tiling of one image: tilesW tiles per row, `tiles` in all; tile t covers output rows
// 4 * (t / tilesW) + [0, 4) and columns 4 * (t % tilesW) + [0, 4).
struct WinogradGeometry {
  int64_t inH, inW, outH, outW, padTop, padLeft, tilesW, tiles;
};

// Input transform of channels [c0, c1) of one image (x: [C][inH][inW]) for the tiles
// [t0, t0 + nt) into the GEMM B panels of the 36 positions: element (position q, channel c,
// local tile l) at v[q * posStride + (l / nr) * channels * nr + c * nr + l % nr]; lanes past nt
// of the last panel are zero.
struct WinogradInputArgs {
  const WinogradGeometry* g;
  const float* x;
  int64_t channels, c0, c1, t0, nt;
  int nr;
  float* v;
  int64_t posStride;
};

// Output transform of channels [m0, m1) from the GEMM results (position q, channel m, local tile
// l at mo[q * posStride + m * ldm + l]) into y ([M][outH][outW] of one image), adding bias[m]
// (or nothing when null) and residual (same layout as y, or null), then the activation.
struct WinogradOutputArgs {
  const WinogradGeometry* g;
  const float* mo;
  int64_t posStride, ldm, m0, m1, t0, nt;
  const float* bias;
  const float* residual;
  const Activation* act;
  float* y;
};

void winogradInputGeneric(const WinogradInputArgs& a);
void winogradOutputGeneric(const WinogradOutputArgs& a);

namespace isa_avx512 {
// The same, 16 tiles per vector (needs nr % 16 == 0).
void winogradInput(const WinogradInputArgs& a);
void winogradOutput(const WinogradOutputArgs& a);
}  // namespace isa_avx512

// Whether conv2dWinograd takes the layer (3x3, stride 1, dilation 1, group 1).
bool winogradApplies(const Conv2dParams& p);

// The 36 transformed weight matrices U_q = (G g G^T)_q, each M x C row-major, in double
// precision rounded once to float.
std::vector<float> winogradTransformWeights(const Conv2dParams& p, const float* w);

// How conv2dWinograd splits an image's tiles into blocks (shared with its scratch bound).
struct WinogradBlocking {
  int64_t blockTiles, blocks, ldm, vStride, mStride;
  bool blockParallel;
};
WinogradBlocking winogradBlocking(int64_t C, int64_t M, int64_t tiles, int64_t T, int NR);

// The scratch one thread of conv2dWinograd asks for at most.
void winogradScratch(const Conv2dParams& p, ScratchNeed* need);

// y = act(conv(x, w) + bias + residual) with u = the 36 packGemmA panels of the transformed
// weights, posFloats floats apart.
void conv2dWinograd(const Conv2dParams& p, const float* x, const float* u, size_t posFloats,
                    const float* bias, const float* residual, float* y);

}  // namespace kiln::kernels
