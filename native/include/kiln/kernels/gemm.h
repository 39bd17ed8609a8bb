// Single-precision GEMM, the workhorse behind Gemm, MatMul, Conv and LSTM.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

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

// ---- Pre-packed weights ----
// A weight operand packed once at build time into the micro-kernel's panel layout, so inference
// skips the packing pass (and, for M == 1, streams the panels directly). The blob is plain bytes
// for the plan file: a 64-byte PackedWeightsHeader (little-endian) then float32 panels. It is
// only valid on the ISA tier it was packed for (the tier sets the panel width): a blob from
// another tier or for other dims is rejected with kInvalidArgument, and the engine repacks.
// Blobs must be 4-byte aligned in memory (64 is best).

// What a packed blob holds.
enum class PackedKind : uint32_t {
  kGemmB = 1,          // op(B) (K x N) in NR-column panels: rows = K, cols = N
  kGemmA = 2,          // op(A) (M x K) in MR-row panels: rows = M, cols = K
  kConvIm2col = 3,     // conv weights, per group op(A) panels: rows = M / group, cols = C/g*kH*kW
  kConvDepthwise = 4,  // depthwise conv weights as given (no GEMM): rows = M, cols = kH*kW
  kConvWinograd = 5    // Winograd F(4x4, 3x3) weights: 36 op(A) panels, rows = M, cols = C
};

// The header at the start of every packed blob (exactly 64 bytes).
struct PackedWeightsHeader {
  uint32_t magic;    // kPackedWeightsMagic
  uint32_t version;  // kPackedWeightsVersion
  uint32_t kind;     // PackedKind
  uint32_t isa;      // CpuIsa the panels were laid out for
  uint32_t mr;       // micro-tile rows of that tier
  uint32_t nr;       // micro-tile columns of that tier
  uint32_t kc;       // K block of the driver
  uint32_t reserved;
  int64_t rows;
  int64_t cols;
  int64_t groups;         // 1 except for grouped convolutions
  uint64_t payloadBytes;  // bytes after the header
};
static_assert(sizeof(PackedWeightsHeader) == 64, "the packed header is part of the plan format");

constexpr uint32_t kPackedWeightsMagic = 0x5750'4b4b;  // "KKPW" little-endian
constexpr uint32_t kPackedWeightsVersion = 1;

// Reads and checks a blob's header (magic, version, size, alignment, ISA tier and tile shape of
// this process); throws kInvalidArgument saying what does not match.
PackedWeightsHeader readPackedWeightsHeader(const void* blob, size_t bytes);

// Packs op(B) (K x N; B is N x K when transB) for sgemmPackedB on the active ISA tier.
std::vector<uint8_t> packGemmB(int64_t k, int64_t n, bool transB, const float* b, int64_t ldb = 0);

// Throws kInvalidArgument unless blob is a valid packGemmB result for k x n on this tier.
void validatePackedGemmB(const void* blob, size_t bytes, int64_t k, int64_t n);

// sgemm with B from packGemmB (p.transB and p.ldb are ignored; p.k, p.n must match the blob).
void sgemmPackedB(const GemmParams& p, const float* a, const void* packedB, size_t bytes, float* c);

// sgemmPackedB on `pool` (nullptr = calling thread only).
void sgemmPackedB(const GemmParams& p, const float* a, const void* packedB, size_t bytes, float* c,
                  ThreadPool* pool);

// Packs op(A) (M x K; A is K x M when transA) for sgemmPackedA on the active ISA tier (conv
// weights, and Gemm/MatMul whose constant operand is on the left).
std::vector<uint8_t> packGemmA(int64_t m, int64_t k, bool transA, const float* a, int64_t lda = 0);

// Throws kInvalidArgument unless blob is a valid packGemmA result for m x k on this tier.
void validatePackedGemmA(const void* blob, size_t bytes, int64_t m, int64_t k);

// sgemm with A from packGemmA (p.transA and p.lda are ignored; p.m, p.k must match the blob).
void sgemmPackedA(const GemmParams& p, const void* packedA, size_t bytes, const float* b, float* c);

// sgemmPackedA on `pool` (nullptr = calling thread only).
void sgemmPackedA(const GemmParams& p, const void* packedA, size_t bytes, const float* b, float* c,
                  ThreadPool* pool);

}  // namespace kiln::kernels
