// Vector fp16 conversions, one translation unit per instruction set (compiled with its flags).
// Each returns how many elements it converted; the caller finishes the tail in scalar code.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kiln {
namespace isa_avx2 {
size_t floatToHalf(const float* src, uint16_t* dst, size_t count);
size_t halfToFloat(const uint16_t* src, float* dst, size_t count);
}  // namespace isa_avx2
namespace isa_avx512 {
size_t floatToHalf(const float* src, uint16_t* dst, size_t count);
size_t halfToFloat(const uint16_t* src, float* dst, size_t count);
}  // namespace isa_avx512
}  // namespace kiln
