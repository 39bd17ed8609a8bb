// LayerNormalization and Softmax on cuda through the project's row kernels (src/kernels/cuda/
// norm): float32, or float16 data with float32 statistics. LayerNormalization's scale and bias
// stay float32 (CudaOp::floatParams), so an FP16 engine's half activations flow through it.
#include <map>
#include <string>

#include "engine/cuda/cuda_ops.h"

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
  checkCuda(
      ctx,
      half ? softmax(in<__half>(ctx, 0), out<__half>(ctx), outer, axisDim, inner, launch.stream)
           : softmax(in<float>(ctx, 0), out<float>(ctx), outer, axisDim, inner, launch.stream),
      "softmax kernel");
}

}  // namespace

void registerNormOps(std::map<std::string, CudaOp>& table) {
  CudaOp layerNorm{runLayerNorm, layerNormUnsupported, Half::kFollows, false};
  layerNorm.floatParams = true;
  table["LayerNormalization"] = layerNorm;
  table["Softmax"] = CudaOp{runSoftmax, nullptr, Half::kFollows, false};
}

}  // namespace kiln::cuda
