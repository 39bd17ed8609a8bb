// Conv on cuda through cuDNN (1-D as 2-D with height 1, groups, dilations), with the fused
// bias / residual / activation the builder attaches. Relu runs inside cuDNN's fused
// convolution-bias-activation call; other activations run in the project's epilogue kernel.
// The algorithm is chosen by timing cuDNN's candidates once per input shape (a tactic).
// FP32 layers run NCHW with FMA math; FP16 layers (cuda_precision.h) run NHWC half tensors
// (weights KRSC) with tensor-op math and float32 accumulation (cuDNN's PSEUDO_HALF), through
// cuDNN's graph API (cuda_conv_graph.h) when it offers a plan that agrees with the legacy
// algorithm and is faster than it, else through the legacy calls below.
#include <map>
#include <vector>

#include "engine/cuda/cuda_ops.h"
#include "engine/ops/fused_activation.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kiln/kernels/conv.h"

#ifdef KILN_WITH_CUDNN
#include "engine/cuda/cuda_conv_graph.h"
#endif

namespace kiln::cuda {

#ifdef KILN_WITH_CUDNN
namespace {

void checkDnn(const OpContext& ctx, cudnnStatus_t status, const char* what) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  throw Error(ErrorCode::kDeviceError, "layer '" + ctx.layer.name + "' (Conv) on cuda: " + what +
                                           ": " + cudnnGetErrorString(status));
}

// Scratch larger than this is not worth an algorithm's speed-up.
constexpr size_t kMaxWorkspace = size_t{512} << 20;

struct ConvState : LayerState {
  Dims input;  // the shape the descriptors describe
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnActivationDescriptor_t relu = nullptr;
  cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  size_t workspace = 0;
  bool fused = true;               // false once cuDNN refused the fused call for this shape
  ConvGraphPlan graph;             // FP16 through the graph API (no plan: the legacy calls)
  std::shared_ptr<void> zeroBias;  // for a Relu conv without bias (the fused call needs one)

  ~ConvState() override {
    if (x) cudnnDestroyTensorDescriptor(x);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (bias) cudnnDestroyTensorDescriptor(bias);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    if (relu) cudnnDestroyActivationDescriptor(relu);
  }
};

// The 2-D geometry of the layer for its current shapes; pads must be symmetric (cuDNN's).
ConvGeometry geometry(const OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  const Dims& wt = ctx.shape(1);
  const Dims& y = ctx.outShapes[0];
  ctx.require(x.size() == 3 || x.size() == 4, "the cuda device runs 1-D and 2-D convolutions");
  const bool oneD = x.size() == 3;
  const size_t spatial = x.size() - 2;
  const std::vector<int64_t> strides =
      ctx.layer.attrInts("strides", std::vector<int64_t>(spatial, 1));
  const std::vector<int64_t> dilations =
      ctx.layer.attrInts("dilations", std::vector<int64_t>(spatial, 1));
  std::vector<int64_t> pads = ctx.layer.attrInts("pads", std::vector<int64_t>(2 * spatial, 0));
  const std::string autoPad = ctx.layer.attrString("auto_pad", "NOTSET");
  for (size_t d = 0; d < spatial; ++d) {
    if (autoPad == "VALID") pads[d] = pads[d + spatial] = 0;
    if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER")
      kernels::convSamePads(x[2 + d], wt[2 + d], strides[d], dilations[d], autoPad == "SAME_UPPER",
                            &pads[d], &pads[d + spatial]);
  }
  for (size_t d = 0; d < spatial; ++d) {
    if (pads[d] != pads[d + spatial]) {
      throw Error(ErrorCode::kUnsupported,
                  "layer '" + ctx.layer.name +
                      "' (Conv): asymmetric padding does not run on the cuda device yet");
    }
  }
  const auto i = [](int64_t v) { return static_cast<int>(v); };
  ConvGeometry g{};
  g.n = i(x[0]), g.c = i(x[1]), g.h = oneD ? 1 : i(x[2]), g.w = i(x.back());
  g.m = i(wt[0]), g.kh = oneD ? 1 : i(wt[2]), g.kw = i(wt.back());
  g.outH = oneD ? 1 : i(y[2]), g.outW = i(y.back());
  g.padH = oneD ? 0 : i(pads[0]), g.padW = i(pads[spatial - 1]);
  g.strideH = oneD ? 1 : i(strides[0]), g.strideW = i(strides.back());
  g.dilationH = oneD ? 1 : i(dilations[0]), g.dilationW = i(dilations.back());
  g.group = i(ctx.layer.attrInt("group", 1));
  return g;
}

// What the graph API fuses into an FP16 convolution: bias, residual and Relu (other
// activations keep the legacy calls and the epilogue kernel).
bool graphFusion(const OpContext& ctx, const kernels::Activation& act, ConvFusion* fusion) {
  if (act.kind != kernels::ActivationKind::kNone && act.kind != kernels::ActivationKind::kRelu)
    return false;
  fusion->bias = ctx.has(2);
  fusion->residual = ctx.has(3);
  fusion->relu = act.kind == kernels::ActivationKind::kRelu;
  return true;
}

ConvBuffers buffers(const OpContext& ctx) {
  ConvBuffers b;
  b.x = ctx.in[0].data;
  b.w = ctx.in[1].data;
  if (ctx.has(2)) b.bias = ctx.in[2].data;
  if (ctx.has(3)) b.residual = ctx.in[3].data;
  b.y = ctx.out[0];
  return b;
}

// The graph API's plan for an FP16 layer, its candidates checked against what the legacy
// algorithm `legacy` and the epilogue kernel compute (into a temporary buffer).
ConvGraphPlan graphPlan(OpContext& ctx, Launch& launch, const ConvState& s, const ConvGeometry& g,
                        const ConvFusion& fusion, const kernels::Activation& act,
                        const cudnnConvolutionFwdAlgoPerf_t& legacy) {
  auto handle = static_cast<cudnnHandle_t>(launch.libs->cudnn);
  const int64_t inner = int64_t{g.outH} * g.outW;
  void* reference = nullptr;
  checkCuda(ctx, cudaMalloc(&reference, 2 * static_cast<size_t>(int64_t{g.n} * g.m * inner)),
            "reference memory");
  const std::unique_ptr<void, cudaError_t (*)(void*)> owner(reference, cudaFree);
  void* workspace = legacy.memory > 0 ? launch.workspace(legacy.memory) : nullptr;
  const float one = 1.0f, zero = 0.0f;
  checkDnn(ctx,
           cudnnConvolutionForward(handle, &one, s.x, ctx.in[0].data, s.w, ctx.in[1].data, s.conv,
                                   legacy.algo, workspace, legacy.memory, &zero, s.y, reference),
           "reference convolution");
  auto* r = static_cast<__half*>(reference);
  const auto* bias = fusion.bias ? static_cast<const __half*>(ctx.in[2].data) : nullptr;
  const auto* residual = fusion.residual ? static_cast<const __half*>(ctx.in[3].data) : nullptr;
  checkCuda(ctx,
            biasActivation<__half>(r, r, g.n, g.m, inner, bias, residual, act, launch.stream, true),
            "reference epilogue");
  return chooseConvGraphPlan(handle, launch.stream, g, fusion, buffers(ctx), reference,
                             launch.workspace);
}

// Descriptors for the current input shape, and the fastest tactic that fits the workspace
// limit, timed on this GPU: for FP16 a plan of the graph API when it has one, else a legacy
// algorithm; FP32 layers take FMA math only (no TF32).
ConvState& setUp(OpContext& ctx, Launch& launch, bool half, const kernels::Activation& act) {
  auto* state = static_cast<ConvState*>(launch.state->get());
  if (state != nullptr && state->input == ctx.shape(0)) return *state;
  auto fresh = std::make_unique<ConvState>();
  ConvState& s = *fresh;
  s.input = ctx.shape(0);
  // The zero bias outlives the shape: CUDA graphs captured at earlier shapes still read it.
  if (state != nullptr) s.zeroBias = state->zeroBias;
  const ConvGeometry g = geometry(ctx);
  const auto T = half ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
  const auto F = half ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
  checkDnn(ctx, cudnnCreateTensorDescriptor(&s.x), "descriptor");
  checkDnn(ctx, cudnnCreateTensorDescriptor(&s.y), "descriptor");
  checkDnn(ctx, cudnnCreateTensorDescriptor(&s.bias), "descriptor");
  checkDnn(ctx, cudnnCreateFilterDescriptor(&s.w), "descriptor");
  checkDnn(ctx, cudnnCreateConvolutionDescriptor(&s.conv), "descriptor");
  checkDnn(ctx, cudnnCreateActivationDescriptor(&s.relu), "descriptor");
  checkDnn(ctx, cudnnSetTensor4dDescriptor(s.x, T, F, g.n, g.c, g.h, g.w), "input descriptor");
  checkDnn(ctx, cudnnSetTensor4dDescriptor(s.y, T, F, g.n, g.m, g.outH, g.outW),
           "output descriptor");
  checkDnn(ctx, cudnnSetTensor4dDescriptor(s.bias, CUDNN_TENSOR_NCHW, F, 1, g.m, 1, 1),
           "bias descriptor");
  checkDnn(ctx, cudnnSetFilter4dDescriptor(s.w, F, T, g.m, g.c / g.group, g.kh, g.kw),
           "filter descriptor");
  checkDnn(
      ctx,
      cudnnSetConvolution2dDescriptor(s.conv, g.padH, g.padW, g.strideH, g.strideW, g.dilationH,
                                      g.dilationW, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
      "convolution descriptor");
  checkDnn(ctx, cudnnSetConvolutionGroupCount(s.conv, g.group), "group count");
  // FP32 means FP32: no TF32 tensor-op rounding of the inputs. Half inputs: tensor cores.
  checkDnn(ctx, cudnnSetConvolutionMathType(s.conv, half ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH),
           "math type");
  checkDnn(
      ctx,
      cudnnSetActivationDescriptor(s.relu, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0),
      "activation descriptor");
  auto handle = static_cast<cudnnHandle_t>(launch.libs->cudnn);
  int outN = 0, outC = 0, outH = 0, outW = 0;
  checkDnn(ctx, cudnnGetConvolution2dForwardOutputDim(s.conv, s.x, s.w, &outN, &outC, &outH, &outW),
           "output size");
  ctx.require(outN == g.n && outC == g.m && outH == g.outH && outW == g.outW,
              "cuDNN computes another output size than the plan");
  ConvFusion fusion;
  const bool graph = half && graphFusion(ctx, act, &fusion);
  const TacticCache::Tactic tactic = launch.tactics->get(launch.layer, s.input, [&] {
    constexpr int kCandidates = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
    cudnnConvolutionFwdAlgoPerf_t perf[kCandidates];
    int found = 0;
    // Times every candidate on scratch buffers cuDNN allocates itself (blocking, once per
    // shape and engine).
    checkDnn(ctx,
             cudnnFindConvolutionForwardAlgorithm(handle, s.x, s.w, s.conv, s.y, kCandidates,
                                                  &found, perf),
             "algorithm search");
    const cudnnConvolutionFwdAlgoPerf_t* legacy = nullptr;
    for (int k = 0; k < found && legacy == nullptr; ++k) {
      if (perf[k].status != CUDNN_STATUS_SUCCESS || perf[k].memory > kMaxWorkspace) continue;
      const bool fma = perf[k].mathType == CUDNN_FMA_MATH || perf[k].mathType == CUDNN_DEFAULT_MATH;
      if (half || fma) legacy = &perf[k];
    }
    if (legacy == nullptr)
      ctx.fail(half ? "cuDNN offers no FP16 algorithm for this convolution"
                    : "cuDNN offers no FP32 algorithm for this convolution");
    // The graph plan's time includes its epilogue, the legacy time does not: a tie goes to the
    // graph.
    const ConvGraphPlan plan =
        graph ? graphPlan(ctx, launch, s, g, fusion, act, *legacy) : ConvGraphPlan{};
    if (plan.plan && plan.ms <= legacy->time)
      return TacticCache::Tactic{static_cast<int>(plan.engine), plan.workspace, plan.plan};
    return TacticCache::Tactic{static_cast<int>(legacy->algo), legacy->memory, nullptr};
  });
  if (tactic.plan) {
    s.graph = ConvGraphPlan{tactic.plan, tactic.workspace, tactic.algorithm, 0.0f};
  } else {
    s.algo = static_cast<cudnnConvolutionFwdAlgo_t>(tactic.algorithm);
  }
  s.workspace = tactic.workspace;
  launch.state->reset(fresh.release());
  return s;
}

// The epilogue kernel: bias, residual and activation on the convolution's output.
template <typename T>
void epilogue(OpContext& ctx, Launch& launch, const void* bias, const void* residual,
              const kernels::Activation& act) {
  const Dims& out = ctx.outShapes[0];
  const int64_t inner = out[1] == 0 ? 0 : shapeElements(out) / (out[0] * out[1]);
  auto* y = static_cast<T*>(ctx.out[0]);
  checkCuda(ctx,
            biasActivation<T>(y, y, out[0], out[1], inner, static_cast<const T*>(bias),
                              static_cast<const T*>(residual), act, launch.stream, launch.nhwc),
            "epilogue kernel");
}

void runConv(OpContext& ctx, Launch& launch) {
  const DataType type = ctx.outTypes[0];
  for (size_t i : {0, 1, 2, 3}) {
    if (ctx.has(i) && ctx.dtype(i) != type) {
      throw Error(ErrorCode::kUnsupported,
                  "layer '" + ctx.layer.name + "' (Conv): mixed input types on the cuda device");
    }
  }
  if (type != DataType::kFloat32 && type != DataType::kFloat16) {
    throw Error(ErrorCode::kUnsupported, "layer '" + ctx.layer.name +
                                             "' (Conv): the cuda device runs it on float32 or "
                                             "float16");
  }
  const bool half = type == DataType::kFloat16;
  const kernels::Activation act = fusedActivation(ctx);
  ConvState& s = setUp(ctx, launch, half, act);
  auto handle = static_cast<cudnnHandle_t>(launch.libs->cudnn);
  void* workspace = s.workspace > 0 ? launch.workspace(s.workspace) : nullptr;
  if (s.graph.plan) {
    ConvFusion fusion;
    graphFusion(ctx, act, &fusion);
    checkDnn(ctx, runConvGraphPlan(handle, s.graph, fusion, buffers(ctx), workspace),
             "convolution graph");
    return;
  }
  const void* bias = ctx.has(2) ? ctx.in[2].data : nullptr;
  const void* residual = ctx.has(3) ? ctx.in[3].data : nullptr;
  const void* x = ctx.in[0].data;
  const void* w = ctx.in[1].data;
  void* y = ctx.out[0];
  // Scaling factors are float for both configurations (float32 and half with float compute).
  const float one = 1.0f, zero = 0.0f;
  if (act.kind == kernels::ActivationKind::kRelu && s.fused) {
    if (bias == nullptr) {
      const size_t bytes = (half ? 2 : 4) * static_cast<size_t>(ctx.outShapes[0][1]);
      if (!s.zeroBias) {
        void* zeros = nullptr;
        checkCuda(ctx, cudaMalloc(&zeros, bytes), "bias memory");
        s.zeroBias.reset(zeros, [](void* p) { cudaFree(p); });
        checkCuda(ctx, cudaMemsetAsync(zeros, 0, bytes, launch.stream), "bias memory");
      }
      bias = s.zeroBias.get();
    }
    // y = relu(conv(x, w) + alpha2 * z + bias), z the residual (or y itself, weighted 0).
    const float alpha2 = residual != nullptr ? 1.0f : 0.0f;
    const cudnnStatus_t status = cudnnConvolutionBiasActivationForward(
        handle, &one, s.x, x, s.w, w, s.conv, s.algo, workspace, s.workspace, &alpha2, s.y,
        residual != nullptr ? residual : y, s.bias, bias, s.relu, s.y, y);
    if (status == CUDNN_STATUS_SUCCESS) return;
    if (status != CUDNN_STATUS_NOT_SUPPORTED) checkDnn(ctx, status, "fused convolution");
    s.fused = false;  // this algorithm has no fused form: convolve, then the epilogue kernel
    bias = ctx.has(2) ? ctx.in[2].data : nullptr;
  }
  checkDnn(ctx,
           cudnnConvolutionForward(handle, &one, s.x, x, s.w, w, s.conv, s.algo, workspace,
                                   s.workspace, &zero, s.y, y),
           "convolution");
  if (bias == nullptr && residual == nullptr && act.kind == kernels::ActivationKind::kNone) return;
  half ? epilogue<__half>(ctx, launch, bias, residual, act)
       : epilogue<float>(ctx, launch, bias, residual, act);
}

std::string convUnsupported(const LayerDesc& layer, const Network& network) {
  if (layer.inputs.size() < 2 || layer.inputs[1] < 0) return "Conv without weights";
  const size_t rank = network.tensors[layer.inputs[1]].shape.size();
  if (rank != 3 && rank != 4) return "only 1-D and 2-D convolutions run on cuda";
  const std::string autoPad = layer.attrString("auto_pad", "NOTSET");
  const std::vector<int64_t> pads = layer.attrInts("pads");
  if (autoPad == "NOTSET" && !pads.empty()) {
    const size_t half = pads.size() / 2;
    for (size_t d = 0; d < half; ++d)
      if (pads[d] != pads[d + half]) return "asymmetric padding";
  }
  return {};
}

}  // namespace

void registerConvOps(std::map<std::string, CudaOp>& table) {
  table["Conv"] = CudaOp{runConv, convUnsupported, Half::kWeights, true};
}
#else
// Built without cuDNN: Conv has no cuda implementation, and a cuda context says so.
void registerConvOps(std::map<std::string, CudaOp>&) {}
#endif

}  // namespace kiln::cuda
