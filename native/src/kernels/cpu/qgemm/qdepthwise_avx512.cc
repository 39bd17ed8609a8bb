// Depthwise 8-bit convolution of one channel with AVX-512: 16 output columns per vector, each
// tap a widening load and one vpmaddwd (weight in the low 16 bits, so the product is exact),
// strides 1 and 2 loaded directly, other strides through the portable loops.
#include <immintrin.h>

#include "kernels/cpu/qgemm/qdepthwise_impl.h"

namespace kiln::kernels::qgemm {
namespace {

inline __mmask16 tailMask(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1);
}

// 16 taps at columns x, x + s, ... (s = 1 or 2) as int32, masked to n columns.
template <int S>
inline __m512i loadTaps(const uint8_t* src, int64_t n) {
  if constexpr (S == 1) {
    return _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(tailMask(n), src));
  } else {
    // 16 byte pairs; the low byte of each is the tap.
    const __m256i pairs = _mm256_maskz_loadu_epi16(tailMask(n), src);
    return _mm512_and_si512(_mm512_cvtepu16_epi32(pairs), _mm512_set1_epi32(0xFF));
  }
}

template <int S>
void channel(const QConv2dParams& p, const uint8_t* plane, int64_t pw, const int8_t* filter,
             int32_t bias, float scale, const QRequant& rq, int64_t oh, int64_t ow, uint8_t* out) {
  const int64_t taps = p.kernelH * p.kernelW;
  __m512i w[64];
  for (int64_t t = 0; t < taps; ++t) w[t] = _mm512_set1_epi32(filter[t] & 0xFFFF);
  const __m512 vscale = _mm512_set1_ps(scale);
  const __m512i lo = _mm512_set1_epi32(rq.lo), hi = _mm512_set1_epi32(rq.hi);
  const __m512i zero = _mm512_set1_epi32(rq.zeroPoint);
  for (int64_t y = 0; y < oh; ++y) {
    for (int64_t x = 0; x < ow; x += 16) {
      const int64_t n = ow - x;
      __m512i acc = _mm512_set1_epi32(bias);
      for (int64_t ky = 0; ky < p.kernelH; ++ky) {
        const uint8_t* row = plane + (y * p.strideH + ky * p.dilationH) * pw + x * S;
        for (int64_t kx = 0; kx < p.kernelW; ++kx) {
          const __m512i v = loadTaps<S>(row + kx * p.dilationW, n);
          acc = _mm512_add_epi32(acc, _mm512_madd_epi16(v, w[ky * p.kernelW + kx]));
        }
      }
      __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), vscale);
      f = _mm512_max_ps(_mm512_min_ps(f, _mm512_set1_ps(kRequantBound)),
                        _mm512_set1_ps(-kRequantBound));
      __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), zero);
      q = _mm512_min_epi32(_mm512_max_epi32(q, lo), hi);
      _mm_mask_storeu_epi8(out + y * ow + x, tailMask(n), _mm512_cvtepi32_epi8(q));
    }
  }
}

}  // namespace

void depthwiseChannelAvx512(const QConv2dParams& p, const uint8_t* plane, int64_t pw,
                            const int8_t* filter, int32_t bias, float scale, const QRequant& rq,
                            int64_t oh, int64_t ow, int32_t* acc, uint8_t* out) {
  if (p.kernelH * p.kernelW <= 64 && p.strideW == 1)
    return channel<1>(p, plane, pw, filter, bias, scale, rq, oh, ow, out);
  if (p.kernelH * p.kernelW <= 64 && p.strideW == 2)
    return channel<2>(p, plane, pw, filter, bias, scale, rq, oh, ow, out);
  depthwiseChannel(p, plane, pw, filter, bias, scale, rq, oh, ow, acc, out);
}

}  // namespace kiln::kernels::qgemm
