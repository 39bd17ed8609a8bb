// ElementwiseChain: several elementwise ops fused by the builder into one pass over the data.
// The chain value starts as input 0 and goes through `steps` (three ints each: opcode,
// operand, reversed); an operand is another input of the same shape (its index), an immediate
// (-2 - k: immediates[k]) or none (-1). Blocks small enough for the L1 cache are run through
// every step before the next block is read.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/op.h"
#include "engine/ops/register.h"
#include "kiln/thread_pool.h"

namespace kiln {
namespace {

enum Opcode : int64_t {
  kAdd = 0,
  kSub = 1,
  kMul = 2,
  kDiv = 3,
  kMax = 4,
  kMin = 5,
  kPow = 6,
  kRelu = 10,
  kSigmoid = 11,
  kTanh = 12,
  kExp = 13,
  kLog = 14,
  kSqrt = 15,
  kAbs = 16,
  kNeg = 17,
  kErf = 18,
  kReciprocal = 19,
  kFloor = 20,
  kCeil = 21,
};

struct Step {
  int64_t op;
  int64_t operand;
  bool reversed;
};

std::vector<Step> steps(const OpContext& ctx) {
  const std::vector<int64_t> raw = ctx.layer.attrInts("steps");
  ctx.require(!raw.empty() && raw.size() % 3 == 0, "steps must hold three ints per step");
  const int64_t immediates = static_cast<int64_t>(
      ctx.layer.attrs.count("immediates") ? ctx.layer.attrs.at("immediates").floats.size() : 0);
  std::vector<Step> out;
  for (size_t i = 0; i < raw.size(); i += 3) {
    const Step s{raw[i], raw[i + 1], raw[i + 2] != 0};
    const bool binary = s.op <= kPow;
    ctx.require(binary || (s.op >= kRelu && s.op <= kCeil),
                "unknown opcode " + std::to_string(s.op));
    if (binary) {
      const bool input = s.operand >= 0 && s.operand < static_cast<int64_t>(ctx.inputCount());
      const bool immediate = s.operand <= -2 && -2 - s.operand < immediates;
      ctx.require(input || immediate, "a binary step needs an input or an immediate operand");
    }
    out.push_back(s);
  }
  return out;
}

void infer(OpContext& ctx) {
  ctx.requireFloatInputs({0});
  ctx.outTypes[0] = DataType::kFloat32;  // what the kernel writes, whatever the plan declares
  for (size_t i = 0; i < ctx.inputCount(); ++i) {
    ctx.requireFloatInputs({i});
    ctx.require(ctx.shape(i) == ctx.shape(0), "every chain input must have the shape of the first");
  }
  steps(ctx);
  ctx.outShapes[0] = ctx.shape(0);
}

float binaryOp(int64_t op, float a, float b) {
  switch (op) {
    case kAdd:
      return a + b;
    case kSub:
      return a - b;
    case kMul:
      return a * b;
    case kDiv:
      return a / b;
    case kMax:
      return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b);
    case kMin:
      return std::isnan(a) || std::isnan(b) ? NAN : std::min(a, b);
    default:
      return std::pow(a, b);
  }
}

void run(OpContext& ctx) {
  const std::vector<Step> program = steps(ctx);
  const std::vector<double> immediates = ctx.layer.attrs.count("immediates")
                                             ? ctx.layer.attrs.at("immediates").floats
                                             : std::vector<double>{};
  const int64_t n = shapeElements(ctx.shape(0));
  constexpr int64_t kBlock = 2048;  // 8 KiB of floats: stays in L1 through every step
  float* y = ctx.outF32(0);
  globalThreadPool().parallelFor(
      static_cast<size_t>((n + kBlock - 1) / kBlock), 1, [&](size_t b0, size_t b1) {
        for (size_t blk = b0; blk < b1; ++blk) {
          const int64_t begin = static_cast<int64_t>(blk) * kBlock;
          const int64_t len = std::min(kBlock, n - begin);
          float* v = y + begin;
          const float* x = ctx.f32(0) + begin;
          std::copy(x, x + len, v);  // y may alias nothing; the chain works in the output
          for (const Step& s : program) {
            if (s.op <= kPow) {
              if (s.operand >= 0) {
                const float* o = ctx.f32(static_cast<size_t>(s.operand)) + begin;
                for (int64_t i = 0; i < len; ++i)
                  v[i] = s.reversed ? binaryOp(s.op, o[i], v[i]) : binaryOp(s.op, v[i], o[i]);
              } else {
                const float c = static_cast<float>(immediates[static_cast<size_t>(-2 - s.operand)]);
                for (int64_t i = 0; i < len; ++i)
                  v[i] = s.reversed ? binaryOp(s.op, c, v[i]) : binaryOp(s.op, v[i], c);
              }
              continue;
            }
            for (int64_t i = 0; i < len; ++i) {
              const float a = v[i];
              switch (s.op) {
                case kRelu:
                  v[i] = a > 0 ? a : 0.0f;
                  break;
                case kSigmoid:
                  v[i] = 1.0f / (1.0f + std::exp(-a));
                  break;
                case kTanh:
                  v[i] = std::tanh(a);
                  break;
                case kExp:
                  v[i] = std::exp(a);
                  break;
                case kLog:
                  v[i] = std::log(a);
                  break;
                case kSqrt:
                  v[i] = std::sqrt(a);
                  break;
                case kAbs:
                  v[i] = std::fabs(a);
                  break;
                case kNeg:
                  v[i] = -a;
                  break;
                case kErf:
                  v[i] = std::erf(a);
                  break;
                case kReciprocal:
                  v[i] = 1.0f / a;
                  break;
                case kFloor:
                  v[i] = std::floor(a);
                  break;
                default:
                  v[i] = std::ceil(a);
                  break;
              }
            }
          }
        }
      });
}

}  // namespace

void registerChainOps(OpTable& table) { table["ElementwiseChain"] = OpImpl{infer, run}; }

}  // namespace kiln
