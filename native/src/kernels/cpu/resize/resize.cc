#include "kiln/kernels/resize.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kiln/error.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

namespace {

// Up to four taps per output position along one axis; `outside` means extrapolate.
struct Taps {
  int64_t index[4];
  float weight[4];
  int count;
  bool outside;
};

double sourceCoord(const ResizeParams& p, int64_t axis, int64_t rank, double x, int64_t inLen,
                   int64_t outLen, double scale) {
  switch (p.coordMode) {
    case ResizeCoordMode::kHalfPixel:
      return (x + 0.5) / scale - 0.5;
    case ResizeCoordMode::kHalfPixelSymmetric: {
      const double adj = static_cast<double>(outLen) / (scale * inLen);
      const double center = inLen / 2.0;
      return center * (1 - adj) + (x + 0.5) / scale - 0.5;
    }
    case ResizeCoordMode::kPytorchHalfPixel:
      return outLen > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
    case ResizeCoordMode::kAlignCorners:
      return outLen == 1 ? 0.0 : x * (inLen - 1) / static_cast<double>(outLen - 1);
    case ResizeCoordMode::kAsymmetric:
      return x / scale;
    case ResizeCoordMode::kTfCropAndResize: {
      const double s = p.roi[axis], e = p.roi[axis + rank];
      return outLen > 1 ? s * (inLen - 1) + x * (e - s) * (inLen - 1) / (outLen - 1)
                        : 0.5 * (s + e) * (inLen - 1);
    }
  }
  return x;
}

double cubicWeight(double d, double A) {
  d = std::fabs(d);
  if (d <= 1) return ((A + 2) * d - (A + 3)) * d * d + 1;
  if (d < 2) return ((A * d - 5 * A) * d + 8 * A) * d - 4 * A;
  return 0;
}

std::vector<Taps> axisTaps(const ResizeParams& p, int64_t axis, int64_t rank, int64_t inLen,
                           int64_t outLen) {
  std::vector<Taps> taps(static_cast<size_t>(outLen));
  const double scale = p.scales[axis];
  for (int64_t o = 0; o < outLen; ++o) {
    Taps& t = taps[o];
    t.count = 0;
    const double xo = sourceCoord(p, axis, rank, static_cast<double>(o), inLen, outLen, scale);
    t.outside = p.coordMode == ResizeCoordMode::kTfCropAndResize && (xo < 0 || xo > inLen - 1);
    if (t.outside) continue;
    if (p.mode == ResizeMode::kNearest) {
      double r;
      const double fl = std::floor(xo), frac = xo - fl;
      switch (p.nearestMode) {
        case ResizeNearestMode::kRoundPreferFloor:
          r = frac == 0.5 ? fl : std::round(xo);
          break;
        case ResizeNearestMode::kRoundPreferCeil:
          r = frac == 0.5 ? fl + 1 : std::round(xo);
          break;
        case ResizeNearestMode::kFloor:
          r = fl;
          break;
        default:
          r = std::ceil(xo);
          break;
      }
      t.index[0] = std::clamp<int64_t>(static_cast<int64_t>(r), 0, inLen - 1);
      t.weight[0] = 1.0f;
      t.count = 1;
    } else if (p.mode == ResizeMode::kLinear) {
      // Clamping the coordinate equals the reference's edge-padded neighbours.
      const double xc = std::clamp(xo, 0.0, static_cast<double>(inLen - 1));
      const int64_t i0 = static_cast<int64_t>(std::floor(xc));
      const int64_t i1 = std::min(i0 + 1, inLen - 1);
      const double w1 = xc - i0;
      t.index[0] = i0;
      t.weight[0] = static_cast<float>(1 - w1);
      t.index[1] = i1;
      t.weight[1] = static_cast<float>(w1);
      t.count = 2;
    } else {
      const int64_t i = static_cast<int64_t>(std::floor(xo));
      const double f = xo - i;
      double w[4], sum = 0;
      for (int k = 0; k < 4; ++k) {
        const int64_t idx = i - 1 + k;
        w[k] = cubicWeight(f - (k - 1), p.cubicCoeffA);
        if (p.excludeOutside && (idx < 0 || idx >= inLen)) w[k] = 0;
        sum += w[k];
        t.index[k] = std::clamp<int64_t>(idx, 0, inLen - 1);
      }
      for (int k = 0; k < 4; ++k)
        t.weight[k] = static_cast<float>(p.excludeOutside ? w[k] / sum : w[k]);
      t.count = 4;
    }
  }
  return taps;
}

// One axis: x viewed as [outer, inLen, inner] -> y [outer, outLen, inner].
void resizeAxis(const std::vector<Taps>& taps, float extrapolation, const float* x, float* y,
                int64_t outer, int64_t inLen, int64_t outLen, int64_t inner) {
  globalThreadPool().parallelFor(
      static_cast<size_t>(outer * outLen),
      static_cast<size_t>(std::max<int64_t>(1, 4096 / std::max<int64_t>(inner, 1))),
      [&](size_t b, size_t e) {
        for (size_t t = b; t < e; ++t) {
          const int64_t o = static_cast<int64_t>(t) / outLen, j = static_cast<int64_t>(t) % outLen;
          const Taps& tp = taps[j];
          float* out = y + t * inner;
          const float* base = x + o * inLen * inner;
          if (tp.outside) {
            std::fill(out, out + inner, extrapolation);
            continue;
          }
          const float* s0 = base + tp.index[0] * inner;
          const float w0 = tp.weight[0];
          if (tp.count == 1) {
            std::copy(s0, s0 + inner, out);
            continue;
          }
          for (int64_t i = 0; i < inner; ++i) out[i] = w0 * s0[i];
          for (int k = 1; k < tp.count; ++k) {
            const float* sk = base + tp.index[k] * inner;
            const float wk = tp.weight[k];
            for (int64_t i = 0; i < inner; ++i) out[i] += wk * sk[i];
          }
        }
      });
}

// The last two axes in one pass: x viewed as [outer, inH, inW] -> y [outer, outH, outW], with
// tapsH null when H is unchanged. The per-element passes of resizeAxis would run the W axis with
// inner = 1, one call per output float, and the H pass would write a whole intermediate tensor;
// here each output row blends its source rows once (nearest: reads the row in place) and
// gathers along W, and a row whose H taps equal the previous row's (every row of an integer
// upsample after the first) is a copy of it. Same arithmetic, in the same order, as the two
// separate passes.
void resizeLastTwo(const std::vector<Taps>* tapsH, const std::vector<Taps>& tapsW,
                   float extrapolation, const float* x, float* y, int64_t outer, int64_t inH,
                   int64_t outH, int64_t inW, int64_t outW) {
  // Nearest along W with no extrapolation: a plain index table.
  bool gatherW = true;
  for (const Taps& t : tapsW) gatherW = gatherW && !t.outside && t.count == 1;
  std::vector<int64_t> indexW;
  if (gatherW)
    for (const Taps& t : tapsW) indexW.push_back(t.index[0]);
  const auto sameTaps = [](const Taps& a, const Taps& b) {
    if (a.outside != b.outside || a.count != b.count) return false;
    for (int k = 0; k < a.count; ++k)
      if (a.index[k] != b.index[k] || a.weight[k] != b.weight[k]) return false;
    return true;
  };
  globalThreadPool().parallelFor(
      static_cast<size_t>(outer * outH),
      static_cast<size_t>(std::max<int64_t>(1, 16384 / std::max<int64_t>(outW, 1))),
      [&](size_t b, size_t e) {
        std::vector<float> blend;
        for (size_t t = b; t < e; ++t) {
          const int64_t o = static_cast<int64_t>(t) / outH, j = static_cast<int64_t>(t) % outH;
          float* out = y + t * outW;
          const float* base = x + o * inH * inW;
          const float* row = base + j * inW;  // H unchanged
          if (tapsH) {
            const Taps& th = (*tapsH)[j];
            if (th.outside) {
              std::fill(out, out + outW, extrapolation);
              continue;
            }
            if (t > b && j > 0 && sameTaps(th, (*tapsH)[j - 1])) {
              std::copy(out - outW, out, out);
              continue;
            }
            row = base + th.index[0] * inW;
            if (th.count > 1) {
              blend.resize(static_cast<size_t>(inW));
              float* d = blend.data();
              const float w0 = th.weight[0];
              for (int64_t i = 0; i < inW; ++i) d[i] = w0 * row[i];
              for (int k = 1; k < th.count; ++k) {
                const float* sk = base + th.index[k] * inW;
                const float wk = th.weight[k];
                for (int64_t i = 0; i < inW; ++i) d[i] += wk * sk[i];
              }
              row = d;
            }
          }
          if (gatherW) {
            const int64_t* idx = indexW.data();
            for (int64_t i = 0; i < outW; ++i) out[i] = row[idx[i]];
            continue;
          }
          for (int64_t i = 0; i < outW; ++i) {
            const Taps& tw = tapsW[i];
            if (tw.outside) {
              out[i] = extrapolation;
              continue;
            }
            if (tw.count == 1) {
              out[i] = row[tw.index[0]];
              continue;
            }
            float v = tw.weight[0] * row[tw.index[0]];
            for (int k = 1; k < tw.count; ++k) v += tw.weight[k] * row[tw.index[k]];
            out[i] = v;
          }
        }
      });
}

}  // namespace

void resize(const ResizeParams& p, const float* x, const Shape& xs, const Shape& outShape,
            float* y) {
  const int64_t rank = static_cast<int64_t>(xs.size());
  if (static_cast<int64_t>(outShape.size()) != rank ||
      static_cast<int64_t>(p.scales.size()) != rank)
    throw Error(ErrorCode::kInvalidArgument,
                "resize: output shape and scales must match the input rank");
  if (p.coordMode == ResizeCoordMode::kTfCropAndResize &&
      static_cast<int64_t>(p.roi.size()) != 2 * rank)
    throw Error(ErrorCode::kInvalidArgument,
                "resize: tf_crop_and_resize needs roi with 2 * rank values");
  for (int64_t d = 0; d < rank; ++d)
    if (p.scales[d] <= 0 || outShape[d] < 0 || xs[d] <= 0)
      throw Error(ErrorCode::kInvalidArgument, "resize: scales and sizes must be positive");
  if (shapeSize(outShape) == 0) return;
  // Axes that change (or are cropped) each get a pass; untouched axes are skipped.
  std::vector<int64_t> axes;
  std::vector<std::vector<Taps>> allTaps;
  for (int64_t d = 0; d < rank; ++d) {
    auto taps = axisTaps(p, d, rank, xs[d], outShape[d]);
    bool identity = xs[d] == outShape[d];
    for (int64_t j = 0; identity && j < outShape[d]; ++j) {
      const Taps& t = taps[j];
      identity = !t.outside && t.index[0] == j && t.weight[0] == 1.0f;
      for (int k = 1; identity && k < t.count; ++k) identity = t.weight[k] == 0.0f;
    }
    if (!identity) {
      axes.push_back(d);
      allTaps.push_back(std::move(taps));
    }
  }
  if (axes.empty()) {
    std::copy(x, x + shapeSize(xs), y);
    return;
  }
  // W resized (with or without H): the last one or two passes run as one.
  size_t generic = axes.size();
  const bool lastW = axes.back() == rank - 1;
  const bool withH = lastW && axes.size() >= 2 && axes[axes.size() - 2] == rank - 2;
  if (lastW) generic -= withH ? 2 : 1;
  Shape cur = xs;
  std::vector<float> bufA, bufB;
  const float* src = x;
  for (size_t a = 0; a < generic; ++a) {
    const int64_t d = axes[a];
    int64_t outer = 1, inner = 1;
    for (int64_t k = 0; k < d; ++k) outer *= cur[k];
    for (int64_t k = d + 1; k < rank; ++k) inner *= cur[k];
    Shape next = cur;
    next[d] = outShape[d];
    float* dst;
    if (a + 1 == axes.size()) {
      dst = y;
    } else {
      std::vector<float>& buf = (a % 2 == 0) ? bufA : bufB;
      buf.resize(static_cast<size_t>(shapeSize(next)));
      dst = buf.data();
    }
    resizeAxis(allTaps[a], p.extrapolationValue, src, dst, outer, cur[d], outShape[d], inner);
    src = dst;
    cur = next;
  }
  if (lastW) {
    const int64_t inH = rank >= 2 ? cur[rank - 2] : 1;
    const int64_t outH = withH ? outShape[rank - 2] : inH;
    resizeLastTwo(withH ? &allTaps[generic] : nullptr, allTaps.back(), p.extrapolationValue, src, y,
                  shapeSize(cur) / (inH * cur[rank - 1]), inH, outH, cur[rank - 1],
                  outShape[rank - 1]);
  }
}

}  // namespace kiln::kernels
