// 8-bit max pooling with AVX-512BW, one output row at a time: the max over the window's input
// rows into a padded row buffer (64 columns per vector), then the max over its horizontal taps
// as shifted unaligned loads of that buffer; stride 2 keeps the even bytes of each 128-column
// result with one pack and one permute. The portable two-pass kernel in qpool.cc split every
// input row into stride phases first, which cost more than the maxima (ResNet-50's pool).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/qgemm/quantize_internal.h"

namespace kiln::kernels::qgemm {
namespace {

// Padded columns some output reads: [0, span).
int64_t rowSpan(const Pool2dParams& p, int64_t ow) {
  return (ow - 1) * p.strideW + (p.kernelW - 1) * p.dilationW + 1;
}

inline __mmask64 firstBytes(int64_t n) {
  return n >= 64 ? ~__mmask64{0} : n <= 0 ? __mmask64{0} : (__mmask64{1} << n) - 1;
}

template <bool Signed>
inline __m512i vmax(__m512i a, __m512i b) {
  if constexpr (Signed)
    return _mm512_max_epi8(a, b);
  else
    return _mm512_max_epu8(a, b);
}

// The even bytes of a then b, in order (packus works within 128-bit lanes; the permute puts
// the lanes' 8-byte halves back in sequence).
inline __m512i evenBytes(__m512i a, __m512i b) {
  const __m512i low = _mm512_set1_epi16(0x00FF);
  const __m512i packed = _mm512_packus_epi16(_mm512_and_si512(a, low), _mm512_and_si512(b, low));
  return _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7), packed);
}

template <bool Signed>
inline __m512i tapsMax(const Pool2dParams& p, const uint8_t* at) {
  __m512i m = _mm512_loadu_si512(at);
  for (int64_t kx = 1; kx < p.kernelW; ++kx)
    m = vmax<Signed>(m, _mm512_loadu_si512(at + kx * p.dilationW));
  return m;
}

template <bool Signed>
void planes(const Pool2dParams& p, const uint8_t* x, uint8_t* y, int64_t begin, int64_t end,
            int64_t oh, int64_t ow, uint8_t* row, uint8_t* h) {
  const int64_t span = rowSpan(p, ow), s = p.strideW;
  // Input columns [c0, c1) land in the buffer at padLeft + column; the rest of it stays the
  // type's lowest value, which never wins a max.
  const int64_t c0 = std::max<int64_t>(0, -p.padLeft);
  const int64_t c1 = std::max(c0, std::min(p.inW, span - p.padLeft));
  const uint8_t lowest = Signed ? 0x80 : 0x00;
  std::memset(row, lowest, static_cast<size_t>(maxPoolAvx512RowBytes(p, ow)));
  uint8_t* copied = row + p.padLeft + c0;
  const __m512i low = _mm512_set1_epi8(static_cast<char>(lowest));
  for (int64_t plane = begin; plane < end; ++plane) {
    const uint8_t* src = x + plane * p.inH * p.inW + c0;
    uint8_t* dst = y + plane * oh * ow;
    for (int64_t oy = 0; oy < oh; ++oy, dst += ow) {
      const uint8_t* rows[64];
      int64_t count = 0;
      for (int64_t ky = 0; ky < p.kernelH; ++ky) {
        const int64_t iy = oy * p.strideH - p.padTop + ky * p.dilationH;
        if (iy >= 0 && iy < p.inH) rows[count++] = src + iy * p.inW;
      }
      for (int64_t j = 0; j < c1 - c0; j += 64) {
        const __mmask64 m = firstBytes(c1 - c0 - j);
        __m512i v = low;
        for (int64_t r = 0; r < count; ++r)
          v = vmax<Signed>(v, _mm512_maskz_loadu_epi8(m, rows[r] + j));
        _mm512_mask_storeu_epi8(copied + j, m, v);
      }
      if (s == 1) {
        for (int64_t i = 0; i < ow; i += 64)
          _mm512_mask_storeu_epi8(dst + i, firstBytes(ow - i), tapsMax<Signed>(p, row + i));
      } else if (s == 2) {
        for (int64_t o = 0; o < ow; o += 64) {
          const __m512i e =
              evenBytes(tapsMax<Signed>(p, row + 2 * o), tapsMax<Signed>(p, row + 2 * o + 64));
          _mm512_mask_storeu_epi8(dst + o, firstBytes(ow - o), e);
        }
      } else {
        for (int64_t i = 0; i < span; i += 64)
          _mm512_storeu_si512(h + i, tapsMax<Signed>(p, row + i));
        for (int64_t o = 0; o < ow; ++o) dst[o] = h[o * s];
      }
    }
  }
}

}  // namespace

int64_t maxPoolAvx512RowBytes(const Pool2dParams& p, int64_t ow) {
  // Loads of 128 columns from below span, each reaching (kernelW - 1) * dilationW further.
  return rowSpan(p, ow) + 128 + (p.kernelW - 1) * p.dilationW;
}

int64_t maxPoolAvx512Bytes(const Pool2dParams& p, int64_t ow) {
  return maxPoolAvx512RowBytes(p, ow) + rowSpan(p, ow) + 64;
}

void maxPoolPlanesAvx512(const Pool2dParams& p, const void* x, bool isSigned, void* y,
                         int64_t begin, int64_t end, int64_t oh, int64_t ow, uint8_t* scratch) {
  uint8_t* h = scratch + maxPoolAvx512RowBytes(p, ow);
  const auto* in = static_cast<const uint8_t*>(x);
  auto* out = static_cast<uint8_t*>(y);
  if (isSigned)
    planes<true>(p, in, out, begin, end, oh, ow, scratch, h);
  else
    planes<false>(p, in, out, begin, end, oh, ow, scratch, h);
}

}  // namespace kiln::kernels::qgemm
