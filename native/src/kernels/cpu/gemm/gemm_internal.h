// Pieces of the SGEMM driver shared by gemm.cc, the packed-weight entry points and conv.
#pragma once

#include "kernels/cpu/gemm/gemm_ukernel.h"
#include "kiln/kernels/gemm.h"

namespace kiln::kernels {

// The micro-kernel of the active ISA tier.
GemmKernelInfo selectGemmKernel();

// The SGEMM driver. prePackedA / prePackedB, when not null, replace a / b with panels laid out
// for selectGemmKernel() (A: [ceil(M/MR)][K][MR], B: [ceil(N/NR)][K][NR], zero-padded).
// residual (row stride ldr), when not null, is added after the bias and before the activation
// (a convolution's skip connection).
void gemmDriver(const GemmParams& p, const float* a, const float* prePackedA, const float* b,
                const float* prePackedB, float* c, ThreadPool* pool, const float* residual,
                int64_t ldr);

// Packs rows [i0, i0 + mr) of op(A) over all K into dst[k * MR + r], zero rows past mr.
void packAPanel(const GemmParams& p, const float* a, int64_t lda, int64_t i0, int mr, int MR,
                float* dst);

// Packs columns [j0, j0 + nr) of op(B) over all K into dst[k * NR + j], zero columns past nr.
void packBPanel(const GemmParams& p, const float* b, int64_t ldb, int64_t j0, int nr, int NR,
                float* dst);

namespace isa_avx512 {
// packAPanel for a row-major A and MR = 12: rows [0, mr) of a (row stride lda) over k columns
// into dst[kk * 12 + r], zero rows past mr.
void packARows12(const float* a, int64_t lda, int64_t k, int mr, float* dst);
// packBPanel for a row-major B and NR = 32, full panels: columns [0, 32) of b (row stride ldb)
// over k rows into dst[kk * 32 + j].
void packBCols32(const float* b, int64_t ldb, int64_t k, float* dst);
}  // namespace isa_avx512

// The K block of the driver (recorded in packed headers).
constexpr int64_t kGemmKc = 256;

}  // namespace kiln::kernels
