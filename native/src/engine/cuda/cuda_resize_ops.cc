// Resize and Upsample on cuda (src/kernels/cuda/resize): the cpu op's reading of attributes and
// inputs (engine/ops/reduce_resize_ops.cc), with scales, sizes and roi read on the host. Like
// the cpu: no antialias and no axes attribute; at most four resized axes (the kernel's limit).
#include <cmath>
#include <map>
#include <string>

#include "engine/cuda/cuda_ops.h"
#include "engine/ops/resize_attrs.h"
#include "kiln/kernels/resize.h"

namespace kiln::cuda {
namespace {

void runResize(OpContext& ctx, Launch& launch) {
  const bool half = requireFloat(ctx, {0});
  const Dims& x = ctx.shape(0);
  const Dims& y = ctx.outShapes[0];
  const size_t rank = x.size();
  ctx.require(rank <= static_cast<size_t>(kMaxRank) && y.size() == rank,
              "the cuda device resizes tensors up to rank 8");
  ResizeShape s;
  s.rank = static_cast<int>(rank);
  kernels::ResizeParams attrs;
  readResizeAttributes(ctx, &attrs);
  const bool old = resizeIsOld(ctx);
  s.mode = static_cast<int>(attrs.mode);
  s.coordMode = static_cast<int>(attrs.coordMode);
  s.nearestMode = static_cast<int>(attrs.nearestMode);
  s.cubicCoeffA = attrs.cubicCoeffA;
  s.excludeOutside = attrs.excludeOutside;
  s.extrapolation = attrs.extrapolationValue;
  // Scales as the cpu takes them: out / in when the model gave sizes.
  const size_t scalesInput = old ? 1 : 2;
  const bool haveSizes = !old && ctx.has(3) && shapeElements(ctx.shape(3)) > 0;
  std::vector<float> scales;
  if (haveSizes) {
    for (size_t i = 0; i < rank; ++i)
      scales.push_back(x[i] == 0 ? 1.0f : static_cast<float>(y[i]) / static_cast<float>(x[i]));
  } else {
    ctx.require(ctx.has(scalesInput), "needs scales or sizes");
    scales = hostFloats(ctx, launch, scalesInput);
    ctx.require(scales.size() == rank, "scales must have one value per axis");
  }
  for (size_t i = 0; i < rank; ++i) {
    ctx.require(scales[i] > 0 && x[i] > 0, "scales and sizes must be positive");
    s.inDims[i] = x[i];
    s.outDims[i] = y[i];
    s.scales[i] = scales[i];
  }
  if (s.coordMode == static_cast<int>(kernels::ResizeCoordMode::kTfCropAndResize)) {
    ctx.require(!old && ctx.has(1), "tf_crop_and_resize needs roi");
    const std::vector<float> roi = hostFloats(ctx, launch, 1);
    ctx.require(roi.size() == 2 * rank, "roi must have 2 * rank values");
    for (size_t i = 0; i < roi.size(); ++i) s.roi[i] = roi[i];
  }
  const cudaError_t status = half ? resize(s, in<__half>(ctx, 0), out<__half>(ctx), launch.stream)
                                  : resize(s, in<float>(ctx, 0), out<float>(ctx), launch.stream);
  if (status == cudaErrorInvalidValue) {
    cudaGetLastError();
    throw Error(ErrorCode::kUnsupported, "layer '" + ctx.layer.name + "' (" + ctx.layer.op +
                                             "): the cuda device resizes at most 4 axes at once");
  }
  checkCuda(ctx, status, "resize kernel");
}

std::string resizeUnsupported(const LayerDesc& layer, const Network& network) {
  if (layer.attrInt("antialias", 0) != 0) return "antialias";
  if (layer.attrs.count("axes")) return "the axes attribute";
  return typesOutside(layer, network, {DataType::kFloat32}, {0});
}

}  // namespace

void registerResizeOps(std::map<std::string, CudaOp>& table) {
  // roi, scales and sizes are read on the host; roi and scales are float32 parameters, which
  // keep a half layer half.
  CudaOp op{runResize, resizeUnsupported, Half::kFollows, false};
  op.floatParams = true;
  op.hostInputs = 0b1110;
  table["Resize"] = op;
  table["Upsample"] = op;
}

}  // namespace kiln::cuda
