#include "kiln/kernels/conv.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/cpu/common/scratch.h"
#include "kernels/cpu/conv/conv_internal.h"
#include "kernels/cpu/conv/im2col.h"
#include "kernels/cpu/conv/winograd.h"
#include "kernels/cpu/conv/winograd_transform.h"
#include "kernels/cpu/gemm/gemm_internal.h"
#include "kiln/cpu_features.h"
#include "kiln/error.h"
#include "kiln/kernels/gemm.h"
#include "kiln/kernels/scratch.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

namespace {
// Upper bound on one im2col chunk (floats): large images are lowered a band of pixels at a
// time so the scratch stays cache- and memory-friendly (PP-OCR det runs at 1280 x 1280).
constexpr int64_t kIm2colBudget = int64_t{1} << 21;
// Floats of im2col columns per chunk when threads take whole chunks: with the packed copy the
// GEMM makes, a chunk stays in a 1 MB L2.
constexpr int64_t kL2ChunkBudget = int64_t{96} << 10;
// Fewest output pixels per chunk in that mode (narrower GEMMs waste the micro-kernel's width).
constexpr int64_t kMinChunk = 128;

void invalid(const std::string& msg) { throw Error(ErrorCode::kInvalidArgument, "conv2d: " + msg); }
}  // namespace

int64_t convOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t padBegin, int64_t padEnd,
                       int64_t dilation) {
  // Plans are untrusted: sizes that overflow or a non-positive stride give no output (callers
  // refuse empty outputs) instead of undefined arithmetic.
  int64_t span = 0, padded = 0;
  if (stride <= 0 || __builtin_sub_overflow(kernel, 1, &span) ||
      __builtin_mul_overflow(dilation, span, &span) || __builtin_add_overflow(span, 1, &span) ||
      __builtin_add_overflow(in, padBegin, &padded) ||
      __builtin_add_overflow(padded, padEnd, &padded))
    return 0;
  if (span < 1 || padded < span) return 0;
  return (padded - span) / stride + 1;
}

void convSamePads(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, bool upper,
                  int64_t* padBegin, int64_t* padEnd) {
  const int64_t out = (in + stride - 1) / stride;
  const int64_t span = dilation * (kernel - 1) + 1;
  const int64_t total = std::max<int64_t>(0, (out - 1) * stride + span - in);
  *padBegin = upper ? total / 2 : total - total / 2;
  *padEnd = total - *padBegin;
}

void conv2dOutputShape(const Conv2dParams& p, int64_t* outH, int64_t* outW) {
  *outH = convOutputSize(p.inH, p.kernelH, p.strideH, p.padTop, p.padBottom, p.dilationH);
  *outW = convOutputSize(p.inW, p.kernelW, p.strideW, p.padLeft, p.padRight, p.dilationW);
}

namespace {

void checkParams(const Conv2dParams& p) {
  if (p.batch < 0 || p.inChannels <= 0 || p.inH <= 0 || p.inW <= 0 || p.outChannels <= 0)
    invalid("batch, channels and input sizes must be positive");
  if (p.kernelH <= 0 || p.kernelW <= 0 || p.strideH <= 0 || p.strideW <= 0 || p.dilationH <= 0 ||
      p.dilationW <= 0)
    invalid("kernel, strides and dilations must be positive");
  if (p.padTop < 0 || p.padLeft < 0 || p.padBottom < 0 || p.padRight < 0)
    invalid("pads must be >= 0");
  if (p.group <= 0 || p.inChannels % p.group != 0 || p.outChannels % p.group != 0)
    invalid("group " + std::to_string(p.group) + " must divide input channels " +
            std::to_string(p.inChannels) + " and output channels " + std::to_string(p.outChannels));
  int64_t OH, OW;
  conv2dOutputShape(p, &OH, &OW);
  if (OH <= 0 || OW <= 0) invalid("the kernel is larger than the padded input");
}

bool isDepthwise(const Conv2dParams& p) { return p.inChannels == p.group && p.group > 1; }

// The GEMM-based paths; each group's weights come either raw (w) or pre-packed as MR-row panels
// (packed + g * groupFloats).
void conv2dGemm(const Conv2dParams& p, const float* x, const float* w, const float* packed,
                size_t groupFloats, const float* bias, const float* residual, float* y) {
  int64_t OH, OW;
  conv2dOutputShape(p, &OH, &OW);
  const int64_t Cg = p.inChannels / p.group, Mg = p.outChannels / p.group;
  const int64_t P = OH * OW;
  const int64_t Kdim = Cg * p.kernelH * p.kernelW;
  const bool pointwise = p.kernelH == 1 && p.kernelW == 1 && p.strideH == 1 && p.strideW == 1 &&
                         p.padTop == 0 && p.padLeft == 0 && p.padBottom == 0 && p.padRight == 0;
  const Im2colShape shape{Cg,        p.inH,       p.inW,      OH,        OW,
                          p.kernelH, p.kernelW,   p.strideH,  p.strideW, p.padTop,
                          p.padLeft, p.dilationH, p.dilationW};
  // Large images are cut into column chunks. When there are enough pixels, the chunks are
  // small (their im2col columns and packed copy stay in L2) and each thread takes whole chunks:
  // lowering, packing and GEMM of a chunk run on one thread, with no barrier between them.
  // Otherwise (deep layers, few pixels) one chunk at a time is split across the threads.
  ThreadPool& threads = globalThreadPool();
  const int64_t T = threads.size();
  bool chunkParallel = false;
  int64_t chunk = pointwise ? P : std::min(P, std::max<int64_t>(256, kIm2colBudget / Kdim));
  if (T > 1 && P >= 2 * T * kMinChunk) {
    int64_t c = std::max(kMinChunk, std::min(P, kL2ChunkBudget / Kdim));
    int64_t count = (P + c - 1) / c;
    count = std::max<int64_t>(2 * T, (count + T - 1) / T * T);  // a multiple of the threads
    chunk = ((P + count - 1) / count + 31) / 32 * 32;
    chunkParallel = true;
  }
  const int64_t chunks = (P + chunk - 1) / chunk;
  if (pointwise && packed && isa_avx512::pointwiseInPlaceApplies(Kdim, P) &&
      activeIsa() == CpuIsa::kAvx512 && selectGemmKernel().mr == 12) {
    for (int64_t n = 0; n < p.batch; ++n)
      for (int64_t g = 0; g < p.group; ++g)
        isa_avx512::pointwiseConv(Mg, Kdim, P, packed + g * groupFloats,
                                  x + (n * p.inChannels + g * Cg) * P,
                                  bias ? bias + g * Mg : nullptr,
                                  residual ? residual + (n * p.outChannels + g * Mg) * P : nullptr,
                                  p.activation, y + (n * p.outChannels + g * Mg) * P, threads);
    return;
  }

  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t g = 0; g < p.group; ++g) {
      const float* xg = x + (n * p.inChannels + g * Cg) * p.inH * p.inW;
      float* yg = y + (n * p.outChannels + g * Mg) * P;
      const float* rg = residual ? residual + (n * p.outChannels + g * Mg) * P : nullptr;
      GemmParams gp;
      gp.m = Mg;
      gp.k = Kdim;
      gp.lda = Kdim;
      gp.ldc = P;
      gp.bias = bias ? bias + g * Mg : nullptr;
      gp.biasKind = bias ? BiasKind::kPerRow : BiasKind::kNone;
      gp.activation = p.activation;
      // Output columns [p0, p1) on `pool` (nullptr: this thread alone).
      const auto runChunk = [&](int64_t p0, int64_t p1, ThreadPool* pool) {
        GemmParams q = gp;
        q.n = p1 - p0;
        const float* b = xg + p0;
        q.ldb = P;
        if (!pointwise) {
          float* cols = threadScratch(ScratchSlot::kIm2col, static_cast<size_t>(Kdim * chunk));
          im2colColumns(shape, xg, p0, p1, cols, pool);
          b = cols;
          q.ldb = q.n;
        }
        // The skip connection goes in with the bias, while each output tile is in registers.
        // In place (residual == y) it is already in C, and the first K block's store would
        // overwrite it before the last one reads it: it enters through beta = 1 instead.
        const float* r = rg && rg != yg ? rg + p0 : nullptr;
        if (rg == yg) q.beta = 1.0f;
        if (packed)
          gemmDriver(q, nullptr, packed + g * groupFloats, b, nullptr, yg + p0, pool, r, P);
        else
          gemmDriver(q, w + g * Mg * Kdim, nullptr, b, nullptr, yg + p0, pool, r, P);
      };
      if (chunkParallel) {
        threads.parallelFor(static_cast<size_t>(chunks), 1, [&](size_t cb, size_t ce) {
          for (size_t c = cb; c < ce; ++c) {
            const int64_t p0 = static_cast<int64_t>(c) * chunk;
            runChunk(p0, std::min(P, p0 + chunk), nullptr);
          }
        });
      } else {
        for (int64_t p0 = 0; p0 < P; p0 += chunk) runChunk(p0, std::min(P, p0 + chunk), &threads);
      }
    }
  }
}

}  // namespace

void conv2dScratch(const Conv2dParams& p, bool packedWeights, ScratchNeed* need, ConvAlgo algo) {
  checkParams(p);
  if (packedWeights && algo == ConvAlgo::kWinograd) return winogradScratch(p, need);
  int64_t OH, OW;
  conv2dOutputShape(p, &OH, &OW);
  if (isDepthwise(p)) {
    if (activeIsa() == CpuIsa::kAvx512)
      need->atLeast(static_cast<size_t>(ScratchSlot::kWork),
                    isa_avx512::depthwisePlaneScratch(p, OH, OW));
    return;
  }
  // Bounds both chunkings of conv2dGemm: a chunk holds at most all P pixels rounded up to 32,
  // and at most max(256, kIm2colBudget / Kdim) of them (the L2 chunks are smaller still).
  const int64_t Cg = p.inChannels / p.group, Mg = p.outChannels / p.group;
  const int64_t P = scratchProduct(OH, OW);
  const int64_t Kdim = scratchProduct(Cg, scratchProduct(p.kernelH, p.kernelW));
  const bool pointwise = p.kernelH == 1 && p.kernelW == 1 && p.strideH == 1 && p.strideW == 1 &&
                         p.padTop == 0 && p.padLeft == 0 && p.padBottom == 0 && p.padRight == 0;
  const int64_t widest = pointwise ? P : std::min(P, std::max<int64_t>(256, kIm2colBudget / Kdim));
  const int64_t chunk = (widest + 31) / 32 * 32;
  if (!pointwise)
    need->atLeast(static_cast<size_t>(ScratchSlot::kIm2col), scratchProduct(Kdim, chunk));
  gemmScratch(Mg, chunk, Kdim, packedWeights, false, need);
}

void conv2d(const Conv2dParams& p, const float* x, const float* w, const float* bias,
            const float* residual, float* y) {
  checkParams(p);
  if (p.batch == 0) return;
  if (isDepthwise(p)) {
    int64_t OH, OW;
    conv2dOutputShape(p, &OH, &OW);
    depthwiseConv2d(p, OH, OW, x, w, bias, residual, y);
    return;
  }
  conv2dGemm(p, x, w, nullptr, 0, bias, residual, y);
}

bool conv2dAlgoApplies(const Conv2dParams& p, ConvAlgo algo) {
  switch (algo) {
    case ConvAlgo::kGemm:
      return true;
    case ConvAlgo::kWinograd:
      return winogradApplies(p);
  }
  return false;
}

ConvAlgo conv2dHeuristicAlgo(const Conv2dParams& p) {
  if (!winogradApplies(p)) return ConvAlgo::kGemm;
  // Below ~32 channels each GEMM is too thin to pay for the transforms, and below 16 tiles
  // (outputs under ~13 x 13) most of the GEMMs' columns are padding.
  int64_t oh, ow;
  conv2dOutputShape(p, &oh, &ow);
  const int64_t tiles = ((oh + 3) / 4) * ((ow + 3) / 4);
  return p.inChannels >= 32 && p.outChannels >= 32 && tiles >= 16 ? ConvAlgo::kWinograd
                                                                  : ConvAlgo::kGemm;
}

namespace {

// Packs `count` row-major rows x cols matrices, each `stride` floats apart, behind one header.
std::vector<uint8_t> packMatrices(int64_t count, int64_t rows, int64_t cols, const float* a,
                                  int64_t stride, PackedKind kind) {
  std::vector<uint8_t> out;
  for (int64_t g = 0; g < count; ++g) {
    auto one = packGemmA(rows, cols, false, a + g * stride);
    if (g == 0) {
      PackedWeightsHeader h;
      std::memcpy(&h, one.data(), sizeof h);
      h.kind = static_cast<uint32_t>(kind);
      h.groups = count;
      h.payloadBytes *= static_cast<uint64_t>(count);
      out.reserve(sizeof h + h.payloadBytes);
      out.resize(sizeof h);
      std::memcpy(out.data(), &h, sizeof h);
    }
    out.insert(out.end(), one.begin() + sizeof(PackedWeightsHeader), one.end());
  }
  return out;
}

}  // namespace

std::vector<uint8_t> packConv2dWeights(const Conv2dParams& p, const float* w, ConvAlgo algo) {
  checkParams(p);
  const int64_t Mg = p.outChannels / p.group;
  const int64_t Kdim = (p.inChannels / p.group) * p.kernelH * p.kernelW;
  if (!w) invalid("null weights");
  if (!conv2dAlgoApplies(p, algo))
    invalid("Winograd takes only 3x3, stride 1, undilated, ungrouped");
  if (algo == ConvAlgo::kWinograd) {
    const std::vector<float> u = winogradTransformWeights(p, w);
    return packMatrices(winograd::kPositions, p.outChannels, p.inChannels, u.data(),
                        p.outChannels * p.inChannels, PackedKind::kConvWinograd);
  }
  if (isDepthwise(p)) {
    // The direct kernel reads weights as given; the blob only carries them with a header.
    auto blob = packGemmA(p.outChannels, p.kernelH * p.kernelW, false, w);
    PackedWeightsHeader h;
    std::memcpy(&h, blob.data(), sizeof h);
    h.kind = static_cast<uint32_t>(PackedKind::kConvDepthwise);
    h.payloadBytes = static_cast<uint64_t>(p.outChannels * p.kernelH * p.kernelW) * sizeof(float);
    blob.resize(sizeof h + h.payloadBytes);
    std::memcpy(blob.data(), &h, sizeof h);
    std::memcpy(blob.data() + sizeof h, w, h.payloadBytes);
    return blob;
  }
  // One packGemmA per group, concatenated behind a single header.
  return packMatrices(p.group, Mg, Kdim, w, Mg * Kdim, PackedKind::kConvIm2col);
}

ConvAlgo validatePackedConv2dWeights(const Conv2dParams& p, const void* blob, size_t bytes) {
  checkParams(p);
  const PackedWeightsHeader h = readPackedWeightsHeader(blob, bytes);
  const bool dw = isDepthwise(p);
  const bool wino = h.kind == static_cast<uint32_t>(PackedKind::kConvWinograd);
  const PackedKind kind = wino ? PackedKind::kConvWinograd
                          : dw ? PackedKind::kConvDepthwise
                               : PackedKind::kConvIm2col;
  const int64_t rows = wino ? p.outChannels : dw ? p.outChannels : p.outChannels / p.group;
  const int64_t cols = wino ? p.inChannels
                       : dw ? p.kernelH * p.kernelW
                            : (p.inChannels / p.group) * p.kernelH * p.kernelW;
  const int64_t groups = wino ? winograd::kPositions : dw ? 1 : p.group;
  if (h.kind != static_cast<uint32_t>(kind) || h.rows != rows || h.cols != cols ||
      h.groups != groups || (wino && !winogradApplies(p)))
    invalid("packed weights were made for another convolution (kind " + std::to_string(h.kind) +
            ", " + std::to_string(h.rows) + " x " + std::to_string(h.cols) + ", groups " +
            std::to_string(h.groups) + "; this layer needs kind " +
            std::to_string(static_cast<uint32_t>(kind)) + ", " + std::to_string(rows) + " x " +
            std::to_string(cols) + ", groups " + std::to_string(groups) + ")");
  return wino ? ConvAlgo::kWinograd : ConvAlgo::kGemm;
}

void conv2dPacked(const Conv2dParams& p, const float* x, const void* packedW, size_t bytes,
                  const float* bias, const float* residual, float* y) {
  const ConvAlgo algo = validatePackedConv2dWeights(p, packedW, bytes);
  if (p.batch == 0) return;
  const float* panels = reinterpret_cast<const float*>(static_cast<const uint8_t*>(packedW) +
                                                       sizeof(PackedWeightsHeader));
  const size_t payloadFloats = (bytes - sizeof(PackedWeightsHeader)) / sizeof(float);
  if (algo == ConvAlgo::kWinograd) {
    conv2dWinograd(p, x, panels, payloadFloats / winograd::kPositions, bias, residual, y);
    return;
  }
  if (isDepthwise(p)) {
    int64_t OH, OW;
    conv2dOutputShape(p, &OH, &OW);
    depthwiseConv2d(p, OH, OW, x, panels, bias, residual, y);
    return;
  }
  if (activeIsa() == CpuIsa::kAvx512 && selectGemmKernel().mr == 12 &&
      isa_avx512::stemConvApplies(p)) {
    int64_t OH, OW;
    conv2dOutputShape(p, &OH, &OW);
    const int64_t in = p.inChannels * p.inH * p.inW, out = p.outChannels * OH * OW;
    for (int64_t n = 0; n < p.batch; ++n)
      isa_avx512::stemConv(p, OH, OW, x + n * in, panels, bias,
                           residual ? residual + n * out : nullptr, y + n * out,
                           globalThreadPool());
    return;
  }
  conv2dGemm(p, x, nullptr, panels, payloadFloats / static_cast<size_t>(p.group), bias, residual,
             y);
}

}  // namespace kiln::kernels
