// Layers that rearrange elements without arithmetic: Transpose and Expand (strided copies),
// Concat and Split (2-D copies: one row of bytes per outer index), Gather (constant indices). They
// move raw elements, so they serve every dtype, float16 activations of FP16 layers too; half data
// stays in NCHW order (nhwc false), which the runner converts to where a Conv left NHWC.
#include <cstring>
#include <map>
#include <string>

#include "engine/cuda/cuda_ops.h"

namespace kiln::cuda {
namespace {

int elementBytes(const OpContext& ctx, DataType t) {
  const size_t bytes = dataTypeSize(t);
  if (bytes != 1 && bytes != 2 && bytes != 4 && bytes != 8) {
    throw Error(ErrorCode::kUnsupported, "layer '" + ctx.layer.name + "' (" + ctx.layer.op +
                                             "): no cuda copy for " + dataTypeName(t));
  }
  return static_cast<int>(bytes);
}

void requireRank(const OpContext& ctx, size_t rank) {
  if (rank > static_cast<size_t>(kMaxRank)) {
    throw Error(ErrorCode::kUnsupported, "layer '" + ctx.layer.name + "' (" + ctx.layer.op +
                                             "): the cuda device handles up to rank " +
                                             std::to_string(kMaxRank));
  }
}

// Output dim d reads input dim perm[d].
void runTranspose(OpContext& ctx, Launch& launch) {
  const Dims& x = ctx.shape(0);
  const Dims& y = ctx.outShapes[0];
  requireRank(ctx, x.size());
  const int rank = static_cast<int>(x.size());
  std::vector<int64_t> perm = ctx.layer.attrInts("perm");
  if (perm.empty())
    for (int d = rank - 1; d >= 0; --d) perm.push_back(d);
  ctx.require(perm.size() == x.size(), "perm must name every input dim");
  int64_t inStrides[kMaxRank];
  int64_t stride = 1;
  for (int d = rank - 1; d >= 0; --d) {
    inStrides[d] = stride;
    stride *= x[d];
  }
  BroadcastShape s;
  s.rank = rank;
  for (int d = 0; d < rank; ++d) {
    const int64_t from = normalizeAxis(ctx, perm[d], rank);
    s.dims[d] = y[d];
    s.strideA[d] = inStrides[from];
  }
  checkCuda(ctx,
            stridedCopy(ctx.in[0].data, ctx.out[0], elementBytes(ctx, ctx.outTypes[0]), s,
                        shapeElements(y), launch.stream),
            "transpose kernel");
}

void runExpand(OpContext& ctx, Launch& launch) {
  const Dims& y = ctx.outShapes[0];
  requireRank(ctx, y.size());
  const BroadcastShape s = broadcastShape(ctx, ctx.shape(0), nullptr, y);
  checkCuda(ctx,
            stridedCopy(ctx.in[0].data, ctx.out[0], elementBytes(ctx, ctx.outTypes[0]), s,
                        shapeElements(y), launch.stream),
            "expand kernel");
}

// [outer, axis, inner] views of `shape` split at `axis`.
struct Split3 {
  int64_t outer = 1, inner = 1;
};
Split3 around(const Dims& shape, int64_t axis) {
  Split3 s;
  for (int64_t d = 0; d < axis; ++d) s.outer *= shape[d];
  for (size_t d = static_cast<size_t>(axis) + 1; d < shape.size(); ++d) s.inner *= shape[d];
  return s;
}

// Copies `outer` rows of `width` bytes between tensors whose rows are `dstPitch` and
// `srcPitch` bytes apart.
void copyRows(OpContext& ctx, Launch& launch, void* dst, size_t dstPitch, const void* src,
              size_t srcPitch, size_t width, int64_t outer) {
  if (width == 0 || outer == 0) return;
  checkCuda(ctx,
            cudaMemcpy2DAsync(dst, dstPitch, src, srcPitch, width, static_cast<size_t>(outer),
                              cudaMemcpyDeviceToDevice, launch.stream),
            "copy");
}

// Each input fills its band of the output's axis.
void runConcat(OpContext& ctx, Launch& launch) {
  const Dims& y = ctx.outShapes[0];
  const int64_t axis =
      normalizeAxis(ctx, ctx.layer.attrInt("axis", 0), static_cast<int64_t>(y.size()));
  const Split3 s = around(y, axis);
  const size_t bytes = static_cast<size_t>(elementBytes(ctx, ctx.outTypes[0]));
  const size_t rowBytes = static_cast<size_t>(y[axis] * s.inner) * bytes;
  size_t at = 0;
  for (size_t i = 0; i < ctx.inputCount(); ++i) {
    if (!ctx.has(i)) continue;
    ctx.require(ctx.dtype(i) == ctx.outTypes[0], "inputs of different types");
    const Dims& x = ctx.shape(i);
    ctx.require(x.size() == y.size(), "inputs of different ranks");
    const size_t width = static_cast<size_t>(x[axis] * s.inner) * bytes;
    copyRows(ctx, launch, static_cast<uint8_t*>(ctx.out[0]) + at, rowBytes, ctx.in[i].data, width,
             width, s.outer);
    at += width;
  }
  ctx.require(at == rowBytes, "the inputs do not fill the output");
}

// Each output takes its band of the input's axis.
void runSplit(OpContext& ctx, Launch& launch) {
  const Dims& x = ctx.shape(0);
  const int64_t axis =
      normalizeAxis(ctx, ctx.layer.attrInt("axis", 0), static_cast<int64_t>(x.size()));
  const Split3 s = around(x, axis);
  const size_t bytes = static_cast<size_t>(elementBytes(ctx, ctx.dtype(0)));
  const size_t rowBytes = static_cast<size_t>(x[axis] * s.inner) * bytes;
  size_t at = 0;
  for (size_t o = 0; o < ctx.out.size(); ++o) {
    const Dims& y = ctx.outShapes[o];
    ctx.require(ctx.outTypes[o] == ctx.dtype(0), "outputs of another type than the input");
    const size_t width = static_cast<size_t>(y[axis] * s.inner) * bytes;
    if (ctx.out[o] != nullptr) {
      copyRows(ctx, launch, ctx.out[o], width, static_cast<const uint8_t*>(ctx.in[0].data) + at,
               rowBytes, width, s.outer);
    }
    at += width;
  }
  ctx.require(at <= rowBytes, "the outputs exceed the input");
}

// Gather with constant indices (the class token of a vision transformer, a row of a table),
// checked against the axis here since the kernel cannot report a bad index.
void runGather(OpContext& ctx, Launch& launch) {
  const Dims& x = ctx.shape(0);
  const int64_t axis =
      normalizeAxis(ctx, ctx.layer.attrInt("axis", 0), static_cast<int64_t>(x.size()));
  GatherShape s;
  for (int64_t d = 0; d < axis; ++d) s.outer *= x[d];
  for (size_t d = static_cast<size_t>(axis) + 1; d < x.size(); ++d) s.inner *= x[d];
  s.axisDim = x[axis];
  s.count = shapeElements(ctx.shape(1));
  s.elementBytes = elementBytes(ctx, ctx.outTypes[0]);
  s.indices64 = ctx.dtype(1) == DataType::kInt64;
  checkCuda(ctx, gather(s, ctx.in[0].data, ctx.in[1].data, ctx.out[0], launch.stream),
            "gather kernel");
}

// The indices must be a constant of int32/int64 within the axis, whose size is static.
std::string gatherUnsupported(const LayerDesc& layer, const Network& n) {
  if (layer.inputs.size() < 2 || layer.inputs[0] < 0 || layer.inputs[1] < 0) return "no indices";
  const TensorDesc& x = n.tensors[layer.inputs[0]];
  const TensorDesc& idx = n.tensors[layer.inputs[1]];
  if (idx.constant < 0) return "indices computed from data (only constant indices)";
  if (idx.dtype != DataType::kInt64 && idx.dtype != DataType::kInt32) return "indices type";
  int64_t axis = layer.attrInt("axis", 0);
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank || x.shape[axis] < 0) return "a gather axis of dynamic size";
  const std::vector<uint8_t>& bytes = n.weights[idx.constant];
  const bool wide = idx.dtype == DataType::kInt64;
  const size_t count = bytes.size() / (wide ? 8 : 4);
  for (size_t i = 0; i < count; ++i) {
    int64_t v = 0;
    if (wide) {
      std::memcpy(&v, bytes.data() + 8 * i, 8);
    } else {
      int32_t v32 = 0;
      std::memcpy(&v32, bytes.data() + 4 * i, 4);
      v = v32;
    }
    if (v < -x.shape[axis] || v >= x.shape[axis]) return "an index outside the axis";
  }
  return {};
}

}  // namespace

void registerLayoutOps(std::map<std::string, CudaOp>& table) {
  constexpr Half kFollows = Half::kFollows;
  table["Transpose"] = CudaOp{runTranspose, nullptr, kFollows, false};
  table["Expand"] = CudaOp{runExpand, nullptr, kFollows, false};
  table["Concat"] = CudaOp{runConcat, nullptr, kFollows, false};
  table["Split"] = CudaOp{runSplit, nullptr, kFollows, false};
  table["Gather"] = CudaOp{runGather, gatherUnsupported, kFollows, false};
}

}  // namespace kiln::cuda
