// Ops that only reinterpret a tensor's shape (any dtype): Reshape, Flatten, Squeeze,
// Unsqueeze, Identity, Dropout (inference), and Shape / Size, whose values come from shapes.
#include <algorithm>
#include <cstring>
#include <limits>

#include "engine/op.h"
#include "engine/ops/register.h"

namespace kiln {
namespace {

void copyInput(OpContext& ctx) {
  const size_t bytes =
      static_cast<size_t>(shapeElements(ctx.shape(0))) * dataTypeSize(ctx.dtype(0));
  if (bytes > 0 && ctx.out[0] != ctx.in[0].data) std::memmove(ctx.out[0], ctx.in[0].data, bytes);
}

void keepType(OpContext& ctx) { ctx.outTypes[0] = ctx.dtype(0); }

void inferReshape(OpContext& ctx) {
  keepType(ctx);
  const Dims& x = ctx.shape(0);
  const std::vector<int64_t> wanted = ctx.ints(1);
  const bool allowZero = ctx.layer.attrInt("allowzero", 0) != 0;
  Dims out(wanted.size());
  int64_t inferred = -1, known = 1;
  for (size_t i = 0; i < wanted.size(); ++i) {
    if (wanted[i] == -1) {
      ctx.require(inferred < 0, "more than one -1 in the target shape");
      inferred = static_cast<int64_t>(i);
      continue;
    }
    if (wanted[i] == 0 && !allowZero) {
      ctx.require(i < x.size(), "a 0 in the target shape copies a dim the input does not have");
      out[i] = x[i];
    } else {
      ctx.require(wanted[i] >= 0, "the target shape has a negative dim");
      out[i] = wanted[i];
    }
    ctx.require(out[i] == 0 || known <= std::numeric_limits<int64_t>::max() / out[i],
                "the target shape overflows 64-bit element counts");
    known *= out[i];
  }
  const int64_t total = shapeElements(x);
  if (inferred >= 0) {
    ctx.require(known > 0 && total % known == 0,
                "cannot reshape " + formatDims(x) + " with a -1 in the target");
    out[inferred] = total / known;
  }
  ctx.require(shapeElements(out) == total,
              "cannot reshape " + formatDims(x) + " to " + formatDims(out));
  ctx.outShapes[0] = out;
}

void inferFlatten(OpContext& ctx) {
  keepType(ctx);
  const Dims& x = ctx.shape(0);
  const int64_t rank = static_cast<int64_t>(x.size());
  int64_t axis = ctx.layer.attrInt("axis", 1);
  if (axis < 0) axis += rank;
  ctx.require(axis >= 0 && axis <= rank, "axis out of range");
  ctx.outShapes[0] = {shapeElements(Dims(x.begin(), x.begin() + axis)),
                      shapeElements(Dims(x.begin() + axis, x.end()))};
}

// Squeeze / Unsqueeze axes come from an attribute (opset < 13) or from input 1.
std::vector<int64_t> axesOf(const OpContext& ctx) {
  if (ctx.has(1)) return ctx.ints(1);
  return ctx.layer.attrInts("axes");
}

void inferSqueeze(OpContext& ctx) {
  keepType(ctx);
  const Dims& x = ctx.shape(0);
  std::vector<int64_t> axes = axesOf(ctx);
  const int64_t rank = static_cast<int64_t>(x.size());
  for (auto& a : axes) a = normalizeAxis(ctx, a, rank);
  Dims out;
  for (int64_t i = 0; i < rank; ++i) {
    const bool listed = std::find(axes.begin(), axes.end(), i) != axes.end();
    if (listed)
      ctx.require(x[i] == 1,
                  "cannot squeeze dim " + std::to_string(i) + " of size " + std::to_string(x[i]));
    if (listed || (axes.empty() && x[i] == 1)) continue;
    out.push_back(x[i]);
  }
  ctx.outShapes[0] = out;
}

void inferUnsqueeze(OpContext& ctx) {
  keepType(ctx);
  const Dims& x = ctx.shape(0);
  std::vector<int64_t> axes = axesOf(ctx);
  const int64_t rank = static_cast<int64_t>(x.size() + axes.size());
  for (auto& a : axes) a = normalizeAxis(ctx, a, rank);
  Dims out;
  size_t next = 0;
  for (int64_t i = 0; i < rank; ++i) {
    if (std::find(axes.begin(), axes.end(), i) != axes.end()) {
      out.push_back(1);
    } else {
      ctx.require(next < x.size(), "duplicate axes");
      out.push_back(x[next++]);
    }
  }
  ctx.outShapes[0] = out;
}

void inferIdentity(OpContext& ctx) {
  keepType(ctx);
  ctx.outShapes[0] = ctx.shape(0);
  // Dropout's optional mask output: all ones in inference.
  if (ctx.outShapes.size() > 1) {
    ctx.outShapes[1] = ctx.shape(0);
    ctx.outTypes[1] = DataType::kBool;
  }
}

void runIdentity(OpContext& ctx) {
  copyInput(ctx);
  if (ctx.out.size() > 1)
    std::memset(ctx.out[1], 1, static_cast<size_t>(shapeElements(ctx.outShapes[1])));
}

void inferShape(OpContext& ctx) {
  const int64_t rank = static_cast<int64_t>(ctx.shape(0).size());
  int64_t start = ctx.layer.attrInt("start", 0), end = ctx.layer.attrInt("end", rank);
  start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
  end = std::clamp<int64_t>(end < 0 ? end + rank : end, 0, rank);
  ctx.outShapes[0] = {std::max<int64_t>(end - start, 0)};
  ctx.outTypes[0] = DataType::kInt64;
}

void runShape(OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  const int64_t rank = static_cast<int64_t>(x.size());
  int64_t start = ctx.layer.attrInt("start", 0);
  start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
  auto* y = static_cast<int64_t*>(ctx.out[0]);
  for (int64_t i = 0; i < ctx.outShapes[0][0]; ++i) y[i] = x[start + i];
}

void inferSize(OpContext& ctx) {
  ctx.outShapes[0] = {};
  ctx.outTypes[0] = DataType::kInt64;
}

void runSize(OpContext& ctx) { *static_cast<int64_t*>(ctx.out[0]) = shapeElements(ctx.shape(0)); }

}  // namespace

void registerReshapeOps(OpTable& table) {
  table["Reshape"] = OpImpl{inferReshape, copyInput};
  table["Flatten"] = OpImpl{inferFlatten, copyInput};
  table["Squeeze"] = OpImpl{inferSqueeze, copyInput};
  table["Unsqueeze"] = OpImpl{inferUnsqueeze, copyInput};
  table["Identity"] = OpImpl{inferIdentity, runIdentity};
  table["Dropout"] = OpImpl{inferIdentity, runIdentity};
  table["Shape"] = OpImpl{inferShape, runShape, false};
  table["Size"] = OpImpl{inferSize, runSize, false};
}

}  // namespace kiln
