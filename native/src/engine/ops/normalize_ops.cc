// Normalizations over local windows and chosen axes on float32: LRN (across channels),
// MeanVarianceNormalization, and Hardmax (one-hot of the first maximum along an axis).
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/op.h"
#include "engine/ops/register.h"

namespace kiln {
namespace {

void inferFloatSameShape(OpContext& ctx) {
  ctx.requireFloatInputs({0});
  ctx.outShapes[0] = ctx.shape(0);
  ctx.outTypes[0] = DataType::kFloat32;
}

// y = x / (bias + alpha / size * sum of x^2 over the channels [c - (size-1)/2, c + size/2]).
// The window's sum slides along the channels in double (one add and one subtract per step;
// clamped at 0 against cancellation): summing each window afresh cost C x size per pixel, hours
// for a hostile size (fuzz_plan).
void runLrn(OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  ctx.require(x.size() >= 2, "input must be [N, C, ...]");
  const int64_t size = ctx.layer.attrInt("size", 1);
  ctx.require(size >= 1, "size must be positive");
  const float alpha = static_cast<float>(ctx.layer.attrFloat("alpha", 1e-4));
  const float beta = static_cast<float>(ctx.layer.attrFloat("beta", 0.75));
  const float bias = static_cast<float>(ctx.layer.attrFloat("bias", 1.0));
  const int64_t n = x[0], c = x[1];
  const int64_t inner = shapeElements(Dims(x.begin() + 2, x.end()));
  const int64_t before = (size - 1) / 2, after = size - 1 - before;
  const float* src = ctx.f32(0);
  float* dst = ctx.outF32(0);
  std::vector<double> sum(static_cast<size_t>(inner));
  auto addSquares = [&](const float* plane, double sign) {
    for (int64_t s = 0; s < inner; ++s) {
      const double v = plane[s];
      sum[static_cast<size_t>(s)] += sign * v * v;
    }
  };
  for (int64_t b = 0; b < n; ++b) {
    const float* image = src + b * c * inner;
    std::fill(sum.begin(), sum.end(), 0.0);
    // The window of channel 0 holds channels [0, after].
    for (int64_t k = 0; k <= std::min(after, c - 1); ++k) addSquares(image + k * inner, 1);
    for (int64_t ch = 0; ch < c; ++ch) {
      if (ch > 0) {
        if (ch + after < c) addSquares(image + (ch + after) * inner, 1);
        if (ch - before - 1 >= 0) addSquares(image + (ch - before - 1) * inner, -1);
      }
      const int64_t e = (b * c + ch) * inner;
      for (int64_t s = 0; s < inner; ++s)
        dst[e + s] =
            src[e + s] /
            std::pow(bias + alpha / static_cast<float>(size) *
                                static_cast<float>(std::max(0.0, sum[static_cast<size_t>(s)])),
                     beta);
    }
  }
}

// (x - mean) / (sqrt(E[x^2] - mean^2) + 1e-9) with statistics over `axes` (default N, H, W), as
// the op's function body defines it.
void runMeanVarianceNormalization(OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  const int64_t rank = static_cast<int64_t>(x.size());
  ctx.require(rank > 0, "needs an input of rank >= 1");
  std::vector<char> reduced(static_cast<size_t>(rank), 0);
  for (int64_t a : ctx.layer.attrInts("axes", {0, 2, 3})) reduced[normalizeAxis(ctx, a, rank)] = 1;
  // Each element's group: its index with the reduced dims dropped.
  const int64_t total = shapeElements(x);
  std::vector<int64_t> group(static_cast<size_t>(total));
  int64_t groups = 1;
  for (int64_t d = 0; d < rank; ++d)
    if (!reduced[d]) groups *= x[d];
  std::vector<int64_t> pos(static_cast<size_t>(rank), 0);
  for (int64_t e = 0; e < total; ++e) {
    int64_t g = 0;
    for (int64_t d = 0; d < rank; ++d)
      if (!reduced[d]) g = g * x[d] + pos[d];
    group[e] = g;
    for (int64_t d = rank - 1; d >= 0 && ++pos[d] == x[d]; --d) pos[d] = 0;
  }
  const float* src = ctx.f32(0);
  std::vector<double> sum(static_cast<size_t>(groups), 0), sq(static_cast<size_t>(groups), 0);
  std::vector<int64_t> count(static_cast<size_t>(groups), 0);
  for (int64_t e = 0; e < total; ++e) {
    sum[group[e]] += src[e];
    sq[group[e]] += static_cast<double>(src[e]) * src[e];
    count[group[e]]++;
  }
  float* dst = ctx.outF32(0);
  for (int64_t e = 0; e < total; ++e) {
    const int64_t g = group[e];
    const double mean = sum[g] / static_cast<double>(count[g]);
    const double var = std::max(0.0, sq[g] / static_cast<double>(count[g]) - mean * mean);
    dst[e] = static_cast<float>((src[e] - mean) / (std::sqrt(var) + 1e-9));
  }
}

void runHardmax(OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  const int64_t rank = static_cast<int64_t>(x.size());
  ctx.require(rank >= 1, "the input must have rank >= 1");
  const int64_t axis = normalizeAxis(ctx, ctx.layer.attrInt("axis", -1), rank);
  const int64_t outer = shapeElements(Dims(x.begin(), x.begin() + axis));
  const int64_t dim = x[axis];
  const int64_t inner = shapeElements(Dims(x.begin() + axis + 1, x.end()));
  const float* src = ctx.f32(0);
  float* dst = ctx.outF32(0);
  std::fill(dst, dst + shapeElements(x), 0.0f);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const float* p = src + o * dim * inner + i;
      int64_t best = 0;
      for (int64_t k = 1; k < dim; ++k)
        if (p[k * inner] > p[best * inner]) best = k;
      if (dim > 0) dst[(o * dim + best) * inner + i] = 1.0f;
    }
  }
}

}  // namespace

void registerNormalizeOps(OpTable& table) {
  table["LRN"] = OpImpl{inferFloatSameShape, runLrn};
  table["MeanVarianceNormalization"] = OpImpl{inferFloatSameShape, runMeanVarianceNormalization};
  table["Hardmax"] = OpImpl{inferFloatSameShape, runHardmax};
}

}  // namespace kiln
