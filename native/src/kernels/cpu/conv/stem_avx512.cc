// Built with AVX-512 flags: a network's first convolution, stride 2 with a filter of up to 7 x 7
// over an image of at most 4 channels (MobileNet's 3x3 3 -> 32 and ResNet's 7x7 3 -> 64 at 224 x
// 224). Through im2col its GEMM has K = 27 or 147: lowering writes K rows of the image's size
// and the GEMM then spends more on packing and on the epilogue than on its multiply-adds (ResNet's
// stem ran at half the FMA rate of its 1x1 layers). Here each 16-column block of an output row
// builds its K tap vectors straight from the image rows (stride-2 gathers by permutes) and feeds
// them to 16 output channels held in registers; bias, residual and Relu/Clip finish there. Taps
// are summed in im2col's K order (channel, filter row, filter column), as the GEMM path sums them.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/conv/conv_internal.h"

namespace kiln::kernels::isa_avx512 {

namespace {

constexpr int kMr = 12;       // rows per packed weight panel (the AVX-512 GEMM kernel's MR)
constexpr int kChannels = 8;  // output channels per register block
constexpr int kMaxVecs = 3;   // 16-column vectors per register block
constexpr int kMaxSide = 7;   // filter rows and columns
constexpr int kMaxTaps = 4 * kMaxSide * kMaxSide;  // inChannels <= 4

inline __mmask16 lanes(int64_t n) {
  return n >= 16  ? static_cast<__mmask16>(0xFFFF)
         : n <= 0 ? static_cast<__mmask16>(0)
                  : static_cast<__mmask16>((1u << n) - 1);
}

// Lanes j of a load at column c0 inside [0, inW), limited to n lanes.
inline __mmask16 rowLanes(int64_t c0, int64_t inW, int64_t n) {
  const int64_t lo = std::max<int64_t>(0, -c0), hi = std::min<int64_t>(n, inW - c0);
  return hi <= lo ? static_cast<__mmask16>(0) : static_cast<__mmask16>(lanes(hi) & ~lanes(lo));
}

}  // namespace

bool stemConvApplies(const Conv2dParams& p) {
  return p.group == 1 && p.inChannels <= 4 && p.kernelH <= kMaxSide && p.kernelW <= kMaxSide &&
         p.strideH == 2 && p.strideW == 2 && p.dilationH == 1 && p.dilationW == 1;
}

namespace {

// Output channels [m0, m0 + count) for Vecs * 16 columns from x0 (cnt of them valid) of output
// row oh: kChannels x Vecs accumulators, each tap vector (taps[k * kMaxVecs + v]) and each
// broadcast weight loaded once per k (16 channels x 1 vector took a load per multiply-add and
// ran at two thirds of the FMA rate).
template <int Vecs>
void channelBlock(const Conv2dParams& p, int64_t OH, int64_t OW, int64_t K, const __m512* taps,
                  const float* wg, int64_t ld, int64_t m0, int64_t count, int64_t oh, int64_t x0,
                  int64_t cnt, const float* bias, const float* residual, float* y) {
  __m512 acc[kChannels][Vecs];
#pragma GCC unroll 8
  for (int j = 0; j < kChannels; ++j)
#pragma GCC unroll 3
    for (int v = 0; v < Vecs; ++v) acc[j][v] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    __m512 t[Vecs];
#pragma GCC unroll 3
    for (int v = 0; v < Vecs; ++v) t[v] = taps[k * kMaxVecs + v];
#pragma GCC unroll 8
    for (int j = 0; j < kChannels; ++j) {
      const __m512 wv = _mm512_set1_ps(wg[k * ld + j]);
#pragma GCC unroll 3
      for (int v = 0; v < Vecs; ++v) acc[j][v] = _mm512_fmadd_ps(wv, t[v], acc[j][v]);
    }
  }
  const Activation& act = p.activation;
  const __m512 lo = _mm512_set1_ps(act.alpha), hi = _mm512_set1_ps(act.beta);
  const bool inRegisters = act.kind == ActivationKind::kNone || act.kind == ActivationKind::kRelu ||
                           act.kind == ActivationKind::kClip;
  for (int j = 0; j < count; ++j) {
    for (int v = 0; v < Vecs; ++v) {
      const int64_t n = std::min<int64_t>(16, cnt - 16 * v);
      const __mmask16 m = lanes(n);
      const int64_t at = ((m0 + j) * OH + oh) * OW + x0 + 16 * v;
      __m512 o = acc[j][v];
      // The GEMM path's order: residual, then bias, then the activation.
      if (residual) o = _mm512_add_ps(_mm512_maskz_loadu_ps(m, residual + at), o);
      if (bias) o = _mm512_add_ps(o, _mm512_set1_ps(bias[m0 + j]));
      if (act.kind == ActivationKind::kRelu) o = _mm512_max_ps(o, _mm512_setzero_ps());
      if (act.kind == ActivationKind::kClip) o = _mm512_min_ps(hi, _mm512_max_ps(lo, o));
      _mm512_mask_storeu_ps(y + at, m, o);
      if (!inRegisters) kernels::applyActivation(act, y + at, static_cast<size_t>(n));
    }
  }
}

}  // namespace

void stemConv(const Conv2dParams& p, int64_t OH, int64_t OW, const float* x, const float* panels,
              const float* bias, const float* residual, float* y, ThreadPool& pool) {
  const int64_t C = p.inChannels, M = p.outChannels, kH = p.kernelH, kW = p.kernelW;
  const int64_t K = C * kH * kW;
  const int64_t groups = (M + kChannels - 1) / kChannels;
  const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odds = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  // All weights as [tap][output channel], channels padded to whole groups.
  std::vector<float> w(static_cast<size_t>(K * groups * kChannels), 0.0f);
  const int64_t ld = groups * kChannels;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k) w[k * ld + m] = panels[(m / kMr) * kMr * K + k * kMr + m % kMr];
  // One task: one output row. Each block of up to kMaxVecs x 16 columns builds its taps once
  // (in L1) and every channel group then reads them.
  pool.parallelFor(static_cast<size_t>(OH), 2, [&](size_t begin, size_t end) {
    __m512 taps[kMaxTaps * kMaxVecs];
    for (size_t task = begin; task < end; ++task) {
      const int64_t oh = static_cast<int64_t>(task);
      for (int64_t x0 = 0; x0 < OW; x0 += 16 * kMaxVecs) {
        const int64_t width = std::min<int64_t>(16 * kMaxVecs, OW - x0);
        const int vecs = static_cast<int>((width + 15) / 16);
        for (int v = 0; v < vecs; ++v) {
          const int64_t cnt = std::min<int64_t>(16, width - 16 * v);
          // Output j reads columns c0 + 2j + kx: filter column kx takes the evens (kx even) or
          // odds of the 32 columns loaded from c0 + (kx & ~1), whose lanes outside the row are
          // padding.
          const int64_t c0 = (x0 + 16 * v) * 2 - p.padLeft, span = 2 * (cnt - 1) + kW;
          __mmask16 lo[kMaxSide], hi[kMaxSide];
          for (int64_t b = 0; b < kW; b += 2) {
            lo[b] = rowLanes(c0 + b, p.inW, std::min<int64_t>(16, span - b));
            hi[b] = rowLanes(c0 + b + 16, p.inW, span - b - 16);
          }
          for (int64_t c = 0; c < C; ++c) {
            for (int64_t ky = 0; ky < kH; ++ky) {
              const int64_t r = oh * 2 - p.padTop + ky;
              __m512* t = taps + (c * kH + ky) * kW * kMaxVecs + v;
              if (r < 0 || r >= p.inH) {
                for (int64_t kx = 0; kx < kW; ++kx) t[kx * kMaxVecs] = _mm512_setzero_ps();
                continue;
              }
              const float* row = x + (c * p.inH + r) * p.inW + c0;
              for (int64_t b = 0; b < kW; b += 2) {
                const __m512 a = _mm512_maskz_loadu_ps(lo[b], row + b);
                const __m512 d = _mm512_maskz_loadu_ps(hi[b], row + b + 16);
                t[b * kMaxVecs] = _mm512_permutex2var_ps(a, evens, d);
                if (b + 1 < kW) t[(b + 1) * kMaxVecs] = _mm512_permutex2var_ps(a, odds, d);
              }
            }
          }
        }
        for (int64_t g = 0; g < groups; ++g) {
          const int64_t m0 = g * kChannels, count = std::min<int64_t>(kChannels, M - m0);
          const float* wg = w.data() + m0;
          if (vecs == 3)
            channelBlock<3>(p, OH, OW, K, taps, wg, ld, m0, count, oh, x0, width, bias, residual,
                            y);
          else if (vecs == 2)
            channelBlock<2>(p, OH, OW, K, taps, wg, ld, m0, count, oh, x0, width, bias, residual,
                            y);
          else
            channelBlock<1>(p, OH, OW, K, taps, wg, ld, m0, count, oh, x0, width, bias, residual,
                            y);
        }
      }
    }
  });
}

}  // namespace kiln::kernels::isa_avx512
