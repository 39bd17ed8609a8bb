// Built with AVX-512 flags: one depthwise plane at a time. The plane is first copied into a
// zero-padded buffer (unless it needs no padding), so every tap of every output is in bounds
// and sits at the same offset from its output's window origin. The outputs are then cut into
// items of up to 16 columns of one row, and four items at a time are summed over the taps in
// registers: independent accumulators hide the FMA latency, and narrow rows (7 or 14 columns
// deep in a network) still keep four chains busy.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/conv/conv_internal.h"

namespace kiln::kernels::isa_avx512 {

namespace {

constexpr int kItems = 4;
// Largest plane (rows x padded width, floats) the flat path takes; its results go through a
// stack buffer this size.
constexpr int64_t kFlatMax = 1024;

// Mask of the first n lanes (n clamped to 0..16).
inline __mmask16 firstLanes(int64_t n) {
  return n >= 16  ? static_cast<__mmask16>(0xFFFF)
         : n <= 0 ? static_cast<__mmask16>(0)
                  : static_cast<__mmask16>((1u << n) - 1);
}

// The padded input window a plane reads: rows and columns of the padded input it touches.
void paddedExtent(const Conv2dParams& p, int64_t OH, int64_t OW, int64_t* rows, int64_t* cols) {
  *rows = (OH - 1) * p.strideH + (p.kernelH - 1) * p.dilationH + 1;
  *cols = (OW - 1) * p.strideW + (p.kernelW - 1) * p.dilationW + 1;
}

bool needsPadding(const Conv2dParams& p, int64_t rows, int64_t cols) {
  return p.padTop > 0 || p.padLeft > 0 || rows > p.inH || cols > p.inW;
}

// One item's input vector at a tap: 16 consecutive inputs, or the even ones of 32 (stride 2).
template <int kStride>
inline __m512 tapInput(const float* s, __mmask16 m0, __mmask16 m1) {
  if (kStride == 1) return _mm512_maskz_loadu_ps(m0, s);
  const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  return _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m0, s), evens,
                                _mm512_maskz_loadu_ps(m1, s + 16));
}

// Sums the taps for n (1..kItems) items; src[i] is item i's window origin in the padded input.
// Items past n get empty masks (they load and store nothing). The four accumulators are named
// variables: as an array the compiler kept them on the stack.
template <int kStride>
void items(int n, const float* const* src, float* const* dst, const int64_t* cnt,
           const float* const* res, const int64_t* tapOffset, const float* w, int64_t taps,
           float bias) {
  __mmask16 m[kItems], m0[kItems], m1[kItems];
  const float* s[kItems];
  for (int i = 0; i < kItems; ++i) {
    const int64_t c = i < n ? cnt[i] : 0;
    m[i] = firstLanes(c);
    // Input floats one item reads per tap: (c - 1) * stride + 1.
    const int64_t span = c > 0 ? (c - 1) * kStride + 1 : 0;
    m0[i] = firstLanes(span);
    m1[i] = firstLanes(span - 16);
    s[i] = i < n ? src[i] : src[0];
  }
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t t = 0; t < taps; ++t) {
    const __m512 wv = _mm512_set1_ps(w[t]);
    const int64_t off = tapOffset[t];
    a0 = _mm512_fmadd_ps(wv, tapInput<kStride>(s[0] + off, m0[0], m1[0]), a0);
    a1 = _mm512_fmadd_ps(wv, tapInput<kStride>(s[1] + off, m0[1], m1[1]), a1);
    a2 = _mm512_fmadd_ps(wv, tapInput<kStride>(s[2] + off, m0[2], m1[2]), a2);
    a3 = _mm512_fmadd_ps(wv, tapInput<kStride>(s[3] + off, m0[3], m1[3]), a3);
  }
  const __m512 bv = _mm512_set1_ps(bias);
  const __m512 acc[kItems] = {a0, a1, a2, a3};
  for (int i = 0; i < n; ++i) {
    // Taps first, then residual + bias: the order of the scalar and GEMM paths.
    const __m512 o =
        res[i] ? _mm512_add_ps(acc[i], _mm512_add_ps(_mm512_maskz_loadu_ps(m[i], res[i]), bv))
               : _mm512_add_ps(acc[i], bv);
    _mm512_mask_storeu_ps(dst[i], m[i], o);
  }
}

}  // namespace

int64_t depthwisePlaneScratch(const Conv2dParams& p, int64_t OH, int64_t OW) {
  int64_t rows, cols;
  paddedExtent(p, OH, OW, &rows, &cols);
  return needsPadding(p, rows, cols) ? rows * cols : 0;
}

void depthwiseZeroBorders(const Conv2dParams& p, int64_t OH, int64_t OW, float* scratch) {
  int64_t rows, cols;
  paddedExtent(p, OH, OW, &rows, &cols);
  if (!needsPadding(p, rows, cols)) return;
  const int64_t lo = std::min(p.padLeft, cols), hi = std::min(cols, p.padLeft + p.inW);
  for (int64_t r = 0; r < rows; ++r) {
    float* d = scratch + r * cols;
    const int64_t ih = r - p.padTop;
    if (ih < 0 || ih >= p.inH) {
      std::fill(d, d + cols, 0.0f);
    } else {
      std::fill(d, d + lo, 0.0f);
      std::fill(d + hi, d + cols, 0.0f);
    }
  }
}

void depthwisePlane(const Conv2dParams& p, int64_t OH, int64_t OW, const float* xin,
                    const float* wk, float bias, const float* residual, float* out,
                    float* scratch) {
  int64_t rows, cols;
  paddedExtent(p, OH, OW, &rows, &cols);
  const float* base = xin;
  int64_t ld = p.inW;
  if (needsPadding(p, rows, cols)) {
    // Only the input rows are copied: the zero borders around them stay from
    // depthwiseZeroBorders. Vector copies: a libc call per short row cost more than the taps of
    // a 14 x 14 plane.
    const int64_t lo = std::min(p.padLeft, cols), hi = std::min(cols, p.padLeft + p.inW);
    const int64_t r0 = std::max<int64_t>(0, p.padTop), r1 = std::min(rows, p.padTop + p.inH);
    for (int64_t r = r0; r < r1; ++r) {
      float* d = scratch + r * cols + lo;
      const float* src = xin + (r - p.padTop) * p.inW + (lo - p.padLeft);
      int64_t c = 0;
      for (; c + 16 <= hi - lo; c += 16) _mm512_storeu_ps(d + c, _mm512_loadu_ps(src + c));
      const __mmask16 tail = firstLanes(hi - lo - c);
      _mm512_mask_storeu_ps(d + c, tail, _mm512_maskz_loadu_ps(tail, src + c));
    }
    base = scratch;
    ld = cols;
  }
  const int64_t taps = p.kernelH * p.kernelW;
  int64_t tapOffset[kDepthwiseMaxTaps];
  for (int64_t ky = 0; ky < p.kernelH; ++ky)
    for (int64_t kx = 0; kx < p.kernelW; ++kx)
      tapOffset[ky * p.kernelW + kx] = ky * p.dilationH * ld + kx * p.dilationW;
  const float* src[kItems];
  float* dst[kItems];
  const float* res[kItems];
  int64_t cnt[kItems];
  if (p.strideH == 1 && p.strideW == 1 && OW < 16 && OH * ld <= kFlatMax) {
    // Narrow planes (7 x 7 deep in MobileNet): with stride 1 an output at flat position
    // oh * ld + ow has its window origin at the same flat position of the (padded) input, so
    // 16 consecutive flat outputs are one item that spans rows. The ld - OW outputs per row
    // that fall on padding columns are computed and dropped; a 7-wide row needed a whole item.
    // Every tap read stays inside the buffer: rows before the last end at ld - 1 + the
    // largest tap offset < rows * ld, and the last row is cut at OW.
    alignas(64) float flat[kFlatMax + 16];
    const int64_t span = (OH - 1) * ld + OW;
    const float* none[kItems] = {};
    for (int64_t f = 0; f < span; f += 16 * kItems) {
      const int n = static_cast<int>(std::min<int64_t>(kItems, (span - f + 15) / 16));
      for (int i = 0; i < n; ++i) {
        src[i] = base + f + 16 * i;
        dst[i] = flat + f + 16 * i;
        cnt[i] = std::min<int64_t>(16, span - f - 16 * i);
      }
      items<1>(n, src, dst, cnt, none, tapOffset, wk, taps, 0.0f);
    }
    // Back to dense rows, with residual + bias in the order of the other paths.
    const __mmask16 m = firstLanes(OW);
    const __m512 bv = _mm512_set1_ps(bias);
    for (int64_t r = 0; r < OH; ++r) {
      const __m512 acc = _mm512_maskz_loadu_ps(m, flat + r * ld);
      const __m512 add =
          residual ? _mm512_add_ps(_mm512_maskz_loadu_ps(m, residual + r * OW), bv) : bv;
      _mm512_mask_storeu_ps(out + r * OW, m, _mm512_add_ps(acc, add));
    }
    return;
  }
  const int64_t total = OH * ((OW + 15) / 16);
  // The next item's row and first column, stepped instead of divided out of the item index
  // (two 64-bit divisions per item cost as much as its taps).
  int64_t oh = 0, ow = 0;
  for (int64_t item = 0; item < total; item += kItems) {
    const int n = static_cast<int>(std::min<int64_t>(kItems, total - item));
    for (int i = 0; i < n; ++i) {
      src[i] = base + oh * p.strideH * ld + ow * p.strideW;
      dst[i] = out + oh * OW + ow;
      res[i] = residual ? residual + oh * OW + ow : nullptr;
      cnt[i] = std::min<int64_t>(16, OW - ow);
      ow += 16;
      if (ow >= OW) ow = 0, ++oh;
    }
    if (p.strideW == 1)
      items<1>(n, src, dst, cnt, res, tapOffset, wk, taps, bias);
    else
      items<2>(n, src, dst, cnt, res, tapOffset, wk, taps, bias);
  }
}

namespace {

// Lanes j of a load at input column c0 that fall inside the row [0, inW), limited to n lanes.
inline __mmask16 rowLanes(int64_t c0, int64_t inW, int64_t n) {
  const int64_t lo = std::max<int64_t>(0, -c0), hi = std::min<int64_t>(n, inW - c0);
  return hi <= lo ? static_cast<__mmask16>(0)
                  : static_cast<__mmask16>(firstLanes(hi) & ~firstLanes(lo));
}

// Bias (+ residual) and, for the kinds done in registers, the activation of one output vector.
inline __m512 finish(__m512 acc, __m512 add, const Activation& act, __m512 lo, __m512 hi) {
  const __m512 o = _mm512_add_ps(acc, add);
  switch (act.kind) {
    case ActivationKind::kRelu:
      return _mm512_max_ps(o, _mm512_setzero_ps());
    case ActivationKind::kClip:
      return _mm512_min_ps(hi, _mm512_max_ps(lo, o));
    default:
      return o;
  }
}

// kR output rows from oh0 of a 3x3 undilated plane with stride kS, 16 columns from x0 (cnt of
// them valid). Each input row is loaded once (its three taps as shifted vectors, out-of-row lanes
// masked to zero, which is the padding) and feeds every output row of the block that reads it.
template <int kS, int kR>
void rows3x3(const Conv2dParams& p, int64_t ohEnd, int64_t OW, const float* xin, const __m512* w,
             float bias, const float* residual, const Activation& act, float* out, int64_t oh0,
             int64_t x0, int64_t cnt, const __mmask16* tapMask) {
  // One accumulator per output row and filter row: chains of 3 FMAs instead of 9, whose
  // latency bounded the small planes (14 x 14).
  __m512 acc[kR][3];
  for (int j = 0; j < kR; ++j) acc[j][0] = acc[j][1] = acc[j][2] = _mm512_setzero_ps();
  constexpr int kIn = (kR - 1) * kS + 3;  // input rows the block reads
  const int64_t r0 = oh0 * kS - p.padTop;
  const int64_t c0 = x0 * kS - p.padLeft;
  const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odds = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
#pragma GCC unroll 16
  for (int i = 0; i < kIn; ++i) {
    const int64_t r = r0 + i;
    if (r < 0 || r >= p.inH) continue;
    const float* row = xin + r * p.inW + c0;
    __m512 t[3];
    if (kS == 1) {
      // One vector at the block's own columns and the single columns either side, shifted in:
      // two of three plain loads would straddle cache lines.
      const __m512 mid = _mm512_maskz_loadu_ps(tapMask[1], row + 1);
      const __m512 left = _mm512_maskz_loadu_ps(tapMask[0], row - 15);
      const __m512 right = _mm512_maskz_loadu_ps(tapMask[2], row + 17);
      t[0] = _mm512_castsi512_ps(
          _mm512_alignr_epi32(_mm512_castps_si512(mid), _mm512_castps_si512(left), 15));
      t[1] = mid;
      t[2] = _mm512_castsi512_ps(
          _mm512_alignr_epi32(_mm512_castps_si512(right), _mm512_castps_si512(mid), 1));
    } else {
      // Columns c0 + 2j + kx: evens and odds of 32 loaded from c0, evens of 32 from c0 + 2.
      const __m512 a = _mm512_maskz_loadu_ps(tapMask[0], row);
      const __m512 b = _mm512_maskz_loadu_ps(tapMask[1], row + 16);
      const __m512 c = _mm512_maskz_loadu_ps(tapMask[2], row + 2);
      const __m512 d = _mm512_maskz_loadu_ps(tapMask[3], row + 18);
      t[0] = _mm512_permutex2var_ps(a, evens, b);
      t[1] = _mm512_permutex2var_ps(a, odds, b);
      t[2] = _mm512_permutex2var_ps(c, evens, d);
    }
#pragma GCC unroll 8
    for (int j = 0; j < kR; ++j) {
      const int ky = i - j * kS;
      if (ky < 0 || ky > 2) continue;
      acc[j][ky] = _mm512_fmadd_ps(w[ky * 3], t[0], acc[j][ky]);
      acc[j][ky] = _mm512_fmadd_ps(w[ky * 3 + 1], t[1], acc[j][ky]);
      acc[j][ky] = _mm512_fmadd_ps(w[ky * 3 + 2], t[2], acc[j][ky]);
    }
  }
  const __mmask16 m = firstLanes(cnt);
  const __m512 bv = _mm512_set1_ps(bias);
  const __m512 lo = _mm512_set1_ps(act.alpha), hi = _mm512_set1_ps(act.beta);
  for (int j = 0; j < kR; ++j) {
    const int64_t oh = oh0 + j;
    if (oh >= ohEnd) break;
    // Taps first, then residual + bias: the order of the other paths.
    const __m512 add =
        residual ? _mm512_add_ps(_mm512_maskz_loadu_ps(m, residual + oh * OW + x0), bv) : bv;
    const __m512 sum = _mm512_add_ps(_mm512_add_ps(acc[j][0], acc[j][1]), acc[j][2]);
    _mm512_mask_storeu_ps(out + oh * OW + x0, m, finish(sum, add, act, lo, hi));
  }
}

}  // namespace

bool depthwise3x3Applies(const Conv2dParams& p) {
  return p.kernelH == 3 && p.kernelW == 3 && p.dilationH == 1 && p.dilationW == 1 &&
         p.strideH == p.strideW && (p.strideW == 1 || p.strideW == 2);
}

void depthwise3x3Plane(const Conv2dParams& p, int64_t OH, int64_t OW, const float* xin,
                       const float* wk, float bias, const float* residual, float* out, int64_t oh0,
                       int64_t oh1) {
  __m512 w[9];
  for (int t = 0; t < 9; ++t) w[t] = _mm512_set1_ps(wk[t]);
  const bool s1 = p.strideW == 1;
  // The loads' lane masks of a column block (lanes outside the row read padding).
  const auto masks = [&](int64_t x0, int64_t cnt, __mmask16* tapMask) {
    const int64_t c0 = x0 * p.strideW - p.padLeft;
    if (s1) {
      // The block's columns c0 + 1 .. c0 + cnt (one more for the last output's right tap),
      // column c0 as lane 15 of a load from c0 - 15, and for a full block column c0 + 17 as
      // lane 0 of a load from there; the shifts place them.
      tapMask[0] = static_cast<__mmask16>(rowLanes(c0 - 15, p.inW, 16) & 0x8000);
      tapMask[1] = rowLanes(c0 + 1, p.inW, std::min<int64_t>(16, cnt + 1));
      tapMask[2] = rowLanes(c0 + 17, p.inW, cnt == 16 ? 1 : 0);
    } else {
      // Output j reads columns c0 + 2j .. c0 + 2j + 2: the loads cover 2 * cnt + 1 columns.
      const int64_t span = 2 * cnt + 1;
      tapMask[0] = rowLanes(c0, p.inW, std::min<int64_t>(16, span));
      tapMask[1] = rowLanes(c0 + 16, p.inW, std::max<int64_t>(0, span - 16));
      tapMask[2] = rowLanes(c0 + 2, p.inW, std::min<int64_t>(16, span - 2));
      tapMask[3] = rowLanes(c0 + 18, p.inW, std::max<int64_t>(0, span - 18));
    }
  };
  // Blocks of 4 rows (stride 2: 2) across the plane, row blocks outside; a last partial block
  // runs as a whole one that stores only its rows inside the plane (cheaper than single rows).
  const int64_t rows = depthwise3x3RowBlock(p);
  oh1 = std::min(oh1, OH);
  if (oh0 >= oh1) return;
  for (int64_t oh = oh0; oh < oh1; oh += rows) {
    for (int64_t x0 = 0; x0 < OW; x0 += 16) {
      const int64_t cnt = std::min<int64_t>(16, OW - x0);
      __mmask16 m[4];
      masks(x0, cnt, m);
      if (s1)
        rows3x3<1, 4>(p, oh1, OW, xin, w, bias, residual, p.activation, out, oh, x0, cnt, m);
      else
        rows3x3<2, 2>(p, oh1, OW, xin, w, bias, residual, p.activation, out, oh, x0, cnt, m);
    }
  }
  const ActivationKind k = p.activation.kind;
  if (k != ActivationKind::kNone && k != ActivationKind::kRelu && k != ActivationKind::kClip)
    kernels::applyActivation(p.activation, out + oh0 * OW, static_cast<size_t>((oh1 - oh0) * OW));
}

}  // namespace kiln::kernels::isa_avx512
