// Reductions (Reduce*, ArgMax/ArgMin) and Resize / Upsample, on float32.
#include <algorithm>
#include <cmath>
#include <map>

#include "engine/op.h"
#include "engine/ops/register.h"
#include "engine/ops/resize_attrs.h"
#include "kiln/kernels/reduce.h"
#include "kiln/kernels/resize.h"

namespace kiln {
namespace {

const std::map<std::string, kernels::ReduceOp>& reduceOps() {
  using R = kernels::ReduceOp;
  static const std::map<std::string, R> ops = {
      {"ReduceSum", R::kSum},       {"ReduceMean", R::kMean},
      {"ReduceMax", R::kMax},       {"ReduceMin", R::kMin},
      {"ReduceProd", R::kProd},     {"ReduceL1", R::kL1},
      {"ReduceL2", R::kL2},         {"ReduceSumSquare", R::kSumSquare},
      {"ReduceLogSum", R::kLogSum}, {"ReduceLogSumExp", R::kLogSumExp}};
  return ops;
}

// Axes come from input 1 (ReduceSum since opset 13, all since 18) or the attribute. No axes
// means all axes, unless noop_with_empty_axes asks for the identity.
std::vector<int64_t> reduceAxes(const OpContext& ctx, bool* identity) {
  const int64_t rank = static_cast<int64_t>(ctx.shape(0).size());
  std::vector<int64_t> axes = ctx.has(1) ? ctx.ints(1) : ctx.layer.attrInts("axes");
  *identity = axes.empty() && ctx.layer.attrInt("noop_with_empty_axes", 0) != 0;
  if (axes.empty() && !*identity) {
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  }
  for (int64_t& a : axes) a = normalizeAxis(ctx, a, rank);
  return axes;
}

void inferReduce(OpContext& ctx) {
  ctx.requireFloatInputs({0});
  bool identity = false;
  const std::vector<int64_t> axes = reduceAxes(ctx, &identity);
  const Dims& x = ctx.shape(0);
  const bool keep = ctx.layer.attrInt("keepdims", 1) != 0;
  Dims out;
  for (int64_t i = 0; i < static_cast<int64_t>(x.size()); ++i) {
    const bool reduced = std::find(axes.begin(), axes.end(), i) != axes.end();
    if (!reduced)
      out.push_back(x[i]);
    else if (keep)
      out.push_back(1);
  }
  ctx.outShapes[0] = identity ? x : out;
  ctx.outTypes[0] = DataType::kFloat32;  // what the kernel writes, whatever the plan declares
}

void runReduce(OpContext& ctx) {
  bool identity = false;
  const std::vector<int64_t> axes = reduceAxes(ctx, &identity);
  const int64_t n = shapeElements(ctx.shape(0));
  if (identity) {
    std::copy(ctx.f32(0), ctx.f32(0) + n, ctx.outF32(0));
    return;
  }
  Dims x = ctx.shape(0);
  // An empty input leaves every group empty: reducing it with its reduced dims set to 0 gives
  // the same identities without sizing per-group work by its other (maybe huge) reduced dims.
  if (n == 0)
    for (int64_t a : axes) x[static_cast<size_t>(a)] = 0;
  kernels::reduce(reduceOps().at(ctx.layer.op), ctx.f32(0), x, axes, ctx.outF32(0));
}

void inferArg(OpContext& ctx) {
  ctx.requireFloatInputs({0});
  const Dims& x = ctx.shape(0);
  ctx.require(!x.empty(), "needs an input of rank >= 1");
  const int64_t axis =
      normalizeAxis(ctx, ctx.layer.attrInt("axis", 0), static_cast<int64_t>(x.size()));
  Dims out = x;
  if (ctx.layer.attrInt("keepdims", 1) != 0)
    out[axis] = 1;
  else
    out.erase(out.begin() + axis);
  ctx.outShapes[0] = out;
  ctx.outTypes[0] = DataType::kInt64;
}

void runArg(OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  const int64_t axis =
      normalizeAxis(ctx, ctx.layer.attrInt("axis", 0), static_cast<int64_t>(x.size()));
  kernels::argReduce(ctx.layer.op == "ArgMax", ctx.f32(0), x, axis,
                     ctx.layer.attrInt("select_last_index", 0) != 0,
                     static_cast<int64_t*>(ctx.out[0]));
}

// Resize inputs: X, roi, scales, sizes (opset >= 11); X, scales (opset 10 and Upsample).
struct ResizePlan {
  kernels::ResizeParams params;
  Dims out;
};

ResizePlan resizePlan(const OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  const size_t rank = x.size();
  ResizePlan plan;
  kernels::ResizeParams& p = plan.params;
  readResizeAttributes(ctx, &p);
  const bool old = resizeIsOld(ctx);
  ctx.require(ctx.layer.attrInt("antialias", 0) == 0, "antialias is not supported yet");
  ctx.require(!ctx.layer.attrs.count("axes"), "the axes attribute is not supported yet");
  const size_t scalesInput = old ? 1 : 2;
  const bool haveSizes = !old && ctx.has(3) && shapeElements(ctx.shape(3)) > 0;
  const bool haveScales = ctx.has(scalesInput) && shapeElements(ctx.shape(scalesInput)) > 0;
  plan.out = x;
  if (haveSizes) {
    const std::vector<int64_t> sizes = ctx.ints(3);
    ctx.require(sizes.size() == rank, "sizes must have one value per axis");
    for (size_t i = 0; i < rank; ++i) {
      plan.out[i] = sizes[i];
      p.scales.push_back(x[i] == 0 ? 1.0f
                                   : static_cast<float>(sizes[i]) / static_cast<float>(x[i]));
    }
  } else if (haveScales) {
    p.scales = ctx.floats(scalesInput);
    ctx.require(p.scales.size() == rank, "scales must have one value per axis");
    for (size_t i = 0; i < rank; ++i) {
      ctx.require(p.scales[i] > 0, "scales must be positive");
      const double size = std::floor(static_cast<double>(x[i]) * p.scales[i]);
      // The dim bound every shape obeys; it also keeps the conversion to int64 defined.
      ctx.require(size <= static_cast<double>(int64_t{1} << 48),
                  "scales make an output dim above 2^48");
      plan.out[i] = static_cast<int64_t>(size);
    }
  } else {
    ctx.fail("needs scales or sizes");
  }
  if (p.coordMode == kernels::ResizeCoordMode::kTfCropAndResize) {
    ctx.require(!old && ctx.has(1), "tf_crop_and_resize needs roi");
    p.roi = ctx.floats(1);
  }
  return plan;
}

void inferResize(OpContext& ctx) {
  ctx.requireFloatInputs({0});
  ctx.outTypes[0] = DataType::kFloat32;  // what the kernel writes, whatever the plan declares
  ctx.outShapes[0] = resizePlan(ctx).out;
}

void runResize(OpContext& ctx) {
  const ResizePlan plan = resizePlan(ctx);
  kernels::resize(plan.params, ctx.f32(0), ctx.shape(0), plan.out, ctx.outF32(0));
}

}  // namespace

void readResizeAttributes(const OpContext& ctx, kernels::ResizeParams* p) {
  const std::string mode = ctx.layer.attrString("mode", "nearest");
  if (mode == "nearest")
    p->mode = kernels::ResizeMode::kNearest;
  else if (mode == "linear" || mode == "bilinear")
    p->mode = kernels::ResizeMode::kLinear;
  else if (mode == "cubic")
    p->mode = kernels::ResizeMode::kCubic;
  else
    ctx.fail("unknown mode '" + mode + "'");
  // Resize-10 and Upsample have no coordinate attribute: their behaviour is 'asymmetric'.
  const bool old = resizeIsOld(ctx);
  const std::string coord =
      ctx.layer.attrString("coordinate_transformation_mode", old ? "asymmetric" : "half_pixel");
  static const std::map<std::string, kernels::ResizeCoordMode> coords = {
      {"half_pixel", kernels::ResizeCoordMode::kHalfPixel},
      {"half_pixel_symmetric", kernels::ResizeCoordMode::kHalfPixelSymmetric},
      {"pytorch_half_pixel", kernels::ResizeCoordMode::kPytorchHalfPixel},
      {"align_corners", kernels::ResizeCoordMode::kAlignCorners},
      {"asymmetric", kernels::ResizeCoordMode::kAsymmetric},
      {"tf_crop_and_resize", kernels::ResizeCoordMode::kTfCropAndResize}};
  ctx.require(coords.count(coord) != 0, "unknown coordinate_transformation_mode '" + coord + "'");
  p->coordMode = coords.at(coord);
  const std::string nearest =
      ctx.layer.attrString("nearest_mode", old ? "floor" : "round_prefer_floor");
  static const std::map<std::string, kernels::ResizeNearestMode> nearests = {
      {"round_prefer_floor", kernels::ResizeNearestMode::kRoundPreferFloor},
      {"round_prefer_ceil", kernels::ResizeNearestMode::kRoundPreferCeil},
      {"floor", kernels::ResizeNearestMode::kFloor},
      {"ceil", kernels::ResizeNearestMode::kCeil}};
  ctx.require(nearests.count(nearest) != 0, "unknown nearest_mode '" + nearest + "'");
  p->nearestMode = nearests.at(nearest);
  p->cubicCoeffA = static_cast<float>(ctx.layer.attrFloat("cubic_coeff_a", -0.75));
  p->excludeOutside = ctx.layer.attrInt("exclude_outside", 0) != 0;
  p->extrapolationValue = static_cast<float>(ctx.layer.attrFloat("extrapolation_value", 0.0));
}

void registerReduceResizeOps(OpTable& table) {
  for (const auto& entry : reduceOps()) table[entry.first] = OpImpl{inferReduce, runReduce};
  table["ArgMax"] = OpImpl{inferArg, runArg};
  table["ArgMin"] = OpImpl{inferArg, runArg};
  table["Resize"] = OpImpl{inferResize, runResize};
  table["Upsample"] = OpImpl{inferResize, runResize};
}

}  // namespace kiln
