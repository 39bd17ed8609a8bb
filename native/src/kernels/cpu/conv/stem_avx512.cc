// Built with AVX-512 flags: a network's first convolution, 3x3 stride 2 over an image of at most
// 4 channels (MobileNet's 3 -> 32 at 224 x 224). Through im2col its GEMM has K = 27: lowering
// writes 27 rows of the image's size and the GEMM then spends more on packing and on the
// epilogue than on its multiply-adds. Here each 16-column block of an output row builds its 27
// tap vectors straight from the image rows (stride-2 gathers by permutes) and feeds them to 16
// output channels held in registers; bias, residual and Relu/Clip finish there. Taps are summed
// in im2col's K order (channel, filter row, filter column), as the GEMM path sums them.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/conv/conv_internal.h"

namespace kiln::kernels::isa_avx512 {

namespace {

constexpr int kMr = 12;          // rows per packed weight panel (the AVX-512 GEMM kernel's MR)
constexpr int kChannels = 16;    // output channels per register block
constexpr int kMaxTaps = 4 * 9;  // inChannels <= 4

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
  return p.group == 1 && p.inChannels <= 4 && p.kernelH == 3 && p.kernelW == 3 && p.strideH == 2 &&
         p.strideW == 2 && p.dilationH == 1 && p.dilationW == 1;
}

void stemConv(const Conv2dParams& p, int64_t OH, int64_t OW, const float* x, const float* panels,
              const float* bias, const float* residual, float* y, ThreadPool& pool) {
  const int64_t C = p.inChannels, M = p.outChannels, K = C * 9;
  const int64_t groups = (M + kChannels - 1) / kChannels;
  const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odds = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  const Activation& act = p.activation;
  const bool inRegisters = act.kind == ActivationKind::kNone || act.kind == ActivationKind::kRelu ||
                           act.kind == ActivationKind::kClip;
  // All weights as [tap][output channel], channels padded to whole groups of 16.
  std::vector<float> w(static_cast<size_t>(K * groups * kChannels), 0.0f);
  const int64_t ld = groups * kChannels;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k) w[k * ld + m] = panels[(m / kMr) * kMr * K + k * kMr + m % kMr];
  // One task: one output row. Each 16-column block builds its taps once (in L1) and every
  // channel group then reads them: 16 accumulators, a tap and a broadcast weight in registers.
  pool.parallelFor(static_cast<size_t>(OH), 2, [&](size_t begin, size_t end) {
    __m512 taps[kMaxTaps];
    for (size_t task = begin; task < end; ++task) {
      const int64_t oh = static_cast<int64_t>(task);
      for (int64_t x0 = 0; x0 < OW; x0 += 16) {
        const int64_t cnt = std::min<int64_t>(16, OW - x0);
        const int64_t c0 = x0 * 2 - p.padLeft, span = 2 * cnt + 1;
        const __mmask16 ma = rowLanes(c0, p.inW, std::min<int64_t>(16, span));
        const __mmask16 mb = rowLanes(c0 + 16, p.inW, span - 16);
        const __mmask16 mc = rowLanes(c0 + 2, p.inW, std::min<int64_t>(16, span - 2));
        const __mmask16 md = rowLanes(c0 + 18, p.inW, span - 18);
        for (int64_t c = 0; c < C; ++c) {
          for (int64_t ky = 0; ky < 3; ++ky) {
            const int64_t r = oh * 2 - p.padTop + ky;
            __m512* t = taps + (c * 3 + ky) * 3;
            if (r < 0 || r >= p.inH) {
              t[0] = t[1] = t[2] = _mm512_setzero_ps();  // padding rows: im2col's zeros
              continue;
            }
            const float* row = x + (c * p.inH + r) * p.inW + c0;
            const __m512 a = _mm512_maskz_loadu_ps(ma, row);
            const __m512 b = _mm512_maskz_loadu_ps(mb, row + 16);
            const __m512 cc = _mm512_maskz_loadu_ps(mc, row + 2);
            const __m512 d = _mm512_maskz_loadu_ps(md, row + 18);
            t[0] = _mm512_permutex2var_ps(a, evens, b);
            t[1] = _mm512_permutex2var_ps(a, odds, b);
            t[2] = _mm512_permutex2var_ps(cc, evens, d);
          }
        }
        const __mmask16 m = lanes(cnt);
        const __m512 lo = _mm512_set1_ps(act.alpha), hi = _mm512_set1_ps(act.beta);
        for (int64_t g = 0; g < groups; ++g) {
          const int64_t m0 = g * kChannels, count = std::min<int64_t>(kChannels, M - m0);
          __m512 acc[kChannels];
          for (int j = 0; j < kChannels; ++j) acc[j] = _mm512_setzero_ps();
          const float* wg = w.data() + m0;
          for (int64_t k = 0; k < K; ++k) {
            const __m512 t = taps[k];
#pragma GCC unroll 16
            for (int j = 0; j < kChannels; ++j)
              acc[j] = _mm512_fmadd_ps(_mm512_set1_ps(wg[k * ld + j]), t, acc[j]);
          }
          for (int j = 0; j < count; ++j) {
            const int64_t at = ((m0 + j) * OH + oh) * OW + x0;
            __m512 o = acc[j];
            // The GEMM path's order: residual, then bias, then the activation.
            if (residual) o = _mm512_add_ps(_mm512_maskz_loadu_ps(m, residual + at), o);
            if (bias) o = _mm512_add_ps(o, _mm512_set1_ps(bias[m0 + j]));
            if (act.kind == ActivationKind::kRelu) o = _mm512_max_ps(o, _mm512_setzero_ps());
            if (act.kind == ActivationKind::kClip) o = _mm512_min_ps(_mm512_max_ps(o, lo), hi);
            _mm512_mask_storeu_ps(y + at, m, o);
            if (!inRegisters) kernels::applyActivation(act, y + at, static_cast<size_t>(cnt));
          }
        }
      }
    }
  });
}

}  // namespace kiln::kernels::isa_avx512
