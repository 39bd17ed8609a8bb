#include "kiln/kernels/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "kiln/error.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

void reduce(ReduceOp op, const float* x, const Shape& xs, const std::vector<int64_t>& axesIn,
            float* y) {
  const int64_t rank = static_cast<int64_t>(xs.size());
  std::vector<bool> reduced(xs.size(), axesIn.empty());
  for (int64_t a : axesIn) {
    if (a < 0) a += rank;
    if (a < 0 || a >= rank) throw Error(ErrorCode::kInvalidArgument, "reduce: axis out of range");
    reduced[a] = true;
  }
  std::vector<int64_t> st(xs.size(), 1);
  for (int64_t d = rank - 1; d > 0; --d) st[d - 1] = st[d] * xs[d];
  // Offsets of every element of one reduction group relative to its first element, in input
  // order; each output then sums a fixed list (contiguous when the reduced axes are trailing).
  std::vector<int64_t> groupOffsets{0};
  Shape keptDims;
  std::vector<int64_t> keptStrides;
  for (int64_t d = 0; d < rank; ++d) {
    if (reduced[d]) {
      std::vector<int64_t> next;
      next.reserve(groupOffsets.size() * xs[d]);
      for (int64_t base : groupOffsets)
        for (int64_t i = 0; i < xs[d]; ++i) next.push_back(base + i * st[d]);
      groupOffsets.swap(next);
    } else {
      keptDims.push_back(xs[d]);
      keptStrides.push_back(st[d]);
    }
  }
  const int64_t outCount = shapeSize(keptDims);
  const int64_t groupSize = static_cast<int64_t>(groupOffsets.size());
  globalThreadPool().parallelFor(
      static_cast<size_t>(outCount),
      static_cast<size_t>(std::max<int64_t>(1, 16384 / std::max<int64_t>(groupSize, 1))),
      [&](size_t b, size_t e) {
        for (size_t o = b; o < e; ++o) {
          int64_t base = 0, r = static_cast<int64_t>(o);
          for (size_t d = keptDims.size(); d-- > 0;)
            base += (r % keptDims[d]) * keptStrides[d], r /= keptDims[d];
          const float* g = x + base;
          double acc;
          switch (op) {
            case ReduceOp::kMax:
            case ReduceOp::kMin: {
              // Empty groups give the identity (-inf / +inf), as onnxruntime does.
              const bool mx = op == ReduceOp::kMax;
              float m = mx ? -std::numeric_limits<float>::infinity()
                           : std::numeric_limits<float>::infinity();
              for (int64_t i = 0; i < groupSize; ++i) {
                const float v = g[groupOffsets[i]];
                if (v != v || (mx ? v > m : v < m)) m = v;
              }
              y[o] = m;
              continue;
            }
            case ReduceOp::kProd:
              acc = 1;
              for (int64_t i = 0; i < groupSize; ++i) acc *= g[groupOffsets[i]];
              break;
            case ReduceOp::kLogSumExp: {
              double m = -std::numeric_limits<double>::infinity();
              for (int64_t i = 0; i < groupSize; ++i)
                m = std::max(m, static_cast<double>(g[groupOffsets[i]]));
              double s = 0;
              for (int64_t i = 0; i < groupSize; ++i) s += std::exp(g[groupOffsets[i]] - m);
              acc = std::isinf(m) ? m : m + std::log(s);
              break;
            }
            default: {
              // Sum-like ops accumulate in double so long reductions keep float precision.
              acc = 0;
              if (op == ReduceOp::kSumSquare || op == ReduceOp::kL2) {
                for (int64_t i = 0; i < groupSize; ++i)
                  acc += static_cast<double>(g[groupOffsets[i]]) * g[groupOffsets[i]];
              } else if (op == ReduceOp::kL1) {
                for (int64_t i = 0; i < groupSize; ++i) acc += std::fabs(g[groupOffsets[i]]);
              } else {
                for (int64_t i = 0; i < groupSize; ++i) acc += g[groupOffsets[i]];
              }
              if (op == ReduceOp::kMean) acc /= static_cast<double>(groupSize);
              if (op == ReduceOp::kL2) acc = std::sqrt(acc);
              if (op == ReduceOp::kLogSum) acc = std::log(acc);
            }
          }
          y[o] = static_cast<float>(acc);
        }
      });
}

void argReduce(bool isMax, const float* x, const Shape& xs, int64_t axis, bool selectLastIndex,
               int64_t* y) {
  const int64_t rank = static_cast<int64_t>(xs.size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank)
    throw Error(ErrorCode::kInvalidArgument, "argReduce: axis out of range");
  if (xs[axis] == 0)
    throw Error(ErrorCode::kInvalidArgument, "argReduce: cannot reduce an empty axis");
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= xs[d];
  for (int64_t d = axis + 1; d < rank; ++d) inner *= xs[d];
  const int64_t dim = xs[axis];
  globalThreadPool().parallelFor(static_cast<size_t>(outer * inner), 64, [&](size_t b, size_t e) {
    for (size_t t = b; t < e; ++t) {
      const int64_t o = static_cast<int64_t>(t) / inner, i = static_cast<int64_t>(t) % inner;
      const float* p = x + o * dim * inner + i;
      int64_t best = 0;
      for (int64_t k = 1; k < dim; ++k) {
        const float v = p[k * inner], bv = p[best * inner];
        const bool better =
            isMax ? (selectLastIndex ? v >= bv : v > bv) : (selectLastIndex ? v <= bv : v < bv);
        if (better) best = k;
      }
      y[t] = best;
    }
  });
}

}  // namespace kiln::kernels
