// Built with AVX-512 flags: 1x1 stride-1 convolutions that pointwiseInPlaceApplies takes
// (MobileNet's expansions and projections, deep layers with few pixels) straight from the NCHW
// input. The GEMM path packs the input
// into panels and runs bias and activation as a second pass over the output; with K = 16 those
// two copies cost as much as the multiply-adds. Here each 12 x 32 tile reads its 32 columns of
// the K input rows in place (they stay cached across the task's row panels) and leaves through
// residual, bias and activation in registers. Sums run in the GEMM path's order, so both give
// identical results.
#include <immintrin.h>

#include <algorithm>

#include "kernels/cpu/conv/conv_internal.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels::isa_avx512 {

namespace {

constexpr int kMr = 12;  // rows per packed weight panel (the AVX-512 GEMM kernel's MR)
constexpr int64_t kNr = 32;
constexpr int64_t kSerialMacs = int64_t{1} << 16;  // below this a helper thread costs more

inline __mmask16 lanes(int64_t n) {
  return n >= 16  ? static_cast<__mmask16>(0xFFFF)
         : n <= 0 ? static_cast<__mmask16>(0)
                  : static_cast<__mmask16>((1u << n) - 1);
}

// One tile: rows [0, mr) of the panel a ([K][kMr]) times columns [0, nr) of x (rows P apart),
// computed for Rows >= mr rows and Vecs * 16 + Cols == nr columns (Vecs * 16 >= nr without
// Cols): edge tiles run smaller instances instead of multiply-adding padding (a 64-channel
// layer's last panel has 4 of 12 rows).
// Cols takes up to kMaxCols columns after the vectors with the rows in the lanes: a 7 x 7
// layer's 49 pixels are a block of 32 and one of 17, and the 17 as two vectors left 15 of 32
// lanes idle; as a vector and a column they cost 13 multiply-adds per k instead of 24 (a 14 x
// 14 layer's last 4 columns: 4 instead of 12). Each lane still sums a[r] * x in k order, so
// results are the same.
constexpr int kMaxCols = 4;

template <int Rows, int Vecs, int Cols = 0>
void tile(const float* a, int64_t K, const float* x, int64_t P, int mr, int64_t nr,
          const float* bias, const float* residual, const Activation& act, float* y) {
  static_assert(Cols == 0 || Vecs <= 1, "columns follow at most one vector");
  __m512 acc[Rows][2];
#pragma GCC unroll 12
  for (int r = 0; r < Rows; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  __m512 col[kMaxCols];  // lane r: row r's sum for column 16 * Vecs + c
#pragma GCC unroll 4
  for (int c = 0; c < kMaxCols; ++c) col[c] = _mm512_setzero_ps();
  const __mmask16 m0 = lanes(nr), m1 = lanes(nr - 16), rowsMask = lanes(kMr);
  for (int64_t k = 0; k < K; ++k) {
    // Long-K panels come from memory once per task (column blocks vary fastest): fetch ~1.5 KB
    // ahead, as the GEMM micro-kernel does for its weights.
    _mm_prefetch(reinterpret_cast<const char*>(a + 32 * kMr), _MM_HINT_T0);
    if (Vecs > 0) {
      const __m512 b0 = _mm512_maskz_loadu_ps(m0, x + k * P);
      const __m512 b1 = Vecs == 2 ? _mm512_maskz_loadu_ps(m1, x + k * P + 16) : b0;
#pragma GCC unroll 12
      for (int r = 0; r < Rows; ++r) {
        const __m512 av = _mm512_set1_ps(a[r]);
        acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
        if (Vecs == 2) acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
      }
    }
    if (Cols > 0) {
      const __m512 av = _mm512_maskz_loadu_ps(rowsMask, a);
#pragma GCC unroll 4
      for (int c = 0; c < Cols; ++c)
        col[c] = _mm512_fmadd_ps(av, _mm512_set1_ps(x[k * P + 16 * Vecs + c]), col[c]);
    }
    a += kMr;
  }
  const bool inRegisters = act.kind == ActivationKind::kNone || act.kind == ActivationKind::kRelu ||
                           act.kind == ActivationKind::kClip;
  const __m512 lo = _mm512_set1_ps(act.alpha), hi = _mm512_set1_ps(act.beta);
  const auto finish = [&](__m512 o) {
    if (act.kind == ActivationKind::kRelu) return _mm512_max_ps(o, _mm512_setzero_ps());
    if (act.kind == ActivationKind::kClip) return _mm512_min_ps(hi, _mm512_max_ps(lo, o));
    return o;
  };
#pragma GCC unroll 4
  for (int c = 0; c < Cols; ++c) {
    // A column's rows are P apart: gathered and scattered through a small buffer, with the
    // vector path's operations in its order.
    const int64_t j = 16 * Vecs + c;
    const __mmask16 rm = lanes(mr);
    alignas(64) float buf[16];
    __m512 o = col[c];
    if (residual) {
      for (int r = 0; r < mr; ++r) buf[r] = residual[r * P + j];
      o = _mm512_add_ps(_mm512_maskz_load_ps(rm, buf), o);
    }
    if (bias) o = _mm512_add_ps(o, _mm512_maskz_loadu_ps(rm, bias));
    _mm512_store_ps(buf, finish(o));
    for (int r = 0; r < mr; ++r) y[r * P + j] = buf[r];
  }
#pragma GCC unroll 12
  for (int r = 0; r < Rows; ++r) {
    if (r >= mr) break;
#pragma GCC unroll 2
    for (int v = 0; v < Vecs; ++v) {
      const __mmask16 m = v == 0 ? m0 : m1;
      __m512 o = acc[r][v];
      // The GEMM path's order: residual (its beta = 1 term), then bias, then the activation.
      if (residual) o = _mm512_add_ps(_mm512_maskz_loadu_ps(m, residual + r * P + 16 * v), o);
      if (bias) o = _mm512_add_ps(o, _mm512_set1_ps(bias[r]));
      _mm512_mask_storeu_ps(y + r * P + 16 * v, m, finish(o));
    }
    if (!inRegisters) kernels::applyActivation(act, y + r * P, static_cast<size_t>(nr));
  }
}

using TileFn = void (*)(const float*, int64_t, const float*, int64_t, int, int64_t, const float*,
                        const float*, const Activation&, float*);

template <int Vecs, int Cols>
TileFn rowsFor(int mr) {
  return mr > 8 ? tile<12, Vecs, Cols> : mr > 4 ? tile<8, Vecs, Cols> : tile<4, Vecs, Cols>;
}

template <int Vecs>
TileFn colsFor(int mr, int cols) {
  switch (cols) {
    case 1:
      return rowsFor<Vecs, 1>(mr);
    case 2:
      return rowsFor<Vecs, 2>(mr);
    case 3:
      return rowsFor<Vecs, 3>(mr);
    default:
      return rowsFor<Vecs, 4>(mr);
  }
}

// The cheapest instance for mr rows and nr columns: up to kMaxCols columns after whole
// vectors go into lanes by rows; otherwise whole (masked) vectors.
TileFn tileFor(int mr, int64_t nr) {
  if (nr <= kMaxCols) return colsFor<0>(mr, static_cast<int>(nr));
  if (nr > 16 && nr <= 16 + kMaxCols) return colsFor<1>(mr, static_cast<int>(nr - 16));
  if (nr > 16) return rowsFor<2, 0>(mr);
  return rowsFor<1, 0>(mr);
}

}  // namespace

void pointwiseConv(int64_t M, int64_t K, int64_t P, const float* packedA, const float* x,
                   const float* bias, const float* residual, const Activation& act, float* y,
                   ThreadPool& pool) {
  const int64_t panels = (M + kMr - 1) / kMr, colBlocks = (P + kNr - 1) / kNr;
  const int64_t items = panels * colBlocks;
  // Panels vary fastest, so neighbouring tiles share input columns (in L1) and the threads
  // split the pixels, in the order the layers around split theirs: each thread reads what its
  // own core wrote (splitting by output channels, MobileNet's 576 -> 96 projections ran slower
  // on two threads than on one). With long K and too few column blocks to go around (7 x 7
  // layers), column blocks vary fastest instead, so a task reads each weight panel (up to 96 KB)
  // from memory once instead of once per column block.
  const bool columnsFastest = K > kPointwiseMaxK && colBlocks < 2 * pool.size();
  // Exactly 4 tasks per thread, each an even share of the tiles (parallelFor merges nothing at
  // that count): with whole panel groups per task, 7 x 7 layers split 8 : 6 panels over two
  // threads.
  const int64_t tasks =
      M * K * P < kSerialMacs ? 1 : std::min<int64_t>(items, 4 * static_cast<int64_t>(pool.size()));
  const auto run = [&](size_t begin, size_t end) {
    for (size_t t = begin; t < end; ++t) {
      const int64_t i0 = static_cast<int64_t>(t) * items / tasks;
      const int64_t i1 = (static_cast<int64_t>(t) + 1) * items / tasks;
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t panel = columnsFastest ? i / colBlocks : i % panels;
        const int64_t block = columnsFastest ? i % colBlocks : i / panels;
        const int64_t r0 = panel * kMr, j0 = block * kNr;
        const int mr = static_cast<int>(std::min<int64_t>(kMr, M - r0));
        const int64_t nr = std::min(kNr, P - j0);
        tileFor(mr, nr)(packedA + r0 * K, K, x + j0, P, mr, nr, bias ? bias + r0 : nullptr,
                        residual ? residual + r0 * P + j0 : nullptr, act, y + r0 * P + j0);
      }
    }
  };
  if (tasks == 1)
    run(0, 1);
  else
    pool.parallelFor(static_cast<size_t>(tasks), 1, run);
}

}  // namespace kiln::kernels::isa_avx512
