// The step opcodes of the builder's ElementwiseChain layer as plans store them: written by the
// fuse-elementwise-chains pass (packages/builder), read by the cpu op (engine/ops/chain_ops.cc)
// and the cuda kernel (kernels/cuda/eltwise/chain.cu). Binary steps kAdd..kPow take an operand,
// unary steps kRelu..kHardSwish none.
#pragma once

#include <cstdint>

namespace kiln {

enum class ChainOp : int16_t {
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
  kHardSwish = 22
};

// Whether a plan's value is a binary step's opcode.
inline bool chainOpIsBinary(int64_t op) {
  return op >= 0 && op <= static_cast<int64_t>(ChainOp::kPow);
}

// Whether a plan's value is any step's opcode.
inline bool chainOpIsValid(int64_t op) {
  return chainOpIsBinary(op) || (op >= static_cast<int64_t>(ChainOp::kRelu) &&
                                 op <= static_cast<int64_t>(ChainOp::kHardSwish));
}

}  // namespace kiln
