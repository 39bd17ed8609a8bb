// Binary ops, comparisons, Where and Expand over broadcast shapes, and every unary op, against
// per-element references.
#include <cmath>
#include <limits>
#include <vector>

#include "kernel_test_util.h"
#include "kiln/error.h"
#include "kiln/kernels/eltwise.h"

using kiln::kernels::BinaryOp;
using kiln::kernels::CompareOp;
using kiln::kernels::Shape;
using kiln::kernels::UnaryOp;
using kt::sourceIndex;
using kt::unravel;

namespace {

double refBinary(BinaryOp op, double a, double b) {
  switch (op) {
    case BinaryOp::kAdd:
      return a + b;
    case BinaryOp::kSub:
      return a - b;
    case BinaryOp::kMul:
      return a * b;
    case BinaryOp::kDiv:
      return a / b;
    case BinaryOp::kPow:
      return std::pow(a, b);
    case BinaryOp::kMax:
      return std::max(a, b);
    case BinaryOp::kMin:
      return std::min(a, b);
    case BinaryOp::kFmod:
      return std::fmod(a, b);
    case BinaryOp::kPRelu:
      return a < 0 ? a * b : a;
    case BinaryOp::kMod:
      return a - std::floor(a / b) * b;
    default:
      break;  // integer-only ops
  }
  return 0;
}

std::string shapeStr(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

const std::vector<std::pair<Shape, Shape>> kShapePairs = {
    {{}, {}},
    {{5}, {5}},
    {{2, 3, 4}, {2, 3, 4}},
    {{2, 3, 4}, {}},
    {{}, {3, 1}},
    {{2, 3, 4}, {4}},
    {{2, 3, 4}, {3, 1}},
    {{1, 3, 1}, {2, 1, 4}},
    {{4, 1}, {1, 5}},
    {{2, 1, 3, 1}, {5, 1, 7}},
    {{1, 16, 7, 7}, {1, 16, 1, 1}},
    {{3, 197, 192}, {192}},
    {{2, 0, 3}, {1, 3}},
    {{6, 1, 1, 9}, {6, 4, 1, 1}},
};

}  // namespace

TEST(binary_broadcast) {
  const BinaryOp ops[] = {BinaryOp::kAdd,   BinaryOp::kSub, BinaryOp::kMul, BinaryOp::kDiv,
                          BinaryOp::kPow,   BinaryOp::kMax, BinaryOp::kMin, BinaryOp::kFmod,
                          BinaryOp::kPRelu, BinaryOp::kMod};
  for (const auto& [as, bs] : kShapePairs)
    for (BinaryOp op : ops) {
      const Shape out = kiln::kernels::broadcastShapes(as, bs);
      // Pow gets positive bases; Div/Fmod keep divisors away from 0.
      auto a = kt::randomVector(kiln::kernels::shapeSize(as), 1,
                                op == BinaryOp::kPow ? 0.1f : -3.0f, 3.0f);
      auto b = kt::randomVector(kiln::kernels::shapeSize(bs), 2, 0.5f, 2.5f);
      std::vector<float> y(kiln::kernels::shapeSize(out));
      kiln::kernels::binary(op, a.data(), as, b.data(), bs, y.data());
      std::vector<double> want(y.size());
      for (size_t i = 0; i < y.size(); ++i) {
        const auto idx = unravel(static_cast<int64_t>(i), out);
        // The reference applies the float op, since each output is a single rounded operation.
        const float av = a[sourceIndex(out, as, idx)], bv = b[sourceIndex(out, bs, idx)];
        want[i] = refBinary(op, av, bv);
      }
      kt::expectClose("binary op " + std::to_string(static_cast<int>(op)) + " " + shapeStr(as) +
                          " x " + shapeStr(bs),
                      y, want, 0, 1e-6);
    }
}

TEST(binary_special_values) {
  std::vector<float> a = {-8.0f, NAN, 1.0f, -7.5f}, b = {3.0f, 1.0f, NAN, 2.0f}, y(4);
  kiln::kernels::binary(BinaryOp::kPow, a.data(), {4}, b.data(), {4}, y.data());
  CHECK(y[0] == -512.0f);
  kiln::kernels::binary(BinaryOp::kMax, a.data(), {4}, b.data(), {4}, y.data());
  CHECK(std::isnan(y[1]) && std::isnan(y[2]));
  kiln::kernels::binary(BinaryOp::kFmod, a.data(), {4}, b.data(), {4}, y.data());
  CHECK(y[3] == -1.5f);  // sign of the dividend
  CHECK_THROWS(kiln::kernels::binary(BinaryOp::kAdd, a.data(), {4}, b.data(), {3}, y.data()),
               kiln::Error);
}

TEST(compare_where_expand) {
  for (const auto& [as, bs] : kShapePairs) {
    const Shape out = kiln::kernels::broadcastShapes(as, bs);
    auto a = kt::randomVector(kiln::kernels::shapeSize(as), 3, -2, 2),
         b = kt::randomVector(kiln::kernels::shapeSize(bs), 4, -2, 2);
    for (float& v : a) v = std::round(v);  // ties make Equal and the *OrEqual ops meaningful
    for (float& v : b) v = std::round(v);
    const size_t n = kiln::kernels::shapeSize(out);
    for (CompareOp op : {CompareOp::kEqual, CompareOp::kLess, CompareOp::kLessOrEqual,
                         CompareOp::kGreater, CompareOp::kGreaterOrEqual}) {
      std::vector<uint8_t> y(n, 7);
      kiln::kernels::compare(op, a.data(), as, b.data(), bs, y.data());
      for (size_t i = 0; i < n; ++i) {
        const auto idx = unravel(static_cast<int64_t>(i), out);
        const float x = a[sourceIndex(out, as, idx)], z = b[sourceIndex(out, bs, idx)];
        const bool w = op == CompareOp::kEqual         ? x == z
                       : op == CompareOp::kLess        ? x < z
                       : op == CompareOp::kLessOrEqual ? x <= z
                       : op == CompareOp::kGreater     ? x > z
                                                       : x >= z;
        if (y[i] != static_cast<uint8_t>(w)) {
          kiln_test::fail(__FILE__, __LINE__,
                          "compare " + std::to_string(static_cast<int>(op)) + " " + shapeStr(as) +
                              shapeStr(bs));
          break;
        }
      }
    }
    // Where: condition broadcast from a third shape.
    const Shape cs = out.empty() ? Shape{} : Shape{out.back()};
    std::vector<uint8_t> cond(kiln::kernels::shapeSize(cs));
    for (size_t i = 0; i < cond.size(); ++i) cond[i] = (i % 3) == 0;
    std::vector<float> w(n);
    kiln::kernels::where(cond.data(), cs, a.data(), as, b.data(), bs, out, w.data());
    std::vector<float> wantW(n), e(n), wantE(n);
    for (size_t i = 0; i < n; ++i) {
      const auto idx = unravel(static_cast<int64_t>(i), out);
      wantW[i] = cond[sourceIndex(out, cs, idx)] ? a[sourceIndex(out, as, idx)]
                                                 : b[sourceIndex(out, bs, idx)];
      wantE[i] = a[sourceIndex(out, as, idx)];
    }
    kt::expectEqual("where " + shapeStr(as) + shapeStr(bs), w, wantW);
    kiln::kernels::expand(a.data(), as, out, e.data());
    kt::expectEqual("expand " + shapeStr(as) + " to " + shapeStr(out), e, wantE);
  }
}

TEST(unary_ops) {
  struct U {
    UnaryOp op;
    float lo, hi, alpha, beta;
    double (*ref)(double, double, double);
  };
  const U ops[] = {
      {UnaryOp::kRelu, -5, 5, 0, 0, [](double x, double, double) { return std::max(x, 0.0); }},
      {UnaryOp::kSigmoid, -30, 30, 0, 0,
       [](double x, double, double) { return 1 / (1 + std::exp(-x)); }},
      {UnaryOp::kTanh, -6, 6, 0, 0, [](double x, double, double) { return std::tanh(x); }},
      {UnaryOp::kTanh, -0.3f, 0.3f, 0, 0, [](double x, double, double) { return std::tanh(x); }},
      {UnaryOp::kExp, -20, 20, 0, 0, [](double x, double, double) { return std::exp(x); }},
      {UnaryOp::kLog, 0.01f, 100, 0, 0, [](double x, double, double) { return std::log(x); }},
      {UnaryOp::kSqrt, 0, 100, 0, 0, [](double x, double, double) { return std::sqrt(x); }},
      {UnaryOp::kErf, -4, 4, 0, 0, [](double x, double, double) { return std::erf(x); }},
      {UnaryOp::kAbs, -5, 5, 0, 0, [](double x, double, double) { return std::fabs(x); }},
      {UnaryOp::kNeg, -5, 5, 0, 0, [](double x, double, double) { return -x; }},
      {UnaryOp::kReciprocal, 0.1f, 5, 0, 0, [](double x, double, double) { return 1 / x; }},
      {UnaryOp::kFloor, -5, 5, 0, 0, [](double x, double, double) { return std::floor(x); }},
      {UnaryOp::kCeil, -5, 5, 0, 0, [](double x, double, double) { return std::ceil(x); }},
      {UnaryOp::kHardSigmoid, -6, 6, 0.3f, 0.4f,
       [](double x, double a, double b) { return std::clamp(a * x + b, 0.0, 1.0); }},
      {UnaryOp::kHardSwish, -6, 6, 0, 0,
       [](double x, double, double) { return x * std::clamp(x / 6 + 0.5, 0.0, 1.0); }},
      {UnaryOp::kLeakyRelu, -5, 5, 0.2f, 0,
       [](double x, double a, double) { return x >= 0 ? x : a * x; }},
      {UnaryOp::kClip, -5, 5, -1, 2,
       [](double x, double a, double b) { return std::clamp(x, a, b); }},
      {UnaryOp::kElu, -5, 5, 1.5f, 0,
       [](double x, double a, double) { return x >= 0 ? x : a * (std::exp(x) - 1); }},
      {UnaryOp::kGelu, -6, 6, 0, 0,
       [](double x, double, double) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }},
      {UnaryOp::kSoftplus, -20, 20, 0, 0,
       [](double x, double, double) { return std::log1p(std::exp(x)); }},
      {UnaryOp::kSin, -10, 10, 0, 0, [](double x, double, double) { return std::sin(x); }},
      {UnaryOp::kCos, -10, 10, 0, 0, [](double x, double, double) { return std::cos(x); }},
      {UnaryOp::kSign, -5, 5, 0, 0,
       [](double x, double, double) { return x > 0   ? 1.0
                                             : x < 0 ? -1.0
                                                     : 0.0; }},
      {UnaryOp::kSilu, -20, 20, 0, 0,
       [](double x, double, double) { return x / (1 + std::exp(-x)); }},
  };
  kt::forEachIsa([&](kiln::CpuIsa isa) {
    for (const U& u : ops)
      for (size_t n : {1, 15, 16, 17, 1000, 40000}) {
        auto x = kt::randomVector(n, static_cast<uint32_t>(n), u.lo, u.hi);
        std::vector<float> y(n);
        kiln::kernels::unary(u.op, x.data(), y.data(), n, u.alpha, u.beta);
        std::vector<double> want(n);
        for (size_t i = 0; i < n; ++i) want[i] = u.ref(x[i], u.alpha, u.beta);
        // Vector exp/erf approximations: 2e-7 absolute on erf-based GELU, ~1 ulp elsewhere.
        kt::expectClose(kt::isaTag(isa) + "unary " + std::to_string(static_cast<int>(u.op)) +
                            " n=" + std::to_string(n),
                        y, want, 1e-6, 2e-6);
      }
    // Special values on every tier (vector bodies and tails alike): exp keeps NaN, overflows to
    // +inf past ~88.72 and reaches 0 at -inf; Clip keeps NaN.
    {
      const float nan = std::numeric_limits<float>::quiet_NaN();
      const float inf = std::numeric_limits<float>::infinity();
      std::vector<float> sx(40, 1.0f), sy(40);
      sx[0] = sx[17] = sx[39] = nan;
      sx[1] = sx[16] = sx[38] = inf;
      sx[5] = -inf, sx[6] = 88.8f, sx[7] = 89.0f, sx[8] = 88.7f, sx[9] = -200.0f;
      kiln::kernels::unary(UnaryOp::kExp, sx.data(), sy.data(), sx.size());
      for (size_t i = 0; i < sx.size(); ++i) {
        const float want = std::exp(sx[i]);
        CHECK(std::isnan(want) ? std::isnan(sy[i]) : (std::isinf(want) ? sy[i] == want : true));
      }
      CHECK(sy[5] == 0.0f && sy[9] == 0.0f && std::isfinite(sy[8]) && std::isinf(sy[7]));
      kiln::kernels::unary(UnaryOp::kClip, sx.data(), sy.data(), sx.size(), -1.0f, 2.0f);
      CHECK(std::isnan(sy[0]) && std::isnan(sy[17]) && std::isnan(sy[39]));
      CHECK(sy[5] == -1.0f && sy[7] == 2.0f);
    }
    std::vector<float> r = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.4f}, ry(6);
    kiln::kernels::unary(UnaryOp::kRound, r.data(), ry.data(), 6);
    kt::expectEqual("round half to even", ry, {0.0f, 2.0f, 2.0f, -0.0f, -2.0f, 2.0f});
    // In place works too.
    kiln::kernels::unary(UnaryOp::kNeg, r.data(), r.data(), 6);
    CHECK(r[0] == -0.5f);
  });
}
