#include "kiln/kernels/matmul.h"

#include <algorithm>
#include <string>

#include "kiln/error.h"
#include "kiln/kernels/gemm.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

namespace {
struct Plan {
  int64_t m, k, n;
  Shape aBatch, bBatch, outBatch;
  Shape out;
};

Plan makePlan(const Shape& as, const Shape& bs) {
  if (as.empty() || bs.empty())
    throw Error(ErrorCode::kInvalidArgument, "matmul: inputs must have rank >= 1");
  Plan p;
  const bool aVec = as.size() == 1, bVec = bs.size() == 1;
  p.m = aVec ? 1 : as[as.size() - 2];
  p.k = as.back();
  const int64_t kb = bVec ? bs[0] : bs[bs.size() - 2];
  p.n = bVec ? 1 : bs.back();
  if (p.k != kb)
    throw Error(ErrorCode::kInvalidArgument, "matmul: inner dims differ (" + std::to_string(p.k) +
                                                 " vs " + std::to_string(kb) + ")");
  p.aBatch = aVec ? Shape{} : Shape(as.begin(), as.end() - 2);
  p.bBatch = bVec ? Shape{} : Shape(bs.begin(), bs.end() - 2);
  p.outBatch = broadcastShapes(p.aBatch, p.bBatch);
  p.out = p.outBatch;
  // 1-D operands lose their promoted dim again.
  if (!aVec) p.out.push_back(p.m);
  if (!bVec) p.out.push_back(p.n);
  return p;
}

// Offset (in matrices) of the operand matrix for output batch index `idx`.
int64_t batchOffset(const Shape& outBatch, const Shape& inBatch, int64_t idx) {
  int64_t off = 0, stride = 1;
  for (size_t i = 0; i < outBatch.size(); ++i) {
    const size_t d = outBatch.size() - 1 - i;
    const int64_t coord = idx % outBatch[d];
    idx /= outBatch[d];
    if (i < inBatch.size()) {
      const int64_t dim = inBatch[inBatch.size() - 1 - i];
      if (dim != 1) off += coord * stride;
      stride *= dim;
    }
  }
  return off;
}
}  // namespace

Shape matmulOutputShape(const Shape& a, const Shape& b) { return makePlan(a, b).out; }

void matmul(const float* a, const Shape& as, const float* b, const Shape& bs, float* y,
            const float* bias, const Activation& act) {
  const Plan p = makePlan(as, bs);
  const int64_t batches = shapeSize(p.outBatch);
  if (batches == 0 || p.m == 0 || p.n == 0) return;
  GemmParams g;
  g.m = p.m;
  g.n = p.n;
  g.k = p.k;
  g.bias = bias;
  g.biasKind = bias ? BiasKind::kPerCol : BiasKind::kNone;
  g.activation = act;
  const bool bShared = shapeSize(p.bBatch) == 1;
  if (bShared && shapeSize(p.aBatch) == batches) {
    // Stacked rows of A times one B: a single tall GEMM (every Linear layer of a transformer).
    g.m = p.m * batches;
    sgemm(g, a, b, y);
    return;
  }
  const int64_t aMat = p.m * p.k, bMat = p.k * p.n, yMat = p.m * p.n;
  ThreadPool& pool = globalThreadPool();
  // Many small products (attention heads): one serial GEMM per batch across threads beats
  // splitting each tiny GEMM.
  const bool perBatchParallel =
      batches >= 2 * static_cast<int64_t>(pool.size()) && p.m * p.n * p.k < (int64_t{1} << 22);
  auto one = [&](int64_t i, ThreadPool* inner) {
    const int64_t ao = batchOffset(p.outBatch, p.aBatch, i),
                  bo = batchOffset(p.outBatch, p.bBatch, i);
    sgemm(g, a + ao * aMat, b + bo * bMat, y + i * yMat, inner);
  };
  if (perBatchParallel) {
    pool.parallelFor(static_cast<size_t>(batches), 1, [&](size_t s, size_t e) {
      for (size_t i = s; i < e; ++i) one(static_cast<int64_t>(i), nullptr);
    });
  } else {
    for (int64_t i = 0; i < batches; ++i) one(i, &pool);
  }
}

}  // namespace kiln::kernels
