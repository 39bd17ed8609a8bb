// BatchNormalization (inference), InstanceNormalization, LayerNormalization, Softmax,
// LogSoftmax.
#include <cmath>
#include <vector>

#include "engine/ops/fused_activation.h"
#include "engine/ops/register.h"
#include "kiln/kernels/norm.h"
#include "kiln/kernels/softmax.h"

namespace kiln {
namespace {

void inferSameShape(OpContext& ctx) {
  ctx.requireFloatInputs({0, 1, 2, 3, 4});
  ctx.outShapes[0] = ctx.shape(0);
  // The kernels write float32: a plan declaring another output type must not size the buffer.
  ctx.outTypes[0] = DataType::kFloat32;
}

int64_t channelsOf(const OpContext& ctx, const Dims& x) {
  ctx.require(x.size() >= 2, "input must be [N, C, ...]");
  return x[1];
}

void inferBatchNorm(OpContext& ctx) {
  inferSameShape(ctx);
  const bool training = ctx.layer.attrInt("training_mode", 0) != 0;
  ctx.require(ctx.layer.outputs.size() == 1 || (training && ctx.layer.outputs.size() <= 3),
              "training-mode outputs need training_mode = 1 (opset >= 14)");
  const int64_t c = channelsOf(ctx, ctx.shape(0));
  for (size_t i = 1; i <= 4; ++i)
    ctx.require(shapeElements(ctx.shape(i)) == c, "scale/bias/mean/var need C values");
  for (size_t o = 1; o < ctx.outShapes.size(); ++o) {
    ctx.outShapes[o] = Dims{c};
    ctx.outTypes[o] = DataType::kFloat32;
  }
}

// training_mode = 1: normalizes with the batch's own mean and (biased) variance, and outputs
// the running statistics moved toward them by (1 - momentum).
void runBatchNormTraining(OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  const int64_t n = x[0], c = x[1];
  const int64_t spatial = x.size() > 2 ? shapeElements(Dims(x.begin() + 2, x.end())) : 1;
  const float momentum = static_cast<float>(ctx.layer.attrFloat("momentum", 0.9));
  const float* src = ctx.f32(0);
  std::vector<float> mean(static_cast<size_t>(c)), var(static_cast<size_t>(c));
  for (int64_t ch = 0; ch < c; ++ch) {
    double sum = 0, sq = 0;
    for (int64_t b = 0; b < n; ++b)
      for (int64_t s = 0; s < spatial; ++s) sum += src[(b * c + ch) * spatial + s];
    const double m = sum / static_cast<double>(n * spatial);
    for (int64_t b = 0; b < n; ++b)
      for (int64_t s = 0; s < spatial; ++s) {
        const double d = src[(b * c + ch) * spatial + s] - m;
        sq += d * d;
      }
    mean[ch] = static_cast<float>(m);
    var[ch] = static_cast<float>(sq / static_cast<double>(n * spatial));
  }
  kernels::batchNormInference(n, c, spatial, src, ctx.f32(1), ctx.f32(2), mean.data(), var.data(),
                              static_cast<float>(ctx.layer.attrFloat("epsilon", 1e-5)),
                              ctx.outF32(0), fusedActivation(ctx));
  for (size_t o = 1; o < ctx.out.size(); ++o) {
    if (!ctx.out[o]) continue;
    const float* running = ctx.f32(o == 1 ? 3 : 4);
    const std::vector<float>& batch = o == 1 ? mean : var;
    for (int64_t ch = 0; ch < c; ++ch)
      ctx.outF32(o)[ch] = running[ch] * momentum + batch[ch] * (1 - momentum);
  }
}

void runBatchNorm(OpContext& ctx) {
  if (ctx.layer.attrInt("training_mode", 0) != 0) return runBatchNormTraining(ctx);
  const Dims& x = ctx.shape(0);
  const int64_t spatial = x.size() > 2 ? shapeElements(Dims(x.begin() + 2, x.end())) : 1;
  kernels::batchNormInference(x[0], x[1], spatial, ctx.f32(0), ctx.f32(1), ctx.f32(2), ctx.f32(3),
                              ctx.f32(4), static_cast<float>(ctx.layer.attrFloat("epsilon", 1e-5)),
                              ctx.outF32(0), fusedActivation(ctx));
}

void runInstanceNorm(OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  ctx.require(x.size() >= 2, "needs an input of rank >= 2 (N, C, ...)");
  ctx.require(shapeElements(ctx.shape(1)) == x[1] && shapeElements(ctx.shape(2)) == x[1],
              "scale and B must hold one value per channel");
  const int64_t spatial = x.size() > 2 ? shapeElements(Dims(x.begin() + 2, x.end())) : 1;
  kernels::instanceNorm(x[0], channelsOf(ctx, x), spatial, ctx.f32(0), ctx.f32(1), ctx.f32(2),
                        static_cast<float>(ctx.layer.attrFloat("epsilon", 1e-5)), ctx.outF32(0));
}

void inferLayerNorm(OpContext& ctx) {
  inferSameShape(ctx);
  const Dims& x = ctx.shape(0);
  const int64_t axis =
      normalizeAxis(ctx, ctx.layer.attrInt("axis", -1), static_cast<int64_t>(x.size()));
  // Mean and InvStdDev (training outputs): x's shape with the normalized dims set to 1.
  for (size_t o = 1; o < ctx.outShapes.size(); ++o) {
    Dims stat = x;
    for (size_t d = static_cast<size_t>(axis); d < stat.size(); ++d) stat[d] = 1;
    ctx.outShapes[o] = stat;
    ctx.outTypes[o] = DataType::kFloat32;
  }
  const int64_t cols = shapeElements(Dims(x.begin() + axis, x.end()));
  ctx.require(shapeElements(ctx.shape(1)) == cols, "scale must cover the normalized dims");
  if (ctx.has(2))
    ctx.require(shapeElements(ctx.shape(2)) == cols, "bias must cover the normalized dims");
}

void runLayerNorm(OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  const int64_t axis =
      normalizeAxis(ctx, ctx.layer.attrInt("axis", -1), static_cast<int64_t>(x.size()));
  const int64_t cols = shapeElements(Dims(x.begin() + axis, x.end()));
  const int64_t rows = cols == 0 ? 0 : shapeElements(x) / cols;
  const float epsilon = static_cast<float>(ctx.layer.attrFloat("epsilon", 1e-5));
  kernels::layerNorm(rows, cols, ctx.f32(0), ctx.f32(1), ctx.has(2) ? ctx.f32(2) : nullptr, epsilon,
                     ctx.outF32(0));
  if (ctx.out.size() < 2) return;
  // The statistics outputs, recomputed per row (they are rarely asked for).
  float* mean = ctx.out[1] ? ctx.outF32(1) : nullptr;
  float* invStd = ctx.out.size() > 2 && ctx.out[2] ? ctx.outF32(2) : nullptr;
  const float* src = ctx.f32(0);
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0, sq = 0;
    for (int64_t c = 0; c < cols; ++c) sum += src[r * cols + c];
    const double m = sum / static_cast<double>(cols);
    for (int64_t c = 0; c < cols; ++c) {
      const double d = src[r * cols + c] - m;
      sq += d * d;
    }
    if (mean) mean[r] = static_cast<float>(m);
    if (invStd)
      invStd[r] = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(cols) + epsilon));
  }
}

// Opset >= 13 normalises one axis; older opsets flatten everything from `axis` on. The
// builder records the model's opset in the attribute "opset".
template <bool Log>
void runSoftmax(OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  const int64_t rank = static_cast<int64_t>(x.size());
  ctx.require(rank > 0, "needs an input of rank >= 1");
  const bool modern = ctx.layer.attrInt("opset", 13) >= 13;
  const int64_t axis = normalizeAxis(ctx, ctx.layer.attrInt("axis", modern ? -1 : 1), rank);
  const int64_t outer = shapeElements(Dims(x.begin(), x.begin() + axis));
  const int64_t axisDim = modern ? x[axis] : shapeElements(Dims(x.begin() + axis, x.end()));
  const int64_t inner = modern ? shapeElements(Dims(x.begin() + axis + 1, x.end())) : 1;
  kernels::softmax(outer, axisDim, inner, ctx.f32(0), ctx.outF32(0), Log);
}

}  // namespace

void registerNormOps(OpTable& table) {
  table["BatchNormalization"] = OpImpl{inferBatchNorm, runBatchNorm};
  table["InstanceNormalization"] = OpImpl{inferSameShape, runInstanceNorm};
  table["LayerNormalization"] = OpImpl{inferLayerNorm, runLayerNorm};
  table["Softmax"] = OpImpl{inferSameShape, runSoftmax<false>};
  table["LogSoftmax"] = OpImpl{inferSameShape, runSoftmax<true>};
}

}  // namespace kiln
