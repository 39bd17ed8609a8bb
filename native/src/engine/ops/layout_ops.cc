// Data movement on any element type: Transpose, Concat, Split, Slice, Gather, Pad, Tile,
// Expand, DepthToSpace, SpaceToDepth, Where; and Cast, ConstantOfShape, Range, logical ops.
#include <algorithm>
#include <cstring>

#include "engine/op.h"
#include "engine/ops/register.h"
#include "kiln/kernels/cast.h"
#include "kiln/kernels/eltwise.h"
#include "kiln/kernels/generate.h"
#include "kiln/kernels/layout.h"

namespace kiln {
namespace {

size_t elemSize(const OpContext& ctx, size_t i) { return dataTypeSize(ctx.dtype(i)); }

void sameTypeAs(OpContext& ctx, size_t input) {
  for (auto& t : ctx.outTypes) t = ctx.dtype(input);
}

std::vector<int64_t> transposePerm(const OpContext& ctx) {
  const int64_t rank = static_cast<int64_t>(ctx.shape(0).size());
  std::vector<int64_t> perm = ctx.layer.attrInts("perm");
  if (perm.empty()) {
    for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
  }
  ctx.require(static_cast<int64_t>(perm.size()) == rank, "perm must list every axis once");
  std::vector<char> seen(static_cast<size_t>(rank), 0);
  for (int64_t& p : perm) {
    p = normalizeAxis(ctx, p, rank);
    ctx.require(!seen[p], "perm must list every axis once");
    seen[p] = 1;
  }
  return perm;
}

void inferTranspose(OpContext& ctx) {
  sameTypeAs(ctx, 0);
  const Dims& x = ctx.shape(0);
  Dims out;
  for (int64_t p : transposePerm(ctx)) out.push_back(x[p]);
  ctx.outShapes[0] = out;
}

void runTranspose(OpContext& ctx) {
  kernels::transpose(ctx.in[0].data, ctx.shape(0), transposePerm(ctx), elemSize(ctx, 0),
                     ctx.out[0]);
}

void inferConcat(OpContext& ctx) {
  sameTypeAs(ctx, 0);
  const Dims& first = ctx.shape(0);
  ctx.require(!first.empty(), "cannot concatenate scalars");
  const int64_t axis =
      normalizeAxis(ctx, ctx.layer.attrInt("axis", 0), static_cast<int64_t>(first.size()));
  Dims out = first;
  out[axis] = 0;
  for (size_t i = 0; i < ctx.inputCount(); ++i) {
    const Dims& s = ctx.shape(i);
    ctx.require(ctx.dtype(i) == ctx.dtype(0), "inputs must share one type");
    ctx.require(s.size() == first.size(), "inputs must have the same rank");
    for (size_t d = 0; d < s.size(); ++d) {
      if (static_cast<int64_t>(d) != axis)
        ctx.require(s[d] == first[d], "inputs differ outside the concat axis");
    }
    out[axis] += s[axis];
  }
  ctx.outShapes[0] = out;
}

void runConcat(OpContext& ctx) {
  std::vector<const void*> inputs;
  std::vector<kernels::Shape> shapes;
  for (size_t i = 0; i < ctx.inputCount(); ++i) {
    inputs.push_back(ctx.in[i].data);
    shapes.push_back(ctx.shape(i));
  }
  const int64_t axis =
      normalizeAxis(ctx, ctx.layer.attrInt("axis", 0), static_cast<int64_t>(ctx.shape(0).size()));
  kernels::concat(inputs, shapes, axis, elemSize(ctx, 0), ctx.out[0]);
}

std::vector<int64_t> splitSizes(const OpContext& ctx, int64_t axis) {
  ctx.require(!ctx.shape(0).empty(), "cannot split a scalar");
  const int64_t dim = ctx.shape(0)[axis];
  std::vector<int64_t> sizes = ctx.has(1) ? ctx.ints(1) : ctx.layer.attrInts("split");
  const int64_t outputs = static_cast<int64_t>(ctx.layer.outputs.size());
  if (sizes.empty()) {
    // Equal parts; with num_outputs (opset 18) the last part may be smaller.
    const int64_t part = (dim + outputs - 1) / outputs;
    for (int64_t i = 0; i < outputs; ++i)
      sizes.push_back(std::max<int64_t>(0, std::min(part, dim - i * part)));
  }
  ctx.require(static_cast<int64_t>(sizes.size()) == outputs,
              "split sizes must match the number of outputs");
  int64_t total = 0;
  for (int64_t s : sizes) {
    ctx.require(s >= 0 && s <= dim, "split sizes must lie in [0, axis length]");
    total += s;
  }
  ctx.require(total == dim, "split sizes must add up to the axis length");
  return sizes;
}

void inferSplit(OpContext& ctx) {
  sameTypeAs(ctx, 0);
  const Dims& x = ctx.shape(0);
  const int64_t axis =
      normalizeAxis(ctx, ctx.layer.attrInt("axis", 0), static_cast<int64_t>(x.size()));
  const std::vector<int64_t> sizes = splitSizes(ctx, axis);
  for (size_t i = 0; i < sizes.size(); ++i) {
    ctx.outShapes[i] = x;
    ctx.outShapes[i][axis] = sizes[i];
  }
}

void runSplit(OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  const int64_t axis =
      normalizeAxis(ctx, ctx.layer.attrInt("axis", 0), static_cast<int64_t>(x.size()));
  kernels::split(ctx.in[0].data, x, axis, splitSizes(ctx, axis), elemSize(ctx, 0), ctx.out);
}

// Slice takes starts/ends/axes/steps as inputs since opset 10, as attributes before.
kernels::SliceSpec sliceSpec(const OpContext& ctx) {
  const bool inputs = ctx.inputCount() > 1;
  const std::vector<int64_t> starts = inputs ? ctx.ints(1) : ctx.layer.attrInts("starts");
  const std::vector<int64_t> ends = inputs ? ctx.ints(2) : ctx.layer.attrInts("ends");
  std::vector<int64_t> axes =
      inputs ? (ctx.has(3) ? ctx.ints(3) : std::vector<int64_t>{}) : ctx.layer.attrInts("axes");
  std::vector<int64_t> steps = ctx.has(4) ? ctx.ints(4) : std::vector<int64_t>{};
  if (axes.empty()) {
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  ctx.require(
      starts.size() == ends.size() && axes.size() == starts.size() && steps.size() == starts.size(),
      "starts, ends, axes and steps must have the same length");
  return kernels::resolveSlice(ctx.shape(0), starts, ends, axes, steps);
}

void inferSlice(OpContext& ctx) {
  sameTypeAs(ctx, 0);
  ctx.outShapes[0] = sliceSpec(ctx).outShape;
}

void runSlice(OpContext& ctx) {
  kernels::slice(ctx.in[0].data, ctx.shape(0), sliceSpec(ctx), elemSize(ctx, 0), ctx.out[0]);
}

void inferGather(OpContext& ctx) {
  sameTypeAs(ctx, 0);
  const Dims& x = ctx.shape(0);
  ctx.require(!x.empty(), "cannot gather from a scalar");
  const Dims& idx = ctx.shape(1);
  ctx.require(ctx.dtype(1) == DataType::kInt64 || ctx.dtype(1) == DataType::kInt32,
              "indices must be int32 or int64");
  const int64_t axis =
      normalizeAxis(ctx, ctx.layer.attrInt("axis", 0), static_cast<int64_t>(x.size()));
  Dims out(x.begin(), x.begin() + axis);
  out.insert(out.end(), idx.begin(), idx.end());
  out.insert(out.end(), x.begin() + axis + 1, x.end());
  ctx.outShapes[0] = out;
}

void runGather(OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  const int64_t axis =
      normalizeAxis(ctx, ctx.layer.attrInt("axis", 0), static_cast<int64_t>(x.size()));
  if (ctx.dtype(1) == DataType::kInt64) {
    kernels::gather(ctx.in[0].data, x, axis, static_cast<const int64_t*>(ctx.in[1].data),
                    ctx.shape(1), elemSize(ctx, 0), ctx.out[0]);
  } else {
    kernels::gather(ctx.in[0].data, x, axis, static_cast<const int32_t*>(ctx.in[1].data),
                    ctx.shape(1), elemSize(ctx, 0), ctx.out[0]);
  }
}

// Pad: pads from input 1 (opset >= 11) or the attribute, optionally for some axes only.
std::vector<int64_t> padAmounts(const OpContext& ctx) {
  const int64_t rank = static_cast<int64_t>(ctx.shape(0).size());
  std::vector<int64_t> pads = ctx.has(1) ? ctx.ints(1) : ctx.layer.attrInts("pads");
  if (ctx.has(3)) {
    const std::vector<int64_t> axes = ctx.ints(3);
    ctx.require(pads.size() == 2 * axes.size(), "pads must have two values per axis");
    std::vector<int64_t> full(static_cast<size_t>(2 * rank), 0);
    for (size_t i = 0; i < axes.size(); ++i) {
      const int64_t a = normalizeAxis(ctx, axes[i], rank);
      full[a] = pads[i];
      full[a + rank] = pads[i + axes.size()];
    }
    pads = full;
  }
  ctx.require(static_cast<int64_t>(pads.size()) == 2 * rank, "pads must have two values per axis");
  return pads;
}

kernels::PadMode padMode(const OpContext& ctx) {
  const std::string mode = ctx.layer.attrString("mode", "constant");
  if (mode == "constant") return kernels::PadMode::kConstant;
  if (mode == "reflect") return kernels::PadMode::kReflect;
  if (mode == "edge") return kernels::PadMode::kEdge;
  if (mode == "wrap") return kernels::PadMode::kWrap;
  ctx.fail("unknown pad mode '" + mode + "'");
}

void inferPad(OpContext& ctx) {
  sameTypeAs(ctx, 0);
  const Dims& x = ctx.shape(0);
  const std::vector<int64_t> pads = padAmounts(ctx);
  padMode(ctx);
  // The constant is copied as one element of the input's type.
  if (ctx.has(2)) {
    ctx.require(ctx.dtype(2) == ctx.dtype(0) && shapeElements(ctx.shape(2)) == 1,
                "constant_value must be one value of the input's type");
  }
  Dims out = x;
  const size_t rank = x.size();
  for (size_t i = 0; i < rank; ++i) {
    ctx.require(!__builtin_add_overflow(x[i], pads[i], &out[i]) &&
                    !__builtin_add_overflow(out[i], pads[i + rank], &out[i]),
                "pads overflow 64 bits");
    ctx.require(out[i] >= 0, "pads remove more than the dim holds");
  }
  ctx.outShapes[0] = out;
}

void runPad(OpContext& ctx) {
  std::vector<uint8_t> value(elemSize(ctx, 0), 0);
  if (ctx.has(2)) {
    std::memcpy(value.data(), ctx.in[2].data, value.size());
  } else if (ctx.layer.attrs.count("value")) {
    const float v = static_cast<float>(ctx.layer.attrFloat("value", 0.0));
    ctx.require(ctx.dtype(0) == DataType::kFloat32,
                "the value attribute pads float32 tensors only");
    std::memcpy(value.data(), &v, sizeof(float));
  }
  kernels::pad(ctx.in[0].data, ctx.shape(0), padAmounts(ctx), padMode(ctx), value.data(),
               elemSize(ctx, 0), ctx.out[0]);
}

void inferTile(OpContext& ctx) {
  sameTypeAs(ctx, 0);
  const Dims& x = ctx.shape(0);
  const std::vector<int64_t> repeats = ctx.ints(1);
  ctx.require(repeats.size() == x.size(), "repeats must have one value per axis");
  Dims out = x;
  for (size_t i = 0; i < x.size(); ++i) {
    ctx.require(repeats[i] >= 0, "repeats must be >= 0");
    ctx.require(!__builtin_mul_overflow(x[i], repeats[i], &out[i]), "the tiled shape overflows");
  }
  ctx.outShapes[0] = out;
}

void runTile(OpContext& ctx) {
  kernels::tile(ctx.in[0].data, ctx.shape(0), ctx.ints(1), elemSize(ctx, 0), ctx.out[0]);
}

void inferExpand(OpContext& ctx) {
  sameTypeAs(ctx, 0);
  ctx.outShapes[0] = kernels::broadcastShapes(ctx.shape(0), ctx.ints(1));
}

void runExpand(OpContext& ctx) {
  kernels::expand(ctx.in[0].data, ctx.shape(0), ctx.outShapes[0], elemSize(ctx, 0), ctx.out[0]);
}

void inferDepthToSpace(OpContext& ctx) {
  sameTypeAs(ctx, 0);
  const Dims& x = ctx.shape(0);
  const int64_t b = ctx.layer.attrInt("blocksize", 0);
  int64_t area = 0;  // b * b, checked: the attribute comes from an untrusted file
  ctx.require(x.size() == 4 && b >= 1 && !__builtin_mul_overflow(b, b, &area) && x[1] % area == 0,
              "needs [N, C, H, W] with C divisible by blocksize^2");
  int64_t h = 0, w = 0;
  ctx.require(!__builtin_mul_overflow(x[2], b, &h) && !__builtin_mul_overflow(x[3], b, &w),
              "H or W x blocksize overflows 64 bits");
  ctx.outShapes[0] = {x[0], x[1] / area, h, w};
}

void runDepthToSpace(OpContext& ctx) {
  const bool crd = ctx.layer.attrString("mode", "DCR") == "CRD";
  kernels::depthToSpace(ctx.in[0].data, ctx.shape(0), ctx.layer.attrInt("blocksize", 1), crd,
                        elemSize(ctx, 0), ctx.out[0]);
}

void inferSpaceToDepth(OpContext& ctx) {
  sameTypeAs(ctx, 0);
  const Dims& x = ctx.shape(0);
  const int64_t b = ctx.layer.attrInt("blocksize", 0);
  ctx.require(x.size() == 4 && b >= 1 && x[2] % b == 0 && x[3] % b == 0,
              "needs [N, C, H, W] with H and W divisible by blocksize");
  int64_t area = 0, channels = 0;
  ctx.require(
      !__builtin_mul_overflow(b, b, &area) && !__builtin_mul_overflow(x[1], area, &channels),
      "blocksize^2 x C overflows 64 bits");
  ctx.outShapes[0] = {x[0], channels, x[2] / b, x[3] / b};
}

void runSpaceToDepth(OpContext& ctx) {
  kernels::spaceToDepth(ctx.in[0].data, ctx.shape(0), ctx.layer.attrInt("blocksize", 1),
                        elemSize(ctx, 0), ctx.out[0]);
}

void inferWhere(OpContext& ctx) {
  ctx.require(ctx.dtype(0) == DataType::kBool, "the condition must be bool");
  ctx.require(ctx.dtype(1) == ctx.dtype(2), "X and Y must share one type");
  ctx.outTypes[0] = ctx.dtype(1);
  ctx.outShapes[0] =
      kernels::broadcastShapes(kernels::broadcastShapes(ctx.shape(0), ctx.shape(1)), ctx.shape(2));
}

void runWhere(OpContext& ctx) {
  kernels::where(static_cast<const uint8_t*>(ctx.in[0].data), ctx.shape(0), ctx.in[1].data,
                 ctx.shape(1), ctx.in[2].data, ctx.shape(2), ctx.outShapes[0], elemSize(ctx, 1),
                 ctx.out[0]);
}

void inferCast(OpContext& ctx) {
  const int64_t to = ctx.layer.attrInt("to", 0);
  ctx.require(isValidDataType(static_cast<int32_t>(to)),
              "cannot cast to ONNX type " + std::to_string(to));
  ctx.outTypes[0] = static_cast<DataType>(to);
  ctx.outShapes[0] = ctx.shape(0);
}

void runCast(OpContext& ctx) {
  kernels::cast(ctx.in[0].data, ctx.dtype(0), ctx.out[0], ctx.outTypes[0],
                static_cast<size_t>(shapeElements(ctx.shape(0))));
}

// ConstantOfShape: the parser turns the value tensor into "value" (a number) and
// "value_dtype" (its ONNX type); float32 zeros when absent.
void inferConstantOfShape(OpContext& ctx) {
  const std::vector<int64_t> dims = ctx.ints(0);
  for (int64_t d : dims) ctx.require(d >= 0, "the shape has a negative dim");
  ctx.outShapes[0] = dims;
  const int64_t dtype = ctx.layer.attrInt("value_dtype", static_cast<int64_t>(DataType::kFloat32));
  ctx.require(isValidDataType(static_cast<int32_t>(dtype)), "unsupported value type");
  ctx.outTypes[0] = static_cast<DataType>(dtype);
}

void runConstantOfShape(OpContext& ctx) {
  const double v = ctx.layer.attrFloat("value", 0.0);
  const float asFloat = static_cast<float>(v);
  uint8_t bytes[8] = {};
  kernels::cast(&asFloat, DataType::kFloat32, bytes, ctx.outTypes[0], 1);
  if (ctx.outTypes[0] == DataType::kInt64) {
    const int64_t exact = static_cast<int64_t>(v);  // int64 values beyond float32's exact range
    std::memcpy(bytes, &exact, 8);
  }
  kernels::fill(ctx.out[0], shapeElements(ctx.outShapes[0]), bytes, dataTypeSize(ctx.outTypes[0]));
}

void inferRange(OpContext& ctx) {
  const DataType t = ctx.dtype(0);
  ctx.outTypes[0] = t;
  for (size_t i : {0, 1, 2}) {
    ctx.require(shapeElements(ctx.shape(i)) == 1, "start, limit and delta must be scalars");
    ctx.require(ctx.dtype(i) == t, "start, limit and delta must have one type");
  }
  int64_t n = 0;
  if (t == DataType::kFloat32) {
    const std::vector<float> s = ctx.floats(0), l = ctx.floats(1), d = ctx.floats(2);
    n = kernels::rangeLength(s.at(0), l.at(0), d.at(0));
  } else {
    const std::vector<int64_t> s = ctx.ints(0), l = ctx.ints(1), d = ctx.ints(2);
    ctx.require(d.at(0) != 0, "delta must not be 0");
    n = kernels::rangeLength(s.at(0), l.at(0), d.at(0));
  }
  ctx.outShapes[0] = {n};
}

void runRange(OpContext& ctx) {
  const int64_t n = ctx.outShapes[0][0];
  switch (ctx.dtype(0)) {
    case DataType::kFloat32:
      kernels::range(ctx.f32(0)[0], ctx.f32(2)[0], n, ctx.outF32(0));
      break;
    case DataType::kInt32:
      kernels::range(static_cast<const int32_t*>(ctx.in[0].data)[0],
                     static_cast<const int32_t*>(ctx.in[2].data)[0], n,
                     static_cast<int32_t*>(ctx.out[0]));
      break;
    case DataType::kInt64:
      kernels::range(static_cast<const int64_t*>(ctx.in[0].data)[0],
                     static_cast<const int64_t*>(ctx.in[2].data)[0], n,
                     static_cast<int64_t*>(ctx.out[0]));
      break;
    default:
      ctx.fail("Range supports float32, int32 and int64");
  }
}

template <kernels::LogicalOp Op>
void inferLogical(OpContext& ctx) {
  ctx.require(ctx.dtype(0) == DataType::kBool && ctx.dtype(1) == DataType::kBool,
              "inputs must be bool");
  ctx.outTypes[0] = DataType::kBool;
  ctx.outShapes[0] = kernels::broadcastShapes(ctx.shape(0), ctx.shape(1));
}

template <kernels::LogicalOp Op>
void runLogical(OpContext& ctx) {
  kernels::logical(Op, static_cast<const uint8_t*>(ctx.in[0].data), ctx.shape(0),
                   static_cast<const uint8_t*>(ctx.in[1].data), ctx.shape(1),
                   static_cast<uint8_t*>(ctx.out[0]));
}

void inferNot(OpContext& ctx) {
  ctx.require(ctx.dtype(0) == DataType::kBool, "input must be bool");
  ctx.outTypes[0] = DataType::kBool;
  ctx.outShapes[0] = ctx.shape(0);
}

void runNot(OpContext& ctx) {
  kernels::logicalNot(static_cast<const uint8_t*>(ctx.in[0].data),
                      static_cast<uint8_t*>(ctx.out[0]),
                      static_cast<size_t>(shapeElements(ctx.shape(0))));
}

using L = kernels::LogicalOp;

}  // namespace

void registerLayoutOps(OpTable& table) {
  table["Transpose"] = OpImpl{inferTranspose, runTranspose};
  table["Concat"] = OpImpl{inferConcat, runConcat};
  table["Split"] = OpImpl{inferSplit, runSplit};
  table["Slice"] = OpImpl{inferSlice, runSlice};
  table["Gather"] = OpImpl{inferGather, runGather};
  table["Pad"] = OpImpl{inferPad, runPad};
  table["Tile"] = OpImpl{inferTile, runTile};
  table["Expand"] = OpImpl{inferExpand, runExpand};
  table["DepthToSpace"] = OpImpl{inferDepthToSpace, runDepthToSpace};
  table["SpaceToDepth"] = OpImpl{inferSpaceToDepth, runSpaceToDepth};
  table["Where"] = OpImpl{inferWhere, runWhere};
  table["Cast"] = OpImpl{inferCast, runCast};
  table["ConstantOfShape"] = OpImpl{inferConstantOfShape, runConstantOfShape};
  table["Range"] = OpImpl{inferRange, runRange};
  table["And"] = OpImpl{inferLogical<L::kAnd>, runLogical<L::kAnd>};
  table["Or"] = OpImpl{inferLogical<L::kOr>, runLogical<L::kOr>};
  table["Xor"] = OpImpl{inferLogical<L::kXor>, runLogical<L::kXor>};
  table["Not"] = OpImpl{inferNot, runNot};
}

}  // namespace kiln
