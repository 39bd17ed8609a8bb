#include <cstring>
#include <random>
#include <vector>

#include "kiln/cpu_features.h"
#include "kiln/dtype.h"
#include "kiln_test.h"

using namespace kiln;

static float fromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

TEST(sizes_and_names) {
  CHECK_EQ(dataTypeSize(DataType::kFloat32), 4u);
  CHECK_EQ(dataTypeSize(DataType::kFloat16), 2u);
  CHECK_EQ(dataTypeSize(DataType::kBFloat16), 2u);
  CHECK_EQ(dataTypeSize(DataType::kInt64), 8u);
  CHECK_EQ(dataTypeSize(DataType::kBool), 1u);
  CHECK_EQ(std::string(dataTypeName(DataType::kBFloat16)), "bfloat16");
  CHECK(isValidDataType(1));
  CHECK(!isValidDataType(4));  // uint16 is not supported by the core
  CHECK(!isValidDataType(0));
}

TEST(half_known_values) {
  CHECK_EQ(floatToHalf(1.0f), 0x3c00);
  CHECK_EQ(floatToHalf(-2.0f), 0xc000);
  CHECK_EQ(floatToHalf(65504.0f), 0x7bff);
  CHECK_EQ(floatToHalf(65520.0f), 0x7c00);  // halfway to the next power rounds to infinity
  CHECK_EQ(floatToHalf(65519.0f), 0x7bff);
  CHECK_EQ(floatToHalf(5.9604644775390625e-08f), 0x0001);   // smallest subnormal
  CHECK_EQ(floatToHalf(2.98023223876953125e-08f), 0x0000);  // exactly half of it: ties to even
  CHECK_EQ(floatToHalf(-0.0f), 0x8000);
  CHECK_EQ(floatToHalf(1.0f + 1.0f / 2048), 0x3c00);               // tie, round to even
  CHECK_EQ(floatToHalf(1.0f + 3.0f / 2048), 0x3c02);               // tie, round to even (up)
  CHECK((floatToHalf(fromBits(0x7fc00000u)) & 0x7e00) == 0x7e00);  // NaN stays a quiet NaN
  CHECK_EQ(halfToFloat(0x3555), 0.333251953125f);
  CHECK_EQ(halfToFloat(0x0001), 5.9604644775390625e-08f);
}

TEST(half_roundtrip_exhaustive) {
  int bad = 0;
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    const bool nan = (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0;
    if (nan) continue;
    if (floatToHalf(halfToFloat(static_cast<uint16_t>(h))) != h) ++bad;
  }
  CHECK_EQ(bad, 0);
}

// Every instruction-set tier must give the scalar result, specials and subnormals included.
TEST(half_bulk_every_isa_matches_scalar) {
  std::mt19937 rng(7);
  std::vector<float> src;
  const uint32_t specials[] = {0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u,
                               0x33000000u, 0x33000001u, 0x387fffffu, 0x477fefffu, 0x477ff000u};
  for (uint32_t s : specials) src.push_back(fromBits(s));
  std::uniform_int_distribution<uint32_t> any;
  for (int i = 0; i < 100000; ++i) {
    // Bias towards the half range so that rounding is exercised, not only overflow.
    uint32_t bits = any(rng);
    if (i % 2) bits = (bits & 0x807fffffu) | ((100u + bits % 50u) << 23);
    src.push_back(fromBits(bits));
  }
  std::vector<uint16_t> expected(src.size());
  for (size_t i = 0; i < src.size(); ++i) expected[i] = floatToHalf(src[i]);
  std::vector<float> back(src.size());
  for (size_t i = 0; i < src.size(); ++i) back[i] = halfToFloat(expected[i]);

  const CpuIsa original = activeIsa();
  for (CpuIsa isa : {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512}) {
    if (setActiveIsa(isa), activeIsa() != isa) continue;  // the CPU lacks this tier
    std::vector<uint16_t> got(src.size());
    convertFloatToHalf(src.data(), got.data(), src.size());
    int mismatches = 0;
    for (size_t i = 0; i < src.size(); ++i) {
      const bool nan = (expected[i] & 0x7c00u) == 0x7c00u && (expected[i] & 0x3ffu) != 0;
      if (nan ? !((got[i] & 0x7c00u) == 0x7c00u && (got[i] & 0x3ffu) != 0)
              : got[i] != expected[i]) {
        ++mismatches;
      }
    }
    CHECK_EQ(mismatches, 0);
    std::vector<float> gotBack(src.size());
    convertHalfToFloat(expected.data(), gotBack.data(), src.size());
    CHECK(std::memcmp(gotBack.data(), back.data(), back.size() * 4) == 0);
  }
  setActiveIsa(original);
}

TEST(bfloat16_rounding) {
  CHECK_EQ(floatToBFloat16(1.0f), 0x3f80);
  CHECK_EQ(floatToBFloat16(fromBits(0x3f808000u)), 0x3f80);  // tie to even (down)
  CHECK_EQ(floatToBFloat16(fromBits(0x3f818000u)), 0x3f82);  // tie to even (up)
  CHECK_EQ(floatToBFloat16(fromBits(0x3f808001u)), 0x3f81);
  CHECK_EQ(floatToBFloat16(fromBits(0x7f800000u)), 0x7f80);
  CHECK((floatToBFloat16(fromBits(0x7f800001u)) & 0x7f80) == 0x7f80);
  CHECK((floatToBFloat16(fromBits(0x7f800001u)) & 0x7f) != 0);  // NaN not turned into Inf
  CHECK_EQ(bfloat16ToFloat(0xc040), -3.0f);
  std::vector<float> src{1.5f, -2.25f, 3.0e38f};
  std::vector<uint16_t> dst(3);
  convertFloatToBFloat16(src.data(), dst.data(), 3);
  std::vector<float> back(3);
  convertBFloat16ToFloat(dst.data(), back.data(), 3);
  CHECK_EQ(back[0], 1.5f);
  CHECK_EQ(back[1], -2.25f);
  CHECK(std::fabs(back[2] - 3.0e38f) / 3.0e38f < 1.0f / 128);
}
