#include "kiln/dtype.h"

#include <cstring>

#include "half_convert_isa.h"
#include "kiln/cpu_features.h"

namespace kiln {

bool isValidDataType(int32_t value) {
  switch (static_cast<DataType>(value)) {
    case DataType::kFloat32:
    case DataType::kUInt8:
    case DataType::kInt8:
    case DataType::kInt32:
    case DataType::kInt64:
    case DataType::kBool:
    case DataType::kFloat16:
    case DataType::kBFloat16:
      return true;
  }
  return false;
}

size_t dataTypeSize(DataType type) {
  switch (type) {
    case DataType::kFloat32:
      return 4;
    case DataType::kUInt8:
      return 1;
    case DataType::kInt8:
      return 1;
    case DataType::kInt32:
      return 4;
    case DataType::kInt64:
      return 8;
    case DataType::kBool:
      return 1;
    case DataType::kFloat16:
      return 2;
    case DataType::kBFloat16:
      return 2;
  }
  return 0;
}

const char* dataTypeName(DataType type) {
  switch (type) {
    case DataType::kFloat32:
      return "float32";
    case DataType::kUInt8:
      return "uint8";
    case DataType::kInt8:
      return "int8";
    case DataType::kInt32:
      return "int32";
    case DataType::kInt64:
      return "int64";
    case DataType::kBool:
      return "bool";
    case DataType::kFloat16:
      return "float16";
    case DataType::kBFloat16:
      return "bfloat16";
  }
  return "unknown";
}

namespace {
uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float bitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
}  // namespace

// IEEE binary16 with round-to-nearest-even, subnormals kept, NaN stays NaN (quiet).
uint16_t floatToHalf(float value) {
  const uint32_t x = floatBits(value);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) {  // Inf or NaN
    return static_cast<uint16_t>(sign | 0x7c00u |
                                 (absx > 0x7f800000u ? 0x0200u | ((absx >> 13) & 0x3ffu) : 0));
  }
  if (absx >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds past 65504
  if (absx < 0x38800000u) {  // below the smallest normal half: subnormal or zero
    if (absx < 0x33000000u) return static_cast<uint16_t>(sign);  // rounds to zero
    const uint32_t mant = (absx & 0x7fffffu) | 0x800000u;
    const int shift = 126 - static_cast<int>(absx >> 23);  // 14..24
    const uint32_t half = mant >> shift;
    const uint32_t rest = mant & ((1u << shift) - 1);
    const uint32_t mid = 1u << (shift - 1);
    const uint32_t rounded = half + ((rest > mid || (rest == mid && (half & 1u))) ? 1u : 0u);
    return static_cast<uint16_t>(sign | rounded);
  }
  const uint32_t rebias = absx - 0x38000000u;  // exponent 127 -> 15
  const uint32_t half = rebias >> 13;
  const uint32_t rest = rebias & 0x1fffu;
  const uint32_t rounded = half + ((rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ? 1u : 0u);
  return static_cast<uint16_t>(sign | rounded);
}

float halfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return bitsFloat(sign | 0x7f800000u | (mant << 13));
  if (exp == 0) {
    if (mant == 0) return bitsFloat(sign);
    int e = -1;  // normalise the subnormal
    do {
      ++e;
      mant <<= 1;
    } while ((mant & 0x400u) == 0);
    return bitsFloat(sign | static_cast<uint32_t>(112 - e) << 23 | (mant & 0x3ffu) << 13);
  }
  return bitsFloat(sign | (exp + 112) << 23 | mant << 13);
}

uint16_t floatToBFloat16(float value) {
  const uint32_t x = floatBits(value);
  if ((x & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  const uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>((x + rounding) >> 16);
}

float bfloat16ToFloat(uint16_t value) { return bitsFloat(static_cast<uint32_t>(value) << 16); }

void convertFloatToHalf(const float* src, uint16_t* dst, size_t count) {
  size_t done = 0;
  const CpuIsa isa = activeIsa();
  if (isa == CpuIsa::kAvx512)
    done = isa_avx512::floatToHalf(src, dst, count);
  else if (isa == CpuIsa::kAvx2)
    done = isa_avx2::floatToHalf(src, dst, count);
  for (size_t i = done; i < count; ++i) dst[i] = floatToHalf(src[i]);
}

void convertHalfToFloat(const uint16_t* src, float* dst, size_t count) {
  size_t done = 0;
  const CpuIsa isa = activeIsa();
  if (isa == CpuIsa::kAvx512)
    done = isa_avx512::halfToFloat(src, dst, count);
  else if (isa == CpuIsa::kAvx2)
    done = isa_avx2::halfToFloat(src, dst, count);
  for (size_t i = done; i < count; ++i) dst[i] = halfToFloat(src[i]);
}

// bf16 is a plain bit manipulation that compilers vectorise well at the baseline ISA.
void convertFloatToBFloat16(const float* src, uint16_t* dst, size_t count) {
  for (size_t i = 0; i < count; ++i) dst[i] = floatToBFloat16(src[i]);
}

void convertBFloat16ToFloat(const uint16_t* src, float* dst, size_t count) {
  for (size_t i = 0; i < count; ++i) dst[i] = bfloat16ToFloat(src[i]);
}

}  // namespace kiln
