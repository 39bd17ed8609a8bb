// 8-bit 2-D convolution: implicit GEMM over the input's stride phases for k x k filters, im2col
// straight into the packed-B layout of qgemmU8S8 otherwise (a 1x1
// stride-1 convolution packs its input as is), and a direct depthwise path.
#include <emmintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/common/scratch.h"
#include "kernels/cpu/qgemm/qdepthwise_impl.h"
#include "kernels/cpu/qgemm/qgemm_internal.h"
#include "kiln/cpu_features.h"
#include "kiln/error.h"
#include "kiln/kernels/scratch.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {
namespace {

void checkParams(const QConv2dParams& p) {
  const bool ok = p.batch >= 1 && p.inChannels >= 1 && p.outChannels >= 1 && p.group >= 1 &&
                  p.inChannels % p.group == 0 && p.outChannels % p.group == 0 && p.kernelH >= 1 &&
                  p.kernelW >= 1 && p.strideH >= 1 && p.strideW >= 1 && p.dilationH >= 1 &&
                  p.dilationW >= 1 && p.padTop >= 0 && p.padLeft >= 0 && p.padBottom >= 0 &&
                  p.padRight >= 0;
  if (!ok) throw Error(ErrorCode::kInvalidArgument, "qconv2d: invalid parameters");
}

bool isDepthwise(const QConv2dParams& p) {
  return p.group == p.inChannels && p.outChannels == p.inChannels && p.group > 1;
}

// Floats of thread scratch that hold `bytes`.
int64_t floatsFor(int64_t bytes) { return (bytes + 3) / 4; }

// Thread-local scratch of at least `bytes` bytes.
uint8_t* scratchBytes(ScratchSlot slot, int64_t bytes) {
  return reinterpret_cast<uint8_t*>(threadScratch(slot, static_cast<size_t>(floatsFor(bytes))));
}

// A 1x1, stride-1, unpadded convolution's im2col matrix is its input: packed without a copy.
bool packsInPlace(const QConv2dParams& p) {
  return p.kernelH == 1 && p.kernelW == 1 && p.strideH == 1 && p.strideW == 1 && p.padTop == 0 &&
         p.padLeft == 0 && p.padBottom == 0 && p.padRight == 0;
}

// Row k = (c, ky, kx) of the im2col matrix of one image and group: oh * ow bytes.
void im2colRow(const QConv2dParams& p, const uint8_t* x, int64_t k, int64_t oh, int64_t ow,
               uint8_t* row) {
  const int64_t kArea = p.kernelH * p.kernelW;
  const int64_t c = k / kArea, ky = (k % kArea) / p.kernelW, kx = k % p.kernelW;
  const uint8_t* plane = x + c * p.inH * p.inW;
  const uint8_t zero = p.inZeroPoint;
  // Output columns whose input column is inside the image: [x0, x1).
  const int64_t off = kx * p.dilationW - p.padLeft;
  int64_t x0 = off >= 0 ? 0 : (-off + p.strideW - 1) / p.strideW;
  int64_t x1 = p.inW - off <= 0 ? 0 : (p.inW - off + p.strideW - 1) / p.strideW;
  x0 = std::min(x0, ow);
  x1 = std::max(std::min(x1, ow), x0);
  for (int64_t y = 0; y < oh; ++y) {
    uint8_t* dst = row + y * ow;
    const int64_t iy = y * p.strideH - p.padTop + ky * p.dilationH;
    if (iy < 0 || iy >= p.inH) {
      std::memset(dst, zero, static_cast<size_t>(ow));
      continue;
    }
    const uint8_t* src = plane + iy * p.inW + off;
    std::memset(dst, zero, static_cast<size_t>(x0));
    if (p.strideW == 1) {
      std::memcpy(dst + x0, src + x0, static_cast<size_t>(x1 - x0));
    } else {
      int64_t ox = x0;
      if (p.strideW == 2) {
        // Even bytes of 32: mask each 16-bit pair to its low byte, then pack with saturation
        // (exact, as every word is <= 255). Reads stop one byte short of the row's last tap.
        const __m128i low = _mm_set1_epi16(0x00FF);
        for (; ox + 16 <= x1 && 2 * (ox + 15) + 1 + off < p.inW; ox += 16) {
          const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * ox));
          const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * ox + 16));
          _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + ox),
                           _mm_packus_epi16(_mm_and_si128(a, low), _mm_and_si128(b, low)));
        }
      }
      for (; ox < x1; ++ox) dst[ox] = src[ox * p.strideW];
    }
    std::memset(dst + x1, zero, static_cast<size_t>(ow - x1));
  }
}

// Fewest pixels for which a 1x1 layer packs its input split by pixels (fewer would leave
// chunks of a few 16-pixel groups, each a pass over all of K).
constexpr int64_t kMinPixelSplit = 256;

// Packs the im2col matrix (k rows of n = oh * ow) of one image and group, in parallel.
void packInput(const QConv2dParams& p, const uint8_t* x, int64_t k, int64_t oh, int64_t ow,
               uint8_t* dst) {
  const int64_t n = oh * ow, k4 = (k + 3) / 4, rowBytes = qgemmPaddedN(n) * 4;
  const bool direct = packsInPlace(p);
  if (direct && n >= kMinPixelSplit) {
    // 1x1 layers read their input in place: split the pixels, in the order the GEMM after and
    // the layer before split theirs, so each thread packs (and then multiplies) pixels its own
    // core wrote; splitting K sent half of the input and half of the packed rows across cores.
    ThreadPool& pool = globalThreadPool();
    const int64_t chunks = std::max<int64_t>(
        1, std::min<int64_t>(4 * pool.size(), n * k4 / std::max<int64_t>(1, 1 << 12)));
    std::vector<uint8_t> fill(static_cast<size_t>(k4 * 4 > k ? n : 0), p.inZeroPoint);
    pool.parallelFor(static_cast<size_t>(chunks), 1, [&](size_t begin, size_t end) {
      for (size_t chunk = begin; chunk < end; ++chunk) {
        // Chunk boundaries on whole kQGemmNAlign groups; the last chunk pads the row.
        const int64_t a = kQGemmNAlign;
        const int64_t n0 = n * static_cast<int64_t>(chunk) / chunks / a * a;
        const bool last = static_cast<int64_t>(chunk) + 1 == chunks;
        const int64_t n1 = last ? n : n * (static_cast<int64_t>(chunk) + 1) / chunks / a * a;
        if (n1 <= n0 && !last) continue;
        for (int64_t kk = 0; kk < k4; ++kk) {
          const uint8_t* r[4];
          for (int t = 0; t < 4; ++t) {
            const int64_t kr = kk * 4 + t;
            r[t] = (kr < k ? x + kr * n : fill.data()) + n0;
          }
          uint8_t* d = dst + kk * rowBytes + n0 * 4;
          if (last)
            qgemm::interleave4(r[0], r[1], r[2], r[3], n1 - n0, d);
          else
            qgemm::interleave4Exact(r[0], r[1], r[2], r[3], n1 - n0, d);
        }
      }
    });
    return;
  }
  // About 16 KB of B per task, so even a short K splits over the workers.
  const size_t grain =
      static_cast<size_t>(std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(n, 1)));
  globalThreadPool().parallelFor(static_cast<size_t>(k4), grain, [&](size_t begin, size_t end) {
    uint8_t* rows = direct ? nullptr : scratchBytes(ScratchSlot::kWork, 4 * n);
    std::vector<uint8_t> fill;
    for (size_t kk = begin; kk < end; ++kk) {
      const uint8_t* r[4];
      for (int t = 0; t < 4; ++t) {
        const int64_t kr = static_cast<int64_t>(kk) * 4 + t;
        if (kr >= k) {
          if (fill.empty()) fill.assign(static_cast<size_t>(n), p.inZeroPoint);
          r[t] = fill.data();
        } else if (direct) {
          r[t] = x + kr * n;
        } else {
          im2colRow(p, x, kr, oh, ow, rows + t * n);
          r[t] = rows + t * n;
        }
      }
      qgemm::interleave4(r[0], r[1], r[2], r[3], n, dst + static_cast<int64_t>(kk) * rowBytes);
    }
  });
}

// Whether depthwise() reads each plane in place (AVX-512 VNNI taps that fit); fills taps on
// AVX-512 machines.
bool depthwiseInPlace(const QConv2dParams& p, qgemm::DepthwiseTaps* taps) {
  if (activeIsa() != CpuIsa::kAvx512) return false;
  *taps = qgemm::depthwiseTapsAvx512(p);
  return qgemm::depthwiseDirectApplies(p, *taps);
}

// Bytes of depthwise()'s zero-padded copy of one plane, with slack past it: the stride-2
// AVX-512 loads read whole byte pairs.
int64_t depthwisePlaneBytes(const QConv2dParams& p) {
  return (p.inH + p.padTop + p.padBottom) * (p.inW + p.padLeft + p.padRight) + 64;
}

void depthwise(const QConv2dParams& p, const QConvWeights& w, const uint8_t* x, const QRequant& rq,
               uint8_t* out, int64_t oh, int64_t ow) {
  const int64_t c = p.inChannels;
  const int64_t ph = p.inH + p.padTop + p.padBottom, pw = p.inW + p.padLeft + p.padRight;
  const int64_t kArea = p.kernelH * p.kernelW;
  const bool avx512 = activeIsa() == CpuIsa::kAvx512;
  qgemm::DepthwiseTaps taps;
  // Reading the plane in place saves the padded copy, which cost as much as the taps on the
  // small planes deep in MobileNet (7 x 7, 14 x 14).
  const bool direct = depthwiseInPlace(p, &taps);
  std::vector<int32_t> bias(static_cast<size_t>(c));
  for (int64_t ch = 0; ch < c; ++ch)
    bias[ch] = (rq.bias ? rq.bias[ch] : 0) - p.inZeroPoint * w.depthwiseSums[ch];
  globalThreadPool().parallelFor(
      static_cast<size_t>(p.batch * c), 4, [&](size_t begin, size_t end) {
        uint8_t* plane =
            direct ? nullptr : scratchBytes(ScratchSlot::kWork, depthwisePlaneBytes(p));
        auto* acc =
            direct ? nullptr : reinterpret_cast<int32_t*>(threadScratch(ScratchSlot::kWork2, ow));
        for (size_t job = begin; job < end; ++job) {
          const int64_t ch = static_cast<int64_t>(job) % c;
          const uint8_t* src = x + static_cast<int64_t>(job) * p.inH * p.inW;
          const int8_t* f = w.depthwiseFilters.data() + ch * kArea;
          uint8_t* dst = out + static_cast<int64_t>(job) * oh * ow;
          if (direct) {
            qgemm::depthwiseChannelDirectAvx512(p, taps, src, f, bias[ch], rq.scale[ch], rq, oh, ow,
                                                dst);
            continue;
          }
          std::memset(plane, p.inZeroPoint, static_cast<size_t>(ph * pw));
          for (int64_t y = 0; y < p.inH; ++y)
            std::memcpy(plane + (y + p.padTop) * pw + p.padLeft, src + y * p.inW,
                        static_cast<size_t>(p.inW));
          if (avx512)
            qgemm::depthwiseChannelAvx512(p, taps, plane, pw, f, bias[ch], rq.scale[ch], rq, oh, ow,
                                          acc, dst);
          else
            qgemm::depthwiseChannel(p, plane, pw, f, bias[ch], rq.scale[ch], rq, oh, ow, acc, dst);
        }
      });
}

// Channels pad to a multiple of 4 in the implicit layout, so few channels waste work there
// (im2col packs K = channels * taps densely). RGB stems still gain: ResNet-50's 7x7/2 and
// MobileNet's 3x3/2 ran 16-21% faster implicit with a third more MACs, im2col's strided
// gathers having cost 40% of the layer.
bool implicitChannels(const QConv2dParams& p) {
  return p.inChannels % 4 == 0 || p.inChannels >= 32 || p.inChannels == 3;
}

// Group-1 weights reordered to K = (ky, kx, channel) with channels padded to 4.
QPackedA packImplicit(const QConv2dParams& p, const int8_t* weights) {
  const int64_t c4 = (p.inChannels + 3) / 4, kArea = p.kernelH * p.kernelW;
  const int64_t k = kArea * c4 * 4;
  std::vector<int8_t> w(static_cast<size_t>(p.outChannels * k), 0);
  for (int64_t m = 0; m < p.outChannels; ++m)
    for (int64_t c = 0; c < p.inChannels; ++c)
      for (int64_t t = 0; t < kArea; ++t)
        w[m * k + t * c4 * 4 + c] = weights[(m * p.inChannels + c) * kArea + t];
  return packQGemmA(w.data(), p.outChannels, k);
}

// Whether the implicit path runs: k x k filters reordered at packing time (a 1x1 convolution,
// strided or not, measured faster through its dense packing). Strides past 16 take im2col: the
// phase table has strideH * strideW entries.
bool implicitApplies(const QConv2dParams& p, const QConvWeights& w, const qgemm::Variant& v) {
  return w.implicit.m > 0 && v.ukernel == qgemm::avx512VnniVariant().ukernel && p.strideH <= 16 &&
         p.strideW <= 16;
}

// The stride-phase copies implicitConv packs.
struct ImplicitLayout {
  int64_t c4, hq, wq, plane;
  std::vector<int64_t> slot;  // per stride phase py * sw + px, its index among the packed, or -1
  int64_t used;               // phases packed
  int64_t packedBytes() const { return used * c4 * plane * 4; }
};

ImplicitLayout implicitLayout(const QConv2dParams& p) {
  ImplicitLayout l;
  const int64_t sh = p.strideH, sw = p.strideW;
  const int64_t hp = p.inH + p.padTop + p.padBottom, wp = p.inW + p.padLeft + p.padRight;
  l.c4 = (p.inChannels + 3) / 4;
  l.hq = (hp + sh - 1) / sh;
  l.wq = (wp + sw - 1) / sw;
  // Slack past each plane: the last column block and the widest tap read beyond hq * wq.
  l.plane = l.hq * l.wq + l.wq + 64;
  l.slot.assign(static_cast<size_t>(sh * sw), -1);
  l.used = 0;
  for (int64_t ky = 0; ky < p.kernelH; ++ky)
    for (int64_t kx = 0; kx < p.kernelW; ++kx) {
      const int64_t ph = (ky * p.dilationH % sh) * sw + kx * p.dilationW % sw;
      if (l.slot[ph] < 0) l.slot[ph] = l.used++;
    }
  return l;
}

// Convolution of one image as a GEMM over the flat positions of the padded image's stride
// phases: with stride s, tap (ky, kx) of output (r, c) reads padded (r * sh + ky * dh,
// c * sw + kx * dw), which is element (r + ky * dh / sh, c + kx * dw / sw) of phase
// (ky * dh % sh, kx * dw % sw). So every tap's window is one phase shifted by whole rows and
// columns, and B's rows are read in place from [phase][channels / 4][hq * wq][4] copies of the
// input (oh rows of wq positions; the last wq - ow of each row are discarded). Only the phases
// some tap reads are packed.
void implicitConv(const QConv2dParams& p, const QPackedA& a, const qgemm::Variant& v,
                  const uint8_t* x, const QRequant& rq, uint8_t* y, int64_t oh, int64_t ow) {
  const ImplicitLayout layout = implicitLayout(p);
  const int64_t c4 = layout.c4, sh = p.strideH, sw = p.strideW, wq = layout.wq;
  const int64_t plane = layout.plane, used = layout.used;
  const std::vector<int64_t>& slot = layout.slot;
  const uint8_t zero = p.inZeroPoint;
  uint8_t* packed = scratchBytes(ScratchSlot::kIm2col, layout.packedBytes());
  // One job per group of 4 channels. With stride > 1, each input row of the 4 channels is
  // interleaved once into 4-byte words of its padded row, and each phase takes every sw-th word
  // (splitting each channel's bytes into phases first cost as much as the GEMM at ResNet-50's
  // stride-2 layers: short rows ran mostly in scalar tails).
  globalThreadPool().parallelFor(static_cast<size_t>(c4), 1, [&](size_t begin, size_t end) {
    std::vector<uint8_t> zeros(static_cast<size_t>(p.inW), zero);
    // The padding words keep the zero point in every byte; rows overwrite the middle only.
    std::vector<uint32_t> words(static_cast<size_t>(wq * sw), zero * 0x01010101u);
    for (size_t gi = begin; gi < end; ++gi) {
      const int64_t g = static_cast<int64_t>(gi);
      for (int64_t u = 0; u < used; ++u)
        std::memset(packed + (u * c4 + g) * plane * 4, zero, static_cast<size_t>(plane * 4));
      for (int64_t iy = 0; iy < p.inH; ++iy) {
        // Padded row iy + padTop is row (iy + padTop) / sh of the phases (py, *).
        const int64_t py = (iy + p.padTop) % sh, row = (iy + p.padTop) / sh;
        const uint8_t* rows[4];
        for (int t = 0; t < 4; ++t) {
          const int64_t c = g * 4 + t;
          rows[t] = c < p.inChannels ? x + (c * p.inH + iy) * p.inW : zeros.data();
        }
        if (sw == 1) {
          if (slot[py] < 0) continue;
          uint8_t* out = packed + ((slot[py] * c4 + g) * plane + row * wq + p.padLeft) * 4;
          qgemm::interleave4Exact(rows[0], rows[1], rows[2], rows[3], p.inW, out);
          continue;
        }
        bool needed = false;
        for (int64_t px = 0; px < sw; ++px) needed = needed || slot[py * sw + px] >= 0;
        if (!needed) continue;
        qgemm::interleave4Exact(rows[0], rows[1], rows[2], rows[3], p.inW,
                                reinterpret_cast<uint8_t*>(words.data() + p.padLeft));
        // Phase px of this row in its packed plane, or null where no tap reads it.
        const auto phaseRow = [&](int64_t px) -> uint8_t* {
          const int64_t u = slot[py * sw + px];
          return u < 0 ? nullptr : packed + ((u * c4 + g) * plane + row * wq) * 4;
        };
        int64_t j = 0;
        if (sw == 2) {
          // Even and odd words, 4 of each at a time (shufps only moves the bits).
          uint8_t* even = phaseRow(0);
          uint8_t* odd = phaseRow(1);
          for (; j + 4 <= wq; j += 4) {
            const auto* w = reinterpret_cast<const float*>(words.data() + 2 * j);
            const __m128 a = _mm_loadu_ps(w), b = _mm_loadu_ps(w + 4);
            if (even)
              _mm_storeu_ps(reinterpret_cast<float*>(even + j * 4),
                            _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)));
            if (odd)
              _mm_storeu_ps(reinterpret_cast<float*>(odd + j * 4),
                            _mm_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
          }
        }
        for (int64_t px = 0; px < sw; ++px) {
          uint8_t* out = phaseRow(px);
          if (out == nullptr) continue;
          for (int64_t jj = j; jj < wq; ++jj) std::memcpy(out + jj * 4, &words[jj * sw + px], 4);
        }
      }
    }
  });
  const int64_t kArea = p.kernelH * p.kernelW;
  std::vector<int64_t> offsets(static_cast<size_t>(kArea * c4));
  for (int64_t t = 0; t < kArea; ++t) {
    const int64_t dy = t / p.kernelW * p.dilationH, dx = t % p.kernelW * p.dilationW;
    const int64_t ph = slot[(dy % sh) * sw + dx % sw];
    for (int64_t g = 0; g < c4; ++g)
      offsets[t * c4 + g] = ((ph * c4 + g) * plane + dy / sh * wq + dx / sw) * 4;
  }
  const int64_t n = oh * wq;
  uint8_t* flat = scratchBytes(ScratchSlot::kWork2, p.outChannels * n);
  qgemm::drive(v, a, packed, offsets.data(), n, zero, rq, flat, n);
  for (int64_t m = 0; m < p.outChannels; ++m)
    for (int64_t r = 0; r < oh; ++r)
      std::memcpy(y + (m * oh + r) * ow, flat + m * n + r * wq, static_cast<size_t>(ow));
}

}  // namespace

void qconv2dOutputShape(const QConv2dParams& p, int64_t* outH, int64_t* outW) {
  *outH = (p.inH + p.padTop + p.padBottom - p.dilationH * (p.kernelH - 1) - 1) / p.strideH + 1;
  *outW = (p.inW + p.padLeft + p.padRight - p.dilationW * (p.kernelW - 1) - 1) / p.strideW + 1;
}

QConvWeights packQConvWeights(const QConv2dParams& p, const int8_t* weights) {
  checkParams(p);
  QConvWeights w;
  const int64_t kArea = p.kernelH * p.kernelW;
  if (isDepthwise(p)) {
    w.depthwise = true;
    w.depthwiseFilters.assign(weights, weights + p.outChannels * kArea);
    w.depthwiseSums.assign(static_cast<size_t>(p.outChannels), 0);
    for (int64_t c = 0; c < p.outChannels; ++c)
      for (int64_t i = 0; i < kArea; ++i) w.depthwiseSums[c] += weights[c * kArea + i];
    return w;
  }
  const int64_t mg = p.outChannels / p.group, kg = p.inChannels / p.group * kArea;
  for (int64_t g = 0; g < p.group; ++g)
    w.groups.push_back(packQGemmA(weights + g * mg * kg, mg, kg));
  if (p.group == 1 && kArea > 1 && implicitChannels(p) && cpuFeatures().avx512vnni)
    w.implicit = packImplicit(p, weights);
  return w;
}

void qconv2d(const QConv2dParams& p, const QConvWeights& w, const uint8_t* x, const QRequant& rq,
             void* out) {
  checkParams(p);
  int64_t oh = 0, ow = 0;
  qconv2dOutputShape(p, &oh, &ow);
  if (oh < 1 || ow < 1) throw Error(ErrorCode::kInvalidArgument, "qconv2d: empty output");
  auto* y = static_cast<uint8_t*>(out);
  if (w.depthwise != isDepthwise(p) ||
      (!w.depthwise && static_cast<int64_t>(w.groups.size()) != p.group))
    throw Error(ErrorCode::kInvalidArgument, "qconv2d: weights packed for other parameters");
  if (w.depthwise) return depthwise(p, w, x, rq, y, oh, ow);
  const int64_t cg = p.inChannels / p.group, mg = p.outChannels / p.group;
  const int64_t kg = cg * p.kernelH * p.kernelW, n = oh * ow;
  if (w.groups[0].m != mg || w.groups[0].k != kg)
    throw Error(ErrorCode::kInvalidArgument, "qconv2d: weights packed for other parameters");
  const qgemm::Variant v = qgemm::activeVariant();
  if (implicitApplies(p, w, v)) {
    for (int64_t b = 0; b < p.batch; ++b)
      implicitConv(p, w.implicit, v, x + b * p.inChannels * p.inH * p.inW, rq,
                   y + b * p.outChannels * n, oh, ow);
    return;
  }
  uint8_t* packed = scratchBytes(ScratchSlot::kIm2col, qgemmPackedBSize(kg, n));
  for (int64_t b = 0; b < p.batch; ++b) {
    for (int64_t g = 0; g < p.group; ++g) {
      const uint8_t* xg = x + (b * p.inChannels + g * cg) * p.inH * p.inW;
      packInput(p, xg, kg, oh, ow, packed);
      QRequant r = rq;
      r.bias = rq.bias ? rq.bias + g * mg : nullptr;
      r.scale = rq.scale + g * mg;
      qgemmU8S8(w.groups[g], packed, n, p.inZeroPoint, r, y + (b * p.outChannels + g * mg) * n, n);
    }
  }
}

void qconv2dScratch(const QConv2dParams& p, const QConvWeights& w, ScratchNeed* need) {
  checkParams(p);
  int64_t oh = 0, ow = 0;
  qconv2dOutputShape(p, &oh, &ow);
  if (oh < 1 || ow < 1) return;
  const auto slot = [](ScratchSlot s) { return static_cast<size_t>(s); };
  const int64_t n = scratchProduct(oh, ow);
  if (w.depthwise) {
    need->transientBytes = std::max(need->transientBytes, 4 * p.inChannels);  // the biases
    qgemm::DepthwiseTaps taps;
    if (depthwiseInPlace(p, &taps)) return;
    need->atLeast(slot(ScratchSlot::kWork), floatsFor(depthwisePlaneBytes(p)));
    need->atLeast(slot(ScratchSlot::kWork2), ow);
    return;
  }
  const int64_t mPanels = (p.outChannels / p.group + kQGemmMr - 1) / kQGemmMr;
  // qgemm::drive's per-row bias and scale.
  int64_t transient = scratchProduct(mPanels, kQGemmMr * 8);
  if (implicitApplies(p, w, qgemm::activeVariant())) {
    const ImplicitLayout l = implicitLayout(p);
    need->atLeast(slot(ScratchSlot::kIm2col), floatsFor(l.packedBytes()));
    need->atLeast(slot(ScratchSlot::kWork2),
                  floatsFor(scratchProduct(p.outChannels, scratchProduct(oh, l.wq))));
    // A worker's padded rows and phase splits, the tap offsets, the phase table.
    transient +=
        p.inW + 5 * l.wq * p.strideW + 8 * (p.kernelH * p.kernelW * l.c4 + p.strideH * p.strideW);
  } else {
    const int64_t kg = p.inChannels / p.group * p.kernelH * p.kernelW;
    need->atLeast(slot(ScratchSlot::kIm2col), floatsFor(qgemmPackedBSize(kg, n)));
    if (!packsInPlace(p)) need->atLeast(slot(ScratchSlot::kWork), floatsFor(4 * n));
    transient += n + 8 * ((kg + 3) / 4);  // packInput's fill row, qgemmU8S8's row offsets
  }
  need->transientBytes = std::max(need->transientBytes, transient);
}

}  // namespace kiln::kernels
