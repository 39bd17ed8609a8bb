// LayerNormalization, Softmax / LogSoftmax, BatchNormalization (inference),
// InstanceNormalization and LRN on
// cuda through the project's kernels (src/kernels/cuda/norm): float32, or float16 data with
// float32 statistics. Their scales, biases and statistics stay float32 (CudaOp::floatParams),
// so an FP16 engine's half activations flow through them.
#include <map>
#include <string>

#include "engine/cuda/cuda_ops.h"
#include "engine/ops/fused_activation.h"

namespace kiln::cuda {
namespace {

void runLayerNorm(OpContext& ctx, Launch& launch) {
  const bool half = requireFloat(ctx, {0});
  const bool hasBias = ctx.has(2);
  ctx.require(
      ctx.dtype(1) == DataType::kFloat32 && (!hasBias || ctx.dtype(2) == DataType::kFloat32),
      "scale and bias must be float32");
  const Dims& x = ctx.shape(0);
  const int64_t axis =
      normalizeAxis(ctx, ctx.layer.attrInt("axis", -1), static_cast<int64_t>(x.size()));
  const int64_t cols = shapeElements(Dims(x.begin() + axis, x.end()));
  const int64_t rowCount = cols == 0 ? 0 : shapeElements(x) / cols;
  ctx.require(
      shapeElements(ctx.shape(1)) == cols && (!hasBias || shapeElements(ctx.shape(2)) == cols),
      "scale and bias must cover the normalized dims");
  const float epsilon = static_cast<float>(ctx.layer.attrFloat("epsilon", 1e-5));
  const float* scale = in<float>(ctx, 1);
  const float* bias = hasBias ? in<float>(ctx, 2) : nullptr;
  checkCuda(ctx,
            half ? layerNorm(in<__half>(ctx, 0), scale, bias, out<__half>(ctx), rowCount, cols,
                             epsilon, launch.stream)
                 : layerNorm(in<float>(ctx, 0), scale, bias, out<float>(ctx), rowCount, cols,
                             epsilon, launch.stream),
            "layer norm kernel");
}

std::string layerNormUnsupported(const LayerDesc& layer, const Network&) {
  for (size_t o = 1; o < layer.outputs.size(); ++o)
    if (layer.outputs[o] >= 0) return "the Mean / InvStdDev outputs";
  return {};
}

// Opset >= 13 normalizes one axis; older opsets flatten everything from `axis` on (the builder
// records the model's opset in the attribute "opset"), as the cpu op does.
void runSoftmax(OpContext& ctx, Launch& launch) {
  const bool half = requireFloat(ctx, {0});
  const Dims& x = ctx.shape(0);
  const int64_t rank = static_cast<int64_t>(x.size());
  ctx.require(rank > 0, "needs an input of rank >= 1");
  const bool modern = ctx.layer.attrInt("opset", 13) >= 13;
  const int64_t axis = normalizeAxis(ctx, ctx.layer.attrInt("axis", modern ? -1 : 1), rank);
  const int64_t outer = shapeElements(Dims(x.begin(), x.begin() + axis));
  const int64_t axisDim = modern ? x[axis] : shapeElements(Dims(x.begin() + axis, x.end()));
  const int64_t inner = modern ? shapeElements(Dims(x.begin() + axis + 1, x.end())) : 1;
  const bool log = ctx.layer.op == "LogSoftmax";
  checkCuda(
      ctx,
      half
          ? softmax(in<__half>(ctx, 0), out<__half>(ctx), outer, axisDim, inner, launch.stream, log)
          : softmax(in<float>(ctx, 0), out<float>(ctx), outer, axisDim, inner, launch.stream, log),
      "softmax kernel");
}

// The per-channel parameters (inputs 1...) must be float32 vectors of C values.
int64_t channelParams(const OpContext& ctx, size_t count) {
  const Dims& x = ctx.shape(0);
  ctx.require(x.size() >= 2, "input must be [N, C, ...]");
  for (size_t i = 1; i <= count; ++i)
    ctx.require(ctx.dtype(i) == DataType::kFloat32 && shapeElements(ctx.shape(i)) == x[1],
                "the per-channel parameters must be C float32 values");
  return x.size() > 2 ? shapeElements(Dims(x.begin() + 2, x.end())) : 1;
}

// Inference mode, then the activation the builder fused into the layer, in place.
void runBatchNorm(OpContext& ctx, Launch& launch) {
  const bool half = requireFloat(ctx, {0});
  const int64_t spatial = channelParams(ctx, 4);
  const Dims& x = ctx.shape(0);
  const float eps = static_cast<float>(ctx.layer.attrFloat("epsilon", 1e-5));
  const float *s = in<float>(ctx, 1), *b = in<float>(ctx, 2), *m = in<float>(ctx, 3),
              *v = in<float>(ctx, 4);
  checkCuda(ctx,
            half ? batchNorm(in<__half>(ctx, 0), out<__half>(ctx), x[0], x[1], spatial, s, b, m, v,
                             eps, launch.stream)
                 : batchNorm(in<float>(ctx, 0), out<float>(ctx), x[0], x[1], spatial, s, b, m, v,
                             eps, launch.stream),
            "batch norm kernel");
  const kernels::Activation act = fusedActivation(ctx);
  if (act.kind == kernels::ActivationKind::kNone) return;
  const int64_t count = shapeElements(x);
  checkCuda(ctx,
            half ? biasActivation(out<__half>(ctx), out<__half>(ctx), 1, 1, count,
                                  static_cast<const __half*>(nullptr),
                                  static_cast<const __half*>(nullptr), act, launch.stream)
                 : biasActivation(out<float>(ctx), out<float>(ctx), 1, 1, count,
                                  static_cast<const float*>(nullptr),
                                  static_cast<const float*>(nullptr), act, launch.stream),
            "activation kernel");
}

std::string batchNormUnsupported(const LayerDesc& layer, const Network& network) {
  if (layer.attrInt("training_mode", 0) != 0 || layer.outputs.size() > 1)
    return "training mode (batch statistics and running-mean outputs)";
  return typesOutside(layer, network, {DataType::kFloat32});
}

void runInstanceNorm(OpContext& ctx, Launch& launch) {
  const bool half = requireFloat(ctx, {0});
  const int64_t spatial = channelParams(ctx, 2);
  const Dims& x = ctx.shape(0);
  const float eps = static_cast<float>(ctx.layer.attrFloat("epsilon", 1e-5));
  checkCuda(ctx,
            half ? instanceNorm(in<__half>(ctx, 0), out<__half>(ctx), x[0], x[1], spatial,
                                in<float>(ctx, 1), in<float>(ctx, 2), eps, launch.stream)
                 : instanceNorm(in<float>(ctx, 0), out<float>(ctx), x[0], x[1], spatial,
                                in<float>(ctx, 1), in<float>(ctx, 2), eps, launch.stream),
            "instance norm kernel");
}

void runLrn(OpContext& ctx, Launch& launch) {
  const bool half = requireFloat(ctx, {0});
  const Dims& x = ctx.shape(0);
  ctx.require(x.size() >= 2, "input must be [N, C, ...]");
  const int64_t size = ctx.layer.attrInt("size", 1);
  ctx.require(size >= 1, "size must be positive");
  const float alpha = static_cast<float>(ctx.layer.attrFloat("alpha", 1e-4));
  const float beta = static_cast<float>(ctx.layer.attrFloat("beta", 0.75));
  const float bias = static_cast<float>(ctx.layer.attrFloat("bias", 1.0));
  const int64_t inner = shapeElements(Dims(x.begin() + 2, x.end()));
  checkCuda(ctx,
            half ? lrn(in<__half>(ctx, 0), out<__half>(ctx), x[0], x[1], inner, size, alpha, beta,
                       bias, launch.stream)
                 : lrn(in<float>(ctx, 0), out<float>(ctx), x[0], x[1], inner, size, alpha, beta,
                       bias, launch.stream),
            "lrn kernel");
}

}  // namespace

void registerNormOps(std::map<std::string, CudaOp>& table) {
  CudaOp layerNorm{runLayerNorm, layerNormUnsupported, Half::kFollows, false};
  layerNorm.floatParams = true;
  table["LayerNormalization"] = layerNorm;
  table["Softmax"] = CudaOp{runSoftmax, floatOnly, Half::kFollows, false};
  table["LogSoftmax"] = CudaOp{runSoftmax, floatOnly, Half::kFollows, false};
  table["LRN"] = CudaOp{runLrn, floatOnly, Half::kFollows, false};
  CudaOp batchNorm{runBatchNorm, batchNormUnsupported, Half::kFollows, false};
  batchNorm.floatParams = true;
  table["BatchNormalization"] = batchNorm;
  CudaOp instanceNorm{runInstanceNorm, floatOnly, Half::kFollows, false};
  instanceNorm.floatParams = true;
  table["InstanceNormalization"] = instanceNorm;
}

}  // namespace kiln::cuda
