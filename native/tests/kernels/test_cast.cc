// Cast between every pair of the eight dtypes against a scalar reference written from the
// documented semantics, plus hand-computed spot checks of each rule (truncation, saturation,
// wrapping, bool, exact int64 <-> float).
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kiln/dtype.h"
#include "kiln/error.h"
#include "kiln/kernels/cast.h"

using kiln::DataType;

namespace {

const DataType kTypes[] = {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16,
                           DataType::kInt8,    DataType::kUInt8,   DataType::kInt32,
                           DataType::kInt64,   DataType::kBool};

bool isFloat(DataType t) {
  return t == DataType::kFloat32 || t == DataType::kFloat16 || t == DataType::kBFloat16;
}

// A source value: floats as double (exactly), integers and bool as int64.
struct Value {
  bool isFloat;
  double f;
  int64_t i;
};

Value readValue(const std::vector<uint8_t>& buf, DataType t, size_t k) {
  const uint8_t* p = &buf[k * kiln::dataTypeSize(t)];
  switch (t) {
    case DataType::kFloat32: {
      float v;
      std::memcpy(&v, p, 4);
      return {true, v, 0};
    }
    case DataType::kFloat16: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return {true, kiln::halfToFloat(v), 0};
    }
    case DataType::kBFloat16: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return {true, kiln::bfloat16ToFloat(v), 0};
    }
    case DataType::kInt8:
      return {false, 0, static_cast<int8_t>(*p)};
    case DataType::kUInt8:
      return {false, 0, *p};
    case DataType::kInt32: {
      int32_t v;
      std::memcpy(&v, p, 4);
      return {false, 0, v};
    }
    case DataType::kInt64: {
      int64_t v;
      std::memcpy(&v, p, 8);
      return {false, 0, v};
    }
    case DataType::kBool:
      return {false, 0, *p != 0};
  }
  return {false, 0, 0};
}

// Reference integer conversion: floats truncate then saturate to [lo, hi], NaN -> 0; integers
// wrap modulo 2^bits.
int64_t refToInt(const Value& v, int bits, bool isSigned) {
  if (v.isFloat) {
    if (std::isnan(v.f)) return 0;
    const double t = std::trunc(v.f);
    const double hi = std::ldexp(1.0, isSigned ? bits - 1 : bits);
    const double lo = isSigned ? -hi : 0.0;
    if (t >= hi)
      // INT64_MAX has no double: converting 2^63 back to int64 would be undefined.
      return isSigned && bits == 64 ? INT64_MAX : static_cast<int64_t>(hi - 1);
    if (t < lo) return isSigned ? (bits == 64 ? INT64_MIN : static_cast<int64_t>(lo)) : 0;
    return static_cast<int64_t>(t);
  }
  if (bits == 64) return v.i;
  const uint64_t mask = (uint64_t{1} << bits) - 1;
  const uint64_t u = static_cast<uint64_t>(v.i) & mask;
  if (isSigned && (u >> (bits - 1))) return static_cast<int64_t>(u) - (int64_t{1} << bits);
  return static_cast<int64_t>(u);
}

// Writes the expected bytes of v converted to t.
void refWrite(const Value& v, DataType t, uint8_t* out) {
  const float asFloat = v.isFloat ? static_cast<float>(v.f) : static_cast<float>(v.i);
  switch (t) {
    case DataType::kFloat32:
      std::memcpy(out, &asFloat, 4);
      return;
    case DataType::kFloat16: {
      const uint16_t h = kiln::floatToHalf(asFloat);
      std::memcpy(out, &h, 2);
      return;
    }
    case DataType::kBFloat16: {
      const uint16_t h = kiln::floatToBFloat16(asFloat);
      std::memcpy(out, &h, 2);
      return;
    }
    case DataType::kInt8:
      *out = static_cast<uint8_t>(refToInt(v, 8, true));
      return;
    case DataType::kUInt8:
      *out = static_cast<uint8_t>(refToInt(v, 8, false));
      return;
    case DataType::kInt32: {
      const int32_t r = static_cast<int32_t>(refToInt(v, 32, true));
      std::memcpy(out, &r, 4);
      return;
    }
    case DataType::kInt64: {
      const int64_t r = refToInt(v, 64, true);
      std::memcpy(out, &r, 8);
      return;
    }
    case DataType::kBool:
      *out = v.isFloat ? (v.f != 0 || std::isnan(v.f)) : (v.i != 0);
      return;
  }
}

// Source data: special values first (zeros, NaN, infinities, range edges), then random values
// spread over many magnitudes; long enough to cross the kernel's staging blocks and threads.
std::vector<uint8_t> sourceData(DataType t, size_t n) {
  std::mt19937_64 gen(static_cast<uint64_t>(t) * 977);
  std::vector<uint8_t> buf(n * kiln::dataTypeSize(t));
  const double specials[] = {0.0,         -0.0,
                             NAN,         INFINITY,
                             -INFINITY,   1.0,
                             -1.0,        0.5,
                             -0.5,        1.99,
                             -1.99,       127.5,
                             128.0,       -128.9,
                             -129.0,      255.9,
                             256.0,       65504.0,
                             1e5,         -3e9,
                             3e9,         2147483647,
                             -2147483648, 9.3e18,
                             -9.3e18,     9007199254740993.0,
                             1e-40,       -7.0};
  const int64_t intSpecials[] = {0,         1,         -1,
                                 127,       128,       -128,
                                 -129,      255,       256,
                                 300,       -300,      65535,
                                 INT32_MAX, INT32_MIN, int64_t{1} << 40,
                                 INT64_MAX, INT64_MIN, (int64_t{1} << 53) + 1,
                                 16777217};
  for (size_t k = 0; k < n; ++k) {
    uint8_t* p = &buf[k * kiln::dataTypeSize(t)];
    const uint64_t r = gen();
    const double mag = std::ldexp(static_cast<double>(r % 100000) / 1000.0 - 50.0,
                                  static_cast<int>((r >> 20) % 40) - 10);
    const double f = k < std::size(specials) ? specials[k] : mag;
    const int64_t i =
        k < std::size(intSpecials) ? intSpecials[k] : static_cast<int64_t>(r) >> ((r >> 58) % 60);
    switch (t) {
      case DataType::kFloat32: {
        const float v = static_cast<float>(f);
        std::memcpy(p, &v, 4);
        break;
      }
      case DataType::kFloat16: {
        const uint16_t v = kiln::floatToHalf(static_cast<float>(f));
        std::memcpy(p, &v, 2);
        break;
      }
      case DataType::kBFloat16: {
        const uint16_t v = kiln::floatToBFloat16(static_cast<float>(f));
        std::memcpy(p, &v, 2);
        break;
      }
      case DataType::kInt8:
      case DataType::kUInt8:
        *p = static_cast<uint8_t>(i);
        break;
      case DataType::kBool:
        *p = static_cast<uint8_t>(k % 3 == 0 ? 0 : (k % 3 == 1 ? 1 : i));  // odd bytes too
        break;
      case DataType::kInt32: {
        const int32_t v = static_cast<int32_t>(i);
        std::memcpy(p, &v, 4);
        break;
      }
      case DataType::kInt64:
        std::memcpy(p, &i, 8);
        break;
    }
  }
  return buf;
}

template <typename D, typename S>
D castOne(S v, DataType from, DataType to) {
  D out{};
  kiln::kernels::cast(&v, from, &out, to, 1);
  return out;
}

}  // namespace

TEST(cast_every_pair_matches_reference) {
  const size_t n = 5000;
  kt::forEachIsa([&](kiln::CpuIsa isa) {
    for (DataType from : kTypes) {
      const auto src = sourceData(from, n);
      for (DataType to : kTypes) {
        const size_t es = kiln::dataTypeSize(to);
        std::vector<uint8_t> got(n * es, 0xEE), want(n * es);
        kiln::kernels::cast(src.data(), from, got.data(), to, n);
        for (size_t k = 0; k < n; ++k) refWrite(readValue(src, from, k), to, &want[k * es]);
        for (size_t k = 0; k < n; ++k) {
          if (std::memcmp(&got[k * es], &want[k * es], es) != 0) {
            // NaN to a float format may differ only in payload; both must still be NaN.
            if (isFloat(to) && isFloat(from) && std::isnan(readValue(src, from, k).f) &&
                std::isnan(readValue(got, to, k).f))
              continue;
            kiln_test::fail(__FILE__, __LINE__,
                            kt::isaTag(isa) + "cast " + kiln::dataTypeName(from) + " -> " +
                                kiln::dataTypeName(to) + " at " + std::to_string(k));
            break;
          }
        }
      }
    }
  });
}

TEST(cast_documented_rules) {
  using F = DataType;
  CHECK_EQ(castOne<int32_t>(-1.7f, F::kFloat32, F::kInt32), -1);  // toward zero
  CHECK_EQ(castOne<int32_t>(1.7f, F::kFloat32, F::kInt32), 1);
  CHECK_EQ(castOne<int32_t>(3e9f, F::kFloat32, F::kInt32), INT32_MAX);  // saturates
  CHECK_EQ(castOne<int32_t>(-3e9f, F::kFloat32, F::kInt32), INT32_MIN);
  CHECK_EQ(castOne<int32_t>(NAN, F::kFloat32, F::kInt32), 0);
  CHECK_EQ(castOne<uint8_t>(-1.5f, F::kFloat32, F::kUInt8), 0);
  CHECK_EQ(castOne<uint8_t>(300.0f, F::kFloat32, F::kUInt8), 255);
  CHECK_EQ(castOne<int8_t>(-200.0f, F::kFloat32, F::kInt8), -128);
  CHECK_EQ(castOne<int64_t>(1e19f, F::kFloat32, F::kInt64), INT64_MAX);
  CHECK_EQ(castOne<int64_t>(-9.223372036854775808e18f, F::kFloat32, F::kInt64), INT64_MIN);
  CHECK_EQ(castOne<uint8_t>(int32_t{300}, F::kInt32, F::kUInt8), 44);  // wraps
  CHECK_EQ(castOne<int8_t>(int32_t{200}, F::kInt32, F::kInt8), -56);
  CHECK_EQ(castOne<int32_t>(INT64_MAX, F::kInt64, F::kInt32), -1);
  CHECK_EQ(castOne<uint8_t>(NAN, F::kFloat32, F::kBool), 1);
  CHECK_EQ(castOne<uint8_t>(-0.0f, F::kFloat32, F::kBool), 0);
  CHECK_EQ(castOne<uint8_t>(int64_t{-5}, F::kInt64, F::kBool), 1);
  CHECK_EQ(castOne<float>(uint8_t{9}, F::kBool, F::kFloat32), 1.0f);
  CHECK_EQ(castOne<int64_t>(uint8_t{9}, F::kBool, F::kInt64), 1);
  // int64 <-> float: exact where representable, nearest otherwise.
  CHECK_EQ(castOne<float>(int64_t{16777216}, F::kInt64, F::kFloat32), 16777216.0f);
  CHECK_EQ(castOne<float>(int64_t{16777217}, F::kInt64, F::kFloat32), 16777216.0f);
  CHECK_EQ(castOne<int64_t>(16777216.0f, F::kFloat32, F::kInt64), 16777216);
  CHECK_EQ(castOne<int64_t>(-4.0e15f, F::kFloat32, F::kInt64), -3999999947964416);
  // float16 / bfloat16 both ways.
  CHECK_EQ(castOne<uint16_t>(int32_t{70000}, F::kInt32, F::kFloat16), 0x7c00);       // +inf
  CHECK_EQ(castOne<int32_t>(uint16_t{0xc0a0}, F::kFloat16, F::kInt32), -2);          // -2.5
  CHECK_EQ(castOne<uint16_t>(uint16_t{0x3c00}, F::kFloat16, F::kBFloat16), 0x3f80);  // 1.0
  CHECK_EQ(castOne<uint8_t>(uint16_t{0x8000}, F::kBFloat16, F::kBool), 0);           // -0
  // In place between equal sizes works; between different sizes it is refused.
  std::vector<int32_t> v = {1, -2, 3};
  kiln::kernels::cast(v.data(), F::kInt32, v.data(), F::kFloat32, 3);
  float f[3];
  std::memcpy(f, v.data(), sizeof f);
  CHECK(f[0] == 1.0f && f[1] == -2.0f && f[2] == 3.0f);
  CHECK_THROWS(kiln::kernels::cast(v.data(), F::kInt32, v.data(), F::kInt64, 3), kiln::Error);
  CHECK_THROWS(kiln::kernels::cast(v.data(), static_cast<F>(5), f, F::kFloat32, 3), kiln::Error);
}
