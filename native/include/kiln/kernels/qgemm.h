// 8-bit integer GEMM and convolution: uint8 activations x int8 weights accumulated in int32
// (AVX512-VNNI / AVX-VNNI vpdpbusd, an exact 16-bit emulation on plain AVX2, scalar), with the
// requantization to 8 bits fused in the epilogue. Weights are packed once (per-row sums kept
// for the activation zero point); activations are packed per call into groups of 4 along K.
#pragma once

#include <cstdint>
#include <vector>

namespace kiln::kernels {

// Rows of A per packed panel, and the column multiple packed activations are padded to.
constexpr int64_t kQGemmMr = 8;
constexpr int64_t kQGemmNAlign = 16;

// How int32 accumulators of row m become an output byte:
// out = clamp(round((acc + bias[m]) * scale[m]) + zeroPoint, lo, hi) (round half to even).
struct QRequant {
  const int32_t* bias = nullptr;  // per row; the packed weights' zero-point correction is added
  const float* scale = nullptr;   // per row
  int32_t zeroPoint = 0;
  int32_t lo = 0, hi = 255;  // [0, 255] for uint8 out, [-128, 127] for int8; narrower for relu
  bool outSigned = false;
};

// A (m x k, int8, row-major) packed into panels of kQGemmMr rows x 4 k, K padded to 4.
struct QPackedA {
  int64_t m = 0, k = 0, k4 = 0;
  std::vector<int32_t> data;     // [ceil(m / Mr)][k4][Mr], 4 int8 per int32
  std::vector<int32_t> rowSums;  // sum over k of A[m][k], for the activation zero point
};

QPackedA packQGemmA(const int8_t* a, int64_t m, int64_t k);

// Bytes of a packed B for k x n: k4 rows of nPad * 4 bytes.
int64_t qgemmPackedBSize(int64_t k, int64_t n);
inline int64_t qgemmPaddedN(int64_t n) {
  return (n + kQGemmNAlign - 1) / kQGemmNAlign * kQGemmNAlign;
}

// Packs B (k x n uint8, row stride ldb) into groups of 4 rows: dst[k4][nPad][4]; the rows past
// k are filled with `fill` (their weights are zero, so any value works).
void packQGemmB(const uint8_t* b, int64_t k, int64_t n, int64_t ldb, uint8_t* dst, uint8_t fill);

// C (m x n, 8-bit, row stride ldc) = requant(A * B - zeroB * rowSums(A)), B packed by packQGemmB.
// Splits the work over the global thread pool.
void qgemmU8S8(const QPackedA& a, const uint8_t* packedB, int64_t n, uint8_t zeroB,
               const QRequant& rq, void* c, int64_t ldc);

// A fully connected layer: y[r][i] = requant(sum_k (x[r][k] - zeroX) * A[i][k]) for rows r of x
// (rows x a.k uint8, row-major) and y (rows x a.m, 8-bit, row-major); A is the weights packed by
// packQGemmA, one output per row. Few rows make it a matrix-vector product, bound by reading A.
void qgemmRowsU8S8(const QPackedA& a, const uint8_t* x, int64_t rows, uint8_t zeroX,
                   const QRequant& rq, void* y);
// The bytes qgemmRowsU8S8 allocates for one call (an upper bound over both of its paths).
int64_t qgemmRowsScratchBytes(const QPackedA& a, int64_t rows);

// 2-D convolution over uint8 NCHW input with packed int8 weights (group 1, or depthwise when
// group == channels; other groups run one qgemm per group).
struct QConv2dParams {
  int64_t batch = 1, inChannels = 0, inH = 0, inW = 0, outChannels = 0;
  int64_t kernelH = 1, kernelW = 1, strideH = 1, strideW = 1, dilationH = 1, dilationW = 1;
  int64_t padTop = 0, padLeft = 0, padBottom = 0, padRight = 0;
  int64_t group = 1;
  uint8_t inZeroPoint = 0;
};

void qconv2dOutputShape(const QConv2dParams& p, int64_t* outH, int64_t* outW);

// Weights prepared once for qconv2d: one packed A per group (or the raw depthwise filters).
struct QConvWeights {
  bool depthwise = false;
  std::vector<QPackedA> groups;
  // Group-1 k x k filters with K ordered (ky, kx, channel) in groups of 4 channels: the
  // convolution reads its windows straight from padded, 4-channel-interleaved copies of the
  // input's stride phases instead of an im2col matrix (AVX512-VNNI only, channels a multiple of
  // 4 or at least 32; m == 0 when not packed).
  QPackedA implicit;
  std::vector<int8_t> depthwiseFilters;  // [channels][kh * kw]
  std::vector<int32_t> depthwiseSums;    // per channel
};

// weights: [outChannels][inChannels / group][kh][kw] int8.
QConvWeights packQConvWeights(const QConv2dParams& p, const int8_t* weights);

// out: NCHW 8-bit; rq's bias/scale are per output channel.
void qconv2d(const QConv2dParams& p, const QConvWeights& w, const uint8_t* x, const QRequant& rq,
             void* out);

struct ScratchNeed;
// The scratch one thread of qconv2d(p, w, ...) asks for at most (p's zero point does not matter).
void qconv2dScratch(const QConv2dParams& p, const QConvWeights& w, ScratchNeed* need);

}  // namespace kiln::kernels
