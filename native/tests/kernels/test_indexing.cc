// NonZero, TopK and CumSum against brute-force references.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "kernel_test_util.h"
#include "kiln/dtype.h"
#include "kiln/error.h"
#include "kiln/kernels/indexing.h"
#include "kiln/kernels/reduce.h"

using kiln::DataType;
using kiln::kernels::Shape;

TEST(non_zero_every_dtype) {
  const Shape xs = {2, 3, 2};
  const std::vector<float> f = {0, 1.5f, -0.0f, NAN, 0, 0, -2, 0, 0, 0, 1e-40f, 0};
  // Expected nonzero flat positions: 1 (1.5), 3 (NaN), 6 (-2), 10 (denormal).
  const std::vector<int64_t> flat = {1, 3, 6, 10};
  auto coords = [&](const Shape& s) {
    std::vector<int64_t> y(s.size() * flat.size());
    for (size_t k = 0; k < flat.size(); ++k) {
      int64_t r = flat[k];
      for (size_t d = s.size(); d-- > 0;) y[d * flat.size() + k] = r % s[d], r /= s[d];
    }
    return y;
  };
  const auto expect = coords(xs);
  std::vector<uint16_t> h(f.size()), bf(f.size());
  kiln::convertFloatToHalf(f.data(), h.data(), f.size());
  for (size_t i = 0; i < f.size(); ++i) bf[i] = kiln::floatToBFloat16(f[i]);
  h[10] = 0x0001;  // the float denormal flushes in half; keep a nonzero half subnormal there
  std::vector<int64_t> i64(f.size(), 0);
  std::vector<int32_t> i32(f.size(), 0);
  std::vector<uint8_t> u8(f.size(), 0);
  for (int64_t p : flat) i64[p] = p == 3 ? INT64_MIN : 7, i32[p] = -1, u8[p] = 200;
  struct Case {
    const void* data;
    DataType type;
  };
  for (const Case& c : {Case{f.data(), DataType::kFloat32}, Case{h.data(), DataType::kFloat16},
                        Case{bf.data(), DataType::kBFloat16}, Case{i64.data(), DataType::kInt64},
                        Case{i32.data(), DataType::kInt32}, Case{u8.data(), DataType::kUInt8},
                        Case{u8.data(), DataType::kBool}}) {
    const int64_t n = kiln::kernels::countNonZero(c.data, c.type, xs);
    CHECK_EQ(n, 4);
    std::vector<int64_t> y(3 * static_cast<size_t>(n));
    kiln::kernels::nonZero(c.data, c.type, xs, n, y.data());
    if (!(y == expect)) kiln_test::fail(__FILE__, __LINE__, kiln::dataTypeName(c.type));
  }
  // Scalars count as shape [1]; a wrong count is refused rather than overrun.
  const float one = 1.0f;
  int64_t ys = -1;
  CHECK_EQ(kiln::kernels::countNonZero(&one, DataType::kFloat32, {}), 1);
  kiln::kernels::nonZero(&one, DataType::kFloat32, {}, 1, &ys);
  CHECK_EQ(ys, 0);
  std::vector<int64_t> small(3);
  CHECK_THROWS(kiln::kernels::nonZero(f.data(), DataType::kFloat32, xs, 1, small.data()),
               kiln::Error);
}

TEST(top_k_axes_ties_and_nan) {
  std::mt19937 gen(5);
  const Shape xs = {3, 17, 4};
  std::vector<float> x(3 * 17 * 4);
  // Few distinct values, so ties are common and the lower-index rule matters.
  for (auto& v : x) v = static_cast<float>(static_cast<int>(gen() % 7) - 3);
  x[5] = NAN;
  for (int64_t axis = 0; axis < 3; ++axis)
    for (bool largest : {true, false})
      for (int64_t k : {int64_t{1}, int64_t{2}, xs[axis]}) {
        int64_t outer = 1, inner = 1;
        for (int64_t d = 0; d < axis; ++d) outer *= xs[d];
        for (int64_t d = axis + 1; d < 3; ++d) inner *= xs[d];
        const int64_t dim = xs[axis];
        std::vector<float> vals(outer * k * inner);
        std::vector<int64_t> idx(vals.size());
        kiln::kernels::topK(x.data(), xs, axis, k, largest, vals.data(), idx.data());
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t i = 0; i < inner; ++i) {
            // Reference: stable sort of the indices by key (NaN as +inf, beyond any number).
            std::vector<int64_t> order(dim);
            std::iota(order.begin(), order.end(), 0);
            auto key = [&](int64_t j) {
              const double v = x[(o * dim + j) * inner + i];
              return std::isnan(v) ? INFINITY * 2 : v;  // still inf; tie-broken by isnan below
            };
            auto rank = [&](int64_t j) { return std::isnan(x[(o * dim + j) * inner + i]); };
            std::stable_sort(order.begin(), order.end(), [&](int64_t p, int64_t q) {
              const bool np = rank(p), nq = rank(q);
              if (np != nq) return largest ? np : nq;
              if (np) return false;
              return largest ? key(p) > key(q) : key(p) < key(q);
            });
            for (int64_t j = 0; j < k; ++j) {
              const int64_t at = (o * k + j) * inner + i;
              const float want = x[(o * dim + order[j]) * inner + i];
              if (idx[at] != order[j] ||
                  !(vals[at] == want || (std::isnan(vals[at]) && std::isnan(want)))) {
                kiln_test::fail(__FILE__, __LINE__,
                                "topK axis " + std::to_string(axis) + " k " + std::to_string(k) +
                                    (largest ? " largest" : " smallest"));
                o = outer, i = inner, j = k;
              }
            }
          }
      }
  std::vector<int64_t> xi = {5, -2, 9, 9, 0}, vi(2), ii(2);
  kiln::kernels::topK(xi.data(), {5}, 0, 2, true, vi.data(), ii.data());
  CHECK(vi == (std::vector<int64_t>{9, 9}) && ii == (std::vector<int64_t>{2, 3}));
  kiln::kernels::topK(xi.data(), {5}, -1, 2, false, vi.data(), ii.data());
  CHECK(vi == (std::vector<int64_t>{-2, 0}) && ii == (std::vector<int64_t>{1, 4}));
  CHECK_THROWS(kiln::kernels::topK(xi.data(), {5}, 0, 6, true, vi.data(), ii.data()), kiln::Error);
}

TEST(cumsum_modes) {
  const Shape xs = {2, 3, 4};
  std::vector<int64_t> x(24);
  std::iota(x.begin(), x.end(), int64_t{1});
  std::vector<float> xf(x.begin(), x.end());
  for (int64_t axis : {0, 1, 2, -1})
    for (bool exclusive : {false, true})
      for (bool reverse : {false, true}) {
        const int64_t a = axis < 0 ? axis + 3 : axis;
        std::vector<int64_t> want(24, 0), y(24, -99);
        for (int64_t i = 0; i < 24; ++i) {
          std::vector<int64_t> idx = {i / 12, (i / 4) % 3, i % 4};
          const int64_t pos = idx[a];
          for (int64_t j = 0; j < xs[a]; ++j) {
            const bool take =
                reverse ? (exclusive ? j > pos : j >= pos) : (exclusive ? j < pos : j <= pos);
            if (!take) continue;
            auto src = idx;
            src[a] = j;
            want[i] += x[(src[0] * 3 + src[1]) * 4 + src[2]];
          }
        }
        kiln::kernels::cumsum(x.data(), xs, axis, exclusive, reverse, y.data());
        CHECK(y == want);
        std::vector<float> yf(24);
        kiln::kernels::cumsum(xf.data(), xs, axis, exclusive, reverse, yf.data());
        CHECK(std::equal(yf.begin(), yf.end(), want.begin(),
                         [](float g, int64_t w) { return g == static_cast<float>(w); }));
        std::vector<int32_t> x32(x.begin(), x.end()), y32(24);
        kiln::kernels::cumsum(x32.data(), xs, axis, exclusive, reverse, y32.data());
        CHECK(std::equal(y32.begin(), y32.end(), want.begin()));
      }
  std::vector<float> v(4);
  CHECK_THROWS(kiln::kernels::cumsum(v.data(), {4}, 1, false, false, v.data()), kiln::Error);
}
