// Single-precision GEMM, the workhorse behind Gemm, MatMul, Conv and LSTM.
#pragma once

#include <cstdint>

#include "kiln/kernels/activation.h"

namespace kiln {
class ThreadPool;
}

namespace kiln::kernels {

// Where a bias vector lies relative to C (M x N): one value per row or one per column.
enum class BiasKind { kNone, kPerRow, kPerCol };

// C = act(alpha * op(A) * op(B) + beta * C + bias), all row-major. op(A) is M x K, op(B) is K x N.
// Leading dimensions of 0 mean "tight" (the row length of the stored matrix). As in BLAS,
// beta == 0 means C is not read (it may hold garbage or NaN).
struct GemmParams {
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;
  bool transA = false;
  bool transB = false;
  float alpha = 1.0f;
  float beta = 0.0f;
  int64_t lda = 0;
  int64_t ldb = 0;
  int64_t ldc = 0;
  const float* bias = nullptr;  // not scaled by alpha or beta
  BiasKind biasKind = BiasKind::kNone;
  Activation activation;
};

// Runs the GEMM on the global thread pool with the active ISA tier.
void sgemm(const GemmParams& p, const float* a, const float* b, float* c);

// Same, on `pool`; nullptr runs on the calling thread only (for callers that are already
// parallel over independent GEMMs).
void sgemm(const GemmParams& p, const float* a, const float* b, float* c, ThreadPool* pool);

}  // namespace kiln::kernels
