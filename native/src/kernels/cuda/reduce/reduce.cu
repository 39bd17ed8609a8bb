// Reduce*, ArgMax / ArgMin and Hardmax. Reductions: one block per output element, each thread
// folding a strided share of the group in double (the cpu accumulates in double too), then the
// block combines the shares. Arg reductions: one thread per output, scanning the axis in order so
// ties and NaN resolve exactly as the cpu's sequential scan does.
#include <cfloat>
#include <cmath>

#include "kernels/cuda/eltwise/elementwise.cuh"

namespace kiln::cuda {
namespace {

using elementwise::blocksFor;
using elementwise::kThreads;
using elementwise::load;
using elementwise::store;

// Max / Min that keep a NaN once seen, in either operand.
__device__ double pick(bool max, double m, double v) {
  if (m != m) return m;
  return (v != v || (max ? v > m : v < m)) ? v : m;
}

__device__ double combine(ReduceOp op, double a, double b) {
  switch (op) {
    case ReduceOp::kMax:
      return pick(true, a, b);
    case ReduceOp::kMin:
      return pick(false, a, b);
    case ReduceOp::kProd:
      return a * b;
    case ReduceOp::kLogSumExp:  // its max pass: std::max(m, v), which passes over a NaN v
      return a < b ? b : a;
    default:
      return a + b;
  }
}

__device__ double blockCombine(ReduceOp op, double v, double* scratch) {
  for (int offset = 16; offset > 0; offset >>= 1)
    v = combine(op, v, __shfl_xor_sync(0xffffffffu, v, offset));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // an earlier combine may still read scratch
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = scratch[0];
  for (int w = 1; w < static_cast<int>(blockDim.x / 32); ++w) v = combine(op, v, scratch[w]);
  return v;
}

// The input offset of element r of a group (row-major over the reduced dims).
__device__ int64_t groupOffset(const ReduceShape& s, int64_t r) {
  int64_t at = 0;
  for (int d = s.reducedRank - 1; d >= 0; --d) {
    at += (r % s.reducedDims[d]) * s.reducedStrides[d];
    r /= s.reducedDims[d];
  }
  return at;
}

template <typename T>
__global__ void reduceKernel(ReduceOp op, const T* x, T* y, ReduceShape s) {
  __shared__ double scratch[kThreads / 32];
  for (int64_t o = blockIdx.x; o < s.outCount; o += gridDim.x) {
    int64_t base = 0, rest = o;
    for (int d = s.keptRank - 1; d >= 0; --d) {
      base += (rest % s.keptDims[d]) * s.keptStrides[d];
      rest /= s.keptDims[d];
    }
    const double identity = op == ReduceOp::kMax         ? -INFINITY
                            : op == ReduceOp::kMin       ? INFINITY
                            : op == ReduceOp::kProd      ? 1.0
                            : op == ReduceOp::kLogSumExp ? -INFINITY
                                                         : 0.0;
    // LogSumExp: the group's max first (combine's kLogSumExp), then sum exp(x - max).
    double acc = identity;
    for (int64_t r = threadIdx.x; r < s.groupSize; r += blockDim.x) {
      const double v = load(x, base + groupOffset(s, r));
      switch (op) {
        case ReduceOp::kL1:
          acc += fabs(v);
          break;
        case ReduceOp::kL2:
        case ReduceOp::kSumSquare:
          acc += v * v;
          break;
        default:
          acc = combine(op, acc, v);
      }
    }
    acc = blockCombine(op, acc, scratch);
    if (op == ReduceOp::kLogSumExp) {
      const double m = acc;
      double sum = 0;
      for (int64_t r = threadIdx.x; r < s.groupSize; r += blockDim.x)
        sum += exp(static_cast<double>(load(x, base + groupOffset(s, r))) - m);
      sum = blockCombine(ReduceOp::kSum, sum, scratch);
      acc = isinf(m) ? m : m + log(sum);
    }
    if (threadIdx.x == 0) {
      if (op == ReduceOp::kMean) acc /= static_cast<double>(s.groupSize);
      if (op == ReduceOp::kL2) acc = sqrt(acc);
      if (op == ReduceOp::kLogSum) acc = log(acc);
      store(y, o, static_cast<float>(acc));
    }
  }
}

// The index along the axis that line t ([outer, dim, inner], t = o * inner + i) picks.
template <typename T>
__device__ int64_t argBest(bool isMax, bool last, const T* x, int64_t t, int64_t dim,
                           int64_t inner) {
  const int64_t base = (t / inner) * dim * inner + t % inner;
  int64_t best = 0;
  float bv = load(x, base);
  for (int64_t k = 1; k < dim; ++k) {
    const float v = load(x, base + k * inner);
    const bool better = isMax ? (last ? v >= bv : v > bv) : (last ? v <= bv : v < bv);
    if (better) best = k, bv = v;
  }
  return best;
}

template <typename T>
__global__ void argReduceKernel(bool isMax, bool last, const T* x, int64_t* y, int64_t outer,
                                int64_t dim, int64_t inner) {
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < outer * inner;
       t += int64_t{gridDim.x} * blockDim.x)
    y[t] = argBest(isMax, last, x, t, dim, inner);
}

template <typename T>
__global__ void hardmaxKernel(const T* x, T* y, int64_t outer, int64_t dim, int64_t inner) {
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < outer * inner;
       t += int64_t{gridDim.x} * blockDim.x) {
    const int64_t best = argBest(true, false, x, t, dim, inner);
    const int64_t base = (t / inner) * dim * inner + t % inner;
    for (int64_t k = 0; k < dim; ++k) store(y, base + k * inner, k == best ? 1.0f : 0.0f);
  }
}

}  // namespace

template <typename T>
cudaError_t reduce(ReduceOp op, const T* x, T* y, const ReduceShape& shape, cudaStream_t stream) {
  if (shape.outCount == 0) return cudaSuccess;
  const int64_t blocks = shape.outCount < 65535 * 16 ? shape.outCount : 65535 * 16;
  reduceKernel<<<static_cast<int>(blocks), kThreads, 0, stream>>>(op, x, y, shape);
  return cudaGetLastError();
}

template <typename T>
cudaError_t argReduce(bool isMax, bool last, const T* x, int64_t* y, int64_t outer, int64_t dim,
                      int64_t inner, cudaStream_t stream) {
  if (outer * inner == 0) return cudaSuccess;
  argReduceKernel<<<blocksFor(outer * inner), kThreads, 0, stream>>>(isMax, last, x, y, outer, dim,
                                                                     inner);
  return cudaGetLastError();
}

template <typename T>
cudaError_t hardmax(const T* x, T* y, int64_t outer, int64_t dim, int64_t inner,
                    cudaStream_t stream) {
  if (outer * inner == 0 || dim == 0) return cudaSuccess;
  hardmaxKernel<<<blocksFor(outer * inner), kThreads, 0, stream>>>(x, y, outer, dim, inner);
  return cudaGetLastError();
}

#define KILN_REDUCE(T)                                                                         \
  template cudaError_t reduce<T>(ReduceOp, const T*, T*, const ReduceShape&, cudaStream_t);    \
  template cudaError_t argReduce<T>(bool, bool, const T*, int64_t*, int64_t, int64_t, int64_t, \
                                    cudaStream_t);                                             \
  template cudaError_t hardmax<T>(const T*, T*, int64_t, int64_t, int64_t, cudaStream_t);
KILN_REDUCE(float)
KILN_REDUCE(__half)
#undef KILN_REDUCE

}  // namespace kiln::cuda
