// Elementwise float32 math the eltwise family lacks: inverse and hyperbolic trigonometry, Tan,
// Selu, Celu, ThresholdedRelu, Shrink, Softsign, and the NaN/Inf tests IsNaN and IsInf.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "engine/op.h"
#include "engine/ops/register.h"

namespace kiln {
namespace {

// One float -> float function with up to two attribute parameters.
using MathFn = float (*)(float x, float a, float b);

struct MathSpec {
  MathFn fn;
  const char* attrA;  // attribute names read into a and b (nullptr when unused)
  float defaultA;
  const char* attrB;
  float defaultB;
};

const std::map<std::string, MathSpec>& mathSpecs() {
  static const std::map<std::string, MathSpec> specs = {
      {"Acos", {[](float x, float, float) { return std::acos(x); }, nullptr, 0, nullptr, 0}},
      {"Acosh", {[](float x, float, float) { return std::acosh(x); }, nullptr, 0, nullptr, 0}},
      {"Asin", {[](float x, float, float) { return std::asin(x); }, nullptr, 0, nullptr, 0}},
      {"Asinh", {[](float x, float, float) { return std::asinh(x); }, nullptr, 0, nullptr, 0}},
      {"Atan", {[](float x, float, float) { return std::atan(x); }, nullptr, 0, nullptr, 0}},
      {"Atanh", {[](float x, float, float) { return std::atanh(x); }, nullptr, 0, nullptr, 0}},
      {"Cosh", {[](float x, float, float) { return std::cosh(x); }, nullptr, 0, nullptr, 0}},
      {"Sinh", {[](float x, float, float) { return std::sinh(x); }, nullptr, 0, nullptr, 0}},
      {"Tan", {[](float x, float, float) { return std::tan(x); }, nullptr, 0, nullptr, 0}},
      {"Softsign",
       {[](float x, float, float) { return x / (1.0f + std::fabs(x)); }, nullptr, 0, nullptr, 0}},
      // The defaults are the float32 constants of the ONNX spec.
      {"Selu",
       {[](float x, float alpha, float gamma) {
          return gamma * (x > 0 ? x : alpha * (std::exp(x) - 1.0f));
        },
        "alpha", 1.67326319217681884765625f, "gamma", 1.05070102214813232421875f}},
      {"Celu",
       {[](float x, float alpha, float) {
          return std::max(0.0f, x) + std::min(0.0f, alpha * (std::exp(x / alpha) - 1.0f));
        },
        "alpha", 1.0f, nullptr, 0}},
      {"ThresholdedRelu",
       {[](float x, float alpha, float) { return x > alpha ? x : 0.0f; }, "alpha", 1.0f, nullptr,
        0}},
      {"Shrink",
       {[](float x, float lambd, float bias) {
          return x < -lambd ? x + bias : (x > lambd ? x - bias : 0.0f);
        },
        "lambd", 0.5f, "bias", 0.0f}},
  };
  return specs;
}

void inferMath(OpContext& ctx) {
  ctx.requireFloatInputs({0});
  ctx.outShapes[0] = ctx.shape(0);
  ctx.outTypes[0] = DataType::kFloat32;
}

void runMath(OpContext& ctx) {
  const MathSpec& spec = mathSpecs().at(ctx.layer.op);
  const float a =
      spec.attrA ? static_cast<float>(ctx.layer.attrFloat(spec.attrA, spec.defaultA)) : 0.0f;
  const float b =
      spec.attrB ? static_cast<float>(ctx.layer.attrFloat(spec.attrB, spec.defaultB)) : 0.0f;
  const float* x = ctx.f32(0);
  float* y = ctx.outF32(0);
  const int64_t n = shapeElements(ctx.shape(0));
  for (int64_t i = 0; i < n; ++i) y[i] = spec.fn(x[i], a, b);
}

void inferTest(OpContext& ctx) {
  ctx.requireFloatInputs({0});
  ctx.outShapes[0] = ctx.shape(0);
  ctx.outTypes[0] = DataType::kBool;
}

void runIsNaN(OpContext& ctx) {
  const float* x = ctx.f32(0);
  auto* y = static_cast<uint8_t*>(ctx.out[0]);
  const int64_t n = shapeElements(ctx.shape(0));
  for (int64_t i = 0; i < n; ++i) y[i] = std::isnan(x[i]) ? 1 : 0;
}

void runIsInf(OpContext& ctx) {
  const bool negative = ctx.layer.attrInt("detect_negative", 1) != 0;
  const bool positive = ctx.layer.attrInt("detect_positive", 1) != 0;
  const float* x = ctx.f32(0);
  auto* y = static_cast<uint8_t*>(ctx.out[0]);
  const int64_t n = shapeElements(ctx.shape(0));
  for (int64_t i = 0; i < n; ++i) {
    const bool inf = std::isinf(x[i]);
    y[i] = inf && ((x[i] > 0 && positive) || (x[i] < 0 && negative)) ? 1 : 0;
  }
}

}  // namespace

void registerMathOps(OpTable& table) {
  for (const auto& entry : mathSpecs()) table[entry.first] = OpImpl{inferMath, runMath};
  table["IsNaN"] = OpImpl{inferTest, runIsNaN};
  table["IsInf"] = OpImpl{inferTest, runIsInf};
}

}  // namespace kiln
