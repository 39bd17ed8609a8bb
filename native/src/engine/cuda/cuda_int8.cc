// The layers of INT8 engines on cuda: QuantizeLinear, DequantizeLinear, QLinearConv (with the
// builder's fused Relu) and QLinearAdd, on the project's 8-bit kernels (kernels/cuda/quant).
// They compute the same bytes as the cpu layers (engine/ops/quantize_ops.cc, qlinear_ops.cc);
// QLinearConv takes what the cpu's packed path takes (2-D, per-tensor input and output
// quantization, constant int8 weights with zero zero points), and context creation refuses
// the rest. MaxPool on 8-bit data lives with the other pools (cuda_ops.cc). A QLinearConv the
// NHWC kernel takes (qconvNhwcPlanned) runs it on NHWC activations (runNhwc); with cuBLAS, other
// layers of one group run on tensor cores (runImma); grouped ones on the dp4a implicit GEMM. All
// compute the cpu's bytes.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/cuda/cuda_ops.h"
#include "kiln/kernels/conv.h"

#ifdef KILN_WITH_CUBLAS
#include <cublas_v2.h>
#endif

namespace kiln::cuda {
namespace {

QuantType quantType(const OpContext& ctx, DataType t) {
  switch (t) {
    case DataType::kInt8:
      return QuantType::kInt8;
    case DataType::kUInt8:
      return QuantType::kUInt8;
    case DataType::kInt32:
      return QuantType::kInt32;
    default:
      throw Error(ErrorCode::kUnsupported, "layer '" + ctx.layer.name + "' (" + ctx.layer.op +
                                               "): " + dataTypeName(t) +
                                               " is not a quantized type on cuda");
  }
}

bool isEightBit(DataType t) { return t == DataType::kInt8 || t == DataType::kUInt8; }

const float* scaleOf(const OpContext& ctx, size_t i) {
  ctx.require(ctx.dtype(i) == DataType::kFloat32, "scales must be float32");
  return static_cast<const float*>(ctx.in[i].data);
}

const void* zeroOf(const OpContext& ctx, size_t i) { return ctx.has(i) ? ctx.in[i].data : nullptr; }

bool isScalar(const OpContext& ctx, size_t i) { return shapeElements(ctx.shape(i)) == 1; }

// Scales and zero points (inputs 1 and 2) of a QuantizeLinear / DequantizeLinear of input 0.
QuantAxis quantAxis(const OpContext& ctx) {
  QuantAxis q;
  q.scale = scaleOf(ctx, 1);
  q.zeroPoint = zeroOf(ctx, 2);
  if (q.zeroPoint) q.zeroType = quantType(ctx, ctx.dtype(2));
  q.count = shapeElements(ctx.shape(1));
  ctx.require(ctx.layer.attrInt("block_size", 0) == 0, "blocked quantization is not supported");
  if (ctx.has(2))
    ctx.require(shapeElements(ctx.shape(2)) == q.count, "zero point and scale need one size");
  if (q.count == 1) return q;
  const Dims& x = ctx.shape(0);
  ctx.require(ctx.shape(1).size() == 1 && !x.empty(), "per-axis scales must be 1-D");
  const int64_t axis =
      normalizeAxis(ctx, ctx.layer.attrInt("axis", 1), static_cast<int64_t>(x.size()));
  ctx.require(x[axis] == q.count, "one scale per element of the quantization axis");
  q.inner = shapeElements(Dims(x.begin() + axis + 1, x.end()));
  return q;
}

void runQuantize(OpContext& ctx, Launch& launch) {
  ctx.require(ctx.dtype(0) == DataType::kFloat32, "the cuda device quantizes float32");
  const DataType t = ctx.outTypes[0];
  ctx.require(isEightBit(t), "quantizing to int8 or uint8 only");
  checkCuda(ctx,
            quantizeLinear(static_cast<const float*>(ctx.in[0].data), shapeElements(ctx.shape(0)),
                           quantAxis(ctx), t == DataType::kInt8, ctx.out[0], launch.stream),
            "quantize kernel");
}

void runDequantize(OpContext& ctx, Launch& launch) {
  ctx.require(ctx.outTypes[0] == DataType::kFloat32, "dequantizing to float32 only");
  checkCuda(
      ctx,
      dequantizeLinear(ctx.in[0].data, quantType(ctx, ctx.dtype(0)), shapeElements(ctx.shape(0)),
                       quantAxis(ctx), static_cast<float*>(ctx.out[0]), launch.stream),
      "dequantize kernel");
}

bool fusedRelu(const OpContext& ctx) {
  const std::string act = ctx.layer.attrString("activation", "");
  ctx.require(act.empty() || act == "Relu", "only a fused Relu is supported, not '" + act + "'");
  return act == "Relu";
}

// The quantization arguments QLinearConv and QLinearGemm share (inputs 0-8, same order); the
// geometry is the caller's.
QConvArgs quantArgs(const OpContext& ctx, int64_t outChannels) {
  ctx.require(isEightBit(ctx.dtype(0)) && ctx.dtype(3) == DataType::kInt8,
              "8-bit activations and int8 weights only");
  ctx.require(isScalar(ctx, 1) && (!ctx.has(2) || isScalar(ctx, 2)) && isScalar(ctx, 6) &&
                  (!ctx.has(7) || isScalar(ctx, 7)),
              "input and output quantization must be per tensor");
  QConvArgs a;
  a.x = ctx.in[0].data;
  a.inScale = scaleOf(ctx, 1);
  a.inZeroPoint = zeroOf(ctx, 2);
  a.inSigned = ctx.dtype(0) == DataType::kInt8;
  a.w = ctx.in[3].data;
  a.wScale = scaleOf(ctx, 4);
  a.wScaleCount = shapeElements(ctx.shape(4));
  ctx.require(a.wScaleCount == 1 || a.wScaleCount == outChannels,
              "w_scale must be a scalar or one per output channel");
  if (ctx.has(8)) {
    ctx.require(ctx.dtype(8) == DataType::kInt32 && shapeElements(ctx.shape(8)) == outChannels,
                "the bias must be int32 with one value per output channel");
    a.bias = static_cast<const int32_t*>(ctx.in[8].data);
  }
  a.outScale = scaleOf(ctx, 6);
  a.outZeroPoint = zeroOf(ctx, 7);
  a.outSigned = ctx.outTypes[0] == DataType::kInt8;
  ctx.require(isEightBit(ctx.outTypes[0]), "the output must be 8-bit");
  a.relu = fusedRelu(ctx);
  a.y = ctx.out[0];
  return a;
}

// How a QLinearConv / QLinearGemm runs: the dp4a implicit GEMM, or on tensor cores with the
// int32 sums laid out by output channel or by pixel (which GEMM shape cuBLAS runs faster, and
// which requantization reads better, depends on the layer). Chosen per layer and input shape by
// timing (chooseQConv); all three compute the same bytes.
enum QConvPath : int { kDp4a = 0, kImmaChannelRows = 1, kImmaPixelRows = 2 };

size_t aligned256(size_t bytes) { return (bytes + 255) / 256 * 256; }

#ifdef KILN_WITH_CUBLAS

// K (input channels x kernel taps) rounded up to 16, the tensor-core path's stride.
int64_t paddedK(const QConvArgs& a) {
  return (a.inChannels * a.kernelH * a.kernelW + 15) / 16 * 16;
}

bool immaFits(const Launch& launch, const QConvArgs& a) {
  const int64_t kPad = paddedK(a);
  const int64_t ncols = a.batch * a.outH * a.outW;
  constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();
  return a.group == 1 && launch.libs != nullptr && launch.libs->cublas != nullptr && ncols > 0 &&
         ncols <= kMaxInt && kPad <= kMaxInt && a.outChannels > 0 && a.outChannels <= 65535;
}

// What a tensor-core layer keeps per context: the sums of its weights per output channel and,
// when K is not a multiple of 16 (or the weights are misaligned), the weights at stride kPad.
// They depend on the constant weights alone, so one kernel computes them on the context's first
// run (always eager: CUDA graphs capture later runs) instead of on every enqueue.
struct ImmaWeights : LayerState {
  const void* source = nullptr;  // the weights they were computed from
  std::shared_ptr<void> memory;
  int32_t* wsum = nullptr;
  int8_t* padded = nullptr;  // null: the weights themselves serve
};

const ImmaWeights& immaWeights(OpContext& ctx, Launch& launch, const QConvArgs& a) {
  auto* state = static_cast<ImmaWeights*>(launch.state->get());
  if (state != nullptr) {
    // The engine's weights never move while a context lives; were they to, the sums would lie.
    ctx.require(state->source == a.w, "the weights moved since the context's first run");
    return *state;
  }
  const int64_t k = a.inChannels * a.kernelH * a.kernelW, kPad = paddedK(a);
  const bool pad = kPad != k || reinterpret_cast<uintptr_t>(a.w) % 16 != 0;
  const size_t wsumBytes = aligned256(static_cast<size_t>(a.outChannels) * 4);
  const size_t bytes = wsumBytes + (pad ? static_cast<size_t>(a.outChannels * kPad) : 0);
  auto fresh = std::make_unique<ImmaWeights>();
  void* memory = nullptr;
  checkCuda(ctx, cudaMalloc(&memory, bytes), "weight sums memory");
  fresh->memory.reset(memory, [](void* p) { cudaFree(p); });
  fresh->source = a.w;
  fresh->wsum = static_cast<int32_t*>(memory);
  if (pad) fresh->padded = static_cast<int8_t*>(memory) + wsumBytes;
  checkCuda(ctx, qconvWeightSums(a, kPad, fresh->padded, fresh->wsum, launch.stream),
            "weight sums kernel");
  launch.state->reset(fresh.release());
  return static_cast<const ImmaWeights&>(**launch.state);
}

// A layer of one group on tensor cores: the int8 im2col of its activations times its weights
// through cuBLAS (int8 inputs, int32 sums: IMMA), then the dp4a kernel's requantization. The
// int32 sums are exact whatever order cuBLAS adds them in, so the bytes stay the cpu's. Both
// operands are K-contiguous (cuBLAS's "TN" form, the one its IMMA kernels take) with K padded
// to 16 (ImmaWeights).
void runImma(OpContext& ctx, Launch& launch, const QConvArgs& a, bool pixelRows) {
  const ImmaWeights& weights = immaWeights(ctx, launch, a);
  const int64_t kPad = paddedK(a);
  const int64_t ncols = a.batch * a.outH * a.outW, m = a.outChannels;
  const size_t colBytes = aligned256(static_cast<size_t>(ncols * kPad));
  const size_t sumBytes = static_cast<size_t>(m * ncols) * 4;
  auto* base = static_cast<char*>(launch.workspace(colBytes + sumBytes));
  auto* cols = reinterpret_cast<int8_t*>(base);
  auto* sums = reinterpret_cast<int32_t*>(base + colBytes);
  checkCuda(ctx, qconvIm2col(a, kPad, cols, launch.stream), "int8 im2col kernel");
  // Column-major: by channel, sums (ncols x m) = cols^T (ncols x K) * w (K x m); by pixel,
  // sums (m x ncols) = w^T (m x K) * cols (K x ncols).
  auto h = static_cast<cublasHandle_t>(launch.libs->cublas);
  cublasSetMathMode(h, CUBLAS_DEFAULT_MATH);
  const int32_t one = 1, zero = 0;
  const int kk = static_cast<int>(kPad), nc = static_cast<int>(ncols), mm = static_cast<int>(m);
  const void* w = weights.padded ? weights.padded : a.w;
  const cublasStatus_t status =
      pixelRows ? cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, mm, nc, kk, &one, w, CUDA_R_8I, kk,
                               cols, CUDA_R_8I, kk, &zero, sums, CUDA_R_32I, mm, CUBLAS_COMPUTE_32I,
                               CUBLAS_GEMM_DEFAULT)
                : cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, nc, mm, kk, &one, cols, CUDA_R_8I, kk,
                               w, CUDA_R_8I, kk, &zero, sums, CUDA_R_32I, nc, CUBLAS_COMPUTE_32I,
                               CUBLAS_GEMM_DEFAULT);
  if (status != CUBLAS_STATUS_SUCCESS)
    throw Error(ErrorCode::kDeviceError, "layer '" + ctx.layer.name + "' (" + ctx.layer.op +
                                             ") on cuda: int8 GEMM: cuBLAS status " +
                                             std::to_string(static_cast<int>(status)));
  checkCuda(ctx, qconvRequantize(a, sums, weights.wsum, pixelRows, launch.stream),
            "requantization kernel");
}
#else
bool immaFits(const Launch&, const QConvArgs&) { return false; }
void runImma(OpContext&, Launch&, const QConvArgs&, bool) {}
#endif

// What an NHWC layer keeps per context, computed on its first run: the weights reordered to
// [M][kH][kW][C], and per output channel the requantization scale and the bias less the input
// zero point times the weights' sum. They depend on constants alone (qconvNhwcPlanned).
struct NhwcConstants : LayerState {
  const void* source = nullptr;  // the weights they were computed from
  std::shared_ptr<void> memory;
  int8_t* w = nullptr;
  float* scale = nullptr;
  int32_t* bias = nullptr;
};

void runNhwc(OpContext& ctx, Launch& launch, const QConvArgs& a) {
  ctx.require(qconvNhwcFits(a), "the input is too large for the NHWC 8-bit convolution");
  auto* state = static_cast<NhwcConstants*>(launch.state->get());
  if (state == nullptr) {
    const size_t m = static_cast<size_t>(a.outChannels);
    const size_t wBytes = aligned256(static_cast<size_t>(qconvNhwcWeightBytes(a)));
    const size_t vector = aligned256(m * 4);
    auto fresh = std::make_unique<NhwcConstants>();
    void* memory = nullptr;
    checkCuda(ctx, cudaMalloc(&memory, wBytes + 3 * vector), "weights memory");
    fresh->memory.reset(memory, [](void* p) { cudaFree(p); });
    auto* base = static_cast<char*>(memory);
    fresh->source = a.w;
    fresh->w = reinterpret_cast<int8_t*>(base);
    auto* wsum = reinterpret_cast<int32_t*>(base + wBytes);
    fresh->scale = reinterpret_cast<float*>(base + wBytes + vector);
    fresh->bias = reinterpret_cast<int32_t*>(base + wBytes + 2 * vector);
    checkCuda(ctx, qconvNhwcWeights(a, fresh->w, wsum, launch.stream), "weight reordering kernel");
    checkCuda(ctx, qconvNhwcParams(a, wsum, fresh->scale, fresh->bias, launch.stream),
              "requantization constants kernel");
    state = fresh.get();
    launch.state->reset(fresh.release());
  }
  ctx.require(state->source == a.w, "the weights moved since the context's first run");
  checkCuda(ctx, qconvNhwc(a, state->w, state->scale, state->bias, launch.stream),
            "NHWC quantized convolution kernel");
}

void runPath(OpContext& ctx, Launch& launch, const QConvArgs& a, int path, const char* what) {
  if (path == kDp4a)
    checkCuda(ctx, qconv2d(a, launch.stream), what);
  else
    runImma(ctx, launch, a, path == kImmaPixelRows);
}

// Milliseconds of one run of `path` (after one untimed run: it grows the workspace).
float timePath(OpContext& ctx, Launch& launch, const QConvArgs& a, int path, const char* what) {
  runPath(ctx, launch, a, path, what);
  cudaEvent_t start = nullptr, stop = nullptr;
  checkCuda(ctx, cudaEventCreate(&start), "event");
  checkCuda(ctx, cudaEventCreate(&stop), "event");
  cudaEventRecord(start, launch.stream);
  runPath(ctx, launch, a, path, what);
  cudaEventRecord(stop, launch.stream);
  float ms = 0;
  const cudaError_t status = cudaEventSynchronize(stop);
  if (status == cudaSuccess) cudaEventElapsedTime(&ms, start, stop);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  checkCuda(ctx, status, "timing");
  return ms;
}

// The fastest path for this layer and input shape, timed on its first run (eager, never
// inside a CUDA graph capture) and shared by the engine's contexts.
void runQConv(OpContext& ctx, Launch& launch, const QConvArgs& a, const char* what) {
  if (!immaFits(launch, a)) {
    checkCuda(ctx, qconv2d(a, launch.stream), what);
    return;
  }
  const TacticCache::Tactic tactic = launch.tactics->get(launch.layer, ctx.shape(0), [&] {
    TacticCache::Tactic best{kDp4a, 0, nullptr};
    float bestMs = timePath(ctx, launch, a, kDp4a, what);
    for (int path : {kImmaChannelRows, kImmaPixelRows}) {
      const float ms = timePath(ctx, launch, a, path, what);
      if (ms < bestMs) bestMs = ms, best.algorithm = path;
    }
    return best;
  });
  runPath(ctx, launch, a, tactic.algorithm, what);
}

// QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, bias).
void runQLinearConv(OpContext& ctx, Launch& launch) {
  const Dims& x = ctx.shape(0);
  const Dims& w = ctx.shape(3);
  const Dims& y = ctx.outShapes[0];
  ctx.require(x.size() == 4 && w.size() == 4, "the cuda device runs 2-D quantized convolutions");
  QConvArgs a = quantArgs(ctx, w[0]);
  a.batch = x[0], a.inChannels = x[1], a.inH = x[2], a.inW = x[3];
  a.outChannels = w[0], a.outH = y[2], a.outW = y[3];
  a.kernelH = w[2], a.kernelW = w[3];
  a.group = ctx.layer.attrInt("group", 1);
  ctx.require(a.group >= 1 && a.inChannels == w[1] * a.group && a.outChannels % a.group == 0,
              "channels do not match the groups");
  const std::vector<int64_t> s = ctx.layer.attrInts("strides", {1, 1});
  const std::vector<int64_t> d = ctx.layer.attrInts("dilations", {1, 1});
  std::vector<int64_t> pads = ctx.layer.attrInts("pads", {0, 0, 0, 0});
  ctx.require(s.size() == 2 && d.size() == 2 && pads.size() == 4,
              "strides/dilations/pads do not match the spatial rank");
  a.strideH = s[0], a.strideW = s[1], a.dilationH = d[0], a.dilationW = d[1];
  const std::string autoPad = ctx.layer.attrString("auto_pad", "NOTSET");
  if (autoPad == "VALID") pads = {0, 0, 0, 0};
  if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    const bool upper = autoPad == "SAME_UPPER";
    kernels::convSamePads(a.inH, a.kernelH, a.strideH, a.dilationH, upper, &pads[0], &pads[2]);
    kernels::convSamePads(a.inW, a.kernelW, a.strideW, a.dilationW, upper, &pads[1], &pads[3]);
  }
  a.padTop = pads[0], a.padLeft = pads[1];  // the output size already accounts for the others
  if (launch.nhwc)
    runNhwc(ctx, launch, a);
  else
    runQConv(ctx, launch, a, "quantized convolution kernel");
}

// QLinearGemm(x [M, K], ..., w [N, K], ...) (the builder's fused DequantizeLinear -> Gemm ->
// QuantizeLinear): the 1x1 convolution of M images of K channels, whose NCHW layout is x's and
// y's row-major one, with w as [N, K, 1, 1].
void runQLinearGemm(OpContext& ctx, Launch& launch) {
  const Dims& x = ctx.shape(0);
  const Dims& w = ctx.shape(3);
  ctx.require(x.size() == 2 && w.size() == 2 && x[1] == w[1], "x must be [M, K] and w [N, K]");
  QConvArgs a = quantArgs(ctx, w[0]);
  a.batch = x[0], a.inChannels = x[1], a.inH = 1, a.inW = 1;
  a.outChannels = w[0], a.outH = 1, a.outW = 1;
  a.kernelH = 1, a.kernelW = 1, a.group = 1;
  a.strideH = 1, a.strideW = 1, a.dilationH = 1, a.dilationW = 1;
  a.padTop = 0, a.padLeft = 0;
  runQConv(ctx, launch, a, "quantized fully connected kernel");
}

// What the kernel cannot take, judged from the plan: weights must be constant int8 ([M, C, kH,
// kW] for QLinearConv, [N, K] for QLinearGemm) with zero zero points (a non-zero one would need a
// per-pixel correction).
std::string qconvUnsupported(const LayerDesc& layer, const Network& network) {
  if (layer.inputs.size() < 8 || layer.inputs[3] < 0) return layer.op + " without weights";
  const TensorDesc& w = network.tensors[layer.inputs[3]];
  const size_t rank = layer.op == "QLinearGemm" ? 2 : 4;
  if (w.constant < 0 || w.dtype != DataType::kInt8 || w.shape.size() != rank)
    return "weights must be constant int8 of rank " + std::to_string(rank);
  if (layer.inputs.size() > 5 && layer.inputs[5] >= 0) {
    const TensorDesc& z = network.tensors[layer.inputs[5]];
    if (z.constant < 0) return "the weight zero point must be constant";
    for (uint8_t b : network.weights[z.constant])
      if (b != 0) return "a non-zero weight zero point";
  }
  const std::string act = layer.attrString("activation", "");
  if (!act.empty() && act != "Relu") return "a fused " + act;
  return {};
}

// Whether a QLinearConv runs NHWC (Storage::kByteNhwc activations, qconv_nhwc.cu): one group,
// output channels a multiple of 8, input channels a multiple of 64 (whole 16-byte copies) or few
// taps (K <= 1024, gathered byte by byte: the stem), an 8-bit activation input, and constant
// scales, zero points and bias (NhwcConstants are computed once).
bool qconvNhwcPlanned(const LayerDesc& layer, const Network& network) {
  if (layer.op != "QLinearConv" || !qconvUnsupported(layer, network).empty()) return false;
  if (layer.attrInt("group", 1) != 1 || layer.inputs[0] < 0) return false;
  const TensorDesc& x = network.tensors[layer.inputs[0]];
  if (x.constant >= 0 || (x.dtype != DataType::kInt8 && x.dtype != DataType::kUInt8)) return false;
  const Dims& w = network.tensors[layer.inputs[3]].shape;
  if (w[0] % 8 != 0 || (w[1] % 64 != 0 && w[1] * w[2] * w[3] > 1024)) return false;
  for (size_t i : {1, 2, 4, 6, 7, 8})
    if (i < layer.inputs.size() && layer.inputs[i] >= 0 &&
        network.tensors[layer.inputs[i]].constant < 0)
      return false;
  return true;
}

void runQLinearAdd(OpContext& ctx, Launch& launch) {
  const DataType t = ctx.dtype(0);
  ctx.require(isEightBit(t) && ctx.dtype(3) == t && ctx.shape(0) == ctx.shape(3),
              "A and B must be 8-bit of one type and one shape");
  for (size_t i : {1, 4, 6}) ctx.require(isScalar(ctx, i), "scales must be scalars");
  for (size_t i : {2, 5, 7})
    ctx.require(!ctx.has(i) || (isScalar(ctx, i) && ctx.dtype(i) == t),
                "zero points must be scalars of the data type");
  QAddArgs p;
  p.aScale = scaleOf(ctx, 1), p.bScale = scaleOf(ctx, 4), p.cScale = scaleOf(ctx, 6);
  p.aZero = zeroOf(ctx, 2), p.bZero = zeroOf(ctx, 5), p.cZero = zeroOf(ctx, 7);
  p.isSigned = t == DataType::kInt8;
  p.relu = fusedRelu(ctx);
  checkCuda(ctx,
            qlinearAdd(ctx.in[0].data, ctx.in[3].data, shapeElements(ctx.shape(0)), p, ctx.out[0],
                       launch.stream),
            "quantized add kernel");
}

}  // namespace

void registerInt8Ops(std::map<std::string, CudaOp>& table) {
  table["QuantizeLinear"] = CudaOp{runQuantize};
  table["DequantizeLinear"] = CudaOp{runDequantize};
  CudaOp conv{runQLinearConv, qconvUnsupported};
  conv.nhwc8 = qconvNhwcPlanned;
  table["QLinearConv"] = conv;
  table["QLinearGemm"] = CudaOp{runQLinearGemm, qconvUnsupported};
  CudaOp add{runQLinearAdd};
  add.follows8 = true;  // elementwise on two tensors of one shape: any layout both share
  table["QLinearAdd"] = add;
}

}  // namespace kiln::cuda
