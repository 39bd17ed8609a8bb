// SGEMM driver: packs op(A) into MR-row panels and op(B) into NR-column panels (zero-padded, so
// the micro-kernel always runs full tiles), then splits C into MC x NC tiles across threads.
// Inside a tile the K loop is blocked by KC so one B micro-panel stays in L1 and the A block
// in L2 (the Goto/BLIS scheme). M == 1 takes the GEMV path instead: nothing to reuse, so B is
// streamed once without packing.
#include "kiln/kernels/gemm.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "kernels/cpu/common/scratch.h"
#include "kernels/cpu/gemm/gemm_internal.h"
#include "kernels/cpu/gemm/gemv.h"
#include "kiln/cpu_features.h"
#include "kiln/error.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

namespace {

constexpr int64_t kKc = kGemmKc;
constexpr int64_t kMcPanels = 8;    // MC = 8 * MR rows per tile
constexpr int64_t kNcTarget = 384;  // columns per tile, rounded to NR
constexpr int64_t kSerialMacs = int64_t{1} << 16;

GemvKernels selectGemv() {
  switch (activeIsa()) {
    case CpuIsa::kAvx512:
      return isa_avx512::gemvKernels();
    case CpuIsa::kAvx2:
      return isa_avx2::gemvKernels();
    default:
      return isa_scalar::gemvKernels();
  }
}

void invalid(const std::string& msg) { throw Error(ErrorCode::kInvalidArgument, "sgemm: " + msg); }

}  // namespace

void packAPanel(const GemmParams& p, const float* a, int64_t lda, int64_t i0, int mr, int MR,
                float* dst) {
  const int64_t K = p.k;
  if (p.transA) {
    // op(A)[i][k] = a[k * lda + i]: each k gives mr contiguous values.
    for (int64_t k = 0; k < K; ++k) {
      const float* src = a + k * lda + i0;
      float* d = dst + k * MR;
      int r = 0;
      for (; r < mr; ++r) d[r] = src[r];
      for (; r < MR; ++r) d[r] = 0.0f;
    }
  } else if (MR == 12 && activeIsa() == CpuIsa::kAvx512) {
    isa_avx512::packARows12(a + i0 * lda, lda, K, mr, dst);
  } else {
    for (int r = 0; r < MR; ++r) {
      if (r < mr) {
        const float* src = a + (i0 + r) * lda;
        for (int64_t k = 0; k < K; ++k) dst[k * MR + r] = src[k];
      } else {
        for (int64_t k = 0; k < K; ++k) dst[k * MR + r] = 0.0f;
      }
    }
  }
}

void packBPanel(const GemmParams& p, const float* b, int64_t ldb, int64_t j0, int nr, int NR,
                float* dst) {
  const int64_t K = p.k;
  if (!p.transB && nr == 32 && NR == 32 && activeIsa() == CpuIsa::kAvx512) {
    isa_avx512::packBCols32(b + j0, ldb, K, dst);
  } else if (!p.transB) {
    for (int64_t k = 0; k < K; ++k) {
      const float* src = b + k * ldb + j0;
      float* d = dst + k * NR;
      if (nr == NR) {
        std::memcpy(d, src, sizeof(float) * NR);
      } else {
        int j = 0;
        for (; j < nr; ++j) d[j] = src[j];
        for (; j < NR; ++j) d[j] = 0.0f;
      }
    }
  } else {
    // op(B)[k][j] = b[j * ldb + k]; walk each source row contiguously.
    for (int j = 0; j < NR; ++j) {
      if (j < nr) {
        const float* src = b + (j0 + j) * ldb;
        for (int64_t k = 0; k < K; ++k) dst[k * NR + j] = src[k];
      } else {
        for (int64_t k = 0; k < K; ++k) dst[k * NR + j] = 0.0f;
      }
    }
  }
}

namespace {

// Adds the bias and the residual (row stride ldr, or null) and applies the activation to rows
// [i0, i1) x columns [j0, j1) of C.
void epilogue(const GemmParams& p, float* c, int64_t ldc, int64_t i0, int64_t i1, int64_t j0,
              int64_t j1, const float* residual, int64_t ldr) {
  const bool hasAct = p.activation.kind != ActivationKind::kNone;
  if (p.biasKind == BiasKind::kNone && !hasAct && !residual) return;
  for (int64_t i = i0; i < i1; ++i) {
    float* row = c + i * ldc + j0;
    const int64_t n = j1 - j0;
    if (p.biasKind == BiasKind::kPerRow && !residual) {
      // One vector pass for bias and activation (the scalar loop cost a fifth of a K = 16 conv);
      // a residual comes between the two, so it takes the loops below.
      applyBiasActivation(p.activation, p.bias[i], row, static_cast<size_t>(n));
      continue;
    }
    if (p.biasKind == BiasKind::kPerRow) {
      const float v = p.bias[i];
      for (int64_t j = 0; j < n; ++j) row[j] += v;
    }
    if (p.biasKind == BiasKind::kPerCol) {
      const float* bv = p.bias + j0;
      for (int64_t j = 0; j < n; ++j) row[j] += bv[j];
    }
    if (residual) {
      const float* rr = residual + i * ldr + j0;
      for (int64_t j = 0; j < n; ++j) row[j] += rr[j];
    }
    if (hasAct) applyActivation(p.activation, row, static_cast<size_t>(n));
  }
}

void runParallel(ThreadPool* pool, size_t n, size_t grain,
                 const std::function<void(size_t, size_t)>& fn) {
  if (pool && n > 1) {
    pool->parallelFor(n, grain, fn);
  } else if (n > 0) {
    fn(0, n);
  }
}

// C (1 x N) for M == 1: op(A) is a K-vector, each column of op(B) one dot product. Threads split
// N into column blocks; a block's results go through alpha/beta and the epilogue right away,
// while they are still in cache.
void gemv(const GemmParams& p, const float* a, int64_t lda, const float* b, int64_t ldb,
          const float* packedB, int NR, float* c, const float* residual, ThreadPool* pool) {
  const int64_t N = p.n, K = p.k;
  const GemvKernels kern = selectGemv();
  // op(A) as a contiguous vector; with transA its elements are lda apart.
  const float* av = a;
  std::vector<float> gathered;
  if (p.transA && lda != 1) {
    gathered.resize(static_cast<size_t>(K));
    for (int64_t k = 0; k < K; ++k) gathered[k] = a[k * lda];
    av = gathered.data();
  }
  // Column blocks: whole panels when B is packed; 64 columns (rows kernel) or 16 (dots) else.
  const int64_t block = packedB ? NR * std::max<int64_t>(1, 64 / NR) : (p.transB ? 16 : 64);
  const int64_t blocks = (N + block - 1) / block;
  // At least ~32K multiply-adds per task so small GEMVs stay on one thread.
  const size_t grain = static_cast<size_t>(std::max<int64_t>(1, 32768 / (K * block)));
  runParallel(pool, static_cast<size_t>(blocks), grain, [&](size_t bb, size_t be) {
    float acc[256];
    for (size_t blk = bb; blk < be; ++blk) {
      const int64_t j0 = static_cast<int64_t>(blk) * block, j1 = std::min(N, j0 + block);
      if (packedB) {
        for (int64_t j = j0; j < j1; j += NR) {
          const int64_t nr = std::min<int64_t>(NR, j1 - j);
          kern.rows(K, av, packedB + (j / NR) * NR * K, NR, nr, acc + (j - j0));
        }
      } else if (p.transB) {
        kern.dots(K, av, b + j0 * ldb, ldb, j1 - j0, acc);
      } else {
        kern.rows(K, av, b + j0, ldb, j1 - j0, acc);
      }
      float* out = c + j0;
      const float alpha = p.alpha, beta = p.beta;
      if (beta == 0.0f) {
        for (int64_t j = 0; j < j1 - j0; ++j) out[j] = alpha * acc[j];
      } else {
        for (int64_t j = 0; j < j1 - j0; ++j) out[j] = __builtin_fmaf(beta, out[j], alpha * acc[j]);
      }
      epilogue(p, c, N, 0, 1, j0, j1, residual, 0);
    }
  });
}

}  // namespace

GemmKernelInfo selectGemmKernel() {
  switch (activeIsa()) {
    case CpuIsa::kAvx512:
      return isa_avx512::gemmKernel();
    case CpuIsa::kAvx2:
      return isa_avx2::gemmKernel();
    default:
      return isa_scalar::gemmKernel();
  }
}

void gemmScratch(int64_t m, int64_t n, int64_t k, bool prePackedA, bool prePackedB,
                 ScratchNeed* need) {
  // What gemmDriver below asks for: whole MR-row panels of A and NR-column panels of B.
  const GemmKernelInfo ker = selectGemmKernel();
  if (!prePackedA)
    need->atLeast(static_cast<size_t>(ScratchSlot::kPackA),
                  scratchProduct((m + ker.mr - 1) / ker.mr * ker.mr, k));
  if (!prePackedB)
    need->atLeast(static_cast<size_t>(ScratchSlot::kPackB),
                  scratchProduct((n + ker.nr - 1) / ker.nr * ker.nr, k));
}

void sgemm(const GemmParams& p, const float* a, const float* b, float* c) {
  gemmDriver(p, a, nullptr, b, nullptr, c, &globalThreadPool(), nullptr, 0);
}

void sgemm(const GemmParams& p, const float* a, const float* b, float* c, ThreadPool* pool) {
  gemmDriver(p, a, nullptr, b, nullptr, c, pool, nullptr, 0);
}

void gemmDriver(const GemmParams& p, const float* a, const float* prePackedA, const float* b,
                const float* prePackedB, float* c, ThreadPool* pool, const float* residual,
                int64_t ldr) {
  const int64_t M = p.m, N = p.n, K = p.k;
  if (M < 0 || N < 0 || K < 0) invalid("negative dimension");
  const int64_t lda = p.lda ? p.lda : std::max<int64_t>(1, p.transA ? M : K);
  const int64_t ldb = p.ldb ? p.ldb : std::max<int64_t>(1, p.transB ? K : N);
  const int64_t ldc = p.ldc ? p.ldc : std::max<int64_t>(1, N);
  if (!prePackedA && lda < std::max<int64_t>(1, p.transA ? M : K))
    invalid("lda " + std::to_string(lda) + " is too small");
  if (!prePackedB && ldb < std::max<int64_t>(1, p.transB ? K : N))
    invalid("ldb " + std::to_string(ldb) + " is too small");
  if (ldc < std::max<int64_t>(1, N)) invalid("ldc " + std::to_string(ldc) + " is too small");
  if (p.biasKind != BiasKind::kNone && !p.bias) invalid("biasKind set but bias is null");
  if (M == 0 || N == 0) return;
  if ((K > 0 && ((!a && !prePackedA) || (!b && !prePackedB))) || !c) invalid("null matrix pointer");

  if (K == 0) {
    // No products: C = beta * C (+ bias, activation).
    for (int64_t i = 0; i < M; ++i) {
      float* row = c + i * ldc;
      for (int64_t j = 0; j < N; ++j) row[j] = p.beta == 0.0f ? 0.0f : p.beta * row[j];
    }
    epilogue(p, c, ldc, 0, M, 0, N, residual, ldr);
    return;
  }

  // A GEMM this small takes about as long as waking a helper thread: run it here.
  if (M * N * K < kSerialMacs) pool = nullptr;
  const GemmKernelInfo ker = selectGemmKernel();
  const int MR = ker.mr, NR = ker.nr;
  if (M == 1 && !prePackedA) {
    gemv(p, a, lda, b, ldb, prePackedB, NR, c, residual, pool);
    return;
  }
  const int64_t mPanels = (M + MR - 1) / MR;
  const int64_t nPanels = (N + NR - 1) / NR;
  const float* packedA = prePackedA;
  const float* packedB = prePackedB;
  float* packA = nullptr;
  float* packB = nullptr;
  if (!prePackedA) {
    packA = threadScratch(ScratchSlot::kPackA, static_cast<size_t>(mPanels * MR * K));
    packedA = packA;
  }
  if (!prePackedB) {
    packB = threadScratch(ScratchSlot::kPackB, static_cast<size_t>(nPanels * NR * K));
    packedB = packB;
  }

  // Pack both operands up front: the packing work is O(MK + KN) against O(MNK) compute, and
  // having whole panels lets every tile run the K loop without synchronizing.
  // Units are only the panels that need packing (a pre-packed operand adds none), so the
  // threads split the real work evenly.
  const int64_t aUnits = packA ? mPanels : 0, bUnits = packB ? nPanels : 0;
  const size_t packGrain =
      std::max<size_t>(1, static_cast<size_t>(16384 / std::max<int64_t>(K, 1) / 16));
  runParallel(pool, static_cast<size_t>(aUnits + bUnits), packGrain, [&](size_t begin, size_t end) {
    for (size_t u = begin; u < end; ++u) {
      const int64_t idx = static_cast<int64_t>(u);
      if (idx < aUnits) {
        const int64_t i0 = idx * MR;
        packAPanel(p, a, lda, i0, static_cast<int>(std::min<int64_t>(MR, M - i0)), MR,
                   packA + idx * MR * K);
      } else {
        const int64_t jp = idx - aUnits;
        const int64_t j0 = jp * NR;
        packBPanel(p, b, ldb, j0, static_cast<int>(std::min<int64_t>(NR, N - j0)), NR,
                   packB + jp * NR * K);
      }
    }
  });

  // Tiles: at most kMcPanels x kNcTarget / NR panels each, the panels split evenly between
  // them. Enough tiles for every thread to take several: with 3 tiles on 2 threads one thread
  // idles a third of the time (ResNet-50's layer3 convs: M = 256, N = 196). More tiles first
  // along M (the A block stays cached either way), then along N, keeping 2 panels a tile.
  const int64_t ncMax = std::max<int64_t>(1, kNcTarget / NR);
  int64_t mTiles = (mPanels + kMcPanels - 1) / kMcPanels;
  int64_t nTiles = (nPanels + ncMax - 1) / ncMax;
  const int64_t threads = pool ? pool->size() : 1;
  if (threads > 1) {
    const int64_t want = 4 * threads;  // parallelFor's most chunks
    while (mTiles * nTiles < want) {
      if (mPanels >= 4 * mTiles)
        mTiles *= 2;
      else if (nPanels >= 4 * nTiles)
        nTiles *= 2;
      else
        break;
    }
    // A count the chunks divide, so every thread gets the same number of equal tiles: 11
    // tiles (ResNet's 7 x 7 layers, 43 panels of M) made chunks of 2, 2, 2, 2, 2, 1.
    const int64_t total = mTiles * nTiles;
    const int64_t unit = total <= want ? threads : want;
    const int64_t target = (total + unit - 1) / unit * unit;
    if (target % nTiles == 0 && target / nTiles <= mPanels)
      mTiles = target / nTiles;
    else if (target % mTiles == 0 && target / mTiles <= nPanels)
      nTiles = target / mTiles;
  }
  const float alpha = p.alpha, beta = p.beta;
  // The micro-kernel finishes tiles itself (on their last K block) when it can; otherwise a
  // separate pass over each tile does it.
  const ActivationKind act = p.activation.kind;
  const bool fused =
      ker.fusesEpilogue && (act == ActivationKind::kNone || act == ActivationKind::kRelu ||
                            act == ActivationKind::kClip);
  const bool needsEpilogue =
      p.biasKind != BiasKind::kNone || residual || act != ActivationKind::kNone;
  GemmTileEpilogue tileEp;
  tileEp.ldr = ldr;
  tileEp.relu = act == ActivationKind::kRelu;
  tileEp.clip = act == ActivationKind::kClip;
  tileEp.lo = p.activation.alpha;
  tileEp.hi = p.activation.beta;

  runParallel(pool, static_cast<size_t>(mTiles * nTiles), 1, [&](size_t begin, size_t end) {
    GemmTileEpilogue ep = tileEp;
    for (size_t t = begin; t < end; ++t) {
      // Consecutive tiles share a column block, so neighbouring threads read the same B panels.
      const int64_t ti = static_cast<int64_t>(t) % mTiles;
      const int64_t tj = static_cast<int64_t>(t) / mTiles;
      const int64_t ip0 = ti * mPanels / mTiles, ip1 = (ti + 1) * mPanels / mTiles;
      const int64_t jp0 = tj * nPanels / nTiles, jp1 = (tj + 1) * nPanels / nTiles;
      for (int64_t pc = 0; pc < K; pc += kKc) {
        const int64_t kc = std::min(kKc, K - pc);
        const float betaEff = pc == 0 ? beta : 1.0f;
        const bool finish = fused && needsEpilogue && pc + kc >= K;
        for (int64_t jp = jp0; jp < jp1; ++jp) {
          const float* bp = packedB + jp * NR * K + pc * NR;
          const int64_t j0 = jp * NR;
          const int nr = static_cast<int>(std::min<int64_t>(NR, N - j0));
          for (int64_t ip = ip0; ip < ip1; ++ip) {
            const float* ap = packedA + ip * MR * K + pc * MR;
            const int64_t i0 = ip * MR;
            const int mr = static_cast<int>(std::min<int64_t>(MR, M - i0));
            if (finish) {
              ep.rowBias = p.biasKind == BiasKind::kPerRow ? p.bias + i0 : nullptr;
              ep.colBias = p.biasKind == BiasKind::kPerCol ? p.bias + j0 : nullptr;
              ep.residual = residual ? residual + i0 * ldr + j0 : nullptr;
            }
            ker.fn(kc, ap, bp, c + i0 * ldc + j0, ldc, mr, nr, alpha, betaEff,
                   finish ? &ep : nullptr);
          }
        }
      }
      if (!fused)
        epilogue(p, c, ldc, ip0 * MR, std::min(M, ip1 * MR), jp0 * NR, std::min(N, jp1 * NR),
                 residual, ldr);
    }
  });
}

}  // namespace kiln::kernels
