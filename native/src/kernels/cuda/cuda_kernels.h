// The project's own CUDA kernels (elementwise, activation, pooling, conversions, row norms,
// element moves), callable from plain C++. Every launcher enqueues on `stream` and returns the
// launch status; callers check it. The templated ones exist for T = float and T = __half (FP16
// layers); half kernels compute in float and round once when they store.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "graph/chain_opcodes.h"
#include "kiln/kernels/activation.h"

namespace kiln::cuda {

constexpr int kMaxRank = 8;

// y[i] = act(y[i] + bias[channel of i] + residual[i]) over an [outer, channels, inner] tensor;
// bias and residual may be null. Conv and Gemm epilogues and standalone activations
// (channels = 1, no bias) all use it. In place is allowed (x == y).
// `nhwc`: the tensor is [outer, inner, channels] in memory (the channel is the fastest dim).
template <typename T>
cudaError_t biasActivation(const T* x, T* y, int64_t outer, int64_t channels, int64_t inner,
                           const T* bias, const T* residual, kernels::Activation act,
                           cudaStream_t stream, bool nhwc = false);

// out[0] = max |a - b| (infinite when either holds NaN or Inf), out[1] = max |b|, over `count`
// half values; `out` is two device floats.
cudaError_t halfDistance(const __half* a, const __half* b, int64_t count, float* out,
                         cudaStream_t stream);

// The float semantics of the cpu's kernels::binary: Max/Min propagate NaN, kMod is the
// floor-mod (divisor's sign), kFmod C's fmod (dividend's sign), PRelu is x < 0 ? x * b : x.
enum class BinaryOp { kAdd, kSub, kMul, kDiv, kPow, kMax, kMin, kMod, kFmod, kPRelu };

// Element strides of an input broadcast to the output's dims (0 along broadcast dims).
struct BroadcastShape {
  int rank = 0;
  int64_t dims[kMaxRank] = {};  // the output's
  int64_t strideA[kMaxRank] = {};
  int64_t strideB[kMaxRank] = {};
  int64_t strideC[kMaxRank] = {};  // a third operand (Where)
};

// out = a (op) b with numpy broadcasting; `count` output elements.
template <typename T>
cudaError_t binary(BinaryOp op, const T* a, const T* b, T* out, const BroadcastShape& shape,
                   int64_t count, cudaStream_t stream);

// ---- elementwise math, tests and logic (eltwise/unary.cu, eltwise/logic.cu, eltwise/cast.cu)

// Float functions of one value, as the cpu's unary and math ops define them; `a` and `b` are
// the op's attributes (Selu alpha/gamma, Celu and ThresholdedRelu alpha, Shrink lambd/bias).
enum class UnaryFn {
  kExp,
  kLog,
  kSqrt,
  kErf,
  kAbs,
  kNeg,
  kReciprocal,
  kFloor,
  kCeil,
  kRound,
  kSin,
  kCos,
  kTan,
  kSign,
  kAcos,
  kAcosh,
  kAsin,
  kAsinh,
  kAtan,
  kAtanh,
  kCosh,
  kSinh,
  kSoftsign,
  kSelu,
  kCelu,
  kThresholdedRelu,
  kShrink,
  kScale  // x * a (Mean's 1 / n)
};
template <typename T>
cudaError_t unaryMath(UnaryFn fn, const T* x, T* y, int64_t count, float a, float b,
                      cudaStream_t stream);

// y = min(max(x, lo), hi) (NaN stays NaN); `lo` / `hi` are device scalars, or null for
// `loDefault` / `hiDefault`.
template <typename T>
cudaError_t clip(const T* x, T* y, int64_t count, const T* lo, const T* hi, float loDefault,
                 float hiDefault, cudaStream_t stream);

// y = isnan(x), or with `inf` isinf(x) restricted to the signs asked for; bool bytes.
template <typename T>
cudaError_t floatTest(const T* x, uint8_t* y, int64_t count, bool inf, bool positive, bool negative,
                      cudaStream_t stream);

enum class CompareOp { kEqual, kLess, kLessOrEqual, kGreater, kGreaterOrEqual };
// out = a (op) b as bool bytes, broadcast like binary.
template <typename T>
cudaError_t compare(CompareOp op, const T* a, const T* b, uint8_t* out, const BroadcastShape& shape,
                    int64_t count, cudaStream_t stream);

// And, Or, Xor on bool bytes (nonzero is true), broadcast like binary; kNot reads only a.
enum class LogicalOp { kAnd, kOr, kXor, kNot };
cudaError_t logical(LogicalOp op, const uint8_t* a, const uint8_t* b, uint8_t* out,
                    const BroadcastShape& shape, int64_t count, cudaStream_t stream);

// out = cond ? x : y with cond at strideA, x at strideB, y at strideC; elements of
// `elementBytes` (1, 2, 4 or 8) bytes.
cudaError_t where(const uint8_t* cond, const void* x, const void* y, void* out, int elementBytes,
                  const BroadcastShape& shape, int64_t count, cudaStream_t stream);

// The element types Cast converts between on the GPU, with the cpu's kernels::cast semantics
// (float -> integer truncates and saturates, NaN -> 0; integers narrow modulo 2^bits; bool is
// nonzero; half rounds to nearest even, through float32).
enum class CastType : uint8_t { kFloat32, kFloat16, kInt8, kUInt8, kInt32, kInt64, kBool };
cudaError_t cast(const void* x, CastType from, void* y, CastType to, int64_t count,
                 cudaStream_t stream);

// Hardmax along the middle dim of [outer, dim, inner]: 1 at the first maximum (argReduce's
// choice), 0 elsewhere.
template <typename T>
cudaError_t hardmax(const T* x, T* y, int64_t outer, int64_t dim, int64_t inner,
                    cudaStream_t stream);

// Trilu of `matrices` [rows, cols] matrices of `elementBytes` (1, 2, 4 or 8) bytes: keeps
// j - i >= k (upper) or j - i <= k (lower), zero bytes elsewhere.
cudaError_t trilu(const void* x, void* y, int elementBytes, int64_t matrices, int64_t rows,
                  int64_t cols, int64_t k, bool upper, cudaStream_t stream);

// ---- Resize (resize/resize.cu)

// The cpu's kernels::ResizeParams for one launch: modes as kernels::ResizeMode,
// ResizeCoordMode and ResizeNearestMode (their integer values), scales per axis, roi for
// tf_crop_and_resize ([starts..., ends...]).
struct ResizeShape {
  int rank = 0;
  int64_t inDims[kMaxRank] = {}, outDims[kMaxRank] = {};
  float scales[kMaxRank] = {};
  float roi[2 * kMaxRank] = {};
  int mode = 0, coordMode = 0, nearestMode = 0;
  float cubicCoeffA = -0.75f;
  bool excludeOutside = false;
  float extrapolation = 0.0f;
};
// Each output element is the tensor product of its per-axis taps (nearest: one, linear: two,
// cubic: four), with the cpu's tap positions and weights; axes the cpu leaves untouched (every
// output reads its own index with weight 1) are skipped as the cpu skips them.
template <typename T>
cudaError_t resize(const ResizeShape& shape, const T* x, T* y, cudaStream_t stream);

// ---- the builder's ElementwiseChain (eltwise/chain.cu)

// A chain's steps carry the plan's opcodes (graph/chain_opcodes.h).
constexpr int kMaxChainSteps = 32;
constexpr int kMaxChainInputs = 8;
// Each element starts as inputs[0] and goes through the steps; a binary step's operand is
// inputs[operand] (same shape) or, when operand < 0, `immediate`; `reversed` swaps the sides.
template <typename T>
struct ChainProgram {
  int stepCount = 0;
  ChainOp op[kMaxChainSteps] = {};
  int8_t operand[kMaxChainSteps] = {};
  bool reversed[kMaxChainSteps] = {};
  float immediate[kMaxChainSteps] = {};
  const T* inputs[kMaxChainInputs] = {};
};
template <typename T>
cudaError_t elementwiseChain(const ChainProgram<T>& program, T* y, int64_t count,
                             cudaStream_t stream);

// ---- reductions (reduce/reduce.cu)

// As the cpu's kernels::reduce: sums, products and LogSumExp accumulate in double; Max/Min
// propagate NaN; an empty group gives the identity (Max -inf, Min +inf, Sum 0, Prod 1).
enum class ReduceOp { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kSumSquare, kLogSum, kLogSumExp };
// Output element o reads the group x[base(o) + sum of r_d * reducedStrides[d]]; base(o) walks
// the kept dims (row-major over keptDims) with keptStrides.
struct ReduceShape {
  int keptRank = 0, reducedRank = 0;
  int64_t keptDims[kMaxRank] = {}, keptStrides[kMaxRank] = {};
  int64_t reducedDims[kMaxRank] = {}, reducedStrides[kMaxRank] = {};
  int64_t outCount = 0, groupSize = 0;
};
template <typename T>
cudaError_t reduce(ReduceOp op, const T* x, T* y, const ReduceShape& shape, cudaStream_t stream);

// ArgMax / ArgMin along the middle dim of [outer, dim, inner] (dim > 0) into int64 indices: the
// first extreme (the last with `last`), as the cpu's kernels::argReduce compares.
template <typename T>
cudaError_t argReduce(bool isMax, bool last, const T* x, int64_t* y, int64_t outer, int64_t dim,
                      int64_t inner, cudaStream_t stream);

// out[i] = a[sum of coordinate * strideA] over the output's dims (strideB is ignored), moving
// elements of `elementBytes` (1, 2, 4 or 8) bytes: broadcasts (Expand, GEMM biases) and
// permutations (Transpose).
cudaError_t stridedCopy(const void* a, void* out, int elementBytes, const BroadcastShape& shape,
                        int64_t count, cudaStream_t stream);

// How a float tensor [N, C, spatial...] is stored on the GPU: as the plan says (float32,
// NCHW), as half in the same order, or as half with the channel fastest ([N, spatial..., C],
// the layout of cuDNN's tensor-core convolutions). kByteNhwc: an 8-bit activation (int8 or
// uint8, whose kFloat storage is its plan's NCHW bytes) with the channel fastest, the layout of
// the NHWC tensor-core QLinearConv.
enum class Storage : uint8_t { kFloat, kHalf, kHalfNhwc, kByteNhwc };

// Copies `x` stored as `from` into `y` stored as `to`; the tensor is [n, c, inner]. kByteNhwc
// meets only kFloat (8-bit data).
cudaError_t convert(const void* x, Storage from, void* y, Storage to, int64_t n, int64_t c,
                    int64_t inner, cudaStream_t stream);

// Pad of a tensor of rank <= kMaxRank: output coordinate i of dim d reads input coordinate
// i - before[d], mapped back into [0, inDims[d]) by the mode (or the constant); the cpu's
// kernels::pad.
enum class PadMode : uint8_t { kConstant, kReflect, kEdge, kWrap };
struct PadShape {
  int rank = 0;
  int64_t outDims[kMaxRank] = {}, inDims[kMaxRank] = {}, before[kMaxRank] = {};
  PadMode mode = PadMode::kConstant;
  uint64_t value = 0;  // the constant: its bytes in the low `elementBytes` bytes
};
cudaError_t pad(const void* x, void* y, int elementBytes, const PadShape& shape, int64_t count,
                cudaStream_t stream);

// Gather along one axis of x viewed as [outer, axisDim, inner] into y [outer, count, inner];
// every index must lie in [-axisDim, axisDim) (checked by the caller).
struct GatherShape {
  int64_t outer = 1, axisDim = 1, count = 1, inner = 1;
  int elementBytes = 4;   // of x and y: 1, 2, 4 or 8
  bool indices64 = true;  // int64 indices, else int32
};
cudaError_t gather(const GatherShape& shape, const void* x, const void* indices, void* y,
                   cudaStream_t stream);

// LayerNormalization of `rowCount` rows of `cols` elements; scale and bias (may be null) are
// float32 for half data too, and statistics accumulate in float32.
template <typename T>
cudaError_t layerNorm(const T* x, const float* scale, const float* bias, T* y, int64_t rowCount,
                      int64_t cols, float epsilon, cudaStream_t stream);

// BatchNormalization (inference) of [batch, channels, spatial]: y = (x - mean) * k + bias with
// k = scale / sqrt(var + epsilon) in double, as the cpu computes it; parameters float32.
template <typename T>
cudaError_t batchNorm(const T* x, T* y, int64_t batch, int64_t channels, int64_t spatial,
                      const float* scale, const float* bias, const float* mean, const float* var,
                      float epsilon, cudaStream_t stream);

// InstanceNormalization of [batch, channels, spatial]: one block per (n, c), mean and variance
// in double over the spatial values, y = (x - mean) * (scale / sqrt(var + epsilon)) + bias.
template <typename T>
cudaError_t instanceNorm(const T* x, T* y, int64_t batch, int64_t channels, int64_t spatial,
                         const float* scale, const float* bias, float epsilon, cudaStream_t stream);

// LRN across channels of [batch, channels, inner]: y = x / (bias + alpha / size * s)^beta with
// s the sum of x^2 over channels [c - (size - 1) / 2, c + size / 2] (in double, as the cpu).
template <typename T>
cudaError_t lrn(const T* x, T* y, int64_t batch, int64_t channels, int64_t inner, int64_t size,
                float alpha, float beta, float bias, cudaStream_t stream);

// Softmax (LogSoftmax with `log`) along the middle dim of an [outer, axis, inner] tensor,
// accumulating in float32.
template <typename T>
cudaError_t softmax(const T* x, T* y, int64_t outer, int64_t axis, int64_t inner,
                    cudaStream_t stream, bool log = false);

struct Pool2dParams {
  int64_t batch = 0, channels = 0, inH = 0, inW = 0, outH = 0, outW = 0;
  int64_t kernelH = 1, kernelW = 1, strideH = 1, strideW = 1, dilationH = 1, dilationW = 1;
  int64_t padTop = 0, padLeft = 0, padBottom = 0, padRight = 0;
  bool max = true;
  bool countIncludePad = false;  // AveragePool
  bool nhwc = false;             // x and y are [N, H, W, C] in memory
};

// Max or average pooling.
template <typename T>
cudaError_t pool2d(const Pool2dParams& p, const T* x, T* y, cudaStream_t stream);

// y[n, c] = mean (or max) of x[n, c, :] over `spatial` elements. `nhwc`: x is
// [batch, spatial, channels] in memory (y is [batch, channels] either way).
template <typename T>
cudaError_t globalPool(const T* x, T* y, int64_t batch, int64_t channels, int64_t spatial, bool max,
                       bool nhwc, cudaStream_t stream);

// ---- 8-bit kernels of INT8 engines (quant/quant.cu). They compute the cpu kernels' integers
// exactly; scale and zero-point pointers are device addresses, read by the kernels.

enum class QuantType : uint8_t { kInt8, kUInt8, kInt32 };

// Scales (float32) and zero points of a tensor: per tensor (count 1) or one per slice along an
// axis, slice c covering `inner` consecutive elements (element i is in slice (i / inner) % count).
struct QuantAxis {
  const float* scale = nullptr;
  const void* zeroPoint = nullptr;  // null: zeros
  QuantType zeroType = QuantType::kUInt8;
  int64_t count = 1, inner = 1;
};

// y = saturate(round_half_even(x / scale) + zero point), as int8 or uint8 bytes.
cudaError_t quantizeLinear(const float* x, int64_t n, const QuantAxis& q, bool outSigned, void* y,
                           cudaStream_t stream);
// y = float(x - zero point) * scale, x int8, uint8 or int32.
cudaError_t dequantizeLinear(const void* x, QuantType t, int64_t n, const QuantAxis& q, float* y,
                             cudaStream_t stream);

// QLinearAdd of two same-shape 8-bit tensors (per-tensor scalars on the device).
struct QAddArgs {
  const float *aScale = nullptr, *bScale = nullptr, *cScale = nullptr;
  const void *aZero = nullptr, *bZero = nullptr, *cZero = nullptr;  // null: zero
  bool isSigned = false;
  bool relu = false;  // clamp at the output zero point
};
cudaError_t qlinearAdd(const void* a, const void* b, int64_t n, const QAddArgs& p, void* c,
                       cudaStream_t stream);

// Max pooling of int8 (isSigned) or uint8 data, NCHW or (p.nhwc) NHWC; p.max must be set.
cudaError_t maxPool2d8(const Pool2dParams& p, const void* x, bool isSigned, void* y,
                       cudaStream_t stream);

// QLinearConv, 2-D NCHW: 8-bit x with a per-tensor scale and zero point, int8 weights
// [M, C / group, kH, kW] with zero zero points and per-tensor or per-output-channel scales, an
// optional int32 bias, 8-bit y. Requantized as the cpu does: scale = x_scale * w_scale /
// y_scale, q = round_half_even(float(sum + bias) * scale) + y zero point, clamped.
struct QConvArgs {
  const void* x = nullptr;
  const void* inZeroPoint = nullptr;  // null: zero
  const float* inScale = nullptr;
  bool inSigned = false;
  const void* w = nullptr;
  const float* wScale = nullptr;
  int64_t wScaleCount = 1;
  const int32_t* bias = nullptr;
  const float* outScale = nullptr;
  const void* outZeroPoint = nullptr;
  bool outSigned = false;
  bool relu = false;
  void* y = nullptr;
  int64_t batch = 0, inChannels = 0, inH = 0, inW = 0, outChannels = 0, outH = 0, outW = 0;
  int64_t kernelH = 1, kernelW = 1, strideH = 1, strideW = 1, dilationH = 1, dilationW = 1;
  int64_t padTop = 0, padLeft = 0, group = 1;
};
cudaError_t qconv2d(const QConvArgs& a, cudaStream_t stream);

// The tensor-core path of a QLinearConv with one group (engine/cuda/cuda_int8.cc): an int8 GEMM
// between `cols`, the activations as [batch * outH * outW][kPad] int8 (x - 128 for uint8, the
// zero point in the padding, zeros past K), and the weights as [outChannels][kPad] (kPad a
// multiple of 16, K = inChannels * kernelH * kernelW); then the same requantization as qconv2d.
cudaError_t qconvIm2col(const QConvArgs& a, int64_t kPad, int8_t* cols, cudaStream_t stream);
// wsum[m] = sum of row m of the weights; `padded` (null when kPad == K) gets them at stride kPad.
cudaError_t qconvWeightSums(const QConvArgs& a, int64_t kPad, int8_t* padded, int32_t* wsum,
                            cudaStream_t stream);
// y from the GEMM's int32 sums, [outChannels][batch * outH * outW], or with `pixelRows`
// [batch * outH * outW][outChannels].
cudaError_t qconvRequantize(const QConvArgs& a, const int32_t* sums, const int32_t* wsum,
                            bool pixelRows, cudaStream_t stream);

// The NHWC tensor-core path (quant/qconv_nhwc.cu): x and y NHWC, the same bytes as qconv2d on
// their NCHW transposes. One group and outChannels a multiple of 8 (see qconvNhwcFits); fast when
// inChannels is a multiple of 64, else every activation byte is gathered (for small K). Per
// context: the weights reordered to [M][kH][kW][C] with K padded to 64 and their sums
// (qconvNhwcWeights into qconvNhwcWeightBytes bytes and M int32), then the per-channel
// requantization scale and bias (qconvNhwcParams, M floats and M int32); then qconvNhwc per run.
bool qconvNhwcFits(const QConvArgs& a);
int64_t qconvNhwcWeightBytes(const QConvArgs& a);
cudaError_t qconvNhwcWeights(const QConvArgs& a, int8_t* reordered, int32_t* wsum,
                             cudaStream_t stream);
cudaError_t qconvNhwcParams(const QConvArgs& a, const int32_t* wsum, float* scale, int32_t* bias,
                            cudaStream_t stream);
cudaError_t qconvNhwc(const QConvArgs& a, const int8_t* w, const float* scale, const int32_t* bias,
                      cudaStream_t stream);
// y[i][c][r] = x[i][r][c] for `images` matrices of rows x cols bytes (NCHW <-> NHWC of 8-bit
// data: rows = channels, cols = pixels, or the reverse).
cudaError_t transpose8(const void* x, void* y, int64_t images, int64_t rows, int64_t cols,
                       cudaStream_t stream);

}  // namespace kiln::cuda
