// Built with AVX-512 flags: 12 x 32 tile, 24 zmm accumulators + 2 B vectors + 1 broadcast;
// smaller instances for edge tiles.
#include <immintrin.h>

#include "kernels/cpu/gemm/gemm_ukernel.h"

namespace kiln::kernels::isa_avx512 {
namespace {
constexpr int kMr = 12;
constexpr int kNr = 32;

// One tile of Rows <= kMr rows and Vecs * 16 <= kNr columns from the full-size panels (A
// steps are kMr apart, B steps kNr). Edge tiles run a smaller instance instead of computing
// padding: ResNet's 64-channel layers fill 64 of 72 rows, and the 14 x 14 layers' 196 pixels
// leave 4 columns in their last panel.
//
// Column adds the one column after a single vector with the rows in the lanes: N = 49 (7 x 7
// convolutions) leaves a last panel of 17 columns, which as two vectors kept 15 of 32 lanes
// idle; as a vector and a column it takes 13 multiply-adds per k instead of 24. Each lane sums
// a[r] * b[16] in k order, as the vector lanes do, so results are the same.
template <int Rows, int Vecs, bool Column = false>
void tile(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr,
          float alpha, float beta, const GemmTileEpilogue* ep) {
  static_assert(!Column || Vecs == 1, "the column follows a single vector");
  __m512 acc[Rows][2];
#pragma GCC unroll 12
  for (int r = 0; r < Rows; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  __m512 col = _mm512_setzero_ps();
  const __mmask16 panelRows = static_cast<__mmask16>((1u << kMr) - 1);
  for (int64_t k = 0; k < kc; ++k) {
    if (Column)
      col = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(panelRows, a), _mm512_set1_ps(b[16]), col);
    // A is usually the weights, streamed from memory once per inference: fetch ~1.5 KB ahead
    // so the loads below find it in L1 (the hardware prefetcher alone left deep layers, whose
    // weights are used on few pixels, waiting on memory).
    _mm_prefetch(reinterpret_cast<const char*>(a + 32 * kMr), _MM_HINT_T0);
    const __m512 b0 = _mm512_loadu_ps(b);
    const __m512 b1 = Vecs == 2 ? _mm512_loadu_ps(b + 16) : b0;
#pragma GCC unroll 12
    for (int r = 0; r < Rows; ++r) {
      const __m512 av = _mm512_set1_ps(a[r]);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      if (Vecs == 2) acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
    }
    a += kMr;
    b += kNr;
  }
  // Masks cover partial tiles, so edge tiles need no spill buffer.
  const __mmask16 m0 = nr >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << nr) - 1);
  const __mmask16 m1 = nr >= 32  ? 0xFFFF
                       : nr > 16 ? static_cast<__mmask16>((1u << (nr - 16)) - 1)
                                 : 0;
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const float* bias = ep ? ep->rowBias : nullptr;
  const float* colBias = ep ? ep->colBias : nullptr;
  const float* res = ep ? ep->residual : nullptr;
  const bool relu = ep && ep->relu, clip = ep && ep->clip;
  const __m512 lo = _mm512_set1_ps(clip ? ep->lo : 0.0f), hi = _mm512_set1_ps(clip ? ep->hi : 0.0f);
  if (Column) {
    // Column 16 of each row: ldc apart, so gathered and scattered through a small buffer, with
    // the operations of the vector path below in its order.
    const __mmask16 rm = static_cast<__mmask16>((1u << mr) - 1);
    alignas(64) float buf[16];
    __m512 o = _mm512_mul_ps(va, col);
    if (beta != 0.0f) {
      for (int r = 0; r < mr; ++r) buf[r] = c[r * ldc + 16];
      o = _mm512_fmadd_ps(vb, _mm512_maskz_load_ps(rm, buf), o);
    }
    if (ep) {
      if (bias) o = _mm512_add_ps(o, _mm512_maskz_loadu_ps(rm, bias));
      if (colBias) o = _mm512_add_ps(o, _mm512_set1_ps(colBias[16]));
      if (res) {
        for (int r = 0; r < mr; ++r) buf[r] = res[r * ep->ldr + 16];
        o = _mm512_add_ps(o, _mm512_maskz_load_ps(rm, buf));
      }
      if (relu)
        o = _mm512_max_ps(o, _mm512_setzero_ps());
      else if (clip)
        o = _mm512_min_ps(hi, _mm512_max_ps(lo, o));
    }
    _mm512_store_ps(buf, o);
    for (int r = 0; r < mr; ++r) c[r * ldc + 16] = buf[r];
  }
#pragma GCC unroll 12
  for (int r = 0; r < Rows; ++r) {
    if (r >= mr) break;
    float* row = c + r * ldc;
    __m512 o[2];
#pragma GCC unroll 2
    for (int v = 0; v < Vecs; ++v) {
      const __mmask16 m = v == 0 ? m0 : m1;
      o[v] = _mm512_mul_ps(va, acc[r][v]);
      if (beta != 0.0f) o[v] = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m, row + 16 * v), o[v]);
      if (ep) {
        // The order of the separate pass (C, + bias, + residual, activation), so results do
        // not depend on which path ran.
        if (bias) o[v] = _mm512_add_ps(o[v], _mm512_set1_ps(bias[r]));
        if (colBias) o[v] = _mm512_add_ps(o[v], _mm512_maskz_loadu_ps(m, colBias + 16 * v));
        if (res) o[v] = _mm512_add_ps(o[v], _mm512_maskz_loadu_ps(m, res + r * ep->ldr + 16 * v));
        // max/min return their second operand when one is NaN: ReLU maps NaN to 0 and Clip
        // keeps it, as activate() does.
        if (relu)
          o[v] = _mm512_max_ps(o[v], _mm512_setzero_ps());
        else if (clip)
          o[v] = _mm512_min_ps(hi, _mm512_max_ps(lo, o[v]));
      }
      _mm512_mask_storeu_ps(row + 16 * v, m, o[v]);
    }
  }
}

void microKernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr,
                 float alpha, float beta, const GemmTileEpilogue* ep) {
  if (nr == 17) {
    if (mr > 8) return tile<12, 1, true>(kc, a, b, c, ldc, mr, nr, alpha, beta, ep);
    if (mr > 4) return tile<8, 1, true>(kc, a, b, c, ldc, mr, nr, alpha, beta, ep);
    return tile<4, 1, true>(kc, a, b, c, ldc, mr, nr, alpha, beta, ep);
  }
  if (nr > 16) {
    if (mr > 8) return tile<12, 2>(kc, a, b, c, ldc, mr, nr, alpha, beta, ep);
    if (mr > 4) return tile<8, 2>(kc, a, b, c, ldc, mr, nr, alpha, beta, ep);
    return tile<4, 2>(kc, a, b, c, ldc, mr, nr, alpha, beta, ep);
  }
  if (mr > 8) return tile<12, 1>(kc, a, b, c, ldc, mr, nr, alpha, beta, ep);
  if (mr > 4) return tile<8, 1>(kc, a, b, c, ldc, mr, nr, alpha, beta, ep);
  return tile<4, 1>(kc, a, b, c, ldc, mr, nr, alpha, beta, ep);
}
}  // namespace

GemmKernelInfo gemmKernel() { return {kMr, kNr, microKernel, true}; }

}  // namespace kiln::kernels::isa_avx512
