// pool2d and globalPool against direct loops: pads, strides, dilations, ceil_mode with its
// dropped last window, count_include_pad, 1-D.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kiln/error.h"
#include "kiln/kernels/pool.h"

using kiln::kernels::Pool2dParams;
using kiln::kernels::PoolKind;

namespace {

// Output size straight from the ONNX formula plus the "window must start inside" rule.
int64_t refOut(int64_t in, int64_t k, int64_t s, int64_t pb, int64_t pe, int64_t d, bool ceilMode) {
  const double v = static_cast<double>(in + pb + pe - d * (k - 1) - 1) / s;
  int64_t out = static_cast<int64_t>(ceilMode ? std::ceil(v) : std::floor(v)) + 1;
  if (ceilMode && (out - 1) * s >= in + pb) --out;
  return out;
}

void runPool(const Pool2dParams& p, kiln::CpuIsa isa) {
  const int64_t OH =
      refOut(p.inH, p.kernelH, p.strideH, p.padTop, p.padBottom, p.dilationH, p.ceilMode);
  const int64_t OW =
      refOut(p.inW, p.kernelW, p.strideW, p.padLeft, p.padRight, p.dilationW, p.ceilMode);
  int64_t oh, ow;
  kiln::kernels::pool2dOutputShape(p, &oh, &ow);
  CHECK(oh == OH && ow == OW);
  const int64_t planes = p.batch * p.channels;
  auto x = kt::randomVector(planes * p.inH * p.inW, 5, -2, 2);
  std::vector<double> want(planes * OH * OW);
  for (int64_t pl = 0; pl < planes; ++pl)
    for (int64_t i = 0; i < OH; ++i)
      for (int64_t j = 0; j < OW; ++j) {
        double best = -INFINITY, sum = 0;
        int64_t cnt = 0, cntPad = 0;
        for (int64_t ky = 0; ky < p.kernelH; ++ky)
          for (int64_t kx = 0; kx < p.kernelW; ++kx) {
            const int64_t ih = i * p.strideH - p.padTop + ky * p.dilationH;
            const int64_t iw = j * p.strideW - p.padLeft + kx * p.dilationW;
            // Taps in the ceil-mode overhang beyond the trailing pad count for neither.
            if (ih < p.inH + p.padBottom && iw < p.inW + p.padRight) ++cntPad;
            if (ih < 0 || iw < 0 || ih >= p.inH || iw >= p.inW) continue;
            const double v = x[(pl * p.inH + ih) * p.inW + iw];
            best = std::max(best, v);
            sum += v;
            ++cnt;
          }
        want[(pl * OH + i) * OW + j] =
            p.kind == PoolKind::kMax ? best
                                     : sum / static_cast<double>(p.countIncludePad ? cntPad : cnt);
      }
  std::vector<float> y(want.size(), std::nanf(""));
  kiln::kernels::pool2d(p, x.data(), y.data());
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "%s %ldx%ld k%ldx%ld s%ld,%ld pads%ld,%ld,%ld,%ld d%ld,%ld ceil%d cip%d",
                p.kind == PoolKind::kMax ? "max" : "avg", (long)p.inH, (long)p.inW, (long)p.kernelH,
                (long)p.kernelW, (long)p.strideH, (long)p.strideW, (long)p.padTop, (long)p.padLeft,
                (long)p.padBottom, (long)p.padRight, (long)p.dilationH, (long)p.dilationW,
                p.ceilMode, p.countIncludePad);
  kt::expectClose(kt::isaTag(isa) + buf, y, want, 1e-6, 1e-6);
}

}  // namespace

TEST(pool_table) {
  struct Geo {
    int64_t h, w, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw;
  };
  const Geo geos[] = {
      {8, 8, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1},
      {7, 9, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},  // ResNet maxpool-like
      {112, 112, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
      {5, 37, 3, 5, 1, 1, 1, 2, 1, 2, 1, 1},  // stride 1 over rows past one vector
      {5, 35, 2, 4, 2, 2, 0, 1, 1, 3, 1, 1},
      {5, 5, 3, 3, 1, 1, 0, 1, 2, 0, 1, 1},  // asymmetric
      {6, 7, 2, 3, 2, 3, 0, 0, 1, 2, 1, 1},
      {9, 9, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2},   // dilated
      {1, 20, 1, 4, 1, 3, 0, 1, 0, 2, 1, 1},  // 1-D
      {6, 6, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1},
      {10, 3, 2, 1, 2, 1, 0, 0, 0, 0, 1, 1},
      {4, 4, 2, 2, 3, 3, 1, 1, 1, 1, 1, 1},  // ceil window would start in the trailing pad
  };
  kt::forEachIsa([&](kiln::CpuIsa isa) {
    for (const Geo& g : geos)
      for (PoolKind kind : {PoolKind::kMax, PoolKind::kAverage})
        for (int ceilMode = 0; ceilMode < 2; ++ceilMode)
          for (int cip = 0; cip < 2; ++cip) {
            if (kind == PoolKind::kMax && cip) continue;
            Pool2dParams p;
            p.kind = kind;
            p.batch = 2;
            p.channels = 3;
            p.inH = g.h;
            p.inW = g.w;
            p.kernelH = g.kh;
            p.kernelW = g.kw;
            p.strideH = g.sh;
            p.strideW = g.sw;
            p.padTop = g.pt;
            p.padLeft = g.pl;
            p.padBottom = g.pb;
            p.padRight = g.pr;
            p.dilationH = g.dh;
            p.dilationW = g.dw;
            p.ceilMode = ceilMode;
            p.countIncludePad = cip;
            runPool(p, isa);
          }
  });
}

TEST(max_pool_propagates_nan) {
  // 1 x 6 input, kernel 1 x 3, stride 1 x 2, pad left 1: windows [-1..1], [1..3], [3..5].
  kt::forEachIsa([](kiln::CpuIsa) {
    Pool2dParams p;
    p.channels = 1;
    p.inH = 1;
    p.inW = 6;
    p.kernelW = 3;
    p.strideW = 2;
    p.padLeft = 1;
    std::vector<float> x = {1, 2, 3, std::nanf(""), 5, 6}, y(3);
    kiln::kernels::pool2d(p, x.data(), y.data());
    CHECK(y[0] == 2.0f);
    CHECK(std::isnan(y[1]) && std::isnan(y[2]));
  });
}

TEST(max_pool_nan_in_every_tap_position) {
  // 3x3 windows over rows wider than one vector: a NaN in the first row (the running max)
  // or a later row (the new value), and at each column phase of the stride, reaches exactly
  // the windows that cover it.
  kt::forEachIsa([](kiln::CpuIsa isa) {
    for (int64_t stride = 1; stride <= 2; ++stride)
      for (int64_t at = 0; at < 3 * 40; at += 7) {
        Pool2dParams p;
        p.channels = 1;
        p.inH = 3;
        p.inW = 40;
        p.kernelH = p.kernelW = 3;
        p.strideH = 1;
        p.strideW = stride;
        p.padLeft = p.padRight = 1;
        int64_t oh, ow;
        kiln::kernels::pool2dOutputShape(p, &oh, &ow);
        std::vector<float> x(3 * 40, 1.0f), y(static_cast<size_t>(oh * ow));
        x[static_cast<size_t>(at)] = std::nanf("");
        kiln::kernels::pool2d(p, x.data(), y.data());
        for (int64_t j = 0; j < ow; ++j) {
          const int64_t col = at % 40, w0 = j * stride - 1;
          const bool covered = col >= w0 && col < w0 + 3;
          if (covered != std::isnan(y[static_cast<size_t>(j)]) ||
              (!covered && y[static_cast<size_t>(j)] != 1.0f)) {
            std::fprintf(stderr, "%s stride %ld NaN at %ld: output %ld is %g\n",
                         kt::isaTag(isa).c_str(), (long)stride, (long)at, (long)j,
                         y[static_cast<size_t>(j)]);
            CHECK(false);
            return;
          }
        }
      }
  });
}

TEST(pool_ceil_mode_drops_window_in_trailing_pad) {
  // in 4, k 2, s 3, pads 1/1: ceil((4 + 2 - 2) / 3) + 1 = 3, but window 3 starts at 5 >= 4 + 1.
  CHECK_EQ(kiln::kernels::poolOutputSize(4, 2, 3, 1, 1, 1, true), 2);
  CHECK_EQ(kiln::kernels::poolOutputSize(5, 2, 2, 0, 0, 1, true), 3);
  CHECK_EQ(kiln::kernels::poolOutputSize(5, 2, 2, 0, 0, 1, false), 2);
}

TEST(global_pool) {
  for (int64_t spatial : {1, 7, 8, 49, 1000}) {
    auto x = kt::randomVector(static_cast<size_t>(6 * spatial), 3);
    std::vector<float> y(6);
    for (PoolKind kind : {PoolKind::kMax, PoolKind::kAverage}) {
      kiln::kernels::globalPool(kind, 6, spatial, x.data(), y.data());
      std::vector<double> want(6);
      for (int64_t i = 0; i < 6; ++i) {
        double m = -INFINITY, s = 0;
        for (int64_t j = 0; j < spatial; ++j)
          m = std::max(m, static_cast<double>(x[i * spatial + j])), s += x[i * spatial + j];
        want[i] = kind == PoolKind::kMax ? m : s / static_cast<double>(spatial);
      }
      kt::expectClose("global pool " + std::to_string(spatial), y, want, 1e-7, 1e-6);
    }
  }
  // A NaN anywhere in a plane (here in the vectorized body, and in the tail) gives NaN.
  for (int64_t at : {3, 18}) {
    std::vector<float> x(19, 1.0f), y(1);
    x[static_cast<size_t>(at)] = std::nanf("");
    kiln::kernels::globalPool(PoolKind::kMax, 1, 19, x.data(), y.data());
    CHECK(std::isnan(y[0]));
  }
}

TEST(pool_rejects_bad_params) {
  Pool2dParams p;
  p.channels = 1;
  p.inH = 4;
  p.inW = 4;
  p.kernelH = 2;
  p.kernelW = 2;
  p.padTop = 2;
  std::vector<float> v(64);
  CHECK_THROWS(kiln::kernels::pool2d(p, v.data(), v.data()), kiln::Error);
  p.padTop = 0;
  p.strideW = 0;
  CHECK_THROWS(kiln::kernels::pool2d(p, v.data(), v.data()), kiln::Error);
}

TEST(pool_wide_windows) {
  // More than kPoolDirectMaxTaps taps: pool2d takes the separable path. Dilations whose
  // residue classes differ between neighbouring windows, windows larger than the input, ceil
  // mode and count_include_pad, all against the direct reference.
  struct Geo {
    int64_t h, w, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw;
  };
  const Geo geos[] = {
      {13, 11, 9, 9, 1, 1, 4, 4, 4, 4, 1, 1},      // box filter
      {12, 14, 9, 8, 2, 3, 0, 1, 2, 0, 1, 1},      // strided, asymmetric pads
      {20, 21, 5, 14, 1, 3, 2, 5, 1, 6, 2, 2},     // dilation 2 over stride 3
      {9, 10, 12, 12, 1, 2, 11, 5, 11, 11, 1, 1},  // windows larger than the input
      {1, 40, 1, 70, 1, 1, 0, 60, 0, 69, 1, 1},    // 1-D, mostly padding
      {5, 31, 4, 20, 1, 5, 3, 50, 2, 40, 1, 3},    // dilated 3 over stride 5
      {3, 200, 1, 100, 1, 7, 0, 0, 0, 0, 1, 1},    // kernel shorter than the line
  };
  for (const Geo& g : geos)
    for (PoolKind kind : {PoolKind::kMax, PoolKind::kAverage})
      for (int ceilMode = 0; ceilMode < 2; ++ceilMode)
        for (int cip = 0; cip < 2; ++cip) {
          if (kind == PoolKind::kMax && cip) continue;
          Pool2dParams p;
          p.kind = kind;
          p.batch = 2;
          p.channels = 2;
          p.inH = g.h, p.inW = g.w, p.kernelH = g.kh, p.kernelW = g.kw;
          p.strideH = g.sh, p.strideW = g.sw;
          p.padTop = g.pt, p.padLeft = g.pl, p.padBottom = g.pb, p.padRight = g.pr;
          p.dilationH = g.dh, p.dilationW = g.dw;
          p.ceilMode = ceilMode;
          p.countIncludePad = cip;
          CHECK(kiln::kernels::poolWindowIsWide(kiln::kernels::pool2dAxes(p)));
          runPool(p, kiln::CpuIsa::kScalar);
        }
}

TEST(pool_huge_window_costs_its_input_not_its_kernel) {
  // A kernel of 2^30 x 2^30 with pads just below it over a 3 x 5 input: the direct loops would
  // visit 2^60 taps per window. Window 0 covers input rows/cols 0 only, window 1 the rest.
  const int64_t k = int64_t{1} << 30;
  Pool2dParams p;
  p.channels = 2;
  p.inH = 3, p.inW = 5, p.kernelH = k, p.kernelW = k, p.strideH = k, p.strideW = k;
  p.padTop = p.padLeft = p.padBottom = p.padRight = k - 1;
  int64_t oh, ow;
  kiln::kernels::pool2dOutputShape(p, &oh, &ow);
  CHECK(oh == 2 && ow == 2);
  std::vector<float> x(30);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7) % 11) - 3.0f;
  // Reference: which input positions each window holds, by membership.
  const auto window = [&](int64_t o, int64_t i) { return o == 0 ? i == 0 : i >= 1; };
  for (PoolKind kind : {PoolKind::kMax, PoolKind::kAverage}) {
    p.kind = kind;
    std::vector<float> y(8, std::nanf(""));
    kiln::kernels::pool2d(p, x.data(), y.data());
    std::vector<double> want(8);
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < 2; ++j) {
          double best = -INFINITY, sum = 0;
          int64_t n = 0;
          for (int64_t h = 0; h < 3; ++h)
            for (int64_t w = 0; w < 5; ++w)
              if (window(i, h) && window(j, w)) {
                const double v = x[static_cast<size_t>(c * 15 + h * 5 + w)];
                best = std::max(best, v), sum += v, ++n;
              }
          want[static_cast<size_t>(c * 4 + i * 2 + j)] =
              kind == PoolKind::kMax ? best : sum / static_cast<double>(n);
        }
    kt::expectClose(kind == PoolKind::kMax ? "huge max" : "huge avg", y, want, 1e-6, 1e-6);
  }
}

TEST(max_pool_with_indices_3d) {
  // [1, 2, 3, 4, 5] with ties (values in 0..3), kernel 2 x 3 x 2, stride 1 x 2 x 2, pads 1 on the
  // leading sides: each output is the first maximum in row-major order, numbered row-major and
  // (storage_order = 1) column-major.
  const std::vector<kiln::kernels::PoolAxis> axes = {
      {3, 3, 2, 1, 1, 1, 0}, {4, 2, 3, 2, 1, 1, 0}, {5, 3, 2, 2, 1, 1, 0}};
  const int64_t planes = 2, in = 60, out = 18;
  std::vector<float> x(static_cast<size_t>(planes * in));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 5) % 4);
  for (bool columnMajor : {false, true}) {
    std::vector<float> y(static_cast<size_t>(planes * out));
    std::vector<int64_t> idx(y.size(), -7);
    kiln::kernels::maxPoolWithIndices(planes, axes, columnMajor, x.data(), y.data(), idx.data());
    for (int64_t p = 0; p < planes; ++p)
      for (int64_t a = 0; a < 3; ++a)
        for (int64_t b = 0; b < 2; ++b)
          for (int64_t c = 0; c < 3; ++c) {
            float best = -INFINITY;
            int64_t at = -1;
            for (int64_t i = a - 1; i < a + 1; ++i)
              for (int64_t j = 2 * b - 1; j < 2 * b + 2; ++j)
                for (int64_t k = 2 * c - 1; k < 2 * c + 1; ++k) {
                  if (i < 0 || j < 0 || k < 0 || i >= 3 || j >= 4 || k >= 5) continue;
                  const float v = x[static_cast<size_t>(p * in + (i * 4 + j) * 5 + k)];
                  if (v > best)
                    best = v, at = columnMajor ? i + 3 * (j + 4 * k) : (i * 4 + j) * 5 + k;
                }
            const size_t o = static_cast<size_t>(p * out + (a * 2 + b) * 3 + c);
            CHECK(y[o] == best);
            CHECK_EQ(idx[o], p * in + at);
          }
  }
}

TEST(max_pool_separable_8bit) {
  // The 8-bit MaxPool of wide windows (pool_ops routes them here): int8 and uint8 against the
  // direct max over the taps inside the input.
  const std::vector<kiln::kernels::PoolAxis> axes = {{6, 4, 9, 1, 1, 4, 2},
                                                     {11, 3, 10, 2, 2, 8, 5}};
  const int64_t planes = 3, in = 66, out = 12;
  std::vector<int8_t> xs(static_cast<size_t>(planes * in));
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<int8_t>((i * 37) % 256 - 128);
  std::vector<uint8_t> xu(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) xu[i] = static_cast<uint8_t>(xs[i]);
  std::vector<int8_t> ys(static_cast<size_t>(planes * out));
  std::vector<uint8_t> yu(ys.size());
  kiln::kernels::maxPoolSeparable(planes, axes, xs.data(), ys.data());
  kiln::kernels::maxPoolSeparable(planes, axes, xu.data(), yu.data());
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t a = 0; a < 4; ++a)
      for (int64_t b = 0; b < 3; ++b) {
        int bestS = -1000, bestU = -1;
        for (int64_t ky = 0; ky < 9; ++ky)
          for (int64_t kx = 0; kx < 10; ++kx) {
            const int64_t h = a - 4 + ky, w = b * 2 - 8 + kx * 2;
            if (h < 0 || h >= 6 || w < 0 || w >= 11) continue;
            const size_t i = static_cast<size_t>(p * in + h * 11 + w);
            bestS = std::max<int>(bestS, xs[i]);
            bestU = std::max<int>(bestU, xu[i]);
          }
        const size_t o = static_cast<size_t>(p * out + a * 3 + b);
        CHECK_EQ(static_cast<int>(ys[o]), bestS);
        CHECK_EQ(static_cast<int>(yu[o]), bestU);
      }
}
