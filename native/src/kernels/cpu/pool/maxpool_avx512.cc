// Built with AVX-512 flags: max pooling of one plane (ResNet's 3x3 stride-2 stem pool) in two
// vector passes per output row. The kernelH input rows reduce into one -inf padded row; then
// each block of 16 outputs takes, per tap kx, the 16 values it needs from that row: contiguous
// for stride 1, and for stride 2 the even lanes of two loads, gathered by one permute. The
// baseline build's loops (pool.cc) spent most of their time on the strided pick and the
// row copies.
#include <immintrin.h>

#include <algorithm>
#include <limits>

#include "kernels/cpu/pool/pool_internal.h"

namespace kiln::kernels::isa_avx512 {

namespace {

constexpr int64_t kLanes = 16;

inline __mmask16 lanes(int64_t n) {
  return n >= kLanes ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1);
}

// The scalar path's nanMax(best, v) per lane: v when v > best or v is NaN, else best (a NaN in
// best stays, since max returns its second operand when either is NaN).
inline __m512 nanMax(__m512 best, __m512 v) {
  return _mm512_mask_mov_ps(_mm512_max_ps(v, best), _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), v);
}

}  // namespace

bool maxPoolPlaneApplies(const Pool2dParams& p) {
  return p.kind == PoolKind::kMax && p.dilationH == 1 && p.dilationW == 1 &&
         (p.strideW == 1 || p.strideW == 2);
}

int64_t maxPoolPlaneWork(const Pool2dParams& p, int64_t OW) {
  // Block b of 16 outputs reads row[16 * strideW * b + kx + lane] for lanes up to 16 * strideW.
  const int64_t blocks = (OW + kLanes - 1) / kLanes;
  return std::max(p.padLeft + p.inW, blocks * kLanes * p.strideW + p.kernelW);
}

void maxPoolPlane(const Pool2dParams& p, int64_t OH, int64_t OW, const float* in, float* out,
                  float* work) {
  const float lowest = -std::numeric_limits<float>::infinity();
  const int64_t len = maxPoolPlaneWork(p, OW);
  float* row = work;
  std::fill(row, row + p.padLeft, lowest);
  std::fill(row + p.padLeft + p.inW, row + len, lowest);
  float* r = row + p.padLeft;
  const __m512i evens =
      _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  for (int64_t oh = 0; oh < OH; ++oh) {
    const int64_t h0 = oh * p.strideH - p.padTop;
    const int64_t hLo = std::max<int64_t>(0, h0), hHi = std::min(p.inH, h0 + p.kernelH);
    float* o = out + oh * OW;
    if (hLo >= hHi) {
      std::fill(o, o + OW, lowest);
      continue;
    }
    // Rows hLo..hHi reduced into r, in the scalar path's order.
    for (int64_t i = 0; i < p.inW; i += kLanes) {
      const __mmask16 m = lanes(p.inW - i);
      __m512 v = _mm512_maskz_loadu_ps(m, in + hLo * p.inW + i);
      for (int64_t ih = hLo + 1; ih < hHi; ++ih)
        v = nanMax(v, _mm512_maskz_loadu_ps(m, in + ih * p.inW + i));
      _mm512_mask_storeu_ps(r + i, m, v);
    }
    for (int64_t ow = 0; ow < OW; ow += kLanes) {
      const float* base = row + ow * p.strideW;
      __m512 acc;
      if (p.strideW == 1) {
        acc = _mm512_loadu_ps(base);
        for (int64_t kx = 1; kx < p.kernelW; ++kx) acc = nanMax(acc, _mm512_loadu_ps(base + kx));
      } else {
        const auto pick = [&](int64_t kx) {
          return _mm512_permutex2var_ps(_mm512_loadu_ps(base + kx), evens,
                                        _mm512_loadu_ps(base + kx + kLanes));
        };
        acc = pick(0);
        for (int64_t kx = 1; kx < p.kernelW; ++kx) acc = nanMax(acc, pick(kx));
      }
      _mm512_mask_storeu_ps(o + ow, lanes(OW - ow), acc);
    }
  }
}

}  // namespace kiln::kernels::isa_avx512
