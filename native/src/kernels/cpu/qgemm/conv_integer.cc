// ConvInteger as im2col + an int16 GEMM. Centred values lie in [-255, 255], so two products and
// their sum fit pmaddwd's 32-bit lanes exactly (SSE2, the baseline every x86-64 has; AVX-512BW
// where the ISA tier allows), and paddd wraps the running sums modulo 2^32. Tasks are blocks of
// output columns of one image and group; each lowers its im2col columns a K chunk at a time into
// thread scratch, so the scratch stays small whatever the kernel size (a direct loop cost minutes
// on the fuzzers' large kernels).
#include "kiln/kernels/conv_integer.h"

#include <emmintrin.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/common/scratch.h"
#include "kernels/cpu/qgemm/conv_integer_internal.h"
#include "kiln/cpu_features.h"
#include "kiln/error.h"
#include "kiln/kernels/scratch.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {
namespace {

// Weight rows per tile; columns per tile are the ISA's (Tile).
constexpr int64_t kMr = 4;
// Output columns per task at most, and int32 words (K pairs x columns) of one im2col chunk at
// most: 256 KB, which stays in L2 while every row panel of the weights passes over it.
constexpr int64_t kMaxCols = 64;
constexpr int64_t kChunkWords = 65536;

void checkParams(const IntegerConvParams& p) {
  const size_t rank = p.in.size();
  bool ok =
      rank >= 1 && p.out.size() == rank && p.kernel.size() == rank && p.stride.size() == rank &&
      p.dilation.size() == rank && p.padBegin.size() == rank && p.batch >= 0 && p.inChannels >= 1 &&
      p.outChannels >= 1 && p.group >= 1 && p.inChannels % p.group == 0 &&
      p.outChannels % p.group == 0 &&
      (p.wZeroPoints.size() == 1 || static_cast<int64_t>(p.wZeroPoints.size()) == p.outChannels);
  for (size_t d = 0; ok && d < rank; ++d)
    ok = p.in[d] >= 0 && p.out[d] >= 0 && p.kernel[d] >= 1 && p.stride[d] >= 1 &&
         p.dilation[d] >= 1 && p.padBegin[d] >= 0;
  if (!ok) throw Error(ErrorCode::kInvalidArgument, "integerConv: invalid parameters");
}

// Saturating (scratchProduct), so the scratch bound of an absurd shape stays finite.
int64_t volume(const std::vector<int64_t>& dims) {
  int64_t v = 1;
  for (int64_t d : dims) v = d == 0 ? 0 : scratchProduct(v, d);
  return v;
}

// acc[r * nr + c] = the dot products of kMr weight rows (a, row stride lda words) with nr im2col
// columns (b, one pair row every ldb int16), over `pairs` K pairs.
struct Tile {
  void (*run)(const int32_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t pairs,
              int32_t* acc);
  int64_t nr;
};

KILN_NO_COVERAGE void tileSse2(const int32_t* a, int64_t lda, const int16_t* b, int64_t ldb,
                               int64_t pairs, int32_t* acc) {
  __m128i sum[kMr][2];
  for (auto& s : sum) s[0] = s[1] = _mm_setzero_si128();
  for (int64_t kk = 0; kk < pairs; ++kk) {
    const int16_t* bk = b + kk * ldb;
    const __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bk));
    const __m128i b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bk + 8));
    for (int64_t r = 0; r < kMr; ++r) {
      const __m128i w = _mm_set1_epi32(a[r * lda + kk]);
      sum[r][0] = _mm_add_epi32(sum[r][0], _mm_madd_epi16(w, b0));
      sum[r][1] = _mm_add_epi32(sum[r][1], _mm_madd_epi16(w, b1));
    }
  }
  for (int64_t r = 0; r < kMr; ++r) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(acc + r * 8), sum[r][0]);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(acc + r * 8 + 4), sum[r][1]);
  }
}

Tile activeTile() {
  if (activeIsa() == CpuIsa::kAvx512) return {isa_avx512::integerConvTile, 32};
  return {tileSse2, 8};
}

// The sizes both integerConv and its scratch bound derive from the parameters.
struct Blocking {
  Tile tile;
  int64_t cg, mg, mPad, kSize, k, kPairs, n, cols, colBlocks, chunkPairs;
  // Thread scratch, in words: the packed weights, one im2col chunk, the task's window origins.
  int64_t weightWords, chunkWords, originWords;
};

Blocking blocking(const IntegerConvParams& p) {
  Blocking b;
  b.tile = activeTile();
  b.cg = p.inChannels / p.group;
  b.mg = p.outChannels / p.group;
  b.mPad = (b.mg + kMr - 1) / kMr * kMr;
  b.kSize = volume(p.kernel);
  b.k = scratchProduct(b.cg, b.kSize);
  b.kPairs = (b.k + 1) / 2;
  b.n = volume(p.out);
  const int64_t nr = b.tile.nr;
  b.cols = std::min(kMaxCols, std::max(nr, (b.n + nr - 1) / nr * nr));
  b.colBlocks = (b.n + b.cols - 1) / b.cols;
  b.chunkPairs = std::max<int64_t>(1, std::min(b.kPairs, kChunkWords / b.cols));
  b.weightWords = scratchProduct(p.group, scratchProduct(b.mPad, b.kPairs));
  b.chunkWords = b.chunkPairs * b.cols;
  // int64 origins per spatial dim and column, and each column's flat start (WindowOrigins).
  b.originWords = 2 * (static_cast<int64_t>(p.in.size()) + 1) * b.cols;
  return b;
}

int32_t* scratchWords(ScratchSlot slot, int64_t words) {
  return reinterpret_cast<int32_t*>(threadScratch(slot, static_cast<size_t>(words)));
}

// Two int16 in one word, the even K in the low half (pmaddwd's pairing).
int32_t pairWord(int32_t lo, int32_t hi) {
  const uint32_t u =
      static_cast<uint16_t>(lo) | (static_cast<uint32_t>(static_cast<uint16_t>(hi)) << 16);
  return static_cast<int32_t>(u);
}

// Weights minus their zero points as [group][mPad][kPairs] words; padding rows and the half
// past an odd K are zero.
template <typename W>
void packWeights(const IntegerConvParams& p, const Blocking& b, const W* w, int32_t* dst) {
  for (int64_t g = 0; g < p.group; ++g)
    for (int64_t m = 0; m < b.mPad; ++m) {
      int32_t* row = dst + (g * b.mPad + m) * b.kPairs;
      if (m >= b.mg) {
        std::fill(row, row + b.kPairs, 0);
        continue;
      }
      const int64_t oc = g * b.mg + m;
      const int32_t zp = p.wZeroPoints[p.wZeroPoints.size() == 1 ? 0 : oc];
      const W* src = w + oc * b.k;
      for (int64_t kk = 0; kk < b.kPairs; ++kk) {
        const int32_t lo = src[2 * kk] - zp;
        const int32_t hi = 2 * kk + 1 < b.k ? src[2 * kk + 1] - zp : 0;
        row[kk] = pairWord(lo, hi);
      }
    }
}

// The window origin of each column of a task: origin[d * cols + j] along dim d, and start[j],
// the flat input offset of the origin when the whole window lies inside the input (its taps
// then need no bounds checks), or -1.
struct WindowOrigins {
  int64_t* origin;
  int64_t* start;
};

KILN_NO_COVERAGE WindowOrigins windowOrigins(const IntegerConvParams& p, const Blocking& b,
                                             int64_t j0, int64_t width, int64_t* words) {
  const auto rank = static_cast<int64_t>(p.in.size());
  WindowOrigins w{words, words + rank * b.cols};
  for (int64_t j = 0; j < width; ++j) {
    bool inside = true;
    int64_t start = 0;
    for (int64_t pos = j0 + j, d = rank - 1; d >= 0; --d) {
      const int64_t o = (pos % p.out[d]) * p.stride[d] - p.padBegin[d];
      pos /= p.out[d];
      w.origin[d * b.cols + j] = o;
      inside = inside && o >= 0 && o + (p.kernel[d] - 1) * p.dilation[d] < p.in[d];
    }
    for (int64_t d = 0; inside && d < rank; ++d) start = start * p.in[d] + w.origin[d * b.cols + j];
    w.start[j] = inside ? start : -1;
  }
  return w;
}

// Rows [2 * p0, 2 * (p0 + pairs)) of the im2col matrix of one image and group (xg), columns
// [0, width) of the task's block, centred, as dst[pair][cols][2]; padding taps, rows past K and
// columns past width are zero.
template <typename X>
KILN_NO_COVERAGE void im2colChunk(const IntegerConvParams& p, const Blocking& b, const X* xg,
                                  const WindowOrigins& w, int64_t width, int64_t p0, int64_t pairs,
                                  int16_t* dst) {
  const size_t rank = p.in.size();
  const int64_t inSize = volume(p.in);
  const int32_t zero = p.xZeroPoint;
  std::vector<int64_t> taps(rank);  // the row's tap offset along each dim
  for (int64_t k = 2 * p0; k < 2 * (p0 + pairs); ++k) {
    int16_t* row = dst + ((k / 2 - p0) * b.cols) * 2 + k % 2;
    int64_t j = 0;
    if (k < b.k) {
      const X* plane = xg + (k / b.kSize) * inSize;
      for (int64_t t = k % b.kSize, d = static_cast<int64_t>(rank) - 1; d >= 0; --d) {
        taps[d] = (t % p.kernel[d]) * p.dilation[d];
        t /= p.kernel[d];
      }
      int64_t tapOffset = 0;
      for (size_t d = 0; d < rank; ++d) tapOffset = tapOffset * p.in[d] + taps[d];
      for (; j < width; ++j) {
        if (w.start[j] >= 0) {
          row[2 * j] = static_cast<int16_t>(plane[w.start[j] + tapOffset] - zero);
          continue;
        }
        int64_t offset = 0;
        size_t d = 0;
        for (; d < rank; ++d) {
          const int64_t c = w.origin[d * b.cols + j] + taps[d];
          if (static_cast<uint64_t>(c) >= static_cast<uint64_t>(p.in[d])) break;
          offset = offset * p.in[d] + c;
        }
        row[2 * j] = d < rank ? 0 : static_cast<int16_t>(plane[offset] - zero);
      }
    }
    for (; j < b.cols; ++j) row[2 * j] = 0;
  }
}

template <typename X>
void run(const IntegerConvParams& p, const Blocking& b, const X* x, const int32_t* weights,
         int32_t* y) {
  const int64_t inSize = volume(p.in), nr = b.tile.nr;
  const auto tasks = static_cast<size_t>(p.batch * p.group * b.colBlocks);
  globalThreadPool().parallelFor(tasks, 1, [&](size_t begin, size_t end) {
    auto* chunk = reinterpret_cast<int16_t*>(scratchWords(ScratchSlot::kIm2col, b.chunkWords));
    auto* originWords = reinterpret_cast<int64_t*>(scratchWords(ScratchSlot::kWork, b.originWords));
    for (size_t task = begin; task < end; ++task) {
      const int64_t blk = static_cast<int64_t>(task) % b.colBlocks;
      const int64_t image = static_cast<int64_t>(task) / b.colBlocks / p.group;
      const int64_t g = static_cast<int64_t>(task) / b.colBlocks % p.group;
      const int64_t j0 = blk * b.cols, width = std::min(b.cols, b.n - j0);
      const WindowOrigins origins = windowOrigins(p, b, j0, width, originWords);
      const X* xg = x + (image * p.inChannels + g * b.cg) * inSize;
      int32_t* yg = y + (image * p.outChannels + g * b.mg) * b.n + j0;
      for (int64_t p0 = 0; p0 < b.kPairs; p0 += b.chunkPairs) {
        const int64_t pairs = std::min(b.chunkPairs, b.kPairs - p0);
        im2colChunk(p, b, xg, origins, width, p0, pairs, chunk);
        for (int64_t m0 = 0; m0 < b.mg; m0 += kMr) {
          const int32_t* a = weights + (g * b.mPad + m0) * b.kPairs + p0;
          for (int64_t c0 = 0; c0 < width; c0 += nr) {
            alignas(64) int32_t acc[kMr * 32];
            b.tile.run(a, b.kPairs, chunk + 2 * c0, 2 * b.cols, pairs, acc);
            for (int64_t r = 0; r < std::min(kMr, b.mg - m0); ++r) {
              int32_t* out = yg + (m0 + r) * b.n + c0;
              const int32_t* sums = acc + r * nr;
              for (int64_t c = 0; c < std::min(nr, width - c0); ++c)
                out[c] = p0 == 0 ? sums[c]
                                 : static_cast<int32_t>(static_cast<uint32_t>(out[c]) +
                                                        static_cast<uint32_t>(sums[c]));
            }
          }
        }
      }
    }
  });
}

}  // namespace

void integerConvScratch(const IntegerConvParams& p, ScratchNeed* need) {
  checkParams(p);
  const Blocking b = blocking(p);
  if (p.batch == 0 || b.n == 0) return;
  need->atLeast(static_cast<size_t>(ScratchSlot::kPackA), b.weightWords);
  need->atLeast(static_cast<size_t>(ScratchSlot::kIm2col), b.chunkWords);
  need->atLeast(static_cast<size_t>(ScratchSlot::kWork), b.originWords);
}

void integerConv(const IntegerConvParams& p, const void* x, const void* w, int32_t* y) {
  checkParams(p);
  const Blocking b = blocking(p);
  if (p.batch == 0 || b.n == 0) return;
  // Packed once on the calling thread; the tasks only read it.
  int32_t* weights = scratchWords(ScratchSlot::kPackA, b.weightWords);
  if (p.wSigned)
    packWeights(p, b, static_cast<const int8_t*>(w), weights);
  else
    packWeights(p, b, static_cast<const uint8_t*>(w), weights);
  if (p.xSigned)
    run(p, b, static_cast<const int8_t*>(x), weights, y);
  else
    run(p, b, static_cast<const uint8_t*>(x), weights, y);
}

}  // namespace kiln::kernels
