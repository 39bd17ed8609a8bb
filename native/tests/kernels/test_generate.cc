// Range, fill (ConstantOfShape) and OneHot against hand-computed and index-by-index references.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernel_test_util.h"
#include "kiln/error.h"
#include "kiln/kernels/generate.h"

using kiln::kernels::Shape;

TEST(range_lengths_match_onnx) {
  using kiln::kernels::rangeLength;
  CHECK_EQ(rangeLength(int64_t{0}, int64_t{10}, int64_t{3}), 4);  // 0 3 6 9
  CHECK_EQ(rangeLength(int64_t{10}, int64_t{0}, int64_t{-3}), 4);
  CHECK_EQ(rangeLength(int64_t{0}, int64_t{9}, int64_t{3}), 3);
  CHECK_EQ(rangeLength(int64_t{5}, int64_t{5}, int64_t{1}), 0);
  CHECK_EQ(rangeLength(int64_t{5}, int64_t{0}, int64_t{1}), 0);
  CHECK_EQ(rangeLength(int32_t{-4}, int32_t{4}, int32_t{2}), 4);
  // Full int64 span: the distance does not fit int64 but the count does.
  const int64_t kMax = std::numeric_limits<int64_t>::max(),
                kMin = std::numeric_limits<int64_t>::min();
  CHECK_EQ(rangeLength(kMin, kMax, kMax), 3);
  CHECK_EQ(rangeLength(1.0f, 2.0f, 0.3f), 4);  // 1, 1.3, 1.6, 1.9
  CHECK_EQ(rangeLength(0.0f, -1.0f, 0.5f), 0);
  CHECK_THROWS(rangeLength(int64_t{0}, int64_t{4}, int64_t{0}), kiln::Error);
  CHECK_THROWS(rangeLength(0.0f, INFINITY, 1.0f), kiln::Error);
}

TEST(range_values) {
  std::vector<int64_t> y(4);
  kiln::kernels::range(int64_t{10}, int64_t{-3}, 4, y.data());
  CHECK(y == (std::vector<int64_t>{10, 7, 4, 1}));
  std::vector<int32_t> y32(3);
  kiln::kernels::range(int32_t{-1}, int32_t{5}, 3, y32.data());
  CHECK(y32 == (std::vector<int32_t>{-1, 4, 9}));
  // Float: start + i * delta rounded once, so element 1000 of 0.1 steps is exactly 100.1f's
  // nearest float, not the drifted sum of 1000 additions.
  const int64_t n = kiln::kernels::rangeLength(0.0f, 200.0f, 0.1f);
  std::vector<float> f(static_cast<size_t>(n));
  kiln::kernels::range(0.0f, 0.1f, n, f.data());
  for (int64_t i = 0; i < n; ++i)
    if (f[i] != static_cast<float>(static_cast<double>(0.1f) * static_cast<double>(i))) {
      CHECK(false);
      break;
    }
  CHECK(n == 2000 || n == 2001);
}

TEST(fill_every_size) {
  const uint8_t b = 0xA5;
  const uint16_t h = 0x3C00;
  const float f = -2.5f;
  const int64_t l = -1234567890123LL;
  std::vector<uint8_t> yb(70000);
  kiln::kernels::fill(yb.data(), 70000, &b, 1);
  for (uint8_t v : yb) CHECK(v == b);
  std::vector<uint16_t> yh(5);
  kiln::kernels::fill(yh.data(), 5, &h, 2);
  for (uint16_t v : yh) CHECK(v == h);
  std::vector<float> yf(100001, 1.0f);
  kiln::kernels::fill(yf.data(), 100000, &f, 4);
  CHECK(yf[0] == f && yf[99999] == f && yf[100000] == 1.0f);  // exactly n written
  std::vector<int64_t> yl(3, 7);
  kiln::kernels::fill(yl.data(), 3, &l, 8);
  CHECK(yl == (std::vector<int64_t>{l, l, l}));
  kiln::kernels::fill(yl.data(), 3, nullptr, 8);
  CHECK(yl == (std::vector<int64_t>{0, 0, 0}));
  CHECK_THROWS(kiln::kernels::fill(yl.data(), 3, &l, 3), kiln::Error);
}

TEST(one_hot_axes) {
  const std::vector<int64_t> idx = {0, 2, -1, 5, -4, 1};  // 5 and -4 are out of range for 3
  const Shape is = {2, 3};
  const int64_t depth = 3;
  const float off = -1.0f, on = 4.0f;
  for (int64_t axis : {-1, 0, 1, 2, -3}) {
    const int64_t a = axis < 0 ? axis + 3 : axis;
    Shape out = is;
    out.insert(out.begin() + a, depth);
    std::vector<float> y(18, 0.0f), want(18);
    for (int64_t i = 0; i < 18; ++i) {
      std::vector<int64_t> o(3);
      int64_t r = i;
      for (int d = 2; d >= 0; --d) o[d] = r % out[d], r /= out[d];
      const int64_t pos = o[a];
      o.erase(o.begin() + a);
      int64_t v = idx[o[0] * 3 + o[1]];
      if (v < 0) v += depth;
      want[i] = v == pos ? on : off;
    }
    kiln::kernels::oneHot(idx.data(), is, depth, axis, &off, &on, sizeof(float), y.data());
    kt::expectEqual("oneHot axis " + std::to_string(axis), y, want);
  }
  std::vector<int64_t> y8(9);
  const int64_t on8 = 1, off8 = 0;
  kiln::kernels::oneHot(idx.data(), {3}, 3, -1, &off8, &on8, 8, y8.data());
  CHECK(y8 == (std::vector<int64_t>{1, 0, 0, 0, 0, 1, 0, 0, 1}));
  CHECK_THROWS(kiln::kernels::oneHot(idx.data(), is, 3, 4, &off, &on, 4, y8.data()), kiln::Error);
}
