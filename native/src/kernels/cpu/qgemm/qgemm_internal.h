// The micro-kernels behind qgemmU8S8, one per ISA variant, shared with the kernel tests so each
// variant is checked on every machine that can run it.
#pragma once

#include <cstdint>

#include "kiln/kernels/qgemm.h"

namespace kiln::kernels::qgemm {

// Computes rows [0, rows) x columns [0, n) of one kQGemmMr-row panel against packed B starting at
// its first column (n <= the variant's nr), adds bias[r], requantizes with scale[r] and stores
// bytes into c (row stride ldc). a: [k4][Mr] int32; the 4-row group kk of B starts bOff[kk] bytes
// after b (a packed B's rows, or shifted windows of an image for implicit convolution).
using Ukernel = void (*)(int64_t k4, const int32_t* a, const uint8_t* b, const int64_t* bOff,
                         int64_t rows, int64_t n, const int32_t* bias, const float* scale,
                         const QRequant& rq, uint8_t* c, int64_t ldc);

struct Variant {
  const char* name;
  Ukernel ukernel;
  int64_t nr;  // columns per call
};

Variant scalarVariant();
Variant avx2Variant(bool vnni);  // vnni: AVX-VNNI vpdpbusd; otherwise exact 16-bit madd
Variant avx512VnniVariant();

// Runs the variant over all of C: row panels of A against column blocks of B (B's group kk at
// b + bOff[kk] + 4 * column), split over the thread pool.
void drive(const Variant& v, const QPackedA& a, const uint8_t* b, const int64_t* bOff, int64_t n,
           uint8_t zeroB, const QRequant& rq, uint8_t* c, int64_t ldc);

// The variant the active ISA tier and the CPU's VNNI support select.
Variant activeVariant();

constexpr float kRequantBound = 1.0e9f;

// Interleaves four rows of n bytes into dst[j][4] (n rounded up to kQGemmNAlign; the padding
// columns get zeros).
void interleave4(const uint8_t* r0, const uint8_t* r1, const uint8_t* r2, const uint8_t* r3,
                 int64_t n, uint8_t* dst);
// The same, writing exactly n groups of 4.
void interleave4Exact(const uint8_t* r0, const uint8_t* r1, const uint8_t* r2, const uint8_t* r3,
                      int64_t n, uint8_t* dst);

// Splits a row into its s stride phases: dst[r * len + j] = src[j * s + r] for r < s, j < len
// (src holds at least len * s bytes).
void splitPhases(const uint8_t* src, int64_t s, int64_t len, uint8_t* dst);

// How the AVX512-VNNI depthwise kernel gathers a filter's taps, the same for every channel:
// up to 4 taps of one filter row (from column kx0) per group, int32 lane i of 16 holding output
// column i's tap bytes, picked from a 64-byte load by a vpermd (dwords) and a vpshufb (bytes).
// count == 0 where the geometry does not fit (or the CPU lacks VNNI).
struct DepthwiseTaps {
  int64_t count = 0;
  int64_t row[16], kx0[16];
  alignas(64) int32_t dwords[16][16];
  alignas(64) int8_t bytes[16][64];
};
DepthwiseTaps depthwiseTapsAvx512(const QConv2dParams& p);

// depthwiseChannel (qdepthwise_impl.h) compiled with AVX-512 flags, or the VNNI kernel where
// taps.count > 0.
void depthwiseChannelAvx512(const QConv2dParams& p, const DepthwiseTaps& taps, const uint8_t* plane,
                            int64_t pw, const int8_t* filter, int32_t bias, float scale,
                            const QRequant& rq, int64_t oh, int64_t ow, int32_t* acc, uint8_t* out);

// Whether depthwiseChannelDirectAvx512 takes this geometry: VNNI taps with one group per filter
// row (kernel width <= 4), as MobileNet's 3x3 filters have.
bool depthwiseDirectApplies(const QConv2dParams& p, const DepthwiseTaps& taps);

// The VNNI kernel reading the channel's unpadded input plane in place: bytes outside the plane
// come from masked loads as the input zero point, so no padded copy is made.
void depthwiseChannelDirectAvx512(const QConv2dParams& p, const DepthwiseTaps& taps,
                                  const uint8_t* x, const int8_t* filter, int32_t bias, float scale,
                                  const QRequant& rq, int64_t oh, int64_t ow, uint8_t* out);

// The AVX512-VNNI body of qgemmRowsU8S8: panels [p0, p1) of A against `rows` rows of x (row
// stride ldx, each padded with zeros to a.k4 * 4 bytes), bias[i] and scale[i] per output i (the
// zero point's correction included), written to y (row stride ldy).
void rowsPanelsAvx512Vnni(const QPackedA& a, const uint8_t* x, int64_t ldx, int64_t rows,
                          int64_t p0, int64_t p1, const int32_t* bias, const float* scale,
                          const QRequant& rq, uint8_t* y, int64_t ldy);

// One output byte from an int32 sum: the epilogue every variant must match bit for bit.
inline uint8_t requantizeOne(int32_t acc, float scale, const QRequant& rq) {
  float v = static_cast<float>(acc) * scale;
  // Bounded first so the conversion never overflows (any bound past 8 bits clamps the same).
  v = v < -kRequantBound ? -kRequantBound : (v > kRequantBound ? kRequantBound : v);
  // lrintf rounds half to even in the default rounding mode, as cvtps2dq does.
  int32_t q = static_cast<int32_t>(__builtin_lrintf(v)) + rq.zeroPoint;
  q = q < rq.lo ? rq.lo : (q > rq.hi ? rq.hi : q);
  return static_cast<uint8_t>(q);  // int8 outputs keep their two's complement byte
}

}  // namespace kiln::kernels::qgemm
