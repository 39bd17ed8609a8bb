// Packing, the scalar micro-kernel and the threaded driver of the 8-bit GEMM.
#include <emmintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/qgemm/qgemm_internal.h"
#include "kiln/cpu_features.h"
#include "kiln/error.h"
#include "kiln/kernels/scratch.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {
namespace qgemm {
namespace {

constexpr int64_t kScalarNr = 16;

void ukernelScalar(int64_t k4, const int32_t* a, const uint8_t* b, const int64_t* bOff,
                   int64_t rows, int64_t n, const int32_t* bias, const float* scale,
                   const QRequant& rq, uint8_t* c, int64_t ldc) {
  int32_t acc[kQGemmMr][kScalarNr] = {};
  for (int64_t kk = 0; kk < k4; ++kk) {
    const uint8_t* bk = b + bOff[kk];
    for (int64_t r = 0; r < kQGemmMr; ++r) {
      int32_t word = a[kk * kQGemmMr + r];
      int8_t w[4];
      std::memcpy(w, &word, 4);
      for (int64_t j = 0; j < n; ++j)
        for (int t = 0; t < 4; ++t) acc[r][j] += static_cast<int32_t>(bk[j * 4 + t]) * w[t];
    }
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j)
      c[r * ldc + j] = requantizeOne(acc[r][j] + bias[r], scale[r], rq);
}

}  // namespace

Variant scalarVariant() { return {"scalar", ukernelScalar, kScalarNr}; }

Variant activeVariant() {
  const CpuFeatures& f = cpuFeatures();
  switch (activeIsa()) {
    case CpuIsa::kAvx512:
      if (f.avx512vnni) return avx512VnniVariant();
      return avx2Variant(f.avxvnni);
    case CpuIsa::kAvx2:
      return avx2Variant(f.avxvnni);
    default:
      return scalarVariant();
  }
}

}  // namespace qgemm

QPackedA packQGemmA(const int8_t* a, int64_t m, int64_t k) {
  if (m <= 0 || k <= 0) throw Error(ErrorCode::kInvalidArgument, "qgemm: empty weights");
  QPackedA p;
  p.m = m;
  p.k = k;
  p.k4 = (k + 3) / 4;
  const int64_t panels = (m + kQGemmMr - 1) / kQGemmMr;
  p.data.assign(static_cast<size_t>(panels * p.k4 * kQGemmMr), 0);
  p.rowSums.assign(static_cast<size_t>(m), 0);
  auto* bytes = reinterpret_cast<int8_t*>(p.data.data());
  for (int64_t i = 0; i < m; ++i) {
    const int64_t panel = i / kQGemmMr, r = i % kQGemmMr;
    for (int64_t kk = 0; kk < k; ++kk) {
      const int8_t v = a[i * k + kk];
      bytes[((panel * p.k4 + kk / 4) * kQGemmMr + r) * 4 + kk % 4] = v;
      p.rowSums[i] += v;
    }
  }
  return p;
}

int64_t qgemmPackedBSize(int64_t k, int64_t n) { return (k + 3) / 4 * qgemmPaddedN(n) * 4; }

namespace qgemm {

void interleave4(const uint8_t* r0, const uint8_t* r1, const uint8_t* r2, const uint8_t* r3,
                 int64_t n, uint8_t* dst) {
  interleave4Exact(r0, r1, r2, r3, n, dst);
  std::memset(dst + n * 4, 0, static_cast<size_t>((qgemmPaddedN(n) - n) * 4));
}

void interleave4Exact(const uint8_t* r0, const uint8_t* r1, const uint8_t* r2, const uint8_t* r3,
                      int64_t n, uint8_t* dst) {
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r0 + j));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r1 + j));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r2 + j));
    const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r3 + j));
    const __m128i ab0 = _mm_unpacklo_epi8(a, b), ab1 = _mm_unpackhi_epi8(a, b);
    const __m128i cd0 = _mm_unpacklo_epi8(c, d), cd1 = _mm_unpackhi_epi8(c, d);
    auto* out = reinterpret_cast<__m128i*>(dst + j * 4);
    _mm_storeu_si128(out + 0, _mm_unpacklo_epi16(ab0, cd0));
    _mm_storeu_si128(out + 1, _mm_unpackhi_epi16(ab0, cd0));
    _mm_storeu_si128(out + 2, _mm_unpacklo_epi16(ab1, cd1));
    _mm_storeu_si128(out + 3, _mm_unpackhi_epi16(ab1, cd1));
  }
  for (; j < n; ++j) {
    dst[j * 4 + 0] = r0[j];
    dst[j * 4 + 1] = r1[j];
    dst[j * 4 + 2] = r2[j];
    dst[j * 4 + 3] = r3[j];
  }
}

void splitPhases(const uint8_t* src, int64_t s, int64_t len, uint8_t* dst) {
  if (s == 1) {
    std::memcpy(dst, src, static_cast<size_t>(len));
    return;
  }
  int64_t j = 0;
  if (s == 2) {
    // Even bytes: each 16-bit pair masked to its low byte; odd bytes: shifted down. Both pack
    // exactly, every word being <= 255.
    const __m128i low = _mm_set1_epi16(0x00FF);
    for (; j + 16 <= len; j += 16) {
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * j));
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * j + 16));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + j),
                       _mm_packus_epi16(_mm_and_si128(a, low), _mm_and_si128(b, low)));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + len + j),
                       _mm_packus_epi16(_mm_srli_epi16(a, 8), _mm_srli_epi16(b, 8)));
    }
  }
  for (; j < len; ++j)
    for (int64_t r = 0; r < s; ++r) dst[r * len + j] = src[j * s + r];
}

}  // namespace qgemm

void packQGemmB(const uint8_t* b, int64_t k, int64_t n, int64_t ldb, uint8_t* dst, uint8_t fill) {
  const int64_t k4 = (k + 3) / 4, rowBytes = qgemmPaddedN(n) * 4;
  std::vector<uint8_t> fillRow(static_cast<size_t>(n), fill);
  for (int64_t kk = 0; kk < k4; ++kk) {
    const uint8_t* rows[4];
    for (int t = 0; t < 4; ++t) {
      const int64_t r = kk * 4 + t;
      rows[t] = r < k ? b + r * ldb : fillRow.data();
    }
    qgemm::interleave4(rows[0], rows[1], rows[2], rows[3], n, dst + kk * rowBytes);
  }
}

void qgemm::drive(const Variant& v, const QPackedA& a, const uint8_t* b, const int64_t* bOff,
                  int64_t n, uint8_t zeroB, const QRequant& rq, uint8_t* c, int64_t ldc) {
  const int64_t panels = (a.m + kQGemmMr - 1) / kQGemmMr;
  // The activation zero point folds into the bias: sum (b - zb) * a = sum b * a - zb * rowSum.
  std::vector<int32_t> bias(static_cast<size_t>(panels * kQGemmMr), 0);
  std::vector<float> scale(bias.size(), 0.0f);
  for (int64_t i = 0; i < a.m; ++i) {
    bias[i] = (rq.bias ? rq.bias[i] : 0) - static_cast<int32_t>(zeroB) * a.rowSums[i];
    scale[i] = rq.scale[i];
  }
  const int64_t blocks = (n + v.nr - 1) / v.nr;
  // Column block outer, panel inner: one block of B stays in cache across all panels.
  const size_t jobs = static_cast<size_t>(blocks * panels);
  const int64_t macs = a.m * a.k4 * 4 * n;
  const size_t grain = macs < (1 << 20) ? jobs : std::max<size_t>(1, jobs / 16);
  globalThreadPool().parallelFor(jobs, grain, [&](size_t begin, size_t end) {
    for (size_t job = begin; job < end; ++job) {
      const int64_t blk = static_cast<int64_t>(job) / panels;
      const int64_t panel = static_cast<int64_t>(job) % panels;
      const int64_t j0 = blk * v.nr, i0 = panel * kQGemmMr;
      v.ukernel(a.k4, a.data.data() + panel * a.k4 * kQGemmMr, b + j0 * 4, bOff,
                std::min(kQGemmMr, a.m - i0), std::min(v.nr, n - j0), bias.data() + i0,
                scale.data() + i0, rq, c + i0 * ldc + j0, ldc);
    }
  });
}

void qgemmU8S8(const QPackedA& a, const uint8_t* packedB, int64_t n, uint8_t zeroB,
               const QRequant& rq, void* c, int64_t ldc) {
  const int64_t ldb = qgemmPaddedN(n) * 4;
  std::vector<int64_t> offsets(static_cast<size_t>(a.k4));
  for (int64_t kk = 0; kk < a.k4; ++kk) offsets[kk] = kk * ldb;
  qgemm::drive(qgemm::activeVariant(), a, packedB, offsets.data(), n, zeroB, rq,
               static_cast<uint8_t*>(c), ldc);
}

int64_t qgemmRowsScratchBytes(const QPackedA& a, int64_t rows) {
  const int64_t panelRows = (a.m + kQGemmMr - 1) / kQGemmMr * kQGemmMr;
  // The column path: a packed column, qgemmU8S8's offsets, the driver's bias and scale rows.
  const int64_t column = qgemmPackedBSize(a.k, 1) + 8 * a.k4 + 8 * panelRows;
  // The VNNI path: the padded rows and the folded bias.
  const int64_t vnni = scratchProduct(rows, a.k4 * 4) + 4 * a.m;
  return std::max(column, vnni);
}

void qgemmRowsU8S8(const QPackedA& a, const uint8_t* x, int64_t rows, uint8_t zeroX,
                   const QRequant& rq, void* y) {
  auto* out = static_cast<uint8_t*>(y);
  if (activeIsa() != CpuIsa::kAvx512 || !cpuFeatures().avx512vnni) {
    // One column of B per row: the GEMM handles it on every ISA, with 1-column blocks.
    std::vector<uint8_t> packed(static_cast<size_t>(qgemmPackedBSize(a.k, 1)));
    for (int64_t r = 0; r < rows; ++r) {
      packQGemmB(x + r * a.k, a.k, 1, 1, packed.data(), zeroX);
      qgemmU8S8(a, packed.data(), 1, zeroX, rq, out + r * a.m, 1);
    }
    return;
  }
  const int64_t panels = (a.m + kQGemmMr - 1) / kQGemmMr, ldx = a.k4 * 4;
  // Rows padded to whole groups of 4 (the padded weights are zero, so the fill is free).
  std::vector<uint8_t> padded(static_cast<size_t>(rows * ldx), zeroX);
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(padded.data() + r * ldx, x + r * a.k, static_cast<size_t>(a.k));
  std::vector<int32_t> bias(static_cast<size_t>(a.m));
  for (int64_t i = 0; i < a.m; ++i)
    bias[i] = (rq.bias ? rq.bias[i] : 0) - static_cast<int32_t>(zeroX) * a.rowSums[i];
  // Reading A dominates: ~32 KB of it per task.
  const size_t grain = static_cast<size_t>(std::max<int64_t>(1, (1 << 15) / (a.k4 * 32)));
  globalThreadPool().parallelFor(static_cast<size_t>(panels), grain, [&](size_t b, size_t e) {
    qgemm::rowsPanelsAvx512Vnni(a, padded.data(), ldx, rows, static_cast<int64_t>(b),
                                static_cast<int64_t>(e), bias.data(), rq.scale, rq, out, a.m);
  });
}

}  // namespace kiln::kernels
