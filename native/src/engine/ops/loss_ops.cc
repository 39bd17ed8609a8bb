// Loss functions on float32: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (with its
// optional log-probability output), reductions none / sum / mean, class weights, ignore_index.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/op.h"
#include "engine/ops/register.h"
#include "kiln/kernels/softmax.h"

namespace kiln {
namespace {

// Input [N, C, d1...] against targets [N, d1...].
void inferLoss(OpContext& ctx) {
  ctx.requireFloatInputs({0, 2});
  const Dims& x = ctx.shape(0);
  const Dims& t = ctx.shape(1);
  const DataType tt = ctx.dtype(1);
  ctx.require(tt == DataType::kInt32 || tt == DataType::kInt64, "targets must be int32 or int64");
  ctx.require(x.size() >= 2 && t.size() == x.size() - 1,
              "input must be [N, C, ...], targets [N, ...]");
  ctx.require(t[0] == x[0], "targets' N must match the input's");
  for (size_t d = 1; d < t.size(); ++d)
    ctx.require(t[d] == x[d + 1], "targets' dims must match the input's spatial dims");
  if (ctx.has(2)) ctx.require(ctx.shape(2) == Dims{x[1]}, "weights must be [C]");
  const std::string r = ctx.layer.attrString("reduction", "mean");
  ctx.require(r == "none" || r == "sum" || r == "mean", "unknown reduction '" + r + "'");
  ctx.outShapes[0] = r == "none" ? t : Dims{};
  ctx.outTypes[0] = DataType::kFloat32;
  if (ctx.outShapes.size() > 1) {
    ctx.outShapes[1] = x;
    ctx.outTypes[1] = DataType::kFloat32;
  }
}

// loss[n, d] = -logp[n, target, d] * weight[target], zero where target == ignore_index; mean
// divides by the summed weights of the counted targets.
void reduceLoss(OpContext& ctx, const float* logp) {
  const Dims& x = ctx.shape(0);
  const int64_t n = x[0];
  const int64_t c = x[1];
  const int64_t inner = shapeElements(Dims(x.begin() + 2, x.end()));
  const bool hasIgnore = ctx.layer.attrs.count("ignore_index") > 0;
  const int64_t ignore = ctx.layer.attrInt("ignore_index", 0);
  const float* w = ctx.has(2) ? ctx.f32(2) : nullptr;
  const std::string r = ctx.layer.attrString("reduction", "mean");
  float* out = ctx.outF32(0);
  std::vector<float> loss(static_cast<size_t>(n * inner), 0.0f);
  double total = 0, weights = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t d = 0; d < inner; ++d) {
      const int64_t k = i * inner + d;
      const int64_t target = ctx.dtype(1) == DataType::kInt32
                                 ? static_cast<const int32_t*>(ctx.in[1].data)[k]
                                 : static_cast<const int64_t*>(ctx.in[1].data)[k];
      if (hasIgnore && target == ignore) continue;
      if (target < 0 || target >= c)
        ctx.fail("target " + std::to_string(target) + " is out of range for " + std::to_string(c) +
                 " classes");
      const float wt = w ? w[target] : 1.0f;
      loss[k] = -logp[(i * c + target) * inner + d] * wt;
      total += loss[k];
      weights += wt;
    }
  }
  if (r == "none") {
    std::copy(loss.begin(), loss.end(), out);
  } else if (r == "sum") {
    out[0] = static_cast<float>(total);
  } else {
    out[0] = weights == 0 ? std::numeric_limits<float>::quiet_NaN()
                          : static_cast<float>(total / weights);
  }
}

void runNllLoss(OpContext& ctx) { reduceLoss(ctx, ctx.f32(0)); }

void runSoftmaxCrossEntropy(OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  const int64_t inner = shapeElements(Dims(x.begin() + 2, x.end()));
  // Log-softmax over the class axis, into the second output when it is wanted.
  std::vector<float> scratch;
  float* logp = nullptr;
  if (ctx.out.size() > 1 && ctx.out[1] != nullptr) {
    logp = ctx.outF32(1);
  } else {
    scratch.resize(static_cast<size_t>(shapeElements(x)));
    logp = scratch.data();
  }
  kernels::softmax(x[0], x[1], inner, ctx.f32(0), logp, true);
  reduceLoss(ctx, logp);
}

}  // namespace

void registerLossOps(OpTable& table) {
  table["NegativeLogLikelihoodLoss"] = OpImpl{inferLoss, runNllLoss};
  table["SoftmaxCrossEntropyLoss"] = OpImpl{inferLoss, runSoftmaxCrossEntropy};
}

}  // namespace kiln
