// Linear quantization between float32 and int8/uint8 (or int32 for DequantizeLinear):
// QuantizeLinear, DequantizeLinear (per tensor or per axis), DynamicQuantizeLinear.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/op.h"
#include "engine/ops/register.h"
#include "kiln/kernels/cast.h"

namespace kiln {
namespace {

// Round half to even (the current rounding mode), then clamp into the type's range.
template <typename T>
T saturateRound(float v) {
  const float r = std::nearbyint(v);
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

void registerQuantizeOps(OpTable& table) {
  table["QuantizeLinear"] = OpImpl{inferQuantize, runQuantize};
  table["DequantizeLinear"] = OpImpl{inferDequantize, runDequantize};
  table["DynamicQuantizeLinear"] = OpImpl{inferDynamicQuantize, runDynamicQuantize};
}

}  // namespace kiln
