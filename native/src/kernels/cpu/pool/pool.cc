#include "kiln/kernels/pool.h"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "kernels/cpu/pool/pool_internal.h"
#include "kiln/cpu_features.h"
#include "kiln/error.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

namespace {
void invalid(const std::string& msg) { throw Error(ErrorCode::kInvalidArgument, "pool2d: " + msg); }

// max that keeps a NaN from either side, as max in onnxruntime does; branch-free so loops of it
// vectorize.
inline float nanMax(float best, float v) { return (v > best || v != v) ? v : best; }

// Max pooling without dilation, separably and in contiguous loops the compiler vectorizes: each
// output row takes the column-wise max of the kernelH input rows it covers into a row padded
// with -inf on both sides, then the sliding max of kernelW neighbours along that row, and picks
// every strideW-th. work holds maxPoolWork(p) floats.
int64_t maxPoolWork(const Pool2dParams& p, int64_t OW) {
  const int64_t span = (OW - 1) * p.strideW + 1;
  return std::max(p.padLeft + p.inW, span + p.kernelW) + span;
}

void maxPoolPlane(const Pool2dParams& p, int64_t OH, int64_t OW, const float* in, float* out,
                  float* work) {
  const float lowest = -std::numeric_limits<float>::infinity();
  const int64_t span = (OW - 1) * p.strideW + 1;  // sliding-max positions needed
  const int64_t padded = std::max(p.padLeft + p.inW, span + p.kernelW);
  float* row = work;             // padded row: [padLeft of -inf][inW values][-inf...]
  float* slide = work + padded;  // slide[j] = max of row[j .. j + kernelW)
  std::fill(row, row + p.padLeft, lowest);
  std::fill(row + p.padLeft + p.inW, row + padded, lowest);
  for (int64_t oh = 0; oh < OH; ++oh) {
    const int64_t h0 = oh * p.strideH - p.padTop;
    const int64_t hLo = std::max<int64_t>(0, h0), hHi = std::min(p.inH, h0 + p.kernelH);
    float* o = out + oh * OW;
    if (hLo >= hHi) {
      std::fill(o, o + OW, lowest);
      continue;
    }
    float* r = row + p.padLeft;
    std::copy(in + hLo * p.inW, in + (hLo + 1) * p.inW, r);
    for (int64_t ih = hLo + 1; ih < hHi; ++ih) {
      const float* src = in + ih * p.inW;
      for (int64_t i = 0; i < p.inW; ++i) r[i] = nanMax(r[i], src[i]);
    }
    std::copy(row, row + span, slide);
    for (int64_t kx = 1; kx < p.kernelW; ++kx) {
      const float* shifted = row + kx;
      for (int64_t j = 0; j < span; ++j) slide[j] = nanMax(slide[j], shifted[j]);
    }
    for (int64_t ow = 0; ow < OW; ++ow) o[ow] = slide[ow * p.strideW];
  }
}
}  // namespace

int64_t poolOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t padBegin, int64_t padEnd,
                       int64_t dilation, bool ceilMode) {
  const int64_t span = dilation * (kernel - 1) + 1;
  const int64_t room = in + padBegin + padEnd - span;
  if (room < 0) return 0;
  int64_t out = (ceilMode ? (room + stride - 1) / stride : room / stride) + 1;
  if (ceilMode && (out - 1) * stride >= in + padBegin) --out;
  return out;
}

void pool2dOutputShape(const Pool2dParams& p, int64_t* outH, int64_t* outW) {
  *outH =
      poolOutputSize(p.inH, p.kernelH, p.strideH, p.padTop, p.padBottom, p.dilationH, p.ceilMode);
  *outW =
      poolOutputSize(p.inW, p.kernelW, p.strideW, p.padLeft, p.padRight, p.dilationW, p.ceilMode);
}

std::vector<PoolAxis> pool2dAxes(const Pool2dParams& p) {
  int64_t OH, OW;
  pool2dOutputShape(p, &OH, &OW);
  return {PoolAxis{p.inH, OH, p.kernelH, p.strideH, p.dilationH, p.padTop, p.padBottom},
          PoolAxis{p.inW, OW, p.kernelW, p.strideW, p.dilationW, p.padLeft, p.padRight}};
}

void pool2d(const Pool2dParams& p, const float* x, float* y) {
  if (p.batch < 0 || p.channels <= 0 || p.inH <= 0 || p.inW <= 0) invalid("sizes must be positive");
  if (p.kernelH <= 0 || p.kernelW <= 0 || p.strideH <= 0 || p.strideW <= 0 || p.dilationH <= 0 ||
      p.dilationW <= 0)
    invalid("kernel, strides and dilations must be positive");
  if (p.padTop < 0 || p.padLeft < 0 || p.padBottom < 0 || p.padRight < 0)
    invalid("pads must be >= 0");
  if (p.padTop >= p.dilationH * (p.kernelH - 1) + 1 ||
      p.padBottom >= p.dilationH * (p.kernelH - 1) + 1 ||
      p.padLeft >= p.dilationW * (p.kernelW - 1) + 1 ||
      p.padRight >= p.dilationW * (p.kernelW - 1) + 1)
    invalid("pads must be smaller than the kernel");
  int64_t OH, OW;
  pool2dOutputShape(p, &OH, &OW);
  if (OH <= 0 || OW <= 0) invalid("the kernel is larger than the padded input");
  const int64_t planes = p.batch * p.channels;
  const std::vector<PoolAxis> axes = pool2dAxes(p);
  if (poolWindowIsWide(axes)) return poolSeparable(p.kind, p.countIncludePad, planes, axes, x, y);
  const bool isMax = p.kind == PoolKind::kMax;
  const bool separable = isMax && p.dilationH == 1 && p.dilationW == 1;
  const bool vector = activeIsa() == CpuIsa::kAvx512 && isa_avx512::maxPoolPlaneApplies(p);
  globalThreadPool().parallelFor(static_cast<size_t>(planes), 1, [&](size_t b, size_t e) {
    std::vector<float> work(vector      ? static_cast<size_t>(isa_avx512::maxPoolPlaneWork(p, OW))
                            : separable ? static_cast<size_t>(maxPoolWork(p, OW))
                                        : 0);
    for (int64_t plane = static_cast<int64_t>(b); plane < static_cast<int64_t>(e); ++plane) {
      const float* in = x + plane * p.inH * p.inW;
      float* out = y + plane * OH * OW;
      if (vector) {
        isa_avx512::maxPoolPlane(p, OH, OW, in, out, work.data());
        continue;
      }
      if (separable) {
        maxPoolPlane(p, OH, OW, in, out, work.data());
        continue;
      }
      for (int64_t oh = 0; oh < OH; ++oh) {
        const int64_t h0 = oh * p.strideH - p.padTop;
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t w0 = ow * p.strideW - p.padLeft;
          float best = -std::numeric_limits<float>::infinity();
          float sum = 0.0f;
          int64_t inside = 0, padded = 0;
          for (int64_t ky = 0; ky < p.kernelH; ++ky) {
            const int64_t ih = h0 + ky * p.dilationH;
            const bool hPad = ih >= -p.padTop && ih < p.inH + p.padBottom;
            const bool hIn = ih >= 0 && ih < p.inH;
            for (int64_t kx = 0; kx < p.kernelW; ++kx) {
              const int64_t iw = w0 + kx * p.dilationW;
              if (hPad && iw >= -p.padLeft && iw < p.inW + p.padRight) ++padded;
              if (!hIn || iw < 0 || iw >= p.inW) continue;
              const float v = in[ih * p.inW + iw];
              ++inside;
              if (isMax) {
                // NaN propagates, as max in onnxruntime does.
                if (v > best || v != v) best = v;
              } else {
                sum += v;
              }
            }
          }
          if (isMax) {
            out[oh * OW + ow] = best;
          } else {
            const int64_t count = p.countIncludePad ? padded : inside;
            out[oh * OW + ow] = count > 0 ? sum / static_cast<float>(count) : 0.0f;
          }
        }
      }
    }
  });
}

void globalPool(PoolKind kind, int64_t planes, int64_t spatial, const float* x, float* y) {
  if (planes < 0 || spatial <= 0)
    throw Error(ErrorCode::kInvalidArgument, "globalPool: spatial size must be positive");
  globalThreadPool().parallelFor(static_cast<size_t>(planes), 16, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      const float* in = x + i * spatial;
      // kLanes independent partial results (combined at the end) so the loops vectorize and do
      // not wait on one long dependency chain; both combine in any order without changing the
      // result beyond double rounding.
      constexpr int64_t kLanes = 8;
      const int64_t body = spatial / kLanes * kLanes;
      if (kind == PoolKind::kMax) {
        float part[kLanes];
        for (int64_t l = 0; l < kLanes; ++l) part[l] = in[0];
        for (int64_t j = 0; j < body; j += kLanes)
          for (int64_t l = 0; l < kLanes; ++l) part[l] = nanMax(part[l], in[j + l]);
        float m = in[0];
        for (int64_t l = 0; l < kLanes; ++l) m = nanMax(m, part[l]);
        for (int64_t j = body; j < spatial; ++j) m = nanMax(m, in[j]);
        y[i] = m;
      } else {
        // Double accumulation: 1280 x 1280 planes would otherwise lose digits.
        double part[kLanes] = {};
        for (int64_t j = 0; j < body; j += kLanes)
          for (int64_t l = 0; l < kLanes; ++l) part[l] += in[j + l];
        double s = 0;
        for (int64_t l = 0; l < kLanes; ++l) s += part[l];
        for (int64_t j = body; j < spatial; ++j) s += in[j];
        y[i] = static_cast<float>(s / static_cast<double>(spatial));
      }
    }
  });
}

}  // namespace kiln::kernels
