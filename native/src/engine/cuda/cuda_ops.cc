// The cuda op table, and the layers that need only the project's own kernels: activations,
// broadcast arithmetic, pooling and the layers that keep their bytes (Reshape, Flatten...).
#include "engine/cuda/cuda_ops.h"

#include <algorithm>
#include <initializer_list>
#include <map>

#include "engine/ops/fused_activation.h"

namespace kiln::cuda {

void registerConvOps(std::map<std::string, CudaOp>& table);     // cuda_conv.cc
void registerEltwiseOps(std::map<std::string, CudaOp>& table);  // cuda_eltwise_ops.cc
void registerGemmOps(std::map<std::string, CudaOp>& table);     // cuda_gemm.cc
void registerInt8Ops(std::map<std::string, CudaOp>& table);     // cuda_int8.cc
void registerLayoutOps(std::map<std::string, CudaOp>& table);   // cuda_layout_ops.cc
void registerNormOps(std::map<std::string, CudaOp>& table);     // cuda_norm_ops.cc
void registerReduceOps(std::map<std::string, CudaOp>& table);   // cuda_reduce_ops.cc
void registerResizeOps(std::map<std::string, CudaOp>& table);   // cuda_resize_ops.cc

void checkCuda(const OpContext& ctx, cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  cudaGetLastError();
  throw Error(ErrorCode::kDeviceError, "layer '" + ctx.layer.name + "' (" + ctx.layer.op +
                                           ") on cuda: " + what + ": " +
                                           cudaGetErrorString(status));
}

bool requireFloat(const OpContext& ctx, std::initializer_list<size_t> inputs) {
  const DataType t = ctx.outTypes[0];
  bool same = t == DataType::kFloat32 || t == DataType::kFloat16;
  for (size_t i : inputs) same = same && ctx.dtype(i) == t;
  if (!same) {
    throw Error(ErrorCode::kUnsupported, "layer '" + ctx.layer.name + "' (" + ctx.layer.op +
                                             "): the cuda device runs it on float32 or float16");
  }
  return t == DataType::kFloat16;
}

namespace {

// Reshape, Flatten, Squeeze, Unsqueeze, Identity: the output holds the input's bytes.
void runCopy(OpContext& ctx, Launch& launch) {
  const size_t bytes = static_cast<size_t>(shapeBytes(ctx.outShapes[0], ctx.outTypes[0]));
  if (ctx.out[0] == ctx.in[0].data || bytes == 0) return;
  checkCuda(
      ctx,
      cudaMemcpyAsync(ctx.out[0], ctx.in[0].data, bytes, cudaMemcpyDeviceToDevice, launch.stream),
      "copy");
}

// Dropout in inference: the input, and a mask of all ones when asked for.
void runDropout(OpContext& ctx, Launch& launch) {
  runCopy(ctx, launch);
  if (ctx.out.size() < 2 || ctx.out[1] == nullptr) return;
  checkCuda(ctx,
            cudaMemsetAsync(ctx.out[1], 1, static_cast<size_t>(shapeElements(ctx.outShapes[1])),
                            launch.stream),
            "mask");
}

// `act` on input 0 into the output, or on the output in place.
template <typename T>
void activation(OpContext& ctx, Launch& launch, kernels::Activation act, bool inPlace = false) {
  const T* x = inPlace ? out<T>(ctx) : in<T>(ctx, 0);
  checkCuda(ctx,
            biasActivation(x, out<T>(ctx), 1, 1, shapeElements(ctx.outShapes[0]),
                           static_cast<const T*>(nullptr), static_cast<const T*>(nullptr), act,
                           launch.stream),
            "activation kernel");
}

// Relu, Sigmoid, ... : the activation with the op's own attributes.
void runActivation(OpContext& ctx, Launch& launch) {
  const bool half = requireFloat(ctx, {0});
  kernels::Activation act = kernels::makeActivation(activationKindOf(ctx.layer.op));
  act.alpha = static_cast<float>(ctx.layer.attrFloat("alpha", act.alpha));
  act.beta = static_cast<float>(ctx.layer.attrFloat("beta", act.beta));
  if (ctx.layer.op == "Gelu" && ctx.layer.attrString("approximate", "none") == "tanh")
    act.kind = kernels::ActivationKind::kGeluTanh;
  half ? activation<__half>(ctx, launch, act) : activation<float>(ctx, launch, act);
}

// The strides that broadcast `in` (right-aligned) to `out`.
void broadcastStrides(const OpContext& ctx, const Dims& in, const Dims& out, int64_t* strides) {
  const int offset = static_cast<int>(out.size() - in.size());
  int64_t stride = 1;
  for (int d = static_cast<int>(out.size()) - 1; d >= 0; --d) {
    const int k = d - offset;
    if (k < 0) {
      strides[d] = 0;
      continue;
    }
    ctx.require(in[k] == out[d] || in[k] == 1, "input dims do not broadcast to the output");
    strides[d] = in[k] == 1 ? 0 : stride;
    stride *= in[k];
  }
}

}  // namespace

BroadcastShape broadcastShape(const OpContext& ctx, const Dims& a, const Dims* b, const Dims& out,
                              const Dims* c) {
  if (out.size() > static_cast<size_t>(kMaxRank)) {
    throw Error(ErrorCode::kUnsupported, "layer '" + ctx.layer.name +
                                             "': the cuda device broadcasts up to rank " +
                                             std::to_string(kMaxRank));
  }
  BroadcastShape s;
  s.rank = static_cast<int>(out.size());
  for (size_t d = 0; d < out.size(); ++d) s.dims[d] = out[d];
  broadcastStrides(ctx, a, out, s.strideA);
  if (b != nullptr) broadcastStrides(ctx, *b, out, s.strideB);
  if (c != nullptr) broadcastStrides(ctx, *c, out, s.strideC);
  return s;
}

namespace {

// ctx with input i's data on the host (Launch::host).
OpContext onHost(const OpContext& ctx, const Launch& launch, size_t i) {
  if (i >= launch.host.size() || launch.host[i] == nullptr) {
    throw Error(ErrorCode::kUnsupported, "layer '" + ctx.layer.name + "' (" + ctx.layer.op +
                                             "): on cuda, input " + std::to_string(i) +
                                             " must be known when shapes are computed");
  }
  OpContext host = ctx;
  host.in[i].data = launch.host[i];
  return host;
}

// The element type of `tensor` in the network (inputs absent: kFloat32).
DataType tensorType(const Network& network, int32_t tensor) {
  return tensor >= 0 ? network.tensors[tensor].dtype : DataType::kFloat32;
}

}  // namespace

std::vector<int64_t> hostInts(const OpContext& ctx, const Launch& launch, size_t i) {
  return onHost(ctx, launch, i).ints(i);
}

std::vector<float> hostFloats(const OpContext& ctx, const Launch& launch, size_t i) {
  return onHost(ctx, launch, i).floats(i);
}

std::string typesOutside(const LayerDesc& layer, const Network& network,
                         std::initializer_list<DataType> allowed,
                         std::initializer_list<size_t> inputs, bool outputs) {
  const auto bad = [&](int32_t t) {
    return t >= 0 &&
           std::find(allowed.begin(), allowed.end(), tensorType(network, t)) == allowed.end();
  };
  const auto named = [&](const std::string& which, int32_t t) {
    return which + " of type " + dataTypeName(tensorType(network, t));
  };
  std::vector<size_t> which(inputs);
  if (which.empty())
    for (size_t i = 0; i < layer.inputs.size(); ++i) which.push_back(i);
  for (size_t i : which)
    if (i < layer.inputs.size() && bad(layer.inputs[i]))
      return named("input " + std::to_string(i), layer.inputs[i]);
  if (outputs)
    for (size_t o = 0; o < layer.outputs.size(); ++o)
      if (bad(layer.outputs[o])) return named("output " + std::to_string(o), layer.outputs[o]);
  return {};
}

std::string floatOnly(const LayerDesc& layer, const Network& network) {
  return typesOutside(layer, network, {DataType::kFloat32});
}

namespace {

// The dims of an NHWC-stored tensor in memory order: [N, spatial..., C].
Dims nhwcOrder(const Dims& d) {
  Dims m = d;
  if (d.size() < 3) return m;
  std::rotate(m.begin() + 1, m.begin() + 2, m.end());
  return m;
}

template <BinaryOp kOp>
void runBinary(OpContext& ctx, Launch& launch) {
  const bool half = requireFloat(ctx, {0, 1});
  Dims a = ctx.shape(0), b = ctx.shape(1), y = ctx.outShapes[0];
  if (launch.nhwc) {
    // NHWC operands broadcast like NCHW ones once every dims list is in memory order.
    ctx.require(a.size() == y.size() && b.size() == y.size(),
                "NHWC operands of different ranks do not broadcast");
    a = nhwcOrder(a), b = nhwcOrder(b), y = nhwcOrder(y);
  }
  const BroadcastShape s = broadcastShape(ctx, a, &b, y);
  const int64_t count = shapeElements(y);
  checkCuda(ctx,
            half ? binary(kOp, in<__half>(ctx, 0), in<__half>(ctx, 1), out<__half>(ctx), s, count,
                          launch.stream)
                 : binary(kOp, in<float>(ctx, 0), in<float>(ctx, 1), out<float>(ctx), s, count,
                          launch.stream),
            "binary kernel");
  // The activation the builder fused into the op (an Add + Relu whose Add found no Conv to
  // join), applied in place like a cpu host op does.
  const kernels::Activation act = fusedActivation(ctx);
  if (act.kind == kernels::ActivationKind::kNone) return;
  half ? activation<__half>(ctx, launch, act, true) : activation<float>(ctx, launch, act, true);
}

// Mod: the floor-mod (fmod = 0: the divisor's sign, as the cpu computes it on floats) or C's
// fmod (fmod = 1: the dividend's sign).
void runMod(OpContext& ctx, Launch& launch) {
  ctx.layer.attrInt("fmod", 0) != 0 ? runBinary<BinaryOp::kFmod>(ctx, launch)
                                    : runBinary<BinaryOp::kMod>(ctx, launch);
}

int64_t attrAt(const std::vector<int64_t>& v, size_t i, int64_t fallback) {
  return i < v.size() ? v[i] : fallback;
}

// MaxPool / AveragePool over 1-D (as 2-D with height 1) or 2-D NCHW inputs; MaxPool also over
// the int8 / uint8 tensors of INT8 engines (NHWC ones too).
void runPool(OpContext& ctx, Launch& launch) {
  const DataType type = ctx.dtype(0);
  const bool eightBit =
      ctx.layer.op == "MaxPool" && (type == DataType::kInt8 || type == DataType::kUInt8);
  const bool half = !eightBit && requireFloat(ctx, {0});
  const Dims& x = ctx.shape(0);
  const Dims& y = ctx.outShapes[0];
  ctx.require(x.size() == 3 || x.size() == 4, "the cuda device pools 1-D and 2-D inputs");
  const bool oneD = x.size() == 3;
  const size_t spatial = x.size() - 2;
  const std::vector<int64_t> kernel = ctx.layer.attrInts("kernel_shape");
  const std::vector<int64_t> strides = ctx.layer.attrInts("strides");
  const std::vector<int64_t> dilations = ctx.layer.attrInts("dilations");
  std::vector<int64_t> pads = ctx.layer.attrInts("pads", std::vector<int64_t>(2 * spatial, 0));
  ctx.require(kernel.size() == spatial && pads.size() == 2 * spatial,
              "kernel_shape/pads do not match the spatial rank");
  const std::string autoPad = ctx.layer.attrString("auto_pad", "NOTSET");
  for (size_t d = 0; d < spatial; ++d) {
    const int64_t s = attrAt(strides, d, 1), dil = attrAt(dilations, d, 1);
    if (autoPad == "VALID") {
      pads[d] = pads[d + spatial] = 0;
    } else if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
      // The total padding that gives the output size the plan inferred.
      int64_t total = (y[2 + d] - 1) * s + (kernel[d] - 1) * dil + 1 - x[2 + d];
      if (total < 0) total = 0;
      const int64_t small = total / 2;
      pads[d] = autoPad == "SAME_UPPER" ? small : total - small;
      pads[d + spatial] = total - pads[d];
    }
  }
  Pool2dParams p;
  p.batch = x[0];
  p.channels = x[1];
  p.inH = oneD ? 1 : x[2];
  p.inW = x.back();
  p.outH = oneD ? 1 : y[2];
  p.outW = y.back();
  const size_t w = spatial - 1;  // the last spatial dim
  p.kernelH = oneD ? 1 : kernel[0];
  p.kernelW = kernel[w];
  p.strideH = oneD ? 1 : attrAt(strides, 0, 1);
  p.strideW = attrAt(strides, w, 1);
  p.dilationH = oneD ? 1 : attrAt(dilations, 0, 1);
  p.dilationW = attrAt(dilations, w, 1);
  p.padTop = oneD ? 0 : pads[0];
  p.padBottom = oneD ? 0 : pads[spatial];
  p.padLeft = pads[w];
  p.padRight = pads[spatial + w];
  p.max = ctx.layer.op == "MaxPool";
  p.countIncludePad = ctx.layer.attrInt("count_include_pad", 0) != 0;
  p.nhwc = launch.nhwc;
  if (eightBit) {
    checkCuda(ctx,
              maxPool2d8(p, ctx.in[0].data, type == DataType::kInt8, ctx.out[0], launch.stream),
              "8-bit pool kernel");
    return;
  }
  checkCuda(ctx,
            half ? pool2d(p, in<__half>(ctx, 0), out<__half>(ctx), launch.stream)
                 : pool2d(p, in<float>(ctx, 0), out<float>(ctx), launch.stream),
            "pool kernel");
}

std::string poolUnsupported(const LayerDesc& layer, const Network&) {
  if (layer.outputs.size() > 1) return "MaxPool's Indices output";
  if (layer.attrInts("kernel_shape").size() > 2) return "3-D pooling";
  return {};
}

void runGlobalPool(OpContext& ctx, Launch& launch) {
  const bool half = requireFloat(ctx, {0});
  const Dims& x = ctx.shape(0);
  ctx.require(x.size() >= 2, "the input needs a batch and a channel dim");
  const int64_t rows = x[0] * x[1];
  const int64_t spatial = rows == 0 ? 0 : shapeElements(x) / rows;
  const bool max = ctx.layer.op == "GlobalMaxPool";
  checkCuda(ctx,
            half ? globalPool(in<__half>(ctx, 0), out<__half>(ctx), x[0], x[1], spatial, max,
                              launch.nhwc, launch.stream)
                 : globalPool(in<float>(ctx, 0), out<float>(ctx), x[0], x[1], spatial, max,
                              launch.nhwc, launch.stream),
            "global pool kernel");
}

// Coverage against the cpu's op table (149 ops, supportedOps()): 117 run on cuda, 32 do not.
// | cuda family (file)        | ops                                                            |
// | copies (here)             | Reshape Flatten Squeeze Unsqueeze Identity Dropout             |
// | activations (here)        | Relu LeakyRelu Sigmoid Tanh HardSigmoid HardSwish Elu Softplus |
// |                           | Gelu Silu                                                      |
// | arithmetic (here)         | Add Sub Mul Div Pow PRelu Mod                                  |
// | pooling (here)            | MaxPool AveragePool GlobalAveragePool GlobalMaxPool            |
// | eltwise (eltwise_ops)     | Exp Log Sqrt Erf Abs Neg Reciprocal Floor Ceil Round Sign Sin  |
// |                           | Cos Tan Acos Acosh Asin Asinh Atan Atanh Cosh Sinh Softsign    |
// |                           | Selu Celu ThresholdedRelu Shrink Clip Sum Mean Max Min Equal   |
// |                           | Less LessOrEqual Greater GreaterOrEqual And Or Xor Not Where   |
// |                           | Cast CastLike IsNaN IsInf ElementwiseChain (the builder's)     |
// | reduce (reduce_ops)       | Reduce{Sum,Mean,Max,Min,Prod,L1,L2,SumSquare,LogSum,LogSumExp} |
// |                           | ArgMax ArgMin Hardmax                                          |
// | norm (norm_ops)           | LayerNormalization Softmax LogSoftmax BatchNormalization       |
// |                           | InstanceNormalization LRN                                      |
// | layout (layout_ops)       | Transpose Expand Concat Split Gather Slice Pad Tile            |
// |                           | DepthToSpace SpaceToDepth ConstantOfShape Trilu                |
// | resize (resize_ops)       | Resize Upsample                                                |
// | conv, gemm (with cuDNN,   | Conv Gemm MatMul                                               |
// | cuBLAS)                   |                                                                |
// | int8 (int8)               | QuantizeLinear DequantizeLinear QLinearConv QLinearGemm        |
// |                           | QLinearAdd                                                     |
// | host only (no kernel)     | Shape Size (their values are always computed with shapes)      |
// | not on cuda               | ConvTranspose LSTM If GatherElements GatherND Scatter          |
// |                           | ScatterElements ScatterND TopK OneHot EyeLike                  |
// |                           | Range MeanVarianceNormalization ReverseSequence GridSample     |
// |                           | RoiAlign MaxUnpool ConvInteger MatMulInteger QLinearMatMul     |
// |                           | DynamicQuantizeLinear BitShift Det DFT STFT MelWeightMatrix    |
// |                           | HannWindow HammingWindow BlackmanWindow TfIdfVectorizer        |
// |                           | NegativeLogLikelihoodLoss SoftmaxCrossEntropyLoss              |
// Layers of the last row still run on cuda when the shape pass computes their values (small
// static outputs from constants and shapes). Within listed ops, each CudaOp::unsupported names
// what it refuses: mostly integer math (the cpu's int32 / int64 arithmetic, comparisons,
// Clip, Neg...), bfloat16, BatchNormalization's training mode, Resize's antialias and axes.
const std::map<std::string, CudaOp>& table() {
  static const std::map<std::string, CudaOp> ops = [] {
    std::map<std::string, CudaOp> t;
    constexpr Half kFollows = Half::kFollows;
    // Copies keep the element order, which NHWC changes: they read NCHW.
    for (const char* op : {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"})
      t[op] = CudaOp{runCopy, nullptr, kFollows, false};
    t["Dropout"] = CudaOp{runDropout, nullptr, kFollows, false};
    for (const char* op : {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish",
                           "Elu", "Softplus", "Gelu", "Silu"})
      t[op] = CudaOp{runActivation, floatOnly, kFollows, true};
    t["Add"] = CudaOp{runBinary<BinaryOp::kAdd>, floatOnly, kFollows, true};
    t["Sub"] = CudaOp{runBinary<BinaryOp::kSub>, floatOnly, kFollows, true};
    t["Mul"] = CudaOp{runBinary<BinaryOp::kMul>, floatOnly, kFollows, true};
    t["Div"] = CudaOp{runBinary<BinaryOp::kDiv>, floatOnly, kFollows, true};
    t["Pow"] = CudaOp{runBinary<BinaryOp::kPow>, floatOnly, kFollows, true};
    t["PRelu"] = CudaOp{runBinary<BinaryOp::kPRelu>, floatOnly, kFollows, true};
    t["Mod"] = CudaOp{runMod, floatOnly, kFollows, true};
    t["MaxPool"] = CudaOp{runPool, poolUnsupported, kFollows, true};
    t["MaxPool"].follows8 = true;  // 8-bit NHWC pooling too
    t["AveragePool"] = CudaOp{runPool, poolUnsupported, kFollows, true};
    t["GlobalAveragePool"] = CudaOp{runGlobalPool, nullptr, kFollows, true};
    t["GlobalMaxPool"] = CudaOp{runGlobalPool, nullptr, kFollows, true};
    registerConvOps(t);
    registerEltwiseOps(t);
    registerGemmOps(t);
    registerInt8Ops(t);
    registerLayoutOps(t);
    registerNormOps(t);
    registerReduceOps(t);
    registerResizeOps(t);
    return t;
  }();
  return ops;
}

}  // namespace

const CudaOp* findCudaOp(const std::string& op) {
  auto it = table().find(op);
  return it == table().end() ? nullptr : &it->second;
}

std::string cudaUnsupportedReason(const LayerDesc& layer, const Network& network) {
  const CudaOp* op = findCudaOp(layer.op);
  if (op == nullptr) return "no cuda kernel";
  return op->unsupported ? op->unsupported(layer, network) : std::string();
}

}  // namespace kiln::cuda
