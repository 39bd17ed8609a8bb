// GridSample on float32 2-D images: samples X [N, C, H, W] at the normalized points of
// grid [N, Hout, Wout, 2] by nearest, bilinear or bicubic interpolation, with zeros, border or
// reflection padding, following the ONNX reference's order of rounding and padding.
#include <algorithm>
#include <cmath>
#include <string>

#include "engine/op.h"
#include "engine/ops/register.h"

namespace kiln {
namespace {

enum class Mode { kNearest, kLinear, kCubic };
enum class Padding { kZeros, kBorder, kReflection };

struct Sampler {
  Mode mode = Mode::kLinear;
  Padding padding = Padding::kZeros;
  bool alignCorners = false;
  int64_t h = 0, w = 0;
  // The extent coordinates are reflected into: pixel centres when aligning corners, else
  // pixel edges.
  double xMin = 0, xMax = 0, yMin = 0, yMax = 0;
};

Sampler sampler(const OpContext& ctx) {
  Sampler s;
  const std::string mode = ctx.layer.attrString("mode", "linear");
  if (mode == "nearest")
    s.mode = Mode::kNearest;
  else if (mode == "bicubic" || mode == "cubic")
    s.mode = Mode::kCubic;
  else
    ctx.require(mode == "bilinear" || mode == "linear", "unknown mode '" + mode + "'");
  const std::string padding = ctx.layer.attrString("padding_mode", "zeros");
  if (padding == "border")
    s.padding = Padding::kBorder;
  else if (padding == "reflection")
    s.padding = Padding::kReflection;
  else
    ctx.require(padding == "zeros", "unknown padding_mode '" + padding + "'");
  s.alignCorners = ctx.layer.attrInt("align_corners", 0) != 0;
  const Dims& x = ctx.shape(0);
  s.h = x[2];
  s.w = x[3];
  const double edge = s.alignCorners ? 0.0 : 0.5;
  s.xMin = -edge;
  s.yMin = -edge;
  s.xMax = static_cast<double>(s.w) - 1 + edge;
  s.yMax = static_cast<double>(s.h) - 1 + edge;
  return s;
}

// Folds v back into [lo, hi] by mirroring at the bounds as often as needed.
double reflect(double v, double lo, double hi) {
  const double range = hi - lo;
  if (v < lo || v > hi) {
    const bool below = v < lo;
    const double past = below ? lo - v : v - hi;
    const double turns = std::trunc(past / range);
    const double rest = past - turns * range;
    const bool even = std::fmod(turns, 2.0) == 0;
    v = (below == even) ? lo + rest : hi - rest;
  }
  return v;
}

double denormalize(double n, int64_t size, bool alignCorners) {
  const double len = static_cast<double>(size);
  return alignCorners ? (n + 1) / 2 * (len - 1) : ((n + 1) * len - 1) / 2;
}

int64_t clampIndex(int64_t i, int64_t size) { return i < 0 ? 0 : (i >= size ? size - 1 : i); }

// The pixel at integer (r, c), padded.
float pixel(const Sampler& s, const float* image, int64_t r, int64_t c) {
  switch (s.padding) {
    case Padding::kZeros:
      return (r >= 0 && r < s.h && c >= 0 && c < s.w) ? image[r * s.w + c] : 0.0f;
    case Padding::kBorder:
      return image[clampIndex(r, s.h) * s.w + clampIndex(c, s.w)];
    default: {
      const auto rr = static_cast<int64_t>(reflect(static_cast<double>(r), s.yMin, s.yMax));
      const auto cc = static_cast<int64_t>(reflect(static_cast<double>(c), s.xMin, s.xMax));
      return image[clampIndex(rr, s.h) * s.w + clampIndex(cc, s.w)];
    }
  }
}

// Keys' cubic convolution weights (a = -0.75) of the 4 taps around a fraction t in [0, 1).
void cubicWeights(double t, double* k) {
  const double a = -0.75;
  const auto near = [a](double d) { return ((a + 2) * d - (a + 3)) * d * d + 1; };
  const auto far = [a](double d) { return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a; };
  k[0] = far(t + 1);
  k[1] = near(t);
  k[2] = near(1 - t);
  k[3] = far(2 - t);
}

float sample(const Sampler& s, const float* image, double x, double y) {
  if (s.mode == Mode::kNearest) {
    x = std::nearbyint(x);
    y = std::nearbyint(y);
  }
  if (x < s.xMin || x > s.xMax || y < s.yMin || y > s.yMax) {
    if (s.padding == Padding::kBorder) {
      x = std::min(std::max(x, 0.0), static_cast<double>(s.w - 1));
      y = std::min(std::max(y, 0.0), static_cast<double>(s.h - 1));
    } else if (s.padding == Padding::kReflection) {
      x = reflect(x, s.xMin, s.xMax);
      y = reflect(y, s.yMin, s.yMax);
    }
  }
  // Far outside, every tap reads zero padding: clamping keeps the index casts defined (a NaN
  // coordinate has no pixel and samples as 0).
  if (std::isnan(x) || std::isnan(y)) return 0.0f;
  x = std::clamp(x, s.xMin - 4, s.xMax + 4);
  y = std::clamp(y, s.yMin - 4, s.yMax + 4);
  if (s.mode == Mode::kNearest)
    return pixel(s, image, static_cast<int64_t>(y), static_cast<int64_t>(x));
  const auto x0 = static_cast<int64_t>(std::floor(x));
  const auto y0 = static_cast<int64_t>(std::floor(y));
  const double fx = x - static_cast<double>(x0), fy = y - static_cast<double>(y0);
  if (s.mode == Mode::kLinear) {
    const double top = (1 - fx) * pixel(s, image, y0, x0) + fx * pixel(s, image, y0, x0 + 1);
    const double bottom =
        (1 - fx) * pixel(s, image, y0 + 1, x0) + fx * pixel(s, image, y0 + 1, x0 + 1);
    return static_cast<float>((1 - fy) * top + fy * bottom);
  }
  double kx[4], ky[4];
  cubicWeights(fx, kx);
  cubicWeights(fy, ky);
  double sum = 0;
  for (int64_t i = 0; i < 4; ++i) {
    double row = 0;
    for (int64_t j = 0; j < 4; ++j) row += kx[j] * pixel(s, image, y0 - 1 + i, x0 - 1 + j);
    sum += ky[i] * row;
  }
  return static_cast<float>(sum);
}

void inferGridSample(OpContext& ctx) {
  ctx.requireFloatInputs({0, 1});
  ctx.outTypes[0] = DataType::kFloat32;  // what the kernel writes, whatever the plan declares
  const Dims& x = ctx.shape(0);
  const Dims& grid = ctx.shape(1);
  ctx.require(x.size() == 4, "only 2-D sampling (X of rank 4) is supported");
  ctx.require(grid.size() == 4 && grid[0] == x[0] && grid[3] == 2,
              "grid must be [N, H_out, W_out, 2]");
  sampler(ctx);
  ctx.outShapes[0] = Dims{x[0], x[1], grid[1], grid[2]};
}

void runGridSample(OpContext& ctx) {
  const Sampler s = sampler(ctx);
  const Dims& x = ctx.shape(0);
  const Dims& grid = ctx.shape(1);
  const int64_t n = x[0], c = x[1], points = grid[1] * grid[2];
  const float* src = ctx.f32(0);
  const float* g = ctx.f32(1);
  float* dst = ctx.outF32(0);
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t p = 0; p < points; ++p) {
      const float* at = g + (b * points + p) * 2;
      const double px = denormalize(at[0], s.w, s.alignCorners);
      const double py = denormalize(at[1], s.h, s.alignCorners);
      for (int64_t ch = 0; ch < c; ++ch)
        dst[(b * c + ch) * points + p] = sample(s, src + (b * c + ch) * s.h * s.w, px, py);
    }
  }
}

}  // namespace

void registerGridSampleOps(OpTable& table) {
  table["GridSample"] = OpImpl{inferGridSample, runGridSample};
}

}  // namespace kiln
