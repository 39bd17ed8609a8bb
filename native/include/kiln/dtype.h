// Element types and the fp32 <-> fp16 / bf16 conversions every layer above relies on.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kiln {

// Numeric values match the ONNX TensorProto.DataType enum so that plans and models agree.
enum class DataType : int32_t {
  kFloat32 = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kInt32 = 6,
  kInt64 = 7,
  kBool = 9,
  kFloat16 = 10,
  kBFloat16 = 16,
};

bool isValidDataType(int32_t value);
size_t dataTypeSize(DataType type);
const char* dataTypeName(DataType type);

uint16_t floatToHalf(float value);
float halfToFloat(uint16_t value);
uint16_t floatToBFloat16(float value);
float bfloat16ToFloat(uint16_t value);

// Bulk conversions, dispatched at run time to the best instruction set the CPU has.
void convertFloatToHalf(const float* src, uint16_t* dst, size_t count);
void convertHalfToFloat(const uint16_t* src, float* dst, size_t count);
void convertFloatToBFloat16(const float* src, uint16_t* dst, size_t count);
void convertBFloat16ToFloat(const uint16_t* src, float* dst, size_t count);

}  // namespace kiln
