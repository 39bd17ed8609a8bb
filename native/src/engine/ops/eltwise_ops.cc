// Elementwise ops on float32 with numpy broadcasting: arithmetic (variadic Sum/Max/Min/Mean
// too), unary math and activations, comparisons to bool, Where and Expand.
#include <limits>
#include <map>

#include "engine/ops/fused_activation.h"
#include "engine/ops/register.h"
#include "kiln/kernels/eltwise.h"

namespace kiln {
namespace {

Dims broadcastAll(const OpContext& ctx) {
  Dims out = ctx.shape(0);
  for (size_t i = 1; i < ctx.inputCount(); ++i) {
    if (ctx.has(i)) out = kernels::broadcastShapes(out, ctx.shape(i));
  }
  return out;
}

// Arithmetic runs on float32, and on int32/int64 for shape computations.
void requireNumeric(const OpContext& ctx) {
  const DataType t = ctx.dtype(0);
  ctx.require(t == DataType::kFloat32 || t == DataType::kInt32 || t == DataType::kInt64,
              std::string("inputs of type ") + dataTypeName(t) + " are not supported");
  for (size_t i = 1; i < ctx.inputCount(); ++i) {
    if (ctx.has(i)) ctx.require(ctx.dtype(i) == t, "inputs must share one type");
  }
}

void binaryAny(kernels::BinaryOp op, DataType t, const void* a, const Dims& as, const void* b,
               const Dims& bs, void* y) {
  switch (t) {
    case DataType::kInt32:
      kernels::binary(op, static_cast<const int32_t*>(a), as, static_cast<const int32_t*>(b), bs,
                      static_cast<int32_t*>(y));
      break;
    case DataType::kInt64:
      kernels::binary(op, static_cast<const int64_t*>(a), as, static_cast<const int64_t*>(b), bs,
                      static_cast<int64_t*>(y));
      break;
    default:
      kernels::binary(op, static_cast<const float*>(a), as, static_cast<const float*>(b), bs,
                      static_cast<float*>(y));
  }
}

template <kernels::BinaryOp Op>
void inferBinary(OpContext& ctx) {
  ctx.require(ctx.inputCount() == 2, "expects two inputs");
  requireNumeric(ctx);
  ctx.outTypes[0] = ctx.dtype(0);
  ctx.outShapes[0] = broadcastAll(ctx);
}

template <kernels::BinaryOp Op>
void runBinary(OpContext& ctx) {
  binaryAny(Op, ctx.dtype(0), ctx.in[0].data, ctx.shape(0), ctx.in[1].data, ctx.shape(1),
            ctx.out[0]);
  if (ctx.dtype(0) != DataType::kFloat32) return;
  const kernels::Activation act = fusedActivation(ctx);
  if (act.kind != kernels::ActivationKind::kNone) {
    kernels::applyActivation(act, ctx.outF32(0),
                             static_cast<size_t>(shapeElements(ctx.outShapes[0])));
  }
}

// Mod: the sign of the divisor (fmod = 0, integers) or of the dividend (fmod = 1, like C fmod).
void runMod(OpContext& ctx) {
  const auto op =
      ctx.layer.attrInt("fmod", 0) != 0 ? kernels::BinaryOp::kFmod : kernels::BinaryOp::kMod;
  binaryAny(op, ctx.dtype(0), ctx.in[0].data, ctx.shape(0), ctx.in[1].data, ctx.shape(1),
            ctx.out[0]);
}

// Sum, Max, Min, Mean: any number of inputs, folded pairwise into the output.
template <kernels::BinaryOp Op, bool Mean>
void runVariadic(OpContext& ctx) {
  const Dims& out = ctx.outShapes[0];
  const DataType t = ctx.dtype(0);
  kernels::expand(ctx.in[0].data, ctx.shape(0), out, dataTypeSize(t), ctx.out[0]);
  for (size_t i = 1; i < ctx.inputCount(); ++i) {
    binaryAny(Op, t, ctx.out[0], out, ctx.in[i].data, ctx.shape(i), ctx.out[0]);
  }
  if (Mean) {
    float* y = ctx.outF32(0);
    const float scale = 1.0f / static_cast<float>(ctx.inputCount());
    const int64_t n = shapeElements(out);
    for (int64_t k = 0; k < n; ++k) y[k] *= scale;
  }
}

void inferVariadic(OpContext& ctx) {
  ctx.require(ctx.inputCount() >= 1, "expects at least one input");
  requireNumeric(ctx);
  if (ctx.layer.op == "Mean") ctx.requireFloatInputs({0});
  ctx.outTypes[0] = ctx.dtype(0);
  ctx.outShapes[0] = broadcastAll(ctx);
}

struct UnarySpec {
  kernels::UnaryOp op;
  float alpha, beta;  // ONNX defaults
};

const std::map<std::string, UnarySpec>& unarySpecs() {
  using U = kernels::UnaryOp;
  static const std::map<std::string, UnarySpec> specs = {
      {"Relu", {U::kRelu, 0, 0}},
      {"Sigmoid", {U::kSigmoid, 0, 0}},
      {"Tanh", {U::kTanh, 0, 0}},
      {"Exp", {U::kExp, 0, 0}},
      {"Log", {U::kLog, 0, 0}},
      {"Sqrt", {U::kSqrt, 0, 0}},
      {"Erf", {U::kErf, 0, 0}},
      {"Abs", {U::kAbs, 0, 0}},
      {"Neg", {U::kNeg, 0, 0}},
      {"Reciprocal", {U::kReciprocal, 0, 0}},
      {"Floor", {U::kFloor, 0, 0}},
      {"Ceil", {U::kCeil, 0, 0}},
      {"Round", {U::kRound, 0, 0}},
      {"HardSigmoid", {U::kHardSigmoid, 0.2f, 0.5f}},
      {"HardSwish", {U::kHardSwish, 0, 0}},
      {"LeakyRelu", {U::kLeakyRelu, 0.01f, 0}},
      {"Elu", {U::kElu, 1.0f, 0}},
      {"Gelu", {U::kGelu, 0, 0}},
      {"Softplus", {U::kSoftplus, 0, 0}},
      {"Sin", {U::kSin, 0, 0}},
      {"Cos", {U::kCos, 0, 0}},
      {"Sign", {U::kSign, 0, 0}},
      {"Silu", {U::kSilu, 0, 0}},
  };
  return specs;
}

void inferUnary(OpContext& ctx) {
  ctx.requireFloatInputs({0});
  ctx.require(ctx.layer.attrString("approximate", "none") == "none",
              "Gelu approximate='tanh' is not supported yet");
  ctx.outShapes[0] = ctx.shape(0);
}

void runUnary(OpContext& ctx) {
  const UnarySpec& spec = unarySpecs().at(ctx.layer.op);
  const float alpha = static_cast<float>(ctx.layer.attrFloat("alpha", spec.alpha));
  const float beta = static_cast<float>(ctx.layer.attrFloat("beta", spec.beta));
  kernels::unary(spec.op, ctx.f32(0), ctx.outF32(0),
                 static_cast<size_t>(shapeElements(ctx.shape(0))), alpha, beta);
}

// Clip: bounds come from inputs 1 and 2 (opset >= 11) or from min/max attributes.
void inferClip(OpContext& ctx) {
  ctx.requireFloatInputs({0, 1, 2});
  ctx.outShapes[0] = ctx.shape(0);
}

void runClip(OpContext& ctx) {
  float lo =
      static_cast<float>(ctx.layer.attrFloat("min", -std::numeric_limits<float>::infinity()));
  float hi = static_cast<float>(ctx.layer.attrFloat("max", std::numeric_limits<float>::infinity()));
  if (ctx.has(1)) lo = ctx.f32(1)[0];
  if (ctx.has(2)) hi = ctx.f32(2)[0];
  kernels::unary(kernels::UnaryOp::kClip, ctx.f32(0), ctx.outF32(0),
                 static_cast<size_t>(shapeElements(ctx.shape(0))), lo, hi);
}

template <kernels::CompareOp Op>
void inferCompare(OpContext& ctx) {
  ctx.require(ctx.dtype(0) == ctx.dtype(1), "inputs must share one type");
  const DataType t = ctx.dtype(0);
  ctx.require(t == DataType::kFloat32 || t == DataType::kInt32 || t == DataType::kInt64 ||
                  t == DataType::kBool,
              std::string("comparing ") + dataTypeName(t) + " is not supported");
  ctx.outShapes[0] = broadcastAll(ctx);
  ctx.outTypes[0] = DataType::kBool;
}

template <kernels::CompareOp Op>
void runCompare(OpContext& ctx) {
  auto* y = static_cast<uint8_t*>(ctx.out[0]);
  const void* a = ctx.in[0].data;
  const void* b = ctx.in[1].data;
  switch (ctx.dtype(0)) {
    case DataType::kInt32:
      kernels::compare(Op, static_cast<const int32_t*>(a), ctx.shape(0),
                       static_cast<const int32_t*>(b), ctx.shape(1), y);
      break;
    case DataType::kInt64:
      kernels::compare(Op, static_cast<const int64_t*>(a), ctx.shape(0),
                       static_cast<const int64_t*>(b), ctx.shape(1), y);
      break;
    case DataType::kBool:
      kernels::compare(Op, static_cast<const uint8_t*>(a), ctx.shape(0),
                       static_cast<const uint8_t*>(b), ctx.shape(1), y);
      break;
    default:
      kernels::compare(Op, ctx.f32(0), ctx.shape(0), ctx.f32(1), ctx.shape(1), y);
  }
}

using B = kernels::BinaryOp;
using C = kernels::CompareOp;

}  // namespace

void registerEltwiseOps(OpTable& table) {
  table["Add"] = OpImpl{inferBinary<B::kAdd>, runBinary<B::kAdd>};
  table["Sub"] = OpImpl{inferBinary<B::kSub>, runBinary<B::kSub>};
  table["Mul"] = OpImpl{inferBinary<B::kMul>, runBinary<B::kMul>};
  table["Div"] = OpImpl{inferBinary<B::kDiv>, runBinary<B::kDiv>};
  table["Pow"] = OpImpl{inferBinary<B::kPow>, runBinary<B::kPow>};
  table["Mod"] = OpImpl{inferBinary<B::kMod>, runMod};
  table["PRelu"] = OpImpl{inferBinary<B::kPRelu>, runBinary<B::kPRelu>};
  table["Sum"] = OpImpl{inferVariadic, runVariadic<B::kAdd, false>};
  table["Mean"] = OpImpl{inferVariadic, runVariadic<B::kAdd, true>};
  table["Max"] = OpImpl{inferVariadic, runVariadic<B::kMax, false>};
  table["Min"] = OpImpl{inferVariadic, runVariadic<B::kMin, false>};
  table["Clip"] = OpImpl{inferClip, runClip};
  table["Equal"] = OpImpl{inferCompare<C::kEqual>, runCompare<C::kEqual>};
  table["Less"] = OpImpl{inferCompare<C::kLess>, runCompare<C::kLess>};
  table["LessOrEqual"] = OpImpl{inferCompare<C::kLessOrEqual>, runCompare<C::kLessOrEqual>};
  table["Greater"] = OpImpl{inferCompare<C::kGreater>, runCompare<C::kGreater>};
  table["GreaterOrEqual"] =
      OpImpl{inferCompare<C::kGreaterOrEqual>, runCompare<C::kGreaterOrEqual>};
  // Every unary op shares one implementation, looked up by name when it runs.
  for (const auto& entry : unarySpecs()) table[entry.first] = OpImpl{inferUnary, runUnary};
}

}  // namespace kiln
