// Direct depthwise convolution: with one input channel per group, im2col would copy kH x kW
// times the input to feed a GEMM with K = kH x kW, so accumulating taps in place is faster.
#include <algorithm>
#include <vector>

#include "kernels/cpu/common/scratch.h"
#include "kernels/cpu/conv/conv_internal.h"
#include "kiln/cpu_features.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

namespace {
inline int64_t ceilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
inline int64_t floorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
// Output heights from which the direct 3x3 path splits planes into row bands across threads.
constexpr int64_t kMinBandedRows = 28;
}  // namespace

void depthwiseConv2d(const Conv2dParams& p, int64_t OH, int64_t OW, const float* x, const float* w,
                     const float* bias, const float* residual, float* y) {
  const int64_t mult = p.outChannels / p.group;  // output channels per input channel
  const int64_t planes = p.batch * p.outChannels;
  const int64_t kH = p.kernelH, kW = p.kernelW;
  // Per tap, the output columns whose input column is inside the row (independent of the row).
  std::vector<int64_t> lo(static_cast<size_t>(kW)), hi(static_cast<size_t>(kW));
  for (int64_t kx = 0; kx < kW; ++kx) {
    const int64_t off = kx * p.dilationW - p.padLeft;
    lo[kx] = std::min(OW, std::max<int64_t>(0, ceilDiv(-off, p.strideW)));
    hi[kx] = std::max(lo[kx], std::min<int64_t>(OW, floorDiv(p.inW - 1 - off, p.strideW) + 1));
  }
  const bool vector = activeIsa() == CpuIsa::kAvx512 && (p.strideW == 1 || p.strideW == 2) &&
                      kH * kW <= kDepthwiseMaxTaps;
  // 3x3 planes (MobileNet's) read in place: measured faster than the padded copy at every
  // size, 7 x 7 included.
  const bool direct3x3 = vector && isa_avx512::depthwise3x3Applies(p);
  ThreadPool& pool = globalThreadPool();
  if (direct3x3 && pool.size() > 1 && OH >= kMinBandedRows) {
    // Large planes: row bands, one per thread, each over all planes, band-major. The 1x1
    // convolutions on either side split their work by pixels in the same order, so each thread
    // reads the expansion rows its own core wrote and leaves its rows for its own part of the
    // projection; with whole planes per thread, half of both crossed between cores. (Small
    // planes keep whole planes: two bands of a 7 x 7 plane share cache lines.)
    const int64_t step = isa_avx512::depthwise3x3RowBlock(p);
    const int64_t blocks = (OH + step - 1) / step;
    const int64_t bands = std::max<int64_t>(1, std::min<int64_t>(pool.size(), blocks));
    const int64_t bandRows = (blocks + bands - 1) / bands * step;
    // At least ~4K outputs per task, so small layers use few tasks.
    const size_t grain =
        static_cast<size_t>(std::max<int64_t>(1, 4096 / std::max<int64_t>(1, bandRows * OW)));
    pool.parallelFor(static_cast<size_t>(bands * planes), grain, [&](size_t b, size_t e) {
      for (int64_t i = static_cast<int64_t>(b); i < static_cast<int64_t>(e); ++i) {
        const int64_t band = i / planes, plane = i % planes;
        const int64_t oc = plane % p.outChannels;
        const float* xin = x + (plane / p.outChannels * p.inChannels + oc / mult) * p.inH * p.inW;
        isa_avx512::depthwise3x3Plane(p, OH, OW, xin, w + oc * kH * kW, bias ? bias[oc] : 0.0f,
                                      residual ? residual + plane * OH * OW : nullptr,
                                      y + plane * OH * OW, band * bandRows, (band + 1) * bandRows);
      }
    });
    return;
  }
  // Whole planes per task, at least ~4K outputs each so small layers use few tasks (~16K left
  // 7 x 7 layers in 3 tasks, 2 : 1 over two threads).
  const size_t grain =
      static_cast<size_t>(std::max<int64_t>(1, 4096 / std::max<int64_t>(1, OH * OW)));
  pool.parallelFor(static_cast<size_t>(planes), grain, [&](size_t b, size_t e) {
    float* scratch =
        vector && !direct3x3
            ? threadScratch(ScratchSlot::kWork,
                            static_cast<size_t>(isa_avx512::depthwisePlaneScratch(p, OH, OW)))
            : nullptr;
    if (vector && !direct3x3) isa_avx512::depthwiseZeroBorders(p, OH, OW, scratch);
    for (int64_t plane = static_cast<int64_t>(b); plane < static_cast<int64_t>(e); ++plane) {
      const int64_t n = plane / p.outChannels, oc = plane % p.outChannels;
      const int64_t ic = oc / mult;
      const float* xin = x + (n * p.inChannels + ic) * p.inH * p.inW;
      const float* wk = w + oc * kH * kW;
      const float bv = bias ? bias[oc] : 0.0f;
      float* out = y + plane * OH * OW;
      const float* res = residual ? residual + plane * OH * OW : nullptr;
      if (direct3x3) {
        isa_avx512::depthwise3x3Plane(p, OH, OW, xin, wk, bv, res, out, 0, OH);
        continue;
      }
      if (vector) {
        isa_avx512::depthwisePlane(p, OH, OW, xin, wk, bv, res, out, scratch);
        applyActivation(p.activation, out, static_cast<size_t>(OH * OW));
        continue;
      }
      for (int64_t oh = 0; oh < OH; ++oh) {
        float* orow = out + oh * OW;
        // Taps are summed first and bias/residual added after, the order of the GEMM path.
        std::fill(orow, orow + OW, 0.0f);
        for (int64_t ky = 0; ky < kH; ++ky) {
          const int64_t ih = oh * p.strideH - p.padTop + ky * p.dilationH;
          if (ih < 0 || ih >= p.inH) continue;
          const float* irow = xin + ih * p.inW;
          for (int64_t kx = 0; kx < kW; ++kx) {
            const float wv = wk[ky * kW + kx];
            const int64_t off = kx * p.dilationW - p.padLeft;
            if (p.strideW == 1) {
              for (int64_t ow = lo[kx]; ow < hi[kx]; ++ow) orow[ow] += wv * irow[ow + off];
            } else {
              for (int64_t ow = lo[kx]; ow < hi[kx]; ++ow)
                orow[ow] += wv * irow[ow * p.strideW + off];
            }
          }
        }
        if (res) {
          const float* rrow = res + oh * OW;
          for (int64_t ow = 0; ow < OW; ++ow) orow[ow] += rrow[ow] + bv;
        } else if (bv != 0.0f) {
          for (int64_t ow = 0; ow < OW; ++ow) orow[ow] += bv;
        }
        applyActivation(p.activation, orow, static_cast<size_t>(OW));
      }
    }
  });
}

}  // namespace kiln::kernels
