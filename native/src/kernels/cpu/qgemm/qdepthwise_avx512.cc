// Depthwise 8-bit convolution of one channel with AVX-512. With VNNI, up to 4 taps of a filter
// row per vpdpbusd over 16 output columns; otherwise (or for windows too wide for one load) each
// tap a widening load and one vpmaddwd (weight in the low 16 bits, so the product is exact),
// strides 1 and 2 loaded directly, other strides through the portable loops.
#include <immintrin.h>

#include <algorithm>

#include "kernels/cpu/qgemm/qdepthwise_impl.h"
#include "kernels/cpu/qgemm/requant_avx512.h"
#include "kiln/cpu_features.h"

namespace kiln::kernels::qgemm {
namespace {

// Up to 4 filter taps as the dword one vpdpbusd multiplies a group by (zeros past n). Built
// with shifts: byte stores then a dword load of the same bytes missed store forwarding, which
// took a third of the time of MobileNet's 7 x 7 depthwise layers (3 groups per channel).
inline int32_t packWeights(const int8_t* taps, int64_t n) {
  uint32_t packed = 0;
  for (int64_t j = 0; j < n; ++j)
    packed |= static_cast<uint32_t>(static_cast<uint8_t>(taps[j])) << (8 * j);
  return static_cast<int32_t>(packed);
}

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
  const RequantAvx512 e(rq);
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
      _mm_mask_storeu_epi8(out + y * ow + x, tailMask(n), e.bytes(acc, vscale));
    }
  }
}

// Unused tap bytes of a group meet a zero weight.
void channelVnni(const QConv2dParams& p, const DepthwiseTaps& taps, const uint8_t* plane,
                 int64_t pw, const int8_t* filter, int32_t bias, float scale, const QRequant& rq,
                 int64_t oh, int64_t ow, uint8_t* out) {
  struct Group {
    int64_t offset;  // bytes from an output row's first input byte
    __m512i dwords, bytes, weights;
  };
  Group groups[16];
  const int64_t s = p.strideW, count = taps.count;
  for (int64_t t = 0; t < count; ++t) {
    const int64_t n = std::min<int64_t>(4, p.kernelW - taps.kx0[t]);
    groups[t] = {taps.row[t] * p.dilationH * pw, _mm512_load_si512(taps.dwords[t]),
                 _mm512_load_si512(taps.bytes[t]),
                 _mm512_set1_epi32(packWeights(filter + taps.row[t] * p.kernelW + taps.kx0[t], n))};
  }
  const __m512 vscale = _mm512_set1_ps(scale);
  const __m512i vbias = _mm512_set1_epi32(bias);
  const RequantAvx512 e(rq);
  const auto store = [&](__m512i acc, uint8_t* dst, int64_t n) {
    _mm_mask_storeu_epi8(dst, tailMask(n), e.bytes(acc, vscale));
  };
  for (int64_t y = 0; y < oh; ++y) {
    const uint8_t* row = plane + y * p.strideH * pw;
    int64_t x = 0;
    // Four blocks of 16 columns at once: independent accumulators hide vpdpbusd's latency.
    for (; x + 64 <= ow; x += 64) {
      __m512i acc[4] = {vbias, vbias, vbias, vbias};
      for (int64_t t = 0; t < count; ++t) {
        const uint8_t* r = row + groups[t].offset + x * s;
        for (int b = 0; b < 4; ++b) {
          const __m512i v = _mm512_loadu_si512(r + b * 16 * s);
          const __m512i taps =
              _mm512_shuffle_epi8(_mm512_permutexvar_epi32(groups[t].dwords, v), groups[t].bytes);
          acc[b] = _mm512_dpbusd_epi32(acc[b], taps, groups[t].weights);
        }
      }
      for (int b = 0; b < 4; ++b) store(acc[b], out + y * ow + x + b * 16, 16);
    }
    for (; x < ow; x += 16) {
      __m512i acc = vbias;
      for (int64_t t = 0; t < count; ++t) {
        const __m512i v = _mm512_loadu_si512(row + groups[t].offset + x * s);
        const __m512i taps =
            _mm512_shuffle_epi8(_mm512_permutexvar_epi32(groups[t].dwords, v), groups[t].bytes);
        acc = _mm512_dpbusd_epi32(acc, taps, groups[t].weights);
      }
      store(acc, out + y * ow + x, ow - x);
    }
  }
}

}  // namespace

DepthwiseTaps depthwiseTapsAvx512(const QConv2dParams& p) {
  DepthwiseTaps taps;
  const int64_t s = p.strideW, d = p.dilationW;
  if (!cpuFeatures().avx512vnni || 15 * s + (p.kernelW - 1) * d >= 64 ||
      p.kernelH * ((p.kernelW + 3) / 4) > 16)
    return taps;
  int64_t count = 0;
  for (int64_t ky = 0; ky < p.kernelH; ++ky)
    for (int64_t kx0 = 0; kx0 < p.kernelW; kx0 += 4, ++count) {
      taps.row[count] = ky;
      taps.kx0[count] = kx0;
      for (int lane = 0; lane < 4; ++lane) {
        // 128-bit lane L holds outputs 4L .. 4L + 3, whose first tap is byte 4L * s + kx0 * d;
        // it gets the 4 dwords from the one holding that byte, so every tap must lie in them.
        const int64_t base = 4 * lane * s + kx0 * d, first = base / 4 * 4;
        if (base + 3 * s + 3 * d - first >= 16) return DepthwiseTaps{};
        for (int q = 0; q < 4; ++q)
          taps.dwords[count][lane * 4 + q] = static_cast<int32_t>(first / 4 + q);
        for (int o = 0; o < 4; ++o)
          for (int j = 0; j < 4; ++j)
            taps.bytes[count][lane * 16 + o * 4 + j] =
                static_cast<int8_t>(base - first + o * s + j * d);
      }
    }
  taps.count = count;
  return taps;
}

void depthwiseChannelAvx512(const QConv2dParams& p, const DepthwiseTaps& taps, const uint8_t* plane,
                            int64_t pw, const int8_t* filter, int32_t bias, float scale,
                            const QRequant& rq, int64_t oh, int64_t ow, int32_t* acc,
                            uint8_t* out) {
  if (taps.count > 0) return channelVnni(p, taps, plane, pw, filter, bias, scale, rq, oh, ow, out);
  if (p.kernelH * p.kernelW <= 64 && p.strideW == 1)
    return channel<1>(p, plane, pw, filter, bias, scale, rq, oh, ow, out);
  if (p.kernelH * p.kernelW <= 64 && p.strideW == 2)
    return channel<2>(p, plane, pw, filter, bias, scale, rq, oh, ow, out);
  depthwiseChannel(p, plane, pw, filter, bias, scale, rq, oh, ow, acc, out);
}

bool depthwiseDirectApplies(const QConv2dParams& p, const DepthwiseTaps& taps) {
  return taps.count > 0 && taps.count == p.kernelH && p.kernelW <= 4;
}

namespace {

// Output rows of one 16-column block; kH > 0 fixes the filter height at compile time (so the
// groups stay in registers), kH == 0 reads it from p.
template <int kH>
void directBlock(const QConv2dParams& p, const __m512i* dwords, const __m512i* bytes,
                 const __m512i* weights, const uint8_t* x, int64_t c0, __mmask64 inside, __m512i zp,
                 __m512i vbias, float scale, const QRequant& rq, int64_t oh, int64_t ow, int64_t n,
                 uint8_t* out) {
  const int64_t kernelH = kH > 0 ? kH : p.kernelH;
  const __m512 vscale = _mm512_set1_ps(scale);
  const RequantAvx512 e(rq);
  const __mmask16 m = tailMask(n);
  for (int64_t y = 0; y < oh; ++y) {
    __m512i acc = vbias;
#pragma GCC unroll 8
    for (int64_t ky = 0; ky < kernelH; ++ky) {
      const int64_t r = y * p.strideH - p.padTop + ky * p.dilationH;
      const __m512i v =
          r < 0 || r >= p.inH ? zp : _mm512_mask_loadu_epi8(zp, inside, x + r * p.inW + c0);
      const __m512i t = _mm512_shuffle_epi8(_mm512_permutexvar_epi32(dwords[ky], v), bytes[ky]);
      acc = _mm512_dpbusd_epi32(acc, t, weights[ky]);
    }
    _mm_mask_storeu_epi8(out + y * ow, m, e.bytes(acc, vscale));
  }
}

// 3 filter rows, undilated, vertical stride kS: output rows y0 .. y0 + kR - 1. The three groups
// pick the same bytes (their tables depend on the column only), so each input row is loaded and
// shuffled once for every output row of the block that reads it.
template <int kS, int kR>
inline void rows3(const QConv2dParams& p, __m512i dwords, __m512i bytes, const __m512i* weights,
                  const uint8_t* x, int64_t c0, __mmask64 inside, __m512i zp, __m512i vbias,
                  const RequantAvx512& e, __m512 vscale, __mmask16 m, int64_t y0, int64_t ow,
                  uint8_t* out) {
  __m512i acc[kR];
  for (int j = 0; j < kR; ++j) acc[j] = vbias;
  constexpr int kIn = (kR - 1) * kS + 3;
#pragma GCC unroll 16
  for (int i = 0; i < kIn; ++i) {
    const int64_t r = y0 * kS - p.padTop + i;
    const __m512i v =
        r < 0 || r >= p.inH ? zp : _mm512_mask_loadu_epi8(zp, inside, x + r * p.inW + c0);
    const __m512i t = _mm512_shuffle_epi8(_mm512_permutexvar_epi32(dwords, v), bytes);
#pragma GCC unroll 8
    for (int j = 0; j < kR; ++j) {
      const int ky = i - j * kS;
      if (ky >= 0 && ky < 3) acc[j] = _mm512_dpbusd_epi32(acc[j], t, weights[ky]);
    }
  }
  for (int j = 0; j < kR; ++j)
    _mm_mask_storeu_epi8(out + (y0 + j) * ow, m, e.bytes(acc[j], vscale));
}

// All output rows of a 16-column block: kR at a time, the last 1 .. kR - 1 rows as one block.
template <int kS, int kR>
void directRows3(const QConv2dParams& p, __m512i dwords, __m512i bytes, const __m512i* weights,
                 const uint8_t* x, int64_t c0, __mmask64 inside, __m512i zp, __m512i vbias,
                 float scale, const QRequant& rq, int64_t oh, int64_t ow, int64_t n, uint8_t* out) {
  const RequantAvx512 e(rq);
  const __m512 vscale = _mm512_set1_ps(scale);
  const __mmask16 m = tailMask(n);
  int64_t y0 = 0;
  for (; y0 + kR <= oh; y0 += kR)
    rows3<kS, kR>(p, dwords, bytes, weights, x, c0, inside, zp, vbias, e, vscale, m, y0, ow, out);
  switch (oh - y0) {
    case 3:
      rows3<kS, 3>(p, dwords, bytes, weights, x, c0, inside, zp, vbias, e, vscale, m, y0, ow, out);
      break;
    case 2:
      rows3<kS, 2>(p, dwords, bytes, weights, x, c0, inside, zp, vbias, e, vscale, m, y0, ow, out);
      break;
    case 1:
      rows3<kS, 1>(p, dwords, bytes, weights, x, c0, inside, zp, vbias, e, vscale, m, y0, ow, out);
      break;
    default:
      break;
  }
}

}  // namespace

void depthwiseChannelDirectAvx512(const QConv2dParams& p, const DepthwiseTaps& taps,
                                  const uint8_t* x, const int8_t* filter, int32_t bias, float scale,
                                  const QRequant& rq, int64_t oh, int64_t ow, uint8_t* out) {
  // Group ky holds filter row ky (taps.kx0[ky] == 0): its taps' bytes and weights.
  __m512i dwords[16], bytes[16], weights[16];
  for (int64_t ky = 0; ky < p.kernelH; ++ky) {
    dwords[ky] = _mm512_load_si512(taps.dwords[ky]);
    bytes[ky] = _mm512_load_si512(taps.bytes[ky]);
    weights[ky] = _mm512_set1_epi32(packWeights(filter + ky * p.kernelW, p.kernelW));
  }
  const __m512i zp = _mm512_set1_epi8(static_cast<char>(p.inZeroPoint));
  const __m512i vbias = _mm512_set1_epi32(bias);
  for (int64_t x0 = 0; x0 < ow; x0 += 16) {
    // The 64 bytes from padded column x0 * strideW: lanes outside [0, inW) read the zero point.
    const int64_t c0 = x0 * p.strideW - p.padLeft;
    const int64_t first = std::max<int64_t>(0, -c0), last = std::min<int64_t>(64, p.inW - c0);
    const __mmask64 below = first >= 64 ? ~__mmask64{0} : (__mmask64{1} << first) - 1;
    const __mmask64 upTo = last >= 64  ? ~__mmask64{0}
                           : last <= 0 ? __mmask64{0}
                                       : (__mmask64{1} << last) - 1;
    const int64_t n = std::min<int64_t>(16, ow - x0);
    const __mmask64 inside = upTo & ~below;
    if (p.kernelH == 3 && p.dilationH == 1 && p.strideH == 1)
      directRows3<1, 4>(p, dwords[0], bytes[0], weights, x, c0, inside, zp, vbias, scale, rq, oh,
                        ow, n, out + x0);
    else if (p.kernelH == 3 && p.dilationH == 1 && p.strideH == 2)
      directRows3<2, 2>(p, dwords[0], bytes[0], weights, x, c0, inside, zp, vbias, scale, rq, oh,
                        ow, n, out + x0);
    else if (p.kernelH == 3)
      directBlock<3>(p, dwords, bytes, weights, x, c0, upTo & ~below, zp, vbias, scale, rq, oh, ow,
                     n, out + x0);
    else
      directBlock<0>(p, dwords, bytes, weights, x, c0, upTo & ~below, zp, vbias, scale, rq, oh, ow,
                     n, out + x0);
  }
}

}  // namespace kiln::kernels::qgemm
