// Linear quantization between float32 and int8/uint8 (or int32 for DequantizeLinear):
// QuantizeLinear, DequantizeLinear (per tensor or per axis), DynamicQuantizeLinear; and the
// integer ops MatMulInteger and QLinearMatMul, computed exactly in doubles, and ConvInteger (and
// MaxUnpool), which spatial_nd.cc runs with exact int32 sums. Per-tensor quantize/dequantize run
// the vectorized kernels of kiln/kernels/quantize.h; QLinearConv lives in qlinear_ops.cc.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/op.h"
#include "engine/ops/register.h"
#include "engine/ops/spatial_nd.h"
#include "kiln/kernels/cast.h"
#include "kiln/kernels/eltwise.h"
#include "kiln/kernels/quantize.h"

namespace kiln {
namespace {

// Round half to even (the current rounding mode), then clamp into the type's range.
template <typename T>
T saturateRound(float v) {
  const float r = std::nearbyint(v);
  if (std::isnan(r)) return T{0};  // converting NaN to an integer would be undefined
  const float lo = static_cast<float>(std::numeric_limits<T>::min());
  const float hi = static_cast<float>(std::numeric_limits<T>::max());
  return static_cast<T>(std::min(std::max(r, lo), hi));
}

// Scale and zero point of element k: per tensor, or per slice along `axis`.
struct QuantParams {
  int64_t axis = 0;
  int64_t inner = 1;  // elements per step along axis
  int64_t count = 1;  // scales (1: per tensor)
};

QuantParams quantParams(const OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  QuantParams q;
  q.count = shapeElements(ctx.shape(1));
  ctx.require(ctx.layer.attrInt("block_size", 0) == 0, "blocked quantization is not supported");
  if (ctx.has(2))
    ctx.require(shapeElements(ctx.shape(2)) == q.count, "zero point and scale need one size");
  if (q.count == 1) return q;
  ctx.require(ctx.shape(1).size() == 1, "scales must be a scalar or 1-D");
  ctx.require(!x.empty(), "per-axis scales need an input of rank >= 1");
  q.axis = normalizeAxis(ctx, ctx.layer.attrInt("axis", 1), static_cast<int64_t>(x.size()));
  ctx.require(x[q.axis] == q.count, "one scale per element of the quantization axis");
  q.inner = shapeElements(Dims(x.begin() + q.axis + 1, x.end()));
  return q;
}

int64_t channelOf(const QuantParams& q, int64_t k) {
  return q.count == 1 ? 0 : (k / q.inner) % q.count;
}

// Zero points as int32 (any of int8, uint8, int32); zeros when absent.
std::vector<int32_t> zeroPoints(const OpContext& ctx, int64_t count) {
  std::vector<int32_t> zp(static_cast<size_t>(count), 0);
  if (ctx.has(2))
    kernels::cast(ctx.in[2].data, ctx.dtype(2), zp.data(), DataType::kInt32,
                  static_cast<size_t>(count));
  return zp;
}

void inferQuantize(OpContext& ctx) {
  ctx.requireFloatInputs({0, 1});
  const DataType t = ctx.has(2) ? ctx.dtype(2) : DataType::kUInt8;
  ctx.require(t == DataType::kUInt8 || t == DataType::kInt8,
              std::string("quantizing to ") + dataTypeName(t) + " is not supported");
  quantParams(ctx);
  ctx.outShapes[0] = ctx.shape(0);
  ctx.outTypes[0] = t;
}

void runQuantize(OpContext& ctx) {
  const QuantParams q = quantParams(ctx);
  const std::vector<int32_t> zp = zeroPoints(ctx, q.count);
  const float* x = ctx.f32(0);
  const float* scale = ctx.f32(1);
  const int64_t n = shapeElements(ctx.shape(0));
  const bool isSigned = ctx.outTypes[0] == DataType::kInt8;
  if (q.count == 1) return kernels::quantizeLinear(x, n, scale[0], zp[0], isSigned, ctx.out[0]);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t c = channelOf(q, k);
    // Rounds x / scale first, then adds the zero point, as the spec orders it.
    const float v = std::nearbyint(x[k] / scale[c]) + static_cast<float>(zp[c]);
    if (isSigned)
      static_cast<int8_t*>(ctx.out[0])[k] = saturateRound<int8_t>(v);
    else
      static_cast<uint8_t*>(ctx.out[0])[k] = saturateRound<uint8_t>(v);
  }
}

void inferDequantize(OpContext& ctx) {
  const DataType t = ctx.dtype(0);
  ctx.require(t == DataType::kUInt8 || t == DataType::kInt8 || t == DataType::kInt32,
              std::string("dequantizing ") + dataTypeName(t) + " is not supported");
  ctx.requireFloatInputs({1});
  if (ctx.has(2)) ctx.require(ctx.dtype(2) == t, "the zero point must have the input's type");
  quantParams(ctx);
  ctx.outShapes[0] = ctx.shape(0);
  ctx.outTypes[0] = DataType::kFloat32;
}

void runDequantize(OpContext& ctx) {
  const QuantParams q = quantParams(ctx);
  const std::vector<int32_t> zp = zeroPoints(ctx, q.count);
  const int64_t n = shapeElements(ctx.shape(0));
  const DataType t = ctx.dtype(0);
  if (q.count == 1 && t != DataType::kInt32)
    return kernels::dequantizeLinear(ctx.in[0].data, t == DataType::kInt8, n, ctx.f32(1)[0], zp[0],
                                     ctx.outF32(0));
  std::vector<int32_t> x(static_cast<size_t>(n));
  kernels::cast(ctx.in[0].data, ctx.dtype(0), x.data(), DataType::kInt32, static_cast<size_t>(n));
  const float* scale = ctx.f32(1);
  float* y = ctx.outF32(0);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t c = channelOf(q, k);
    y[k] = static_cast<float>(x[k] - zp[c]) * scale[c];
  }
}

void inferDynamicQuantize(OpContext& ctx) {
  ctx.requireFloatInputs({0});
  ctx.outShapes[0] = ctx.shape(0);
  ctx.outTypes[0] = DataType::kUInt8;
  for (size_t o = 1; o < ctx.outShapes.size(); ++o) ctx.outShapes[o] = Dims{};
  if (ctx.outTypes.size() > 1) ctx.outTypes[1] = DataType::kFloat32;
  if (ctx.outTypes.size() > 2) ctx.outTypes[2] = DataType::kUInt8;
}

// uint8 with a range that always includes 0: scale = (max - min) / 255, zero point = the
// quantized 0.
void runDynamicQuantize(OpContext& ctx) {
  const float* x = ctx.f32(0);
  const int64_t n = shapeElements(ctx.shape(0));
  float lo = 0, hi = 0;
  for (int64_t k = 0; k < n; ++k) {
    lo = std::min(lo, x[k]);
    hi = std::max(hi, x[k]);
  }
  const float scale = (hi - lo) / 255.0f;
  const uint8_t zp = scale == 0 ? 0 : saturateRound<uint8_t>(-lo / scale);
  auto* y = static_cast<uint8_t*>(ctx.out[0]);
  for (int64_t k = 0; k < n; ++k)
    y[k] = scale == 0
               ? zp
               : saturateRound<uint8_t>(std::nearbyint(x[k] / scale) + static_cast<float>(zp));
  if (ctx.out.size() > 1 && ctx.out[1]) *ctx.outF32(1) = scale;
  if (ctx.out.size() > 2 && ctx.out[2]) *static_cast<uint8_t*>(ctx.out[2]) = zp;
}

}  // namespace

namespace {

// numpy matmul shapes: batch dims broadcast, 1-D operands promoted and their dim dropped.
struct MatMulShape {
  Dims batch, aBatch, bBatch;
  int64_t m = 1, k = 1, n = 1;
  Dims out;
};

MatMulShape matMulShape(const OpContext& ctx, size_t aIn, size_t bIn) {
  Dims a = ctx.shape(aIn), b = ctx.shape(bIn);
  ctx.require(!a.empty() && !b.empty(), "matmul operands must have rank >= 1");
  const bool aVec = a.size() == 1, bVec = b.size() == 1;
  if (aVec) a.insert(a.begin(), 1);
  if (bVec) b.push_back(1);
  MatMulShape s;
  s.m = a[a.size() - 2];
  s.k = a.back();
  s.n = b.back();
  ctx.require(b[b.size() - 2] == s.k, "matmul inner dims differ");
  s.aBatch.assign(a.begin(), a.end() - 2);
  s.bBatch.assign(b.begin(), b.end() - 2);
  s.batch = kernels::broadcastShapes(s.aBatch, s.bBatch);
  s.out = s.batch;
  if (!aVec) s.out.push_back(s.m);
  if (!bVec) s.out.push_back(s.n);
  return s;
}

// The flat batch index into `dims` (right-aligned, broadcast) of batch position `pos`.
int64_t batchOffset(const Dims& dims, const Dims& batch, int64_t pos) {
  int64_t offset = 0, stride = 1;
  for (size_t d = batch.size(); d-- > 0;) {
    const int64_t i = pos % batch[d];
    pos /= batch[d];
    const int64_t back = static_cast<int64_t>(batch.size() - d);
    if (back <= static_cast<int64_t>(dims.size())) {
      const int64_t dim = dims[dims.size() - static_cast<size_t>(back)];
      offset += (dim == 1 ? 0 : i) * stride;
      stride *= dim;
    }
  }
  return offset;
}

// An 8-bit (or int32) input minus its zero point, which may be per row of A (aRows) or per
// column of B (per = 1 for B), as doubles.
std::vector<double> centeredMatrix(const OpContext& ctx, size_t in, size_t zp, int64_t cols,
                                   bool perColumn) {
  const size_t n = static_cast<size_t>(shapeElements(ctx.shape(in)));
  std::vector<int32_t> v(n);
  kernels::cast(ctx.in[in].data, ctx.dtype(in), v.data(), DataType::kInt32, n);
  std::vector<int32_t> z(1, 0);
  if (ctx.has(zp)) {
    z.resize(static_cast<size_t>(shapeElements(ctx.shape(zp))));
    ctx.require(!z.empty(), "a zero point must not be empty");
    kernels::cast(ctx.in[zp].data, ctx.dtype(zp), z.data(), DataType::kInt32, z.size());
  }
  std::vector<double> out(n);
  if (cols == 0) return out;  // no elements
  for (size_t i = 0; i < n; ++i) {
    const int64_t col = static_cast<int64_t>(i) % cols;
    const int64_t row = static_cast<int64_t>(i) / cols;
    const size_t zi =
        z.size() == 1
            ? 0
            : static_cast<size_t>((perColumn ? col : row) % static_cast<int64_t>(z.size()));
    out[i] = static_cast<double>(int64_t{v[i]} - z[zi]);
  }
  return out;
}

// Exact integer matmul in doubles (8-bit products sum exactly far beyond any real K).
std::vector<double> integerMatMul(const OpContext& ctx, const MatMulShape& s, size_t aIn,
                                  size_t aZp, size_t bIn, size_t bZp) {
  const std::vector<double> a = centeredMatrix(ctx, aIn, aZp, s.k, false);
  const std::vector<double> b = centeredMatrix(ctx, bIn, bZp, s.n, true);
  const int64_t batches = shapeElements(s.batch);
  std::vector<double> y(static_cast<size_t>(batches * s.m * s.n), 0.0);
  for (int64_t p = 0; p < batches; ++p) {
    const double* pa = a.data() + batchOffset(s.aBatch, s.batch, p) * s.m * s.k;
    const double* pb = b.data() + batchOffset(s.bBatch, s.batch, p) * s.k * s.n;
    double* py = y.data() + p * s.m * s.n;
    for (int64_t i = 0; i < s.m; ++i)
      for (int64_t kk = 0; kk < s.k; ++kk)
        for (int64_t j = 0; j < s.n; ++j) py[i * s.n + j] += pa[i * s.k + kk] * pb[kk * s.n + j];
  }
  return y;
}

void requireEightBit(const OpContext& ctx, size_t in) {
  const DataType t = ctx.dtype(in);
  ctx.require(t == DataType::kUInt8 || t == DataType::kInt8, "operands must be 8-bit integers");
}

// The spec types a zero point like its operand; a wider one could overflow the exact sums.
void requireZeroPointType(const OpContext& ctx, size_t zp, size_t operand) {
  if (ctx.has(zp))
    ctx.require(ctx.dtype(zp) == ctx.dtype(operand), "a zero point must have its operand's type");
}

void inferMatMulInteger(OpContext& ctx) {
  requireEightBit(ctx, 0);
  requireEightBit(ctx, 1);
  requireZeroPointType(ctx, 2, 0);
  requireZeroPointType(ctx, 3, 1);
  ctx.outShapes[0] = matMulShape(ctx, 0, 1).out;
  ctx.outTypes[0] = DataType::kInt32;
}

void runMatMulInteger(OpContext& ctx) {
  const std::vector<double> y = integerMatMul(ctx, matMulShape(ctx, 0, 1), 0, 2, 1, 3);
  auto* dst = static_cast<int32_t*>(ctx.out[0]);
  // Sums past int32 wrap, as an int32 accumulator would (two's complement, no UB).
  for (size_t i = 0; i < y.size(); ++i)
    dst[i] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<int64_t>(y[i])));
}

// QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp).
void inferQLinearMatMul(OpContext& ctx) {
  requireEightBit(ctx, 0);
  requireEightBit(ctx, 3);
  requireEightBit(ctx, 7);
  requireZeroPointType(ctx, 2, 0);
  requireZeroPointType(ctx, 5, 3);
  ctx.requireFloatInputs({1, 4, 6});
  const MatMulShape s = matMulShape(ctx, 0, 3);
  const int64_t bScales = shapeElements(ctx.shape(4));
  ctx.require(shapeElements(ctx.shape(1)) == 1 && shapeElements(ctx.shape(6)) == 1 &&
                  shapeElements(ctx.shape(7)) == 1,
              "a_scale, y_scale and y_zero_point must be scalars");
  ctx.require(bScales == 1 || bScales == s.n, "b_scale must be a scalar or one per column of b");
  ctx.outShapes[0] = s.out;
  ctx.outTypes[0] = ctx.dtype(7);
}

void runQLinearMatMul(OpContext& ctx) {
  const MatMulShape s = matMulShape(ctx, 0, 3);
  const std::vector<double> acc = integerMatMul(ctx, s, 0, 2, 3, 5);
  const int64_t bScales = shapeElements(ctx.shape(4));
  int32_t yzp = 0;
  kernels::cast(ctx.in[7].data, ctx.dtype(7), &yzp, DataType::kInt32, 1);
  const bool isSigned = ctx.outTypes[0] == DataType::kInt8;
  for (size_t i = 0; i < acc.size(); ++i) {
    const int64_t col = static_cast<int64_t>(i) % s.n;
    const float scale = ctx.f32(1)[0] * ctx.f32(4)[bScales > 1 ? col : 0] / ctx.f32(6)[0];
    const float v = static_cast<float>(std::nearbyint(acc[i] * scale)) + static_cast<float>(yzp);
    if (isSigned)
      static_cast<int8_t*>(ctx.out[0])[i] = saturateRound<int8_t>(v);
    else
      static_cast<uint8_t*>(ctx.out[0])[i] = saturateRound<uint8_t>(v);
  }
}

}  // namespace

void registerQuantizeOps(OpTable& table) {
  table["QuantizeLinear"] = OpImpl{inferQuantize, runQuantize};
  table["DequantizeLinear"] = OpImpl{inferDequantize, runDequantize};
  table["DynamicQuantizeLinear"] = OpImpl{inferDynamicQuantize, runDynamicQuantize};
  table["MatMulInteger"] = OpImpl{inferMatMulInteger, runMatMulInteger};
  table["QLinearMatMul"] = OpImpl{inferQLinearMatMul, runQLinearMatMul};
  // Run by spatial_nd.cc.
  table["ConvInteger"] =
      OpImpl{inferConvInteger, runConvInteger, true, nullptr, scratchConvInteger};
  table["MaxUnpool"] = OpImpl{inferMaxUnpool, runMaxUnpool};
}

}  // namespace kiln
