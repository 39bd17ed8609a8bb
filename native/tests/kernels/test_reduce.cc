// Reduce* over axis sets and ArgMax/ArgMin against double references.
#include <cmath>
#include <vector>

#include "kernel_test_util.h"
#include "kiln/error.h"
#include "kiln/kernels/reduce.h"

using kiln::kernels::ReduceOp;
using kiln::kernels::Shape;

TEST(reduce_axes_and_ops) {
  const Shape xs = {3, 4, 5, 6};
  const std::vector<std::vector<int64_t>> axesSets = {{},     {0},    {3},          {-1},  {1, 2},
                                                      {0, 2}, {2, 3}, {0, 1, 2, 3}, {1, 3}};
  const ReduceOp ops[] = {ReduceOp::kSum,      ReduceOp::kMean,      ReduceOp::kMax,
                          ReduceOp::kMin,      ReduceOp::kProd,      ReduceOp::kL1,
                          ReduceOp::kL2,       ReduceOp::kSumSquare, ReduceOp::kLogSum,
                          ReduceOp::kLogSumExp};
  auto x = kt::randomVector(kiln::kernels::shapeSize(xs), 9, 0.5f,
                            1.5f);  // positive: LogSum/Prod stay finite
  for (const auto& axes : axesSets)
    for (ReduceOp op : ops) {
      std::vector<bool> red(4, axes.empty());
      for (int64_t a : axes) red[a < 0 ? a + 4 : a] = true;
      Shape out = xs;
      for (int d = 0; d < 4; ++d)
        if (red[d]) out[d] = 1;
      const int64_t n = kiln::kernels::shapeSize(out);
      std::vector<double> s(n, 0), mx(n, -INFINITY), mn(n, INFINITY), prod(n, 1), l1(n, 0),
          sq(n, 0), cnt(n, 0);
      for (int64_t i = 0; i < kiln::kernels::shapeSize(xs); ++i) {
        int64_t r = i, o = 0, mult = 1;
        for (int d = 3; d >= 0; --d) {
          const int64_t c = r % xs[d];
          r /= xs[d];
          if (!red[d]) o += c * mult;
          mult *= out[d];
        }
        const double v = x[i];
        s[o] += v;
        mx[o] = std::max(mx[o], v);
        mn[o] = std::min(mn[o], v);
        prod[o] *= v;
        l1[o] += std::fabs(v);
        sq[o] += v * v;
        cnt[o] += 1;
      }
      std::vector<double> want(n);
      for (int64_t o = 0; o < n; ++o) {
        switch (op) {
          case ReduceOp::kSum:
            want[o] = s[o];
            break;
          case ReduceOp::kMean:
            want[o] = s[o] / cnt[o];
            break;
          case ReduceOp::kMax:
            want[o] = mx[o];
            break;
          case ReduceOp::kMin:
            want[o] = mn[o];
            break;
          case ReduceOp::kProd:
            want[o] = prod[o];
            break;
          case ReduceOp::kL1:
            want[o] = l1[o];
            break;
          case ReduceOp::kL2:
            want[o] = std::sqrt(sq[o]);
            break;
          case ReduceOp::kSumSquare:
            want[o] = sq[o];
            break;
          case ReduceOp::kLogSum:
            want[o] = std::log(s[o]);
            break;
          case ReduceOp::kLogSumExp: {
            double e = 0;
            // exp of values in [0.5, 1.5]: no overflow, direct formula is exact enough.
            for (int64_t i = 0; i < kiln::kernels::shapeSize(xs); ++i) {
              int64_t r = i, oo = 0, mult = 1;
              for (int d = 3; d >= 0; --d) {
                const int64_t c = r % xs[d];
                r /= xs[d];
                if (!red[d]) oo += c * mult;
                mult *= out[d];
              }
              if (oo == o) e += std::exp(static_cast<double>(x[i]));
            }
            want[o] = std::log(e);
            break;
          }
        }
      }
      std::vector<float> y(n);
      kiln::kernels::reduce(op, x.data(), xs, axes, y.data());
      kt::expectClose("reduce op " + std::to_string(static_cast<int>(op)) + " axes " +
                          std::to_string(axes.size()),
                      y, want, 1e-6, 2e-6);
    }
  std::vector<float> y(1);
  CHECK_THROWS(kiln::kernels::reduce(ReduceOp::kSum, x.data(), xs, {4}, y.data()), kiln::Error);
}

TEST(arg_max_min) {
  const Shape xs = {3, 5, 4};
  auto x = kt::randomVector(60, 4, -2, 2);
  for (float& v : x) v = std::round(v);  // ties exercise select_last_index
  for (int64_t axis = 0; axis < 3; ++axis)
    for (bool isMax : {true, false})
      for (bool last : {false, true}) {
        int64_t outer = 1, inner = 1;
        for (int64_t d = 0; d < axis; ++d) outer *= xs[d];
        for (int64_t d = axis + 1; d < 3; ++d) inner *= xs[d];
        std::vector<int64_t> y(outer * inner), want(y.size());
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t i = 0; i < inner; ++i) {
            int64_t best = -1;
            for (int64_t k = 0; k < xs[axis]; ++k) {
              const float v = x[(o * xs[axis] + k) * inner + i];
              if (best < 0) {
                best = k;
                continue;
              }
              const float b = x[(o * xs[axis] + best) * inner + i];
              if (isMax ? (v > b || (last && v == b)) : (v < b || (last && v == b))) best = k;
            }
            want[o * inner + i] = best;
          }
        kiln::kernels::argReduce(isMax, x.data(), xs, axis, last, y.data());
        CHECK(y == want);
      }
}
