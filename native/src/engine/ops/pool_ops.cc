// MaxPool, AveragePool (1-D and 2-D), GlobalAveragePool, GlobalMaxPool.
#include "engine/op.h"
#include "engine/ops/register.h"
#include "engine/ops/spatial_nd.h"
#include "kiln/kernels/conv.h"
#include "kiln/kernels/pool.h"
#include "kiln/kernels/quantize.h"

namespace kiln {
namespace {

kernels::Pool2dParams poolParams(const OpContext& ctx, kernels::PoolKind kind) {
  const Dims& x = ctx.shape(0);
  ctx.require(x.size() == 3 || x.size() == 4,
              "only 1-D and 2-D pooling is supported (input rank 3 or 4)");
  const bool oneD = x.size() == 3;
  const size_t spatial = x.size() - 2;
  const std::vector<int64_t> kernel = ctx.layer.attrInts("kernel_shape");
  ctx.require(kernel.size() == spatial, "kernel_shape must have one value per spatial dim");
  const std::vector<int64_t> strides =
      ctx.layer.attrInts("strides", std::vector<int64_t>(spatial, 1));
  const std::vector<int64_t> dilations =
      ctx.layer.attrInts("dilations", std::vector<int64_t>(spatial, 1));
  const std::vector<int64_t> pads =
      ctx.layer.attrInts("pads", std::vector<int64_t>(2 * spatial, 0));
  ctx.require(
      strides.size() == spatial && dilations.size() == spatial && pads.size() == 2 * spatial,
      "strides/dilations/pads do not match the spatial rank");
  // Bounds that keep the output-size arithmetic far from 64-bit overflow.
  constexpr int64_t kMaxSize = int64_t{1} << 31;
  for (const auto* list : {&kernel, &strides, &dilations})
    for (int64_t v : *list)
      ctx.require(v >= 1 && v <= kMaxSize,
                  "kernel_shape, strides and dilations must be in [1, 2^31]");
  for (int64_t v : pads) ctx.require(v >= 0 && v <= kMaxSize, "pads must be in [0, 2^31]");
  for (size_t d = 2; d < x.size(); ++d)
    ctx.require(x[d] <= kMaxSize, "spatial sizes above 2^31 are not supported");
  kernels::Pool2dParams p;
  p.kind = kind;
  p.batch = x[0];
  p.channels = x[1];
  p.inH = oneD ? 1 : x[2];
  p.inW = x.back();
  p.kernelH = oneD ? 1 : kernel[0];
  p.kernelW = kernel.back();
  p.strideH = oneD ? 1 : strides[0];
  p.strideW = strides.back();
  p.dilationH = oneD ? 1 : dilations[0];
  p.dilationW = dilations.back();
  if (oneD) {
    p.padLeft = pads[0];
    p.padRight = pads[1];
  } else {
    p.padTop = pads[0], p.padLeft = pads[1], p.padBottom = pads[2], p.padRight = pads[3];
  }
  const std::string autoPad = ctx.layer.attrString("auto_pad", "NOTSET");
  if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    const bool upper = autoPad == "SAME_UPPER";
    if (!oneD)
      kernels::convSamePads(p.inH, p.kernelH, p.strideH, p.dilationH, upper, &p.padTop,
                            &p.padBottom);
    kernels::convSamePads(p.inW, p.kernelW, p.strideW, p.dilationW, upper, &p.padLeft, &p.padRight);
  } else if (autoPad == "VALID") {
    p.padTop = p.padLeft = p.padBottom = p.padRight = 0;
  } else {
    ctx.require(autoPad == "NOTSET", "unknown auto_pad '" + autoPad + "'");
  }
  p.ceilMode = ctx.layer.attrInt("ceil_mode", 0) != 0;
  p.countIncludePad = ctx.layer.attrInt("count_include_pad", 0) != 0;
  ctx.require(ctx.layer.attrInt("storage_order", 0) == 0, "storage_order=1 is not supported");
  return p;
}

// MaxPool also takes int8/uint8 (ONNX opset 12), which 8-bit engines keep between layers.
bool isEightBit(const OpContext& ctx) {
  return ctx.dtype(0) == DataType::kUInt8 || ctx.dtype(0) == DataType::kInt8;
}

template <kernels::PoolKind Kind>
void inferPool(OpContext& ctx) {
  if (needsPoolNd(ctx)) return inferPoolNd(ctx, Kind);
  if (Kind == kernels::PoolKind::kMax && isEightBit(ctx)) {
    ctx.outTypes[0] = ctx.dtype(0);
  } else {
    ctx.requireFloatInputs({0});
    ctx.outTypes[0] = DataType::kFloat32;  // what the kernel writes, whatever the plan declares
  }
  ctx.require(ctx.layer.outputs.size() == 1, "MaxPool's Indices output is not supported");
  const kernels::Pool2dParams p = poolParams(ctx, Kind);
  int64_t oh = 0, ow = 0;
  kernels::pool2dOutputShape(p, &oh, &ow);
  ctx.require(oh >= 1 && ow >= 1, "the output would be empty");
  ctx.outShapes[0] =
      ctx.shape(0).size() == 3 ? Dims{p.batch, p.channels, ow} : Dims{p.batch, p.channels, oh, ow};
}

template <kernels::PoolKind Kind>
void runPool(OpContext& ctx) {
  if (needsPoolNd(ctx)) return runPoolNd(ctx, Kind);
  if (Kind == kernels::PoolKind::kMax && isEightBit(ctx)) {
    const kernels::Pool2dParams p = poolParams(ctx, Kind);
    const std::vector<kernels::PoolAxis> axes = kernels::pool2dAxes(p);
    const int64_t planes = p.batch * p.channels;
    if (!kernels::poolWindowIsWide(axes))
      return kernels::maxPool2d8(p, ctx.in[0].data, ctx.dtype(0) == DataType::kInt8, ctx.out[0]);
    if (ctx.dtype(0) == DataType::kInt8)
      return kernels::maxPoolSeparable(planes, axes, static_cast<const int8_t*>(ctx.in[0].data),
                                       static_cast<int8_t*>(ctx.out[0]));
    return kernels::maxPoolSeparable(planes, axes, static_cast<const uint8_t*>(ctx.in[0].data),
                                     static_cast<uint8_t*>(ctx.out[0]));
  }
  kernels::pool2d(poolParams(ctx, Kind), ctx.f32(0), ctx.outF32(0));
}

// The separable kernel's work buffers and the 8-bit max kernel's row maxima (the float direct
// kernels' are a row or two).
template <kernels::PoolKind Kind>
void scratchPool(const OpContext& ctx, kernels::ScratchNeed* need) {
  const bool mean = Kind == kernels::PoolKind::kAverage;
  if (needsPoolNd(ctx)) {
    need->transientBytes = std::max<int64_t>(
        need->transientBytes,
        kernels::poolSeparableScratchBytes(poolNdAxes(ctx), ctx.layer.outputs.size() > 1, mean));
    return;
  }
  const kernels::Pool2dParams p = poolParams(ctx, Kind);
  const std::vector<kernels::PoolAxis> axes = kernels::pool2dAxes(p);
  if (Kind == kernels::PoolKind::kMax && isEightBit(ctx) && !kernels::poolWindowIsWide(axes)) {
    need->transientBytes =
        std::max<int64_t>(need->transientBytes, kernels::maxPool2d8ScratchBytes(p));
    return;
  }
  if (kernels::poolWindowIsWide(axes))
    need->transientBytes = std::max<int64_t>(need->transientBytes,
                                             kernels::poolSeparableScratchBytes(axes, false, mean));
}

void inferGlobal(OpContext& ctx) {
  ctx.requireFloatInputs({0});
  ctx.outTypes[0] = DataType::kFloat32;  // what the kernel writes, whatever the plan declares
  const Dims& x = ctx.shape(0);
  ctx.require(x.size() >= 3, "input must be [N, C, spatial...]");
  Dims y(x.size(), 1);
  y[0] = x[0];
  y[1] = x[1];
  ctx.outShapes[0] = y;
}

template <kernels::PoolKind Kind>
void runGlobal(OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  const int64_t spatial = shapeElements(x) / std::max<int64_t>(x[0] * x[1], 1);
  kernels::globalPool(Kind, x[0] * x[1], spatial, ctx.f32(0), ctx.outF32(0));
}

using K = kernels::PoolKind;

}  // namespace

void registerPoolOps(OpTable& table) {
  table["MaxPool"] =
      OpImpl{inferPool<K::kMax>, runPool<K::kMax>, true, nullptr, scratchPool<K::kMax>};
  table["AveragePool"] =
      OpImpl{inferPool<K::kAverage>, runPool<K::kAverage>, true, nullptr, scratchPool<K::kAverage>};
  table["GlobalAveragePool"] = OpImpl{inferGlobal, runGlobal<K::kAverage>};
  table["GlobalMaxPool"] = OpImpl{inferGlobal, runGlobal<K::kMax>};
}

}  // namespace kiln
