// Elementwise ops on float32 with numpy broadcasting: arithmetic (variadic Sum/Max/Min/Mean
// too), unary math and activations, comparisons to bool, Where and Expand.
#include <algorithm>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "engine/ops/fused_activation.h"
#include "engine/ops/register.h"
#include "kiln/kernels/cast.h"
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

// Arithmetic runs on float32 and int32/int64; int8/uint8 run widened to int32 and float16/
// bfloat16 widened to float32 (wrapping and rounding back like numpy).
void requireNumeric(const OpContext& ctx) {
  const DataType t = ctx.dtype(0);
  ctx.require(t != DataType::kBool,
              std::string("inputs of type ") + dataTypeName(t) + " are not supported");
  for (size_t i = 1; i < ctx.inputCount(); ++i) {
    if (ctx.has(i)) ctx.require(ctx.dtype(i) == t, "inputs must share one type");
  }
}

// The type narrow element types compute in.
DataType wideType(DataType t) {
  if (t == DataType::kInt8 || t == DataType::kUInt8) return DataType::kInt32;
  if (t == DataType::kFloat16 || t == DataType::kBFloat16) return DataType::kFloat32;
  return t;
}

void binaryAny(kernels::BinaryOp op, DataType t, const void* a, const Dims& as, const void* b,
               const Dims& bs, void* y);

// Widens a and b to `wideType(t)`, computes there, and narrows the result into y.
void binaryWidened(kernels::BinaryOp op, DataType t, const void* a, const Dims& as, const void* b,
                   const Dims& bs, void* y) {
  const DataType w = wideType(t);
  const size_t na = static_cast<size_t>(shapeElements(as));
  const size_t nb = static_cast<size_t>(shapeElements(bs));
  const size_t ny = static_cast<size_t>(shapeElements(kernels::broadcastShapes(as, bs)));
  std::vector<uint32_t> wa(na), wb(nb), wy(ny);  // 4-byte elements: int32 or float32
  kernels::cast(a, t, wa.data(), w, na);
  kernels::cast(b, t, wb.data(), w, nb);
  binaryAny(op, w, wa.data(), as, wb.data(), bs, wy.data());
  kernels::cast(wy.data(), w, y, t, ny);
}

void binaryAny(kernels::BinaryOp op, DataType t, const void* a, const Dims& as, const void* b,
               const Dims& bs, void* y) {
  if (wideType(t) != t) return binaryWidened(op, t, a, as, b, bs, y);
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
  if (Op == kernels::BinaryOp::kPow && ctx.dtype(1) != ctx.dtype(0)) {
    // Pow's exponent may have another numeric type; the result has the base's.
    ctx.require(ctx.dtype(0) != DataType::kBool && ctx.dtype(1) != DataType::kBool,
                "Pow does not take bool inputs");
    ctx.outTypes[0] = ctx.dtype(0);
    ctx.outShapes[0] = broadcastAll(ctx);
    return;
  }
  requireNumeric(ctx);
  ctx.outTypes[0] = ctx.dtype(0);
  ctx.outShapes[0] = broadcastAll(ctx);
}

// Pow with a base and exponent of different types: both computed as float32, the result cast
// to the base's type.
void runMixedPow(OpContext& ctx) {
  const size_t na = static_cast<size_t>(shapeElements(ctx.shape(0)));
  const size_t nb = static_cast<size_t>(shapeElements(ctx.shape(1)));
  const size_t ny = static_cast<size_t>(shapeElements(ctx.outShapes[0]));
  std::vector<float> a(na), b(nb), y(ny);
  kernels::cast(ctx.in[0].data, ctx.dtype(0), a.data(), DataType::kFloat32, na);
  kernels::cast(ctx.in[1].data, ctx.dtype(1), b.data(), DataType::kFloat32, nb);
  kernels::binary(kernels::BinaryOp::kPow, a.data(), ctx.shape(0), b.data(), ctx.shape(1),
                  y.data());
  kernels::cast(y.data(), DataType::kFloat32, ctx.out[0], ctx.dtype(0), ny);
}

template <kernels::BinaryOp Op>
void runBinary(OpContext& ctx) {
  if (Op == kernels::BinaryOp::kPow && ctx.dtype(1) != ctx.dtype(0)) return runMixedPow(ctx);
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

// Neg, Abs, Sign and Relu also run on int32/int64.
bool integerUnary(const OpContext& ctx) {
  const DataType t = ctx.dtype(0);
  const std::string& op = ctx.layer.op;
  return (t == DataType::kInt32 || t == DataType::kInt64) &&
         (op == "Neg" || op == "Abs" || op == "Sign" || op == "Relu");
}

void inferUnary(OpContext& ctx) {
  if (integerUnary(ctx)) {
    ctx.outShapes[0] = ctx.shape(0);
    ctx.outTypes[0] = ctx.dtype(0);
    return;
  }
  ctx.requireFloatInputs({0});
  ctx.require(ctx.layer.attrString("approximate", "none") == "none",
              "Gelu approximate='tanh' is not supported yet");
  ctx.outShapes[0] = ctx.shape(0);
  ctx.outTypes[0] = DataType::kFloat32;  // what the kernel writes, whatever the plan declares
}

void runUnary(OpContext& ctx) {
  const UnarySpec& spec = unarySpecs().at(ctx.layer.op);
  if (integerUnary(ctx)) {
    const size_t n = static_cast<size_t>(shapeElements(ctx.shape(0)));
    if (ctx.dtype(0) == DataType::kInt32)
      kernels::unary(spec.op, static_cast<const int32_t*>(ctx.in[0].data),
                     static_cast<int32_t*>(ctx.out[0]), n);
    else
      kernels::unary(spec.op, static_cast<const int64_t*>(ctx.in[0].data),
                     static_cast<int64_t*>(ctx.out[0]), n);
    return;
  }
  const float alpha = static_cast<float>(ctx.layer.attrFloat("alpha", spec.alpha));
  const float beta = static_cast<float>(ctx.layer.attrFloat("beta", spec.beta));
  kernels::unary(spec.op, ctx.f32(0), ctx.outF32(0),
                 static_cast<size_t>(shapeElements(ctx.shape(0))), alpha, beta);
}

// Clip: bounds come from inputs 1 and 2 (opset >= 11) or from min/max attributes.
void inferClip(OpContext& ctx) {
  const DataType t = ctx.dtype(0);
  if (t != DataType::kFloat32) {
    // Integers clip exactly, through int64.
    ctx.require(t == DataType::kInt8 || t == DataType::kUInt8 || t == DataType::kInt32 ||
                    t == DataType::kInt64,
                std::string("Clip on ") + dataTypeName(t) + " is not supported");
    for (size_t i : {1, 2})
      if (ctx.has(i)) ctx.require(ctx.dtype(i) == t, "min and max must have the input's type");
    ctx.outTypes[0] = t;
  } else {
    ctx.requireFloatInputs({1, 2});
  }
  for (size_t i : {1, 2})
    if (ctx.has(i)) ctx.require(shapeElements(ctx.shape(i)) == 1, "min and max must be scalars");
  ctx.outShapes[0] = ctx.shape(0);
  ctx.outTypes[0] = t;
}

void runIntegerClip(OpContext& ctx) {
  const DataType t = ctx.dtype(0);
  const size_t n = static_cast<size_t>(shapeElements(ctx.shape(0)));
  int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  if (ctx.has(1)) kernels::cast(ctx.in[1].data, t, &lo, DataType::kInt64, 1);
  if (ctx.has(2)) kernels::cast(ctx.in[2].data, t, &hi, DataType::kInt64, 1);
  std::vector<int64_t> v(n);
  kernels::cast(ctx.in[0].data, t, v.data(), DataType::kInt64, n);
  for (int64_t& x : v) x = std::min(std::max(x, lo), hi);
  kernels::cast(v.data(), DataType::kInt64, ctx.out[0], t, n);
}

void runClip(OpContext& ctx) {
  if (ctx.dtype(0) != DataType::kFloat32) return runIntegerClip(ctx);
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
  // The kernel compares inputs 0 and 1 only: a third would widen the broadcast output shape
  // past what the kernel writes (and a fuzzed plan declared one).
  ctx.require(ctx.inputCount() == 2 && ctx.has(0) && ctx.has(1), "expects two inputs");
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
