// Packed-weight blobs: pack once (build time), validate on load, run many times.
#include <algorithm>
#include <cstring>
#include <string>

#include "kernels/cpu/gemm/gemm_internal.h"
#include "kiln/cpu_features.h"
#include "kiln/error.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

namespace {

void invalid(const std::string& msg) {
  throw Error(ErrorCode::kInvalidArgument, "packed weights: " + msg);
}

const char* kindName(uint32_t kind) {
  switch (static_cast<PackedKind>(kind)) {
    case PackedKind::kGemmB:
      return "GEMM B";
    case PackedKind::kGemmA:
      return "GEMM A";
    case PackedKind::kConvIm2col:
      return "conv (GEMM)";
    case PackedKind::kConvDepthwise:
      return "conv (depthwise)";
    case PackedKind::kConvWinograd:
      return "conv (Winograd)";
  }
  return "unknown";
}

std::vector<uint8_t> makeBlob(PackedKind kind, int64_t rows, int64_t cols, int64_t groups,
                              size_t payloadFloats) {
  const GemmKernelInfo ker = selectGemmKernel();
  PackedWeightsHeader h{};
  h.magic = kPackedWeightsMagic;
  h.version = kPackedWeightsVersion;
  h.kind = static_cast<uint32_t>(kind);
  h.isa = static_cast<uint32_t>(activeIsa());
  h.mr = static_cast<uint32_t>(ker.mr);
  h.nr = static_cast<uint32_t>(ker.nr);
  h.kc = static_cast<uint32_t>(kGemmKc);
  h.rows = rows;
  h.cols = cols;
  h.groups = groups;
  h.payloadBytes = payloadFloats * sizeof(float);
  std::vector<uint8_t> blob(sizeof h + h.payloadBytes);
  std::memcpy(blob.data(), &h, sizeof h);
  return blob;
}

float* payload(std::vector<uint8_t>& blob) {
  return reinterpret_cast<float*>(blob.data() + sizeof(PackedWeightsHeader));
}

const float* payload(const void* blob) {
  return reinterpret_cast<const float*>(static_cast<const uint8_t*>(blob) +
                                        sizeof(PackedWeightsHeader));
}

// Floats of op(X) packed in `unit`-wide panels along `along`, over `depth`.
size_t panelFloats(int64_t along, int64_t depth, int unit) {
  return static_cast<size_t>((along + unit - 1) / unit) * static_cast<size_t>(unit) *
         static_cast<size_t>(depth);
}

void expectDims(const PackedWeightsHeader& h, PackedKind kind, int64_t rows, int64_t cols,
                int64_t groups) {
  if (h.kind != static_cast<uint32_t>(kind))
    invalid(std::string("blob holds ") + kindName(h.kind) + " weights, expected " +
            kindName(static_cast<uint32_t>(kind)));
  if (h.rows != rows || h.cols != cols || h.groups != groups)
    invalid("blob was packed for " + std::to_string(h.rows) + " x " + std::to_string(h.cols) +
            " (groups " + std::to_string(h.groups) + "), the layer needs " + std::to_string(rows) +
            " x " + std::to_string(cols) + " (groups " + std::to_string(groups) + ")");
}

}  // namespace

PackedWeightsHeader readPackedWeightsHeader(const void* blob, size_t bytes) {
  if (!blob || bytes < sizeof(PackedWeightsHeader)) invalid("blob is shorter than its header");
  if (reinterpret_cast<uintptr_t>(blob) % alignof(float) != 0)
    invalid("blob is not 4-byte aligned");
  PackedWeightsHeader h;
  std::memcpy(&h, blob, sizeof h);
  if (h.magic != kPackedWeightsMagic) invalid("bad magic (not a packed-weight blob)");
  if (h.version != kPackedWeightsVersion)
    invalid("format version " + std::to_string(h.version) + ", this build reads " +
            std::to_string(kPackedWeightsVersion));
  if (h.payloadBytes != bytes - sizeof h)
    invalid("payload is " + std::to_string(bytes - sizeof h) + " bytes, header says " +
            std::to_string(h.payloadBytes));
  if (h.rows < 0 || h.cols < 0 || h.groups < 1) invalid("negative dims in header");
  const CpuIsa isa = activeIsa();
  if (h.isa != static_cast<uint32_t>(isa))
    invalid(std::string("packed for ISA tier ") +
            (h.isa <= 2 ? isaName(static_cast<CpuIsa>(h.isa)) : "unknown") +
            ", this process runs " + isaName(isa) + "; repack the weights");
  const GemmKernelInfo ker = selectGemmKernel();
  if (h.mr != static_cast<uint32_t>(ker.mr) || h.nr != static_cast<uint32_t>(ker.nr) ||
      h.kc != static_cast<uint32_t>(kGemmKc))
    invalid("tile shape " + std::to_string(h.mr) + "x" + std::to_string(h.nr) + " (kc " +
            std::to_string(h.kc) + ") differs from this build's " + std::to_string(ker.mr) + "x" +
            std::to_string(ker.nr) + " (kc " + std::to_string(kGemmKc) + ")");
  // The payload size must follow from the dims, so a header cannot point reads past the blob.
  size_t want = 0;
  switch (static_cast<PackedKind>(h.kind)) {
    case PackedKind::kGemmB:
      want = panelFloats(h.cols, h.rows, ker.nr);
      break;
    case PackedKind::kGemmA:
    case PackedKind::kConvIm2col:
    case PackedKind::kConvWinograd:
      want = panelFloats(h.rows, h.cols, ker.mr) * static_cast<size_t>(h.groups);
      break;
    case PackedKind::kConvDepthwise:
      want = static_cast<size_t>(h.rows) * static_cast<size_t>(h.cols);
      break;
    default:
      invalid("unknown kind " + std::to_string(h.kind));
  }
  if (h.payloadBytes != want * sizeof(float)) invalid("payload size does not match the dims");
  return h;
}

std::vector<uint8_t> packGemmB(int64_t k, int64_t n, bool transB, const float* b, int64_t ldb) {
  if (k < 0 || n < 0) invalid("negative dimension");
  if (ldb == 0) ldb = std::max<int64_t>(1, transB ? k : n);
  if (ldb < (transB ? k : n)) invalid("ldb " + std::to_string(ldb) + " is too small");
  if (k > 0 && n > 0 && !b) invalid("null matrix");
  const int NR = selectGemmKernel().nr;
  std::vector<uint8_t> blob = makeBlob(PackedKind::kGemmB, k, n, 1, panelFloats(n, k, NR));
  GemmParams p;
  p.k = k;
  p.n = n;
  p.transB = transB;
  float* dst = payload(blob);
  const int64_t panels = (n + NR - 1) / NR;
  globalThreadPool().parallelFor(static_cast<size_t>(panels), 1, [&](size_t pb, size_t pe) {
    for (size_t jp = pb; jp < pe; ++jp) {
      const int64_t j0 = static_cast<int64_t>(jp) * NR;
      packBPanel(p, b, ldb, j0, static_cast<int>(std::min<int64_t>(NR, n - j0)), NR, dst + j0 * k);
    }
  });
  return blob;
}

void validatePackedGemmB(const void* blob, size_t bytes, int64_t k, int64_t n) {
  expectDims(readPackedWeightsHeader(blob, bytes), PackedKind::kGemmB, k, n, 1);
}

void sgemmPackedB(const GemmParams& p, const float* a, const void* packedB, size_t bytes,
                  float* c) {
  sgemmPackedB(p, a, packedB, bytes, c, &globalThreadPool());
}

void sgemmPackedB(const GemmParams& p, const float* a, const void* packedB, size_t bytes, float* c,
                  ThreadPool* pool) {
  validatePackedGemmB(packedB, bytes, p.k, p.n);
  GemmParams q = p;
  q.transB = false;
  q.ldb = 0;
  gemmDriver(q, a, nullptr, nullptr, payload(packedB), c, pool, nullptr, 0);
}

std::vector<uint8_t> packGemmA(int64_t m, int64_t k, bool transA, const float* a, int64_t lda) {
  if (m < 0 || k < 0) invalid("negative dimension");
  if (lda == 0) lda = std::max<int64_t>(1, transA ? m : k);
  if (lda < (transA ? m : k)) invalid("lda " + std::to_string(lda) + " is too small");
  if (m > 0 && k > 0 && !a) invalid("null matrix");
  const int MR = selectGemmKernel().mr;
  std::vector<uint8_t> blob = makeBlob(PackedKind::kGemmA, m, k, 1, panelFloats(m, k, MR));
  GemmParams p;
  p.m = m;
  p.k = k;
  p.transA = transA;
  float* dst = payload(blob);
  for (int64_t i0 = 0; i0 < m; i0 += MR)
    packAPanel(p, a, lda, i0, static_cast<int>(std::min<int64_t>(MR, m - i0)), MR, dst + i0 * k);
  return blob;
}

void validatePackedGemmA(const void* blob, size_t bytes, int64_t m, int64_t k) {
  expectDims(readPackedWeightsHeader(blob, bytes), PackedKind::kGemmA, m, k, 1);
}

void sgemmPackedA(const GemmParams& p, const void* packedA, size_t bytes, const float* b,
                  float* c) {
  sgemmPackedA(p, packedA, bytes, b, c, &globalThreadPool());
}

void sgemmPackedA(const GemmParams& p, const void* packedA, size_t bytes, const float* b, float* c,
                  ThreadPool* pool) {
  validatePackedGemmA(packedA, bytes, p.m, p.k);
  GemmParams q = p;
  q.transA = false;
  q.lda = 0;
  gemmDriver(q, nullptr, payload(packedA), b, nullptr, c, pool, nullptr, 0);
}

}  // namespace kiln::kernels
