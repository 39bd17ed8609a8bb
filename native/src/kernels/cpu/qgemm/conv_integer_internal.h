// Shared by conv_integer.cc and its AVX-512 tile.
#pragma once

#include <cstdint>

#include "kernels/cpu/common/no_coverage.h"

namespace kiln::kernels::isa_avx512 {

// acc[r * 32 + c]: the dot products of 4 weight rows (a, row stride lda words) with 32 im2col
// columns (b, one pair row every ldb int16), over `pairs` K pairs, wrapping modulo 2^32.
void integerConvTile(const int32_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t pairs,
                     int32_t* acc);

}  // namespace kiln::kernels::isa_avx512
