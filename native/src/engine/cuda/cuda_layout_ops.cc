// Layers that rearrange elements without arithmetic: Transpose, DepthToSpace, SpaceToDepth,
// Expand, Slice and Tile (strided copies), Pad and ConstantOfShape (the pad kernel), Trilu,
// Concat and Split (2-D copies: one row of bytes per outer index), Gather (constant indices).
// Slice's bounds, Pad's amounts, Tile's repeats and Trilu's k are read on the host
// (CudaOp::hostInputs), as the cpu ops read them (engine/ops/layout_ops.cc). They move raw
// elements, so they serve every dtype, float16 activations of FP16 layers too; half data stays in
// NCHW order (nhwc false), which the runner converts to where a Conv left NHWC.
#include <cstring>
#include <map>
#include <string>

#include "engine/cuda/cuda_ops.h"
#include "kiln/kernels/cast.h"
#include "kiln/kernels/layout.h"

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

// The input viewed as `view` (its elements in order), permuted: output dim d reads view dim
// perm[d] (Transpose, and the 6-D views of DepthToSpace / SpaceToDepth).
void permutedCopy(OpContext& ctx, Launch& launch, const Dims& view,
                  const std::vector<int64_t>& perm) {
  requireRank(ctx, view.size());
  const int rank = static_cast<int>(view.size());
  ctx.require(perm.size() == view.size(), "perm must name every input dim");
  int64_t viewStrides[kMaxRank];
  int64_t stride = 1;
  for (int d = rank - 1; d >= 0; --d) {
    viewStrides[d] = stride;
    stride *= view[d];
  }
  BroadcastShape s;
  s.rank = rank;
  for (int d = 0; d < rank; ++d) {
    const int64_t from = normalizeAxis(ctx, perm[d], rank);
    s.dims[d] = view[from];
    s.strideA[d] = viewStrides[from];
  }
  ctx.require(shapeElements(ctx.outShapes[0]) == stride, "the output does not hold the input");
  checkCuda(ctx,
            stridedCopy(ctx.in[0].data, ctx.out[0], elementBytes(ctx, ctx.outTypes[0]), s, stride,
                        launch.stream),
            "permute kernel");
}

void runTranspose(OpContext& ctx, Launch& launch) {
  const int64_t rank = static_cast<int64_t>(ctx.shape(0).size());
  std::vector<int64_t> perm = ctx.layer.attrInts("perm");
  if (perm.empty())
    for (int64_t d = rank - 1; d >= 0; --d) perm.push_back(d);
  permutedCopy(ctx, launch, ctx.shape(0), perm);
}

// The cpu's views: DCR [N, b, b, C', H, W] and CRD [N, C', b, b, H, W] -> [N, C', H, b, W, b].
void runDepthToSpace(OpContext& ctx, Launch& launch) {
  const Dims& x = ctx.shape(0);
  const int64_t b = ctx.layer.attrInt("blocksize", 0);
  ctx.require(x.size() == 4 && b >= 1 && x[1] % (b * b) == 0,
              "needs [N, C, H, W] with C divisible by blocksize^2");
  const int64_t co = x[1] / (b * b);
  if (ctx.layer.attrString("mode", "DCR") == "CRD")
    permutedCopy(ctx, launch, {x[0], co, b, b, x[2], x[3]}, {0, 1, 4, 2, 5, 3});
  else
    permutedCopy(ctx, launch, {x[0], b, b, co, x[2], x[3]}, {0, 3, 4, 1, 5, 2});
}

// [N, C, H/b, b, W/b, b] -> [N, b, b, C, H/b, W/b].
void runSpaceToDepth(OpContext& ctx, Launch& launch) {
  const Dims& x = ctx.shape(0);
  const int64_t b = ctx.layer.attrInt("blocksize", 0);
  ctx.require(x.size() == 4 && b >= 1 && x[2] % b == 0 && x[3] % b == 0,
              "needs [N, C, H, W] with H and W divisible by blocksize");
  permutedCopy(ctx, launch, {x[0], x[1], x[2] / b, b, x[3] / b, b}, {0, 3, 5, 1, 2, 4});
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

// Row-major element strides of `x`.
std::vector<int64_t> stridesOf(const Dims& x) {
  std::vector<int64_t> strides(x.size());
  int64_t stride = 1;
  for (size_t d = x.size(); d-- > 0;) strides[d] = stride, stride *= x[d];
  return strides;
}

// A strided copy from the first element the slice takes, each dim stepping by step * stride
// (negative steps walk backwards).
void runSlice(OpContext& ctx, Launch& launch) {
  const Dims& x = ctx.shape(0);
  requireRank(ctx, x.size());
  const bool inputs = ctx.inputCount() > 1;
  const std::vector<int64_t> starts =
      inputs ? hostInts(ctx, launch, 1) : ctx.layer.attrInts("starts");
  const std::vector<int64_t> ends = inputs ? hostInts(ctx, launch, 2) : ctx.layer.attrInts("ends");
  std::vector<int64_t> axes = inputs
                                  ? (ctx.has(3) ? hostInts(ctx, launch, 3) : std::vector<int64_t>{})
                                  : ctx.layer.attrInts("axes");
  std::vector<int64_t> steps = ctx.has(4) ? hostInts(ctx, launch, 4) : std::vector<int64_t>{};
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  ctx.require(
      starts.size() == ends.size() && axes.size() == starts.size() && steps.size() == starts.size(),
      "starts, ends, axes and steps must have the same length");
  const kernels::SliceSpec spec = kernels::resolveSlice(x, starts, ends, axes, steps);
  ctx.require(spec.outShape == ctx.outShapes[0], "the slice does not match the planned shape");
  const int64_t count = shapeElements(spec.outShape);
  if (count == 0) return;
  const std::vector<int64_t> strides = stridesOf(x);
  BroadcastShape s;
  s.rank = static_cast<int>(x.size());
  int64_t first = 0;
  for (size_t d = 0; d < x.size(); ++d) {
    first += spec.start[d] * strides[d];
    s.dims[d] = spec.outShape[d];
    s.strideA[d] = spec.step[d] * strides[d];
  }
  const int bytes = elementBytes(ctx, ctx.outTypes[0]);
  checkCuda(ctx,
            stridedCopy(static_cast<const uint8_t*>(ctx.in[0].data) + first * bytes, ctx.out[0],
                        bytes, s, count, launch.stream),
            "slice kernel");
}

// Pads from input 1 (opset >= 11, optionally for the axes of input 3) or the attribute; the
// constant from input 2 or the float32 `value` attribute.
void runPad(OpContext& ctx, Launch& launch) {
  const Dims& x = ctx.shape(0);
  const Dims& y = ctx.outShapes[0];
  requireRank(ctx, x.size());
  const int64_t rank = static_cast<int64_t>(x.size());
  std::vector<int64_t> pads = ctx.has(1) ? hostInts(ctx, launch, 1) : ctx.layer.attrInts("pads");
  if (ctx.has(3)) {
    const std::vector<int64_t> axes = hostInts(ctx, launch, 3);
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
  PadShape s;
  const std::string mode = ctx.layer.attrString("mode", "constant");
  if (mode == "reflect")
    s.mode = PadMode::kReflect;
  else if (mode == "edge")
    s.mode = PadMode::kEdge;
  else if (mode == "wrap")
    s.mode = PadMode::kWrap;
  else
    ctx.require(mode == "constant", "unknown pad mode '" + mode + "'");
  s.rank = static_cast<int>(rank);
  for (int64_t d = 0; d < rank; ++d) {
    s.inDims[d] = x[d];
    s.outDims[d] = y[d];
    s.before[d] = pads[d];
    ctx.require(y[d] == x[d] + pads[d] + pads[d + rank], "pads do not give the planned shape");
    if (s.mode != PadMode::kConstant && y[d] > 0) {
      ctx.require(x[d] > 0, "cannot reflect/edge/wrap an empty dim");
      ctx.require(s.mode != PadMode::kReflect || x[d] > 1 || y[d] <= x[d],
                  "reflect needs a dim of at least 2");
    }
  }
  const int bytes = elementBytes(ctx, ctx.outTypes[0]);
  if (ctx.has(2)) {
    ctx.require(launch.host[2] != nullptr && ctx.dtype(2) == ctx.dtype(0),
                "constant_value must be a constant of the input's type");
    std::memcpy(&s.value, launch.host[2], static_cast<size_t>(bytes));
  } else if (ctx.layer.attrs.count("value")) {
    // A float32 tensor, or the half storage of one in an FP16 engine.
    const float v = static_cast<float>(ctx.layer.attrFloat("value", 0.0));
    if (ctx.outTypes[0] == DataType::kFloat16) {
      const __half h = __float2half_rn(v);
      std::memcpy(&s.value, &h, sizeof(h));
    } else {
      ctx.require(ctx.outTypes[0] == DataType::kFloat32,
                  "the value attribute pads float32 tensors only");
      std::memcpy(&s.value, &v, sizeof(float));
    }
  }
  checkCuda(ctx, pad(ctx.in[0].data, ctx.out[0], bytes, s, shapeElements(y), launch.stream),
            "pad kernel");
}

// ConstantOfShape: every element the constant, the cpu's bytes for it (the value cast to the
// output type on the host by the cpu's own cast; int64 exact), written by the pad kernel with
// an empty input (every output element lies in the padding).
void runConstantOfShape(OpContext& ctx, Launch& launch) {
  const Dims& y = ctx.outShapes[0];
  requireRank(ctx, y.size());
  const double v = ctx.layer.attrFloat("value", 0.0);
  const float asFloat = static_cast<float>(v);
  PadShape s;
  s.rank = static_cast<int>(y.size());
  for (size_t d = 0; d < y.size(); ++d) s.outDims[d] = y[d];
  const int bytes = elementBytes(ctx, ctx.outTypes[0]);
  kernels::cast(&asFloat, DataType::kFloat32, &s.value, ctx.outTypes[0], 1);
  if (ctx.outTypes[0] == DataType::kInt64) {
    const int64_t exact = static_cast<int64_t>(v);  // beyond float32's exact integers
    std::memcpy(&s.value, &exact, 8);
  }
  checkCuda(ctx, pad(nullptr, ctx.out[0], bytes, s, shapeElements(y), launch.stream),
            "fill kernel");
}

// Trilu: k from input 1, read on the host.
void runTrilu(OpContext& ctx, Launch& launch) {
  const Dims& x = ctx.shape(0);
  ctx.require(x.size() >= 2, "input must have rank >= 2");
  int64_t k = 0;
  if (ctx.has(1)) {
    const std::vector<int64_t> values = hostInts(ctx, launch, 1);
    ctx.require(values.size() == 1, "k must hold one value");
    k = values[0];
  }
  const int64_t rows = x[x.size() - 2], cols = x.back();
  const int64_t matrices = rows * cols == 0 ? 0 : shapeElements(x) / (rows * cols);
  checkCuda(ctx,
            trilu(ctx.in[0].data, ctx.out[0], elementBytes(ctx, ctx.outTypes[0]), matrices, rows,
                  cols, k, ctx.layer.attrInt("upper", 1) != 0, launch.stream),
            "trilu kernel");
}

// Tile as a strided copy: a dim of size n repeated r times becomes two output dims [r, n] with
// strides [0, stride] (one dim when r or n is 1), so the rank may grow up to kMaxRank.
void runTile(OpContext& ctx, Launch& launch) {
  const Dims& x = ctx.shape(0);
  const std::vector<int64_t> repeats = hostInts(ctx, launch, 1);
  ctx.require(repeats.size() == x.size(), "repeats must have one value per axis");
  const std::vector<int64_t> strides = stridesOf(x);
  BroadcastShape s;
  for (size_t d = 0; d < x.size(); ++d) {
    ctx.require(repeats[d] >= 0, "repeats must be >= 0");
    const bool split = repeats[d] > 1 && x[d] > 1;
    if (s.rank + (split ? 2 : 1) > kMaxRank) {
      throw Error(ErrorCode::kUnsupported, "layer '" + ctx.layer.name +
                                               "' (Tile): too many repeated dims for the cuda "
                                               "device (rank plus repeated dims above 8)");
    }
    if (split) {
      s.dims[s.rank] = repeats[d];
      s.strideA[s.rank++] = 0;
    }
    s.dims[s.rank] = x[d] * (split ? 1 : repeats[d]);
    s.strideA[s.rank++] = x[d] == 1 ? 0 : strides[d];
  }
  const int64_t count = shapeElements(ctx.outShapes[0]);
  ctx.require(count == shapeElements(x) * shapeElements(Dims(repeats.begin(), repeats.end())),
              "repeats do not give the planned shape");
  checkCuda(ctx,
            stridedCopy(ctx.in[0].data, ctx.out[0], elementBytes(ctx, ctx.outTypes[0]), s, count,
                        launch.stream),
            "tile kernel");
}

// Tile of rank <= 4 always fits the strided copy; higher ranks only with few repeated dims.
std::string tileUnsupported(const LayerDesc& layer, const Network& network) {
  if (layer.inputs.empty() || layer.inputs[0] < 0) return "no input";
  if (network.tensors[layer.inputs[0]].shape.size() > 4) return "Tile above rank 4";
  return {};
}

std::string rankUnsupported(const LayerDesc& layer, const Network& network) {
  if (layer.inputs.empty() || layer.inputs[0] < 0) return "no input";
  if (network.tensors[layer.inputs[0]].shape.size() > static_cast<size_t>(kMaxRank))
    return "rank above 8";
  return {};
}

}  // namespace

void registerLayoutOps(std::map<std::string, CudaOp>& table) {
  constexpr Half kFollows = Half::kFollows;
  table["Transpose"] = CudaOp{runTranspose, nullptr, kFollows, false};
  table["Expand"] = CudaOp{runExpand, nullptr, kFollows, false};
  table["DepthToSpace"] = CudaOp{runDepthToSpace, nullptr, kFollows, false};
  table["SpaceToDepth"] = CudaOp{runSpaceToDepth, nullptr, kFollows, false};
  table["Concat"] = CudaOp{runConcat, nullptr, kFollows, false};
  table["Split"] = CudaOp{runSplit, nullptr, kFollows, false};
  table["Gather"] = CudaOp{runGather, gatherUnsupported, kFollows, false};
  CudaOp slice{runSlice, rankUnsupported, kFollows, false};
  slice.hostInputs = 0b11110;  // starts, ends, axes, steps
  table["Slice"] = slice;
  CudaOp padOp{runPad, rankUnsupported, kFollows, false};
  padOp.hostInputs = 0b1110;  // pads, constant_value, axes
  table["Pad"] = padOp;
  table["ConstantOfShape"] = CudaOp{runConstantOfShape, nullptr, kFollows, false};
  CudaOp triluOp{runTrilu, nullptr, kFollows, false};
  triluOp.hostInputs = 0b10;  // k
  table["Trilu"] = triluOp;
  CudaOp tile{runTile, tileUnsupported, kFollows, false};
  tile.hostInputs = 0b10;  // repeats
  table["Tile"] = tile;
}

}  // namespace kiln::cuda
