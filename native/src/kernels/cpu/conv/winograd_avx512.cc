// Built with AVX-512 flags: the Winograd transforms 16 tiles at a time. Tiles of a vector may
// span several tile rows, so their pixels are gathered (masked where they fall in the padding)
// and the output scattered; the 6 x 6 arithmetic runs on whole vectors.
#include <immintrin.h>

#include <algorithm>

#include "kernels/cpu/conv/winograd.h"
#include "kernels/cpu/conv/winograd_transform.h"

namespace kiln::kernels::isa_avx512 {

using winograd::kAlpha;
using winograd::kPositions;
using winograd::kTile;

namespace {

// Per lane: the tile's top-left row and column (output coordinates) and whether it exists.
struct Lanes {
  __m512i row, col;
  __mmask16 live;
};

Lanes lanesOf(const WinogradGeometry& g, int64_t t0, int64_t l0, int64_t nt) {
  alignas(64) int32_t row[16], col[16];
  __mmask16 live = 0;
  for (int i = 0; i < 16; ++i) {
    const int64_t l = l0 + i;
    const int64_t t = t0 + std::min(l, nt - 1);
    row[i] = static_cast<int32_t>((t / g.tilesW) * kTile);
    col[i] = static_cast<int32_t>((t % g.tilesW) * kTile);
    if (l < nt) live = static_cast<__mmask16>(live | (1u << i));
  }
  return {_mm512_load_si512(row), _mm512_load_si512(col), live};
}

// Lanes whose coordinate v + k lies in [0, limit).
inline __mmask16 inside(__m512i v, int k, int64_t limit) {
  const __m512i at = _mm512_add_epi32(v, _mm512_set1_epi32(k));
  return _mm512_cmpge_epi32_mask(at, _mm512_setzero_si512()) &
         _mm512_cmplt_epi32_mask(at, _mm512_set1_epi32(static_cast<int32_t>(limit)));
}

}  // namespace

void winogradInput(const WinogradInputArgs& a) {
  const WinogradGeometry& g = *a.g;
  const int64_t padded = (a.nt + a.nr - 1) / a.nr * a.nr;
  const int32_t W = static_cast<int32_t>(g.inW);
  for (int64_t l0 = 0; l0 < padded; l0 += 16) {
    float* base = a.v + (l0 / a.nr) * a.channels * a.nr + l0 % a.nr;
    if (l0 >= a.nt) {  // a whole vector of padding lanes
      for (int64_t c = a.c0; c < a.c1; ++c)
        for (int q = 0; q < kPositions; ++q)
          _mm512_storeu_ps(base + q * a.posStride + c * a.nr, _mm512_setzero_ps());
      continue;
    }
    const Lanes ln = lanesOf(g, a.t0, l0, a.nt);
    const __m512i y0 = _mm512_sub_epi32(ln.row, _mm512_set1_epi32(static_cast<int32_t>(g.padTop)));
    const __m512i x0 = _mm512_sub_epi32(ln.col, _mm512_set1_epi32(static_cast<int32_t>(g.padLeft)));
    // Offsets of each lane's top-left input pixel, and which rows / columns of its 6 x 6 patch
    // are inside the image; the same for every channel.
    const __m512i origin = _mm512_add_epi32(_mm512_mullo_epi32(y0, _mm512_set1_epi32(W)), x0);
    __mmask16 rowOk[kAlpha], colOk[kAlpha];
    for (int k = 0; k < kAlpha; ++k) {
      rowOk[k] = inside(y0, k, g.inH) & ln.live;
      colOk[k] = inside(x0, k, g.inW);
    }
    for (int64_t c = a.c0; c < a.c1; ++c) {
      const float* xc = a.x + c * g.inH * g.inW;
      __m512 d[kPositions], v[kPositions];
      for (int r = 0; r < kAlpha; ++r) {
        const __m512i rowAt = _mm512_add_epi32(origin, _mm512_set1_epi32(r * W));
        for (int k = 0; k < kAlpha; ++k) {
          const __m512i at = _mm512_add_epi32(rowAt, _mm512_set1_epi32(k));
          d[r * kAlpha + k] =
              _mm512_mask_i32gather_ps(_mm512_setzero_ps(), rowOk[r] & colOk[k], at, xc, 4);
        }
      }
      winograd::inputTile(d, v);
      float* dst = base + c * a.nr;
      for (int q = 0; q < kPositions; ++q) _mm512_storeu_ps(dst + q * a.posStride, v[q]);
    }
  }
}

void winogradOutput(const WinogradOutputArgs& a) {
  const WinogradGeometry& g = *a.g;
  const int32_t W = static_cast<int32_t>(g.outW);
  const bool relu = a.act->kind == ActivationKind::kRelu;
  const bool other = !relu && a.act->kind != ActivationKind::kNone;
  for (int64_t l0 = 0; l0 < a.nt; l0 += 16) {
    const Lanes ln = lanesOf(g, a.t0, l0, a.nt);
    const __m512i origin =
        _mm512_add_epi32(_mm512_mullo_epi32(ln.row, _mm512_set1_epi32(W)), ln.col);
    __mmask16 ok[kTile * kTile];
    for (int i = 0; i < kTile; ++i) {
      const __mmask16 rowOk = inside(ln.row, i, g.outH) & ln.live;
      for (int j = 0; j < kTile; ++j) ok[i * kTile + j] = rowOk & inside(ln.col, j, g.outW);
    }
    for (int64_t m = a.m0; m < a.m1; ++m) {
      __m512 mv[kPositions];
      alignas(64) __m512 o[kTile * kTile];
      const float* src = a.mo + m * a.ldm + l0;
      for (int q = 0; q < kPositions; ++q) mv[q] = _mm512_loadu_ps(src + q * a.posStride);
      winograd::outputTile(mv, o);
      const __m512 bias = _mm512_set1_ps(a.bias ? a.bias[m] : 0.0f);
      const float* rm = a.residual ? a.residual + m * g.outH * g.outW : nullptr;
      float* ym = a.y + m * g.outH * g.outW;
      for (int e = 0; e < kTile * kTile; ++e) {
        o[e] = _mm512_add_ps(o[e], bias);
        const __m512i at = _mm512_add_epi32(origin, _mm512_set1_epi32((e / kTile) * W + e % kTile));
        if (rm)
          o[e] =
              _mm512_add_ps(o[e], _mm512_mask_i32gather_ps(_mm512_setzero_ps(), ok[e], at, rm, 4));
        if (relu) o[e] = _mm512_max_ps(o[e], _mm512_setzero_ps());
      }
      // Other activations run over the 256 values at once (their vector code lives elsewhere).
      if (other) applyActivation(*a.act, reinterpret_cast<float*>(o), 16 * kTile * kTile);
      for (int e = 0; e < kTile * kTile; ++e) {
        const __m512i at = _mm512_add_epi32(origin, _mm512_set1_epi32((e / kTile) * W + e % kTile));
        _mm512_mask_i32scatter_ps(ym, ok[e], at, o[e], 4);
      }
    }
  }
}

}  // namespace kiln::kernels::isa_avx512
