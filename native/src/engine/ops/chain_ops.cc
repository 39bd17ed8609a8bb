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
#include "graph/chain_opcodes.h"
#include "kiln/thread_pool.h"

namespace kiln {
namespace {

struct Step {
  ChainOp op;
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
    ctx.require(chainOpIsValid(raw[i]), "unknown opcode " + std::to_string(raw[i]));
    const Step s{static_cast<ChainOp>(raw[i]), raw[i + 1], raw[i + 2] != 0};
    const bool binary = chainOpIsBinary(raw[i]);
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

// v[i] = f(v[i]) over a block: one tight loop per step, so the compiler vectorizes each op
// (a switch per element cost more than the arithmetic).
template <typename F>
void unaryLoop(float* v, int64_t len, F f) {
  for (int64_t i = 0; i < len; ++i) v[i] = f(v[i]);
}

// One binary step, op(v, operand) or op(operand, v) when reversed; the operand is the block of
// another input (o) or an immediate (c).
template <typename F>
void binaryLoop(float* v, const float* o, float c, bool reversed, int64_t len, F f) {
  if (o && reversed) {
    for (int64_t i = 0; i < len; ++i) v[i] = f(o[i], v[i]);
  } else if (o) {
    for (int64_t i = 0; i < len; ++i) v[i] = f(v[i], o[i]);
  } else if (reversed) {
    for (int64_t i = 0; i < len; ++i) v[i] = f(c, v[i]);
  } else {
    for (int64_t i = 0; i < len; ++i) v[i] = f(v[i], c);
  }
}

void binaryStep(ChainOp op, float* v, const float* o, float c, bool reversed, int64_t len) {
  switch (op) {
    case ChainOp::kAdd:
      return binaryLoop(v, o, c, reversed, len, [](float a, float b) { return a + b; });
    case ChainOp::kSub:
      return binaryLoop(v, o, c, reversed, len, [](float a, float b) { return a - b; });
    case ChainOp::kMul:
      return binaryLoop(v, o, c, reversed, len, [](float a, float b) { return a * b; });
    case ChainOp::kDiv:
      return binaryLoop(v, o, c, reversed, len, [](float a, float b) { return a / b; });
    case ChainOp::kMax:
      return binaryLoop(v, o, c, reversed, len, [](float a, float b) {
        return a != a || b != b ? NAN : std::max(a, b);  // NaN in, NaN out
      });
    case ChainOp::kMin:
      return binaryLoop(v, o, c, reversed, len,
                        [](float a, float b) { return a != a || b != b ? NAN : std::min(a, b); });
    default:
      return binaryLoop(v, o, c, reversed, len, [](float a, float b) { return std::pow(a, b); });
  }
}

void unaryStep(ChainOp op, float* v, int64_t len) {
  switch (op) {
    case ChainOp::kRelu:
      return unaryLoop(v, len, [](float a) { return a > 0 ? a : 0.0f; });
    case ChainOp::kSigmoid:
      return unaryLoop(v, len, [](float a) { return 1.0f / (1.0f + std::exp(-a)); });
    case ChainOp::kTanh:
      return unaryLoop(v, len, [](float a) { return std::tanh(a); });
    case ChainOp::kExp:
      return unaryLoop(v, len, [](float a) { return std::exp(a); });
    case ChainOp::kLog:
      return unaryLoop(v, len, [](float a) { return std::log(a); });
    case ChainOp::kSqrt:
      return unaryLoop(v, len, [](float a) { return std::sqrt(a); });
    case ChainOp::kAbs:
      return unaryLoop(v, len, [](float a) { return std::fabs(a); });
    case ChainOp::kNeg:
      return unaryLoop(v, len, [](float a) { return -a; });
    case ChainOp::kErf:
      return unaryLoop(v, len, [](float a) { return std::erf(a); });
    case ChainOp::kReciprocal:
      return unaryLoop(v, len, [](float a) { return 1.0f / a; });
    case ChainOp::kFloor:
      return unaryLoop(v, len, [](float a) { return std::floor(a); });
    case ChainOp::kCeil:
      return unaryLoop(v, len, [](float a) { return std::ceil(a); });
    default:
      return unaryLoop(v, len,
                       [](float a) { return a * std::max(0.0f, std::min(1.0f, a / 6.0f + 0.5f)); });
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
            if (s.op > ChainOp::kPow) {
              unaryStep(s.op, v, len);
            } else if (s.operand >= 0) {
              binaryStep(s.op, v, ctx.f32(static_cast<size_t>(s.operand)) + begin, 0.0f, s.reversed,
                         len);
            } else {
              const float c = static_cast<float>(immediates[static_cast<size_t>(-2 - s.operand)]);
              binaryStep(s.op, v, nullptr, c, s.reversed, len);
            }
          }
        }
      });
}

}  // namespace

void registerChainOps(OpTable& table) { table["ElementwiseChain"] = OpImpl{infer, run}; }

}  // namespace kiln
