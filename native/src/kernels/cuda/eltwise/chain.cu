// ElementwiseChain: one thread per element runs the whole chain in registers, each step as the
// cpu's chain op defines it (scalar float math; Max / Min give NaN when either side is NaN).
#include <cmath>

#include "kernels/cuda/eltwise/elementwise.cuh"

namespace kiln::cuda {
namespace {

using elementwise::blocksFor;
using elementwise::kThreads;
using elementwise::load;
using elementwise::store;

__device__ float binaryStep(ChainOp op, float a, float b) {
  switch (op) {
    case ChainOp::kAdd:
      return a + b;
    case ChainOp::kSub:
      return a - b;
    case ChainOp::kMul:
      return a * b;
    case ChainOp::kDiv:
      return a / b;
    case ChainOp::kMax:
      return a != a || b != b ? NAN : (a < b ? b : a);
    case ChainOp::kMin:
      return a != a || b != b ? NAN : (b < a ? b : a);
    default:
      return powf(a, b);
  }
}

__device__ float unaryStep(ChainOp op, float a) {
  switch (op) {
    case ChainOp::kRelu:
      return a > 0 ? a : 0.0f;
    case ChainOp::kSigmoid:
      return 1.0f / (1.0f + expf(-a));
    case ChainOp::kTanh:
      return tanhf(a);
    case ChainOp::kExp:
      return expf(a);
    case ChainOp::kLog:
      return logf(a);
    case ChainOp::kSqrt:
      return sqrtf(a);
    case ChainOp::kAbs:
      return fabsf(a);
    case ChainOp::kNeg:
      return -a;
    case ChainOp::kErf:
      return erff(a);
    case ChainOp::kReciprocal:
      return 1.0f / a;
    case ChainOp::kFloor:
      return floorf(a);
    case ChainOp::kCeil:
      return ceilf(a);
    default: {  // HardSwish: a * std::max(0, std::min(1, a / 6 + 0.5)), spelled out
      const float g = a / 6.0f + 0.5f;
      const float m = g < 1.0f ? g : 1.0f;
      return a * (0.0f < m ? m : 0.0f);
    }
  }
}

template <typename T>
__global__ void chainKernel(ChainProgram<T> p, T* y, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    float v = load(p.inputs[0], i);
    for (int s = 0; s < p.stepCount; ++s) {
      const ChainOp op = p.op[s];
      if (static_cast<int>(op) > static_cast<int>(ChainOp::kPow)) {
        v = unaryStep(op, v);
        continue;
      }
      const float o = p.operand[s] >= 0 ? load(p.inputs[p.operand[s]], i) : p.immediate[s];
      v = p.reversed[s] ? binaryStep(op, o, v) : binaryStep(op, v, o);
    }
    store(y, i, v);
  }
}

}  // namespace

template <typename T>
cudaError_t elementwiseChain(const ChainProgram<T>& program, T* y, int64_t count,
                             cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  chainKernel<<<blocksFor(count), kThreads, 0, stream>>>(program, y, count);
  return cudaGetLastError();
}

template cudaError_t elementwiseChain<float>(const ChainProgram<float>&, float*, int64_t,
                                             cudaStream_t);
template cudaError_t elementwiseChain<__half>(const ChainProgram<__half>&, __half*, int64_t,
                                              cudaStream_t);

}  // namespace kiln::cuda
