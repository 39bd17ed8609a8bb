// Integer (int32, int64) and bool elementwise ops against per-element references written with
// __int128-free exact arithmetic, including every case C++ would trap on or leave undefined
// (x / 0, INT_MIN / -1, overflow, big shifts).
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kiln/error.h"
#include "kiln/kernels/eltwise.h"

using kiln::kernels::BinaryOp;
using kiln::kernels::CompareOp;
using kiln::kernels::LogicalOp;
using kiln::kernels::Shape;
using kiln::kernels::UnaryOp;
using kt::sourceIndex;
using kt::unravel;

namespace {

// Reference semantics from eltwise.h, written independently of the kernel: floor/trunc division
// via long division on magnitudes, wrapping via unsigned arithmetic.
template <typename T>
T refBinary(BinaryOp op, T a, T b) {
  using U = std::make_unsigned_t<T>;
  const T kMin = std::numeric_limits<T>::min();
  const int bits = static_cast<int>(sizeof(T) * 8);
  switch (op) {
    case BinaryOp::kAdd:
      return static_cast<T>(U(a) + U(b));
    case BinaryOp::kSub:
      return static_cast<T>(U(a) - U(b));
    case BinaryOp::kMul:
      return static_cast<T>(U(a) * U(b));
    case BinaryOp::kDiv: {
      if (b == 0) return 0;
      if (a == kMin && b == -1) return kMin;
      // Truncation toward zero on magnitudes.
      const U ua = a < 0 ? U(0) - U(a) : U(a), ub = b < 0 ? U(0) - U(b) : U(b);
      const U q = ua / ub;
      return ((a < 0) != (b < 0)) ? static_cast<T>(U(0) - q) : static_cast<T>(q);
    }
    case BinaryOp::kFmod:
    case BinaryOp::kMod: {
      if (b == 0) return 0;
      const T q = refBinary(BinaryOp::kDiv, a, b);
      T r = static_cast<T>(U(a) - U(q) * U(b));  // sign of the dividend
      if (op == BinaryOp::kMod && r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(U(r) + U(b));
      return r;
    }
    case BinaryOp::kPow: {
      if (b < 0) return a == 1 ? 1 : a == -1 ? ((b % 2) ? -1 : 1) : 0;
      U r = 1;
      for (T i = 0; i < b; ++i) r *= U(a);
      return static_cast<T>(r);
    }
    case BinaryOp::kMax:
      return a > b ? a : b;
    case BinaryOp::kMin:
      return a < b ? a : b;
    case BinaryOp::kPRelu:
      return a < 0 ? static_cast<T>(U(a) * U(b)) : a;
    case BinaryOp::kShiftLeft:
      return (b < 0 || b >= bits) ? 0 : static_cast<T>(U(a) << b);
    case BinaryOp::kShiftRight:
      return (b < 0 || b >= bits) ? 0 : static_cast<T>(U(a) >> b);
    case BinaryOp::kBitwiseAnd:
      return a & b;
    case BinaryOp::kBitwiseOr:
      return a | b;
    case BinaryOp::kBitwiseXor:
      return a ^ b;
  }
  return 0;
}

const BinaryOp kOps[] = {BinaryOp::kAdd,        BinaryOp::kSub,       BinaryOp::kMul,
                         BinaryOp::kDiv,        BinaryOp::kPow,       BinaryOp::kMax,
                         BinaryOp::kMin,        BinaryOp::kFmod,      BinaryOp::kPRelu,
                         BinaryOp::kMod,        BinaryOp::kShiftLeft, BinaryOp::kShiftRight,
                         BinaryOp::kBitwiseAnd, BinaryOp::kBitwiseOr, BinaryOp::kBitwiseXor};

const std::vector<std::pair<Shape, Shape>> kShapePairs = {
    {{7}, {7}}, {{2, 3, 4}, {4}}, {{2, 1, 4}, {3, 1}}, {{}, {5}}, {{4, 5}, {}}, {{2, 0}, {1}}};

// Values mixing small numbers (so Div/Mod/Pow have interesting results), zeros, -1 and the
// extremes.
template <typename T>
std::vector<T> values(size_t n, uint32_t seed) {
  std::mt19937_64 gen(seed);
  const T specials[] = {0,  -1, 1, std::numeric_limits<T>::min(), std::numeric_limits<T>::max(), 7,
                        -7, 3,  -3};
  std::vector<T> v(n);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t r = gen();
    v[i] = (r % 4 == 0)   ? specials[(r >> 8) % std::size(specials)]
           : (r % 4 == 1) ? static_cast<T>(r >> 11)
                          : static_cast<T>(static_cast<int64_t>((r >> 8) % 41) - 20);
  }
  return v;
}

template <typename T>
void checkAllOps(const char* tname) {
  for (const auto& [as, bs] : kShapePairs)
    for (BinaryOp op : kOps) {
      const Shape out = kiln::kernels::broadcastShapes(as, bs);
      auto a = values<T>(kiln::kernels::shapeSize(as), 11);
      auto b = values<T>(kiln::kernels::shapeSize(bs), 12);
      // Pow only with small exponents (the reference loops); shifts mix in-range amounts.
      if (op == BinaryOp::kPow)
        for (auto& v : b) v = static_cast<T>(v % 9);
      std::vector<T> y(kiln::kernels::shapeSize(out));
      kiln::kernels::binary(op, a.data(), as, b.data(), bs, y.data());
      for (size_t i = 0; i < y.size(); ++i) {
        const auto idx = unravel(static_cast<int64_t>(i), out);
        const T av = a[sourceIndex(out, as, idx)], bv = b[sourceIndex(out, bs, idx)];
        const T want = refBinary(op, av, bv);
        if (y[i] != want) {
          kiln_test::fail(__FILE__, __LINE__,
                          std::string(tname) + " op " + std::to_string(static_cast<int>(op)) +
                              ": " + std::to_string(av) + ", " + std::to_string(bv) + " -> " +
                              std::to_string(y[i]) + " want " + std::to_string(want));
          break;
        }
      }
    }
}

}  // namespace

TEST(int32_binary_all_ops_broadcast) { checkAllOps<int32_t>("int32"); }

TEST(int64_binary_all_ops_broadcast) { checkAllOps<int64_t>("int64"); }

TEST(integer_division_edge_cases) {
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  const std::vector<int64_t> a = {7, -7, 7, -7, 5, kMin, kMin, 0};
  const std::vector<int64_t> b = {2, 2, -2, -2, 0, -1, 1, 3};
  std::vector<int64_t> y(8);
  kiln::kernels::binary(BinaryOp::kDiv, a.data(), {8}, b.data(), {8}, y.data());
  CHECK(y == (std::vector<int64_t>{3, -3, -3, 3, 0, kMin, kMin, 0}));
  kiln::kernels::binary(BinaryOp::kMod, a.data(), {8}, b.data(), {8}, y.data());
  CHECK(y == (std::vector<int64_t>{1, 1, -1, -1, 0, 0, 0, 0}));  // sign of the divisor
  kiln::kernels::binary(BinaryOp::kFmod, a.data(), {8}, b.data(), {8}, y.data());
  CHECK(y == (std::vector<int64_t>{1, -1, 1, -1, 0, 0, 0, 0}));  // sign of the dividend
  const std::vector<int32_t> p = {2, -2, 2, 1, -1}, e = {10, 3, -1, -5, -3};
  std::vector<int32_t> yp(5);
  kiln::kernels::binary(BinaryOp::kPow, p.data(), {5}, e.data(), {5}, yp.data());
  CHECK(yp == (std::vector<int32_t>{1024, -8, 0, 1, -1}));
  CHECK_THROWS(kiln::kernels::binary(BinaryOp::kAdd, p.data(), {5}, e.data(), {4}, yp.data()),
               kiln::Error);
}

TEST(integer_compare_and_bool_ops) {
  const std::vector<int64_t> a = {1, 5, -3, INT64_MAX}, b = {5};
  std::vector<uint8_t> y(4);
  kiln::kernels::compare(CompareOp::kLess, a.data(), {4}, b.data(), {1}, y.data());
  CHECK(y == (std::vector<uint8_t>{1, 0, 1, 0}));
  kiln::kernels::compare(CompareOp::kGreaterOrEqual, a.data(), {4}, b.data(), {1}, y.data());
  CHECK(y == (std::vector<uint8_t>{0, 1, 0, 1}));
  const std::vector<int32_t> c = {1, 2, 3, 4}, d = {4, 2, 3, 1};
  kiln::kernels::compare(CompareOp::kEqual, c.data(), {4}, d.data(), {4}, y.data());
  CHECK(y == (std::vector<uint8_t>{0, 1, 1, 0}));
  kiln::kernels::compare(CompareOp::kGreater, c.data(), {2, 2}, d.data(), {2, 2}, y.data());
  CHECK(y == (std::vector<uint8_t>{0, 0, 0, 1}));
  kiln::kernels::compare(CompareOp::kLessOrEqual, c.data(), {4}, d.data(), {4}, y.data());
  CHECK(y == (std::vector<uint8_t>{1, 1, 1, 0}));
  const std::vector<uint8_t> p = {0, 1, 0, 2}, q = {0, 0, 1, 1};
  kiln::kernels::compare(CompareOp::kEqual, p.data(), {4}, q.data(), {4}, y.data());
  CHECK(y == (std::vector<uint8_t>{1, 0, 0, 0}));
  kiln::kernels::logical(LogicalOp::kAnd, p.data(), {4}, q.data(), {4}, y.data());
  CHECK(y == (std::vector<uint8_t>{0, 0, 0, 1}));  // 2 counts as true
  kiln::kernels::logical(LogicalOp::kOr, p.data(), {4}, q.data(), {4}, y.data());
  CHECK(y == (std::vector<uint8_t>{0, 1, 1, 1}));
  kiln::kernels::logical(LogicalOp::kXor, p.data(), {4}, q.data(), {4}, y.data());
  CHECK(y == (std::vector<uint8_t>{0, 1, 1, 0}));
  // Broadcast: [2,1] against [2].
  std::vector<uint8_t> y4(4);
  kiln::kernels::logical(LogicalOp::kOr, p.data(), {2, 1}, q.data() + 1, {2}, y4.data());
  CHECK(y4 == (std::vector<uint8_t>{0, 1, 1, 1}));
  kiln::kernels::logicalNot(p.data(), y.data(), 4);
  CHECK(y == (std::vector<uint8_t>{1, 0, 1, 0}));
}

TEST(integer_unary) {
  const std::vector<int32_t> x = {0, -5, 7, INT32_MIN, INT32_MAX};
  std::vector<int32_t> y(5);
  kiln::kernels::unary(UnaryOp::kNeg, x.data(), y.data(), 5);
  CHECK(y == (std::vector<int32_t>{0, 5, -7, INT32_MIN, -INT32_MAX}));
  kiln::kernels::unary(UnaryOp::kAbs, x.data(), y.data(), 5);
  CHECK(y == (std::vector<int32_t>{0, 5, 7, INT32_MIN, INT32_MAX}));
  kiln::kernels::unary(UnaryOp::kSign, x.data(), y.data(), 5);
  CHECK(y == (std::vector<int32_t>{0, -1, 1, -1, 1}));
  const std::vector<int64_t> x64 = {-3, 4};
  std::vector<int64_t> y64(2);
  kiln::kernels::unary(UnaryOp::kRelu, x64.data(), y64.data(), 2);
  CHECK(y64 == (std::vector<int64_t>{0, 4}));
  CHECK_THROWS(kiln::kernels::unary(UnaryOp::kExp, x64.data(), y64.data(), 2), kiln::Error);
  // Shifts and bitwise ops are integer-only.
  std::vector<float> f = {1, 2};
  CHECK_THROWS(kiln::kernels::binary(BinaryOp::kShiftLeft, f.data(), {2}, f.data(), {2}, f.data()),
               kiln::Error);
}
