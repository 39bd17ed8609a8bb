// Reduce*, ArgMax / ArgMin and Hardmax on cuda (kernels in src/kernels/cuda/reduce), with the cpu
// ops' axes rules (engine/ops/reduce_resize_ops.cc): axes from input 1 (read on the host) or the
// attribute, none meaning all unless noop_with_empty_axes asks for the identity.
#include <algorithm>
#include <map>
#include <string>

#include "engine/cuda/cuda_ops.h"

namespace kiln::cuda {
namespace {

const std::map<std::string, ReduceOp>& reduceOps() {
  using R = ReduceOp;
  static const std::map<std::string, R> ops = {
      {"ReduceSum", R::kSum},       {"ReduceMean", R::kMean},
      {"ReduceMax", R::kMax},       {"ReduceMin", R::kMin},
      {"ReduceProd", R::kProd},     {"ReduceL1", R::kL1},
      {"ReduceL2", R::kL2},         {"ReduceSumSquare", R::kSumSquare},
      {"ReduceLogSum", R::kLogSum}, {"ReduceLogSumExp", R::kLogSumExp}};
  return ops;
}

void runReduce(OpContext& ctx, Launch& launch) {
  const bool half = requireFloat(ctx, {0});
  const Dims& x = ctx.shape(0);
  const int64_t rank = static_cast<int64_t>(x.size());
  ctx.require(rank <= kMaxRank, "the cuda device reduces tensors up to rank 8");
  std::vector<int64_t> axes = ctx.has(1) ? hostInts(ctx, launch, 1) : ctx.layer.attrInts("axes");
  if (axes.empty() && ctx.layer.attrInt("noop_with_empty_axes", 0) != 0) {
    const size_t bytes = static_cast<size_t>(shapeBytes(x, ctx.dtype(0)));
    if (bytes > 0 && ctx.out[0] != ctx.in[0].data)
      checkCuda(ctx,
                cudaMemcpyAsync(ctx.out[0], ctx.in[0].data, bytes, cudaMemcpyDeviceToDevice,
                                launch.stream),
                "copy");
    return;
  }
  std::vector<char> reduced(x.size(), axes.empty() ? 1 : 0);
  for (int64_t a : axes) reduced[normalizeAxis(ctx, a, rank)] = 1;
  ReduceShape s;
  s.outCount = s.groupSize = 1;
  int64_t stride = 1;
  std::vector<int64_t> strides(x.size());
  for (int64_t d = rank - 1; d >= 0; --d) strides[d] = stride, stride *= x[d];
  for (int64_t d = 0; d < rank; ++d) {
    if (reduced[d]) {
      s.reducedDims[s.reducedRank] = x[d];
      s.reducedStrides[s.reducedRank++] = strides[d];
      s.groupSize *= x[d];
    } else {
      s.keptDims[s.keptRank] = x[d];
      s.keptStrides[s.keptRank++] = strides[d];
      s.outCount *= x[d];
    }
  }
  const ReduceOp op = reduceOps().at(ctx.layer.op);
  checkCuda(ctx,
            half ? reduce(op, in<__half>(ctx, 0), out<__half>(ctx), s, launch.stream)
                 : reduce(op, in<float>(ctx, 0), out<float>(ctx), s, launch.stream),
            "reduce kernel");
}

std::string reduceUnsupported(const LayerDesc& layer, const Network& network) {
  return typesOutside(layer, network, {DataType::kFloat32}, {0});
}

void runArg(OpContext& ctx, Launch& launch) {
  const DataType t = ctx.dtype(0);
  ctx.require(t == DataType::kFloat32 || t == DataType::kFloat16, "the input must be float");
  const Dims& x = ctx.shape(0);
  ctx.require(!x.empty(), "needs an input of rank >= 1");
  const int64_t axis =
      normalizeAxis(ctx, ctx.layer.attrInt("axis", 0), static_cast<int64_t>(x.size()));
  ctx.require(x[axis] > 0, "cannot reduce an empty axis");
  const int64_t outer = shapeElements(Dims(x.begin(), x.begin() + axis));
  const int64_t inner = shapeElements(Dims(x.begin() + axis + 1, x.end()));
  const bool isMax = ctx.layer.op == "ArgMax";
  const bool last = ctx.layer.attrInt("select_last_index", 0) != 0;
  auto* y = static_cast<int64_t*>(ctx.out[0]);
  checkCuda(
      ctx,
      t == DataType::kFloat16
          ? argReduce(isMax, last, in<__half>(ctx, 0), y, outer, x[axis], inner, launch.stream)
          : argReduce(isMax, last, in<float>(ctx, 0), y, outer, x[axis], inner, launch.stream),
      "arg reduce kernel");
}

// One axis (the cpu op's reading of every opset), 1 at the first maximum.
void runHardmax(OpContext& ctx, Launch& launch) {
  const bool half = requireFloat(ctx, {0});
  const Dims& x = ctx.shape(0);
  ctx.require(!x.empty(), "the input must have rank >= 1");
  const int64_t axis =
      normalizeAxis(ctx, ctx.layer.attrInt("axis", -1), static_cast<int64_t>(x.size()));
  const int64_t outer = shapeElements(Dims(x.begin(), x.begin() + axis));
  const int64_t inner = shapeElements(Dims(x.begin() + axis + 1, x.end()));
  checkCuda(
      ctx,
      half ? hardmax(in<__half>(ctx, 0), out<__half>(ctx), outer, x[axis], inner, launch.stream)
           : hardmax(in<float>(ctx, 0), out<float>(ctx), outer, x[axis], inner, launch.stream),
      "hardmax kernel");
}

std::string argUnsupported(const LayerDesc& layer, const Network& network) {
  return typesOutside(layer, network, {DataType::kFloat32}, {0}, false);
}

}  // namespace

void registerReduceOps(std::map<std::string, CudaOp>& table) {
  for (const auto& entry : reduceOps()) {
    CudaOp op{runReduce, reduceUnsupported, Half::kFollows, false};
    op.hostInputs = 1u << 1;  // axes
    table[entry.first] = op;
  }
  table["ArgMax"] = CudaOp{runArg, argUnsupported, Half::kFollows, false};
  table["ArgMin"] = CudaOp{runArg, argUnsupported, Half::kFollows, false};
  table["Hardmax"] = CudaOp{runHardmax, floatOnly, Half::kFollows, false};
}

}  // namespace kiln::cuda
