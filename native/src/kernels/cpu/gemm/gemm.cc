// SGEMM driver: packs op(A) into MR-row panels and op(B) into NR-column panels (zero-padded, so
// the micro-kernel always runs full tiles), then splits C into MC x NC tiles across threads.
// Inside a tile the K loop is blocked by KC so one B micro-panel stays in L1 and the A block
// in L2 (the Goto/BLIS scheme).
#include "kiln/kernels/gemm.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <string>

#include "kernels/cpu/common/scratch.h"
#include "kernels/cpu/gemm/gemm_ukernel.h"
#include "kiln/cpu_features.h"
#include "kiln/error.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

namespace {

constexpr int64_t kKc = 256;
constexpr int64_t kMcPanels = 8;    // MC = 8 * MR rows per tile
constexpr int64_t kNcTarget = 384;  // columns per tile, rounded to NR

GemmKernelInfo selectKernel() {
  switch (activeIsa()) {
    case CpuIsa::kAvx512:
      return isa_avx512::gemmKernel();
    case CpuIsa::kAvx2:
      return isa_avx2::gemmKernel();
    default:
      return isa_scalar::gemmKernel();
  }
}

void invalid(const std::string& msg) { throw Error(ErrorCode::kInvalidArgument, "sgemm: " + msg); }

// Packs rows [i0, i0 + mr) of op(A) over all K into dst[k * MR + r], zero rows past mr.
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

// Packs columns [j0, j0 + nr) of op(B) over all K into dst[k * NR + j], zero columns past nr.
void packBPanel(const GemmParams& p, const float* b, int64_t ldb, int64_t j0, int nr, int NR,
                float* dst) {
  const int64_t K = p.k;
  if (!p.transB) {
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

// Adds the bias and applies the activation to rows [i0, i1) x columns [j0, j1) of C.
void epilogue(const GemmParams& p, float* c, int64_t ldc, int64_t i0, int64_t i1, int64_t j0,
              int64_t j1) {
  const bool hasAct = p.activation.kind != ActivationKind::kNone;
  if (p.biasKind == BiasKind::kNone && !hasAct) return;
  for (int64_t i = i0; i < i1; ++i) {
    float* row = c + i * ldc + j0;
    const int64_t n = j1 - j0;
    if (p.biasKind == BiasKind::kPerRow) {
      const float v = p.bias[i];
      for (int64_t j = 0; j < n; ++j) row[j] += v;
    } else if (p.biasKind == BiasKind::kPerCol) {
      const float* bv = p.bias + j0;
      for (int64_t j = 0; j < n; ++j) row[j] += bv[j];
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

}  // namespace

void sgemm(const GemmParams& p, const float* a, const float* b, float* c) {
  sgemm(p, a, b, c, &globalThreadPool());
}

void sgemm(const GemmParams& p, const float* a, const float* b, float* c, ThreadPool* pool) {
  const int64_t M = p.m, N = p.n, K = p.k;
  if (M < 0 || N < 0 || K < 0) invalid("negative dimension");
  const int64_t lda = p.lda ? p.lda : std::max<int64_t>(1, p.transA ? M : K);
  const int64_t ldb = p.ldb ? p.ldb : std::max<int64_t>(1, p.transB ? K : N);
  const int64_t ldc = p.ldc ? p.ldc : std::max<int64_t>(1, N);
  if (lda < std::max<int64_t>(1, p.transA ? M : K))
    invalid("lda " + std::to_string(lda) + " is too small");
  if (ldb < std::max<int64_t>(1, p.transB ? K : N))
    invalid("ldb " + std::to_string(ldb) + " is too small");
  if (ldc < std::max<int64_t>(1, N)) invalid("ldc " + std::to_string(ldc) + " is too small");
  if (p.biasKind != BiasKind::kNone && !p.bias) invalid("biasKind set but bias is null");
  if (M == 0 || N == 0) return;
  if ((K > 0 && (!a || !b)) || !c) invalid("null matrix pointer");

  if (K == 0) {
    // No products: C = beta * C (+ bias, activation).
    for (int64_t i = 0; i < M; ++i) {
      float* row = c + i * ldc;
      for (int64_t j = 0; j < N; ++j) row[j] = p.beta == 0.0f ? 0.0f : p.beta * row[j];
    }
    epilogue(p, c, ldc, 0, M, 0, N);
    return;
  }

  const GemmKernelInfo ker = selectKernel();
  const int MR = ker.mr, NR = ker.nr;
  const int64_t mPanels = (M + MR - 1) / MR;
  const int64_t nPanels = (N + NR - 1) / NR;
  float* packedA = threadScratch(ScratchSlot::kPackA, static_cast<size_t>(mPanels * MR * K));
  float* packedB = threadScratch(ScratchSlot::kPackB, static_cast<size_t>(nPanels * NR * K));

  // Pack both operands up front: the packing work is O(MK + KN) against O(MNK) compute, and
  // having whole panels lets every tile run the K loop without synchronizing.
  const size_t packUnits = static_cast<size_t>(mPanels + nPanels);
  const size_t packGrain =
      std::max<size_t>(1, static_cast<size_t>(16384 / std::max<int64_t>(K, 1) / 16));
  runParallel(pool, packUnits, packGrain, [&](size_t begin, size_t end) {
    for (size_t u = begin; u < end; ++u) {
      const int64_t idx = static_cast<int64_t>(u);
      if (idx < mPanels) {
        const int64_t i0 = idx * MR;
        packAPanel(p, a, lda, i0, static_cast<int>(std::min<int64_t>(MR, M - i0)), MR,
                   packedA + idx * MR * K);
      } else {
        const int64_t jp = idx - mPanels;
        const int64_t j0 = jp * NR;
        packBPanel(p, b, ldb, j0, static_cast<int>(std::min<int64_t>(NR, N - j0)), NR,
                   packedB + jp * NR * K);
      }
    }
  });

  const int64_t mcPanels = std::min<int64_t>(kMcPanels, mPanels);
  const int64_t ncPanels = std::max<int64_t>(1, std::min<int64_t>(kNcTarget / NR, nPanels));
  const int64_t mTiles = (mPanels + mcPanels - 1) / mcPanels;
  const int64_t nTiles = (nPanels + ncPanels - 1) / ncPanels;
  const float alpha = p.alpha, beta = p.beta;

  runParallel(pool, static_cast<size_t>(mTiles * nTiles), 1, [&](size_t begin, size_t end) {
    for (size_t t = begin; t < end; ++t) {
      // Consecutive tiles share a column block, so neighbouring threads read the same B panels.
      const int64_t ti = static_cast<int64_t>(t) % mTiles;
      const int64_t tj = static_cast<int64_t>(t) / mTiles;
      const int64_t ip0 = ti * mcPanels, ip1 = std::min(mPanels, ip0 + mcPanels);
      const int64_t jp0 = tj * ncPanels, jp1 = std::min(nPanels, jp0 + ncPanels);
      for (int64_t pc = 0; pc < K; pc += kKc) {
        const int64_t kc = std::min(kKc, K - pc);
        const float betaEff = pc == 0 ? beta : 1.0f;
        for (int64_t jp = jp0; jp < jp1; ++jp) {
          const float* bp = packedB + jp * NR * K + pc * NR;
          const int64_t j0 = jp * NR;
          const int nr = static_cast<int>(std::min<int64_t>(NR, N - j0));
          for (int64_t ip = ip0; ip < ip1; ++ip) {
            const float* ap = packedA + ip * MR * K + pc * MR;
            const int64_t i0 = ip * MR;
            const int mr = static_cast<int>(std::min<int64_t>(MR, M - i0));
            ker.fn(kc, ap, bp, c + i0 * ldc + j0, ldc, mr, nr, alpha, betaEff);
          }
        }
      }
      epilogue(p, c, ldc, ip0 * MR, std::min(M, ip1 * MR), jp0 * NR, std::min(N, jp1 * NR));
    }
  });
}

}  // namespace kiln::kernels
