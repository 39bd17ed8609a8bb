// Transposed convolution as GEMM + col2im: each input pixel's column of W^T x is scattered into
// the kernel window it covers in the output.
#include <algorithm>
#include <string>

#include "kernels/cpu/common/scratch.h"
#include "kiln/error.h"
#include "kiln/kernels/conv.h"
#include "kiln/kernels/gemm.h"
#include "kiln/kernels/scratch.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

namespace {
void invalid(const std::string& msg) {
  throw Error(ErrorCode::kInvalidArgument, "convTranspose2d: " + msg);
}
}  // namespace

void convTranspose2dOutputShape(const ConvTranspose2dParams& p, int64_t* outH, int64_t* outW) {
  *outH = p.strideH * (p.inH - 1) + p.outputPaddingH + p.dilationH * (p.kernelH - 1) + 1 -
          p.padTop - p.padBottom;
  *outW = p.strideW * (p.inW - 1) + p.outputPaddingW + p.dilationW * (p.kernelW - 1) + 1 -
          p.padLeft - p.padRight;
}

namespace {
// kernel == stride, no pads, dilation 1 (the 2x2 stride-2 upsampling of PP-OCR det's head):
// every output pixel gets exactly one tap, so bands of input rows fill disjoint bands of output
// rows. Each thread runs a band's GEMM into an L2-sized column block and writes every output of
// the band once (tap, bias, activation), where the general path zero-fills a full-size
// column matrix's worth of output and adds every tap into it.
bool tilesOutput(const ConvTranspose2dParams& p) {
  return p.kernelH == p.strideH && p.kernelW == p.strideW && p.dilationH == 1 && p.dilationW == 1 &&
         p.padTop == 0 && p.padLeft == 0 && p.padBottom == 0 && p.padRight == 0 &&
         p.outputPaddingH == 0 && p.outputPaddingW == 0;
}

void convTransposeTiles(const ConvTranspose2dParams& p, const float* x, const float* w,
                        const float* bias, float* y) {
  const int64_t Cg = p.inChannels / p.group, Mg = p.outChannels / p.group;
  const int64_t kH = p.kernelH, kW = p.kernelW, taps = kH * kW, rows = Mg * taps;
  const int64_t HW = p.inH * p.inW, OW = p.inW * kW, OHW = p.inH * kH * OW;
  const int64_t band = std::max<int64_t>(1, (int64_t{64} << 10) / (rows * p.inW));
  const int64_t bands = (p.inH + band - 1) / band;
  const int64_t units = p.batch * p.group * bands;
  globalThreadPool().parallelFor(static_cast<size_t>(units), 1, [&](size_t ub, size_t ue) {
    for (int64_t u = static_cast<int64_t>(ub); u < static_cast<int64_t>(ue); ++u) {
      const int64_t n = u / (p.group * bands), g = u / bands % p.group, r0 = u % bands * band;
      const int64_t r1 = std::min(p.inH, r0 + band), cols = (r1 - r0) * p.inW;
      float* c = threadScratch(ScratchSlot::kIm2col, static_cast<size_t>(rows * cols));
      GemmParams gp;
      gp.m = rows;
      gp.n = cols;
      gp.k = Cg;
      gp.transA = true;
      gp.lda = rows;
      gp.ldb = HW;
      sgemm(gp, w + g * Cg * rows, x + (n * p.inChannels + g * Cg) * HW + r0 * p.inW, c, nullptr);
      for (int64_t m = 0; m < Mg; ++m) {
        const int64_t oc = g * Mg + m;
        float* out = y + (n * p.outChannels + oc) * OHW;
        for (int64_t t = 0; t < taps; ++t) {
          const int64_t ky = t / kW, kx = t % kW;
          const float* col = c + (m * taps + t) * cols;
          for (int64_t ih = r0; ih < r1; ++ih) {
            float* orow = out + (ih * kH + ky) * OW + kx;
            const float* crow = col + (ih - r0) * p.inW;
            for (int64_t iw = 0; iw < p.inW; ++iw) orow[iw * kW] = crow[iw];
          }
        }
        float* first = out + r0 * kH * OW;
        const size_t count = static_cast<size_t>((r1 - r0) * kH * OW);
        if (bias) {
          const float bv = bias[oc];
          for (size_t i = 0; i < count; ++i) first[i] += bv;
        }
        applyActivation(p.activation, first, count);
      }
    }
  });
}
}  // namespace

void convTranspose2dScratch(const ConvTranspose2dParams& p, ScratchNeed* need) {
  const int64_t Cg = p.inChannels / std::max<int64_t>(1, p.group);
  const int64_t Mg = p.outChannels / std::max<int64_t>(1, p.group);
  const int64_t rows = scratchProduct(Mg, scratchProduct(p.kernelH, p.kernelW));
  if (tilesOutput(p)) {
    // convTransposeTiles: one band's columns, then its GEMM's packing.
    const int64_t band = std::max<int64_t>(
        1, (int64_t{64} << 10) / std::max<int64_t>(1, scratchProduct(rows, p.inW)));
    const int64_t cols = scratchProduct(std::min(p.inH, band), p.inW);
    need->atLeast(static_cast<size_t>(ScratchSlot::kIm2col), scratchProduct(rows, cols));
    gemmScratch(rows, cols, Cg, false, false, need);
    return;
  }
  // The general path: the columns of one group, then its GEMM's packing.
  const int64_t HW = scratchProduct(p.inH, p.inW);
  need->atLeast(static_cast<size_t>(ScratchSlot::kIm2col), scratchProduct(rows, HW));
  gemmScratch(rows, HW, Cg, false, false, need);
}

void convTranspose2d(const ConvTranspose2dParams& p, const float* x, const float* w,
                     const float* bias, float* y) {
  if (p.batch < 0 || p.inChannels <= 0 || p.inH <= 0 || p.inW <= 0 || p.outChannels <= 0)
    invalid("batch, channels and input sizes must be positive");
  if (p.kernelH <= 0 || p.kernelW <= 0 || p.strideH <= 0 || p.strideW <= 0 || p.dilationH <= 0 ||
      p.dilationW <= 0)
    invalid("kernel, strides and dilations must be positive");
  if (p.padTop < 0 || p.padLeft < 0 || p.padBottom < 0 || p.padRight < 0 || p.outputPaddingH < 0 ||
      p.outputPaddingW < 0)
    invalid("pads and output padding must be >= 0");
  if (p.group <= 0 || p.inChannels % p.group != 0 || p.outChannels % p.group != 0)
    invalid("group must divide input and output channels");
  int64_t OH, OW;
  convTranspose2dOutputShape(p, &OH, &OW);
  if (OH <= 0 || OW <= 0) invalid("pads leave an empty output");
  if (p.batch == 0) return;
  if (tilesOutput(p)) {
    convTransposeTiles(p, x, w, bias, y);
    return;
  }

  const int64_t Cg = p.inChannels / p.group, Mg = p.outChannels / p.group;
  const int64_t HW = p.inH * p.inW, OHW = OH * OW;
  const int64_t taps = p.kernelH * p.kernelW;
  const int64_t rows = Mg * taps;
  float* cols = threadScratch(ScratchSlot::kIm2col, static_cast<size_t>(rows * HW));
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t g = 0; g < p.group; ++g) {
      // cols (Mg*kH*kW x HW) = W_g^T (W_g is Cg x Mg*kH*kW) * X_g (Cg x HW).
      GemmParams gp;
      gp.m = rows;
      gp.n = HW;
      gp.k = Cg;
      gp.transA = true;
      gp.lda = rows;
      sgemm(gp, w + g * Cg * rows, x + (n * p.inChannels + g * Cg) * HW, cols);
      float* yg = y + (n * p.outChannels + g * Mg) * OHW;
      // Each output channel gathers only its own rows, so channels run in parallel race-free.
      globalThreadPool().parallelFor(static_cast<size_t>(Mg), 1, [&](size_t b, size_t e) {
        for (int64_t m = static_cast<int64_t>(b); m < static_cast<int64_t>(e); ++m) {
          float* out = yg + m * OHW;
          std::fill(out, out + OHW, 0.0f);
          for (int64_t t = 0; t < taps; ++t) {
            const int64_t ky = t / p.kernelW, kx = t % p.kernelW;
            const float* col = cols + (m * taps + t) * HW;
            for (int64_t ih = 0; ih < p.inH; ++ih) {
              const int64_t oh = ih * p.strideH - p.padTop + ky * p.dilationH;
              if (oh < 0 || oh >= OH) continue;
              float* orow = out + oh * OW;
              const float* crow = col + ih * p.inW;
              for (int64_t iw = 0; iw < p.inW; ++iw) {
                const int64_t ow = iw * p.strideW - p.padLeft + kx * p.dilationW;
                if (ow >= 0 && ow < OW) orow[ow] += crow[iw];
              }
            }
          }
          if (bias) {
            const float bv = bias[g * Mg + m];
            for (int64_t i = 0; i < OHW; ++i) out[i] += bv;
          }
          applyActivation(p.activation, out, static_cast<size_t>(OHW));
        }
      });
    }
  }
}

}  // namespace kiln::kernels
