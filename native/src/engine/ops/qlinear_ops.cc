// The 8-bit layers that INT8 engines run (the builder's QDQ pass makes them from
// DequantizeLinear -> Conv/Add/Gemm -> QuantizeLinear): QLinearConv with int8 weights packed
// once at engine load and VNNI kernels, QLinearAdd (onnxruntime's com.microsoft op, same-shape
// operands) and QLinearGemm (a fully connected layer). A QLinearConv the fast path does not take
// (3-D, per-channel input scales, non-constant or non-zero-point-free weights) runs the exact
// reference loops.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/op.h"
#include "engine/ops/register.h"
#include "engine/ops/spatial_nd.h"
#include "kiln/kernels/qgemm.h"
#include "kiln/kernels/quantize.h"
#include "kiln/kernels/scratch.h"

namespace kiln {
namespace {

bool isScalar(const OpContext& ctx, size_t i) {
  return ctx.has(i) && shapeElements(ctx.shape(i)) == 1;
}

int32_t zeroPoint(const OpContext& ctx, size_t i) {
  if (!ctx.has(i)) return 0;
  return ctx.dtype(i) == DataType::kInt8 ? static_cast<const int8_t*>(ctx.in[i].data)[0]
                                         : static_cast<const uint8_t*>(ctx.in[i].data)[0];
}

// How a layer's pads are given: explicitly, or by auto_pad against each run's input size.
enum class AutoPad { kExplicit, kValid, kSameUpper, kSameLower };

// The packed weights and the layer's attributes, read once at engine load: parsing them on
// every run (string keys, vectors) cost about as much as a small MobileNet layer's kernel.
struct PreparedQConv {
  kernels::QConvWeights weights;
  int64_t outChannels = 0;
  kernels::QConv2dParams geometry;  // without the input's batch and size and its zero point
  AutoPad autoPad = AutoPad::kExplicit;
  bool relu = false;  // the builder's fused Relu (attribute "activation")
};

// Input 3 when it is a constant int8 tensor of the given rank whose zero point (input 5) is
// constant 0, else null: a non-zero weight zero point would need a per-pixel correction, which
// only the exact reference path applies.
const TensorDesc* packableWeights(const LayerDesc& layer, const Network& network, size_t rank) {
  if (layer.inputs.size() < 4 || layer.inputs[3] < 0) return nullptr;
  const TensorDesc& w = network.tensors[layer.inputs[3]];
  if (w.constant < 0 || w.dtype != DataType::kInt8 || w.shape.size() != rank) return nullptr;
  if (layer.inputs.size() > 5 && layer.inputs[5] >= 0) {
    const TensorDesc& z = network.tensors[layer.inputs[5]];
    if (z.constant < 0) return nullptr;
    for (uint8_t b : network.weights[z.constant])
      if (b != 0) return nullptr;
  }
  return &w;
}

// Null where the fast path does not apply; the reference path then runs the layer or reports
// what is wrong with it.
std::shared_ptr<const void> prepareQLinearConv(const LayerDesc& layer, const Network& network) {
  const TensorDesc* weights = packableWeights(layer, network, 4);
  if (weights == nullptr) return nullptr;
  const TensorDesc& w = *weights;
  const std::vector<int64_t> s = layer.attrInts("strides", {1, 1});
  const std::vector<int64_t> d = layer.attrInts("dilations", {1, 1});
  const std::vector<int64_t> pads = layer.attrInts("pads", {0, 0, 0, 0});
  const std::string autoPad = layer.attrString("auto_pad", "NOTSET");
  const std::string act = layer.attrString("activation", "");
  if (s.size() != 2 || d.size() != 2 || pads.size() != 4 || !(act.empty() || act == "Relu"))
    return nullptr;
  try {
    auto prepared = std::make_shared<PreparedQConv>();
    kernels::QConv2dParams& p = prepared->geometry;
    p.group = layer.attrInt("group", 1);
    p.outChannels = w.shape[0];
    p.inChannels = w.shape[1] * p.group;
    p.kernelH = w.shape[2];
    p.kernelW = w.shape[3];
    p.strideH = s[0], p.strideW = s[1], p.dilationH = d[0], p.dilationW = d[1];
    p.padTop = pads[0], p.padLeft = pads[1], p.padBottom = pads[2], p.padRight = pads[3];
    prepared->autoPad = autoPad == "VALID"        ? AutoPad::kValid
                        : autoPad == "SAME_UPPER" ? AutoPad::kSameUpper
                        : autoPad == "SAME_LOWER" ? AutoPad::kSameLower
                                                  : AutoPad::kExplicit;
    prepared->relu = act == "Relu";
    prepared->weights = kernels::packQConvWeights(
        p, reinterpret_cast<const int8_t*>(network.weights[w.constant].data()));
    prepared->outChannels = w.shape[0];
    return prepared;
  } catch (const Error&) {
    return nullptr;
  }
}

// Full geometry for this run's input (auto_pad resolved against the input size); the zero point
// is read when running.
kernels::QConv2dParams convParams(const OpContext& ctx) {
  const auto* prepared = static_cast<const PreparedQConv*>(ctx.prepared);
  const Dims& x = ctx.shape(0);
  kernels::QConv2dParams p = prepared->geometry;
  p.batch = x[0];
  p.inH = x[2];
  p.inW = x[3];
  if (prepared->autoPad == AutoPad::kValid) p.padTop = p.padLeft = p.padBottom = p.padRight = 0;
  if (prepared->autoPad == AutoPad::kSameUpper || prepared->autoPad == AutoPad::kSameLower) {
    const int64_t in[2] = {p.inH, p.inW}, k[2] = {p.kernelH, p.kernelW};
    const int64_t s[2] = {p.strideH, p.strideW}, d[2] = {p.dilationH, p.dilationW};
    int64_t begin[2], end[2];
    for (int a = 0; a < 2; ++a) {
      const int64_t out = (in[a] + s[a] - 1) / s[a];
      const int64_t total = std::max<int64_t>(0, (out - 1) * s[a] + (k[a] - 1) * d[a] + 1 - in[a]);
      const int64_t small = total / 2;
      begin[a] = prepared->autoPad == AutoPad::kSameUpper ? small : total - small;
      end[a] = total - begin[a];
    }
    p.padTop = begin[0], p.padLeft = begin[1], p.padBottom = end[0], p.padRight = end[1];
  }
  return p;
}

bool fastPath(const OpContext& ctx) {
  const DataType x = ctx.dtype(0);
  return ctx.prepared != nullptr && ctx.shape(0).size() == 4 &&
         (x == DataType::kUInt8 || x == DataType::kInt8) && isScalar(ctx, 1) &&
         (!ctx.has(2) || isScalar(ctx, 2)) && isScalar(ctx, 6) && (!ctx.has(7) || isScalar(ctx, 7));
}

// The builder folds a Relu after the convolution into the output clamp (attribute
// "activation"); only the packed path applies it.
bool hasRelu(const OpContext& ctx) {
  const std::string act = ctx.layer.attrString("activation", "");
  ctx.require(act.empty() || act == "Relu", "only a fused Relu is supported, not '" + act + "'");
  return act == "Relu";
}

// The requantization of QLinearConv / QLinearGemm outputs (inputs 4, 6, 7, 8 and 1); `scale`
// holds the per-output factors rq points to.
kernels::QRequant requantOf(const OpContext& ctx, int64_t m, bool relu, std::vector<float>& scale) {
  const float xs = ctx.f32(1)[0], ys = ctx.f32(6)[0];
  const int64_t wsCount = shapeElements(ctx.shape(4));
  ctx.require(wsCount == 1 || wsCount == m, "w_scale must be a scalar or one per output channel");
  // The float order onnxruntime uses: x_scale * w_scale / y_scale.
  const float* ws = ctx.f32(4);
  scale.resize(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i) scale[i] = xs * ws[wsCount > 1 ? i : 0] / ys;
  kernels::QRequant rq;
  rq.scale = scale.data();
  if (ctx.has(8)) {
    ctx.require(ctx.dtype(8) == DataType::kInt32 && shapeElements(ctx.shape(8)) == m,
                "the bias must be int32 with one value per output channel");
    rq.bias = static_cast<const int32_t*>(ctx.in[8].data);
  }
  rq.outSigned = ctx.outTypes[0] == DataType::kInt8;
  rq.zeroPoint = zeroPoint(ctx, 7);
  rq.lo = rq.outSigned ? -128 : 0;
  rq.hi = rq.outSigned ? 127 : 255;
  if (relu) rq.lo = std::max(rq.lo, rq.zeroPoint);  // relu(v) quantizes to at least the zero point
  return rq;
}

// Input 0 as uint8 for the u8 x s8 kernels. int8 activations (TensorRT-style Q/DQ) become
// x + 128 with the zero point moved by 128, which gives the same x - zero point.
const uint8_t* unsignedInput(const OpContext& ctx, std::vector<uint8_t>& shifted, uint8_t* zero) {
  const auto* x = static_cast<const uint8_t*>(ctx.in[0].data);
  if (ctx.dtype(0) != DataType::kInt8) return x;
  const int64_t n = shapeElements(ctx.shape(0));
  shifted.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) shifted[i] = static_cast<uint8_t>(x[i] ^ 0x80);
  *zero = static_cast<uint8_t>(zeroPoint(ctx, 2) + 128);
  return shifted.data();
}

void runQLinearConvFast(OpContext& ctx) {
  if (!fastPath(ctx)) {
    ctx.require(!hasRelu(ctx), "a fused Relu needs constant int8 weights and an 8-bit 4-D input");
    return runQLinearConv(ctx);
  }
  const auto* prepared = static_cast<const PreparedQConv*>(ctx.prepared);
  kernels::QConv2dParams p = convParams(ctx);
  p.inZeroPoint = static_cast<uint8_t>(zeroPoint(ctx, 2));
  std::vector<float> scale;
  const kernels::QRequant rq = requantOf(ctx, prepared->outChannels, prepared->relu, scale);
  std::vector<uint8_t> shifted;
  const uint8_t* x = unsignedInput(ctx, shifted, &p.inZeroPoint);
  kernels::qconv2d(p, prepared->weights, x, rq, ctx.out[0]);
}

// QLinearGemm(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, bias): a fully connected layer
// in QLinearConv's terms (the builder's QDQ pass makes it from DequantizeLinear -> Gemm ->
// QuantizeLinear): x [M, K] 8-bit, w [N, K] int8 constant with zero zero points (Gemm's transB
// layout), w_scale a scalar or one per output, bias int32 [N] in units of x_scale * w_scale;
// y [M, N] = requant(sum_k (x - x_zp) * w + bias), an optional fused Relu.
void inferQLinearGemm(OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  const Dims& w = ctx.shape(3);
  const DataType t = ctx.dtype(0);
  ctx.require(t == DataType::kUInt8 || t == DataType::kInt8, "x must be uint8 or int8");
  ctx.require(ctx.dtype(3) == DataType::kInt8, "w must be int8");
  ctx.require(x.size() == 2 && w.size() == 2 && x[1] == w[1], "x must be [M, K] and w [N, K]");
  ctx.requireFloatInputs({1, 4, 6});
  ctx.outShapes[0] = {x[0], w[0]};
  ctx.outTypes[0] = ctx.has(7) ? ctx.dtype(7) : t;
}

std::shared_ptr<const void> prepareQLinearGemm(const LayerDesc& layer, const Network& network) {
  const TensorDesc* weights = packableWeights(layer, network, 2);
  if (weights == nullptr) return nullptr;
  const TensorDesc& w = *weights;
  try {
    return std::make_shared<kernels::QPackedA>(
        kernels::packQGemmA(reinterpret_cast<const int8_t*>(network.weights[w.constant].data()),
                            w.shape[0], w.shape[1]));
  } catch (const Error&) {
    return nullptr;
  }
}

void runQLinearGemm(OpContext& ctx) {
  ctx.require(ctx.prepared != nullptr,
              "QLinearGemm needs constant int8 weights whose zero points are 0");
  ctx.require(isScalar(ctx, 1) && (!ctx.has(2) || isScalar(ctx, 2)) && isScalar(ctx, 6) &&
                  (!ctx.has(7) || isScalar(ctx, 7)),
              "x and y must have per-tensor scales and zero points");
  const auto* w = static_cast<const kernels::QPackedA*>(ctx.prepared);
  std::vector<float> scale;
  const kernels::QRequant rq = requantOf(ctx, w->m, hasRelu(ctx), scale);
  std::vector<uint8_t> shifted;
  uint8_t zeroX = static_cast<uint8_t>(zeroPoint(ctx, 2));
  const uint8_t* x = unsignedInput(ctx, shifted, &zeroX);
  kernels::qgemmRowsU8S8(*w, x, ctx.shape(0)[0], zeroX, rq, ctx.out[0]);
}

void scratchQLinearConvFast(const OpContext& ctx, kernels::ScratchNeed* need) {
  if (!fastPath(ctx)) return scratchQLinearConv(ctx, need);
  kernels::ScratchNeed packed;
  kernels::qconv2dScratch(convParams(ctx), static_cast<const PreparedQConv*>(ctx.prepared)->weights,
                          &packed);
  // int8 activations are shifted into a uint8 copy held while the kernel runs.
  if (ctx.dtype(0) == DataType::kInt8) packed.transientBytes += shapeElements(ctx.shape(0));
  need->merge(packed);
}

// QLinearAdd(A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point), with
// an optional fused Relu (attribute "activation").
void inferQLinearAdd(OpContext& ctx) {
  const DataType t = ctx.dtype(0);
  ctx.require(t == DataType::kUInt8 || t == DataType::kInt8, "A must be uint8 or int8");
  ctx.require(ctx.dtype(3) == t, "A and B must have one type");
  ctx.require(ctx.shape(0) == ctx.shape(3), "A and B must have the same shape (no broadcast)");
  for (size_t i : {1, 4, 6})
    ctx.require(isScalar(ctx, i) && ctx.dtype(i) == DataType::kFloat32,
                "scales must be float32 scalars");
  for (size_t i : {2, 5, 7})
    ctx.require(!ctx.has(i) || (isScalar(ctx, i) && ctx.dtype(i) == t),
                "zero points must be scalars of the data type");
  ctx.outShapes[0] = ctx.shape(0);
  ctx.outTypes[0] = t;
}

void runQLinearAdd(OpContext& ctx) {
  kernels::QAddParams p;
  p.aScale = ctx.f32(1)[0];
  p.bScale = ctx.f32(4)[0];
  p.cScale = ctx.f32(6)[0];
  p.aZero = zeroPoint(ctx, 2);
  p.bZero = zeroPoint(ctx, 5);
  p.cZero = zeroPoint(ctx, 7);
  p.isSigned = ctx.dtype(0) == DataType::kInt8;
  p.relu = hasRelu(ctx);
  kernels::qlinearAdd(ctx.in[0].data, ctx.in[3].data, shapeElements(ctx.shape(0)), p, ctx.out[0]);
}

void scratchQLinearGemm(const OpContext& ctx, kernels::ScratchNeed* need) {
  const auto* w = static_cast<const kernels::QPackedA*>(ctx.prepared);
  if (w == nullptr) return;  // runQLinearGemm refuses to run
  int64_t bytes = kernels::qgemmRowsScratchBytes(*w, ctx.shape(0)[0]);
  if (ctx.dtype(0) == DataType::kInt8) bytes += shapeElements(ctx.shape(0));  // the shifted copy
  need->transientBytes = std::max(need->transientBytes, bytes);
}

}  // namespace

void registerQLinearOps(OpTable& table) {
  table["QLinearConv"] = OpImpl{inferQLinearConv, runQLinearConvFast, true, prepareQLinearConv,
                                scratchQLinearConvFast};
  table["QLinearAdd"] = OpImpl{inferQLinearAdd, runQLinearAdd};
  table["QLinearGemm"] =
      OpImpl{inferQLinearGemm, runQLinearGemm, true, prepareQLinearGemm, scratchQLinearGemm};
}

}  // namespace kiln
