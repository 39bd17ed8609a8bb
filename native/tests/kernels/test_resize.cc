// Resize against a direct 2-D tensor-product reference (not separable) for every coordinate mode,
// nearest mode and interpolation, plus hand-computed values.
#include <cmath>
#include <vector>

#include "kernel_test_util.h"
#include "kiln/error.h"
#include "kiln/kernels/resize.h"

using namespace kiln::kernels;

namespace {
double coord(ResizeCoordMode m, double x, int64_t in, int64_t out, double scale, double rs,
             double re) {
  switch (m) {
    case ResizeCoordMode::kHalfPixel:
      return (x + 0.5) / scale - 0.5;
    case ResizeCoordMode::kHalfPixelSymmetric:
      return in / 2.0 * (1 - out / (scale * in)) + (x + 0.5) / scale - 0.5;
    case ResizeCoordMode::kPytorchHalfPixel:
      return out > 1 ? (x + 0.5) / scale - 0.5 : 0;
    case ResizeCoordMode::kAlignCorners:
      return out == 1 ? 0 : x * (in - 1) / (out - 1.0);
    case ResizeCoordMode::kAsymmetric:
      return x / scale;
    case ResizeCoordMode::kTfCropAndResize:
      return out > 1 ? rs * (in - 1) + x * (re - rs) * (in - 1) / (out - 1.0)
                     : 0.5 * (rs + re) * (in - 1);
  }
  return 0;
}

// Weights over all input positions of one axis (dense), so the 2-D reference is a plain double sum.
std::vector<double> weights(const ResizeParams& p, double xo, int64_t in, bool* outside) {
  std::vector<double> w(in, 0.0);
  *outside = p.coordMode == ResizeCoordMode::kTfCropAndResize && (xo < 0 || xo > in - 1);
  if (*outside) return w;
  auto clampi = [&](int64_t i) { return std::min<int64_t>(std::max<int64_t>(i, 0), in - 1); };
  if (p.mode == ResizeMode::kNearest) {
    double r;
    const double f = std::floor(xo);
    if (p.nearestMode == ResizeNearestMode::kFloor)
      r = f;
    else if (p.nearestMode == ResizeNearestMode::kCeil)
      r = std::ceil(xo);
    else if (xo - f == 0.5)
      r = p.nearestMode == ResizeNearestMode::kRoundPreferFloor ? f : f + 1;
    else
      r = std::round(xo);
    w[clampi(static_cast<int64_t>(r))] = 1;
  } else if (p.mode == ResizeMode::kLinear) {
    // Edge-padded neighbours of floor(x), as in the ONNX reference implementation.
    const int64_t i0 = static_cast<int64_t>(std::floor(xo));
    const double t = xo - i0;
    w[clampi(i0)] += 1 - t;
    w[clampi(i0 + 1)] += t;
  } else {
    const int64_t i0 = static_cast<int64_t>(std::floor(xo));
    const double t = xo - i0, A = p.cubicCoeffA;
    auto k = [&](double d) {
      d = std::fabs(d);
      return d <= 1  ? (A + 2) * d * d * d - (A + 3) * d * d + 1
             : d < 2 ? A * d * d * d - 5 * A * d * d + 8 * A * d - 4 * A
                     : 0;
    };
    double cw[4] = {k(1 + t), k(t), k(1 - t), k(2 - t)}, sum = 0;
    for (int j = 0; j < 4; ++j) {
      if (p.excludeOutside && (i0 - 1 + j < 0 || i0 - 1 + j >= in)) cw[j] = 0;
      sum += cw[j];
    }
    for (int j = 0; j < 4; ++j) w[clampi(i0 - 1 + j)] += p.excludeOutside ? cw[j] / sum : cw[j];
  }
  return w;
}

void runResize(const ResizeParams& p, const Shape& xs, const Shape& out) {
  auto x = kt::randomVector(shapeSize(xs), 3);
  const int64_t planes = xs[0] * xs[1], H = xs[2], W = xs[3], OH = out[2], OW = out[3];
  std::vector<double> want(shapeSize(out));
  for (int64_t oh = 0; oh < OH; ++oh) {
    bool outH, outW;
    auto wh = weights(p,
                      coord(p.coordMode, oh, H, OH, p.scales[2], p.roi.empty() ? 0 : p.roi[2],
                            p.roi.empty() ? 1 : p.roi[6]),
                      H, &outH);
    for (int64_t ow = 0; ow < OW; ++ow) {
      auto ww = weights(p,
                        coord(p.coordMode, ow, W, OW, p.scales[3], p.roi.empty() ? 0 : p.roi[3],
                              p.roi.empty() ? 1 : p.roi[7]),
                        W, &outW);
      for (int64_t pl = 0; pl < planes; ++pl) {
        double s = 0;
        for (int64_t i = 0; i < H; ++i)
          for (int64_t j = 0; j < W; ++j) s += wh[i] * ww[j] * x[(pl * H + i) * W + j];
        want[(pl * OH + oh) * OW + ow] = (outH || outW) ? p.extrapolationValue : s;
      }
    }
  }
  std::vector<float> y(want.size(), NAN);
  resize(p, x.data(), xs, out, y.data());
  char buf[160];
  std::snprintf(buf, sizeof buf, "resize mode %d coord %d nearest %d %ldx%ld -> %ldx%ld",
                static_cast<int>(p.mode), static_cast<int>(p.coordMode),
                static_cast<int>(p.nearestMode), (long)H, (long)W, (long)OH, (long)OW);
  kt::expectClose(buf, y, want, 1e-6, 1e-5);
}
}  // namespace

TEST(resize_modes_table) {
  const ResizeCoordMode coords[] = {
      ResizeCoordMode::kHalfPixel,        ResizeCoordMode::kHalfPixelSymmetric,
      ResizeCoordMode::kPytorchHalfPixel, ResizeCoordMode::kAlignCorners,
      ResizeCoordMode::kAsymmetric,       ResizeCoordMode::kTfCropAndResize};
  struct Sz {
    int64_t h, w, oh, ow;
  };
  const Sz sizes[] = {{4, 5, 8, 10}, {6, 7, 3, 4}, {5, 5, 7, 3}, {3, 4, 1, 9}, {4, 4, 4, 4}};
  for (ResizeMode mode : {ResizeMode::kNearest, ResizeMode::kLinear, ResizeMode::kCubic})
    for (ResizeCoordMode cm : coords)
      for (const Sz& s : sizes)
        for (int nm = 0; nm < (mode == ResizeMode::kNearest ? 4 : 1); ++nm)
          for (int excl = 0; excl < (mode == ResizeMode::kCubic ? 2 : 1); ++excl) {
            ResizeParams p;
            p.mode = mode;
            p.coordMode = cm;
            p.nearestMode = static_cast<ResizeNearestMode>(nm);
            p.excludeOutside = excl;
            p.extrapolationValue = -7.0f;
            p.scales = std::vector<float>{1.0f, 1.0f, static_cast<float>(s.oh) / s.h,
                                          static_cast<float>(s.ow) / s.w};
            if (cm == ResizeCoordMode::kTfCropAndResize)
              p.roi = std::vector<float>{
                  0, 0, 0.2f, -0.1f,
                  1, 1, 0.9f, 1.2f};  // move: GCC 12 -Wnonnull misfires on list assign
            runResize(p, {1, 2, s.h, s.w}, {1, 2, s.oh, s.ow});
          }
}

TEST(resize_many_rows) {
  // Enough rows that the row pass splits across threads (chunk edges must not reuse a row from
  // another chunk), integer upsamples whose rows repeat, and one changed axis alone.
  struct Sz {
    int64_t c, h, w, oh, ow;
  };
  const Sz sizes[] = {
      {16, 12, 10, 48, 40}, {8, 10, 12, 30, 12}, {8, 10, 12, 10, 37}, {6, 20, 9, 7, 27}};
  for (ResizeMode mode : {ResizeMode::kNearest, ResizeMode::kLinear, ResizeMode::kCubic})
    for (ResizeCoordMode cm : {ResizeCoordMode::kAsymmetric, ResizeCoordMode::kHalfPixel,
                               ResizeCoordMode::kTfCropAndResize})
      for (const Sz& s : sizes) {
        ResizeParams p;
        p.mode = mode;
        p.coordMode = cm;
        p.nearestMode = ResizeNearestMode::kFloor;
        p.extrapolationValue = 5.0f;
        p.scales = std::vector<float>{1.0f, 1.0f, static_cast<float>(s.oh) / s.h,
                                      static_cast<float>(s.ow) / s.w};
        if (cm == ResizeCoordMode::kTfCropAndResize)
          p.roi = std::vector<float>{0, 0, -0.1f, 0.1f, 1, 1, 1.1f, 0.8f};
        runResize(p, {1, s.c, s.h, s.w}, {1, s.c, s.oh, s.ow});
      }
}

TEST(resize_known_values) {
  // Nearest 2x upsample (PP-OCR det FPN): each pixel repeated.
  std::vector<float> x = {1, 2, 3, 4}, y(16);
  ResizeParams p;
  p.coordMode = ResizeCoordMode::kAsymmetric;
  p.nearestMode = ResizeNearestMode::kFloor;
  p.scales = {1, 1, 2, 2};
  resize(p, x.data(), {1, 1, 2, 2}, {1, 1, 4, 4}, y.data());
  kt::expectEqual("nearest 2x", y, {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  // Linear align_corners 2 -> 3 puts the mean in the middle.
  ResizeParams l;
  l.mode = ResizeMode::kLinear;
  l.coordMode = ResizeCoordMode::kAlignCorners;
  l.scales = {1.5f};
  std::vector<float> a = {1, 3}, b(3);
  resize(l, a.data(), {2}, {3}, b.data());
  kt::expectEqual("linear align_corners", b, {1, 2, 3});
  CHECK_THROWS(resize(l, a.data(), {2}, {3, 1}, b.data()), kiln::Error);
}
