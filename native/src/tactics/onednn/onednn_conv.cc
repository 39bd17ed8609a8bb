#include "tactics/onednn/onednn_conv.h"

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "dnnl.hpp"
#include "kiln/error.h"
#include "kiln/thread_pool.h"

#if DNNL_CPU_RUNTIME == DNNL_RUNTIME_OMP
// oneDNN's threads are an OpenMP team (Debian builds it so). Declared here rather than through
// <omp.h>, which not every compiler kiln builds with (clang for the sanitizers) has on its path.
extern "C" void omp_set_num_threads(int threads);
#elif DNNL_CPU_RUNTIME != DNNL_RUNTIME_SEQ
#error "kiln takes a oneDNN built with the OpenMP or the sequential CPU runtime"
#endif

namespace kiln::onednn {

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
constexpr memory::data_type kF32 = memory::data_type::f32;

const dnnl::engine& cpuEngine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// Appends act's post-ops to ops (null: only checks). False when oneDNN has no equivalent.
bool addActivation(const kernels::Activation& act, dnnl::post_ops* ops) {
  using A = dnnl::algorithm;
  using K = kernels::ActivationKind;
  const auto add = [&](A algo, float alpha, float beta) {
    if (ops != nullptr) ops->append_eltwise(1.0f, algo, alpha, beta);
  };
  switch (act.kind) {
    case K::kNone:
      break;
    case K::kRelu:
      add(A::eltwise_relu, 0, 0);
      break;
    case K::kLeakyRelu:
      add(A::eltwise_relu, act.alpha, 0);
      break;
    case K::kClip:
      add(A::eltwise_clip_v2, act.alpha, act.beta);
      break;
    case K::kSigmoid:
      add(A::eltwise_logistic, 0, 0);
      break;
    case K::kHardSigmoid:  // max(0, min(1, alpha x + beta)): oneDNN 2.6 has no single op for it
      add(A::eltwise_linear, act.alpha, act.beta);
      add(A::eltwise_clip_v2, 0, 1);
      break;
    case K::kHardSwish:
      add(A::eltwise_hardswish, 0, 0);
      break;
    case K::kSilu:
      add(A::eltwise_swish, 1, 0);
      break;
    case K::kGelu:
      add(A::eltwise_gelu_erf, 0, 0);
      break;
    case K::kGeluTanh:
      add(A::eltwise_gelu_tanh, 0, 0);
      break;
    case K::kTanh:
      add(A::eltwise_tanh, 0, 0);
      break;
    case K::kElu:
      add(A::eltwise_elu, act.alpha, 0);
      break;
    default:  // Softplus
      return false;
  }
  return true;
}

// What a primitive depends on besides the prepared weights: the input size and the pads
// (auto_pad SAME makes them follow the input).
using GeometryKey = std::array<int64_t, 7>;

GeometryKey geometryKey(const kernels::Conv2dParams& p) {
  return {p.batch, p.inH, p.inW, p.padTop, p.padLeft, p.padBottom, p.padRight};
}

struct Primitive {
  dnnl::convolution_forward conv;
  memory::desc src, dst, bias, scratchpad;
  dnnl::memory weights;  // in the layout conv reads
};

dnnl::convolution_forward::primitive_desc primitiveDesc(const kernels::Conv2dParams& p,
                                                        bool hasBias, bool hasResidual) {
  int64_t oh = 0, ow = 0;
  kernels::conv2dOutputShape(p, &oh, &ow);
  const memory::desc src({p.batch, p.inChannels, p.inH, p.inW}, kF32, Tag::nchw);
  const memory::desc dst({p.batch, p.outChannels, oh, ow}, kF32, Tag::nchw);
  const memory::dims weights = p.group == 1
                                   ? memory::dims{p.outChannels, p.inChannels, p.kernelH, p.kernelW}
                                   : memory::dims{p.group, p.outChannels / p.group,
                                                  p.inChannels / p.group, p.kernelH, p.kernelW};
  const memory::desc bias = hasBias ? memory::desc({p.outChannels}, kF32, Tag::x) : memory::desc();
  const dnnl::convolution_forward::desc desc(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src,
      memory::desc(weights, kF32, Tag::any), bias, dst, {p.strideH, p.strideW},
      {p.dilationH - 1, p.dilationW - 1}, {p.padTop, p.padLeft}, {p.padBottom, p.padRight});
  // kiln's epilogue order: bias (in the conv), then the residual, then the activation.
  dnnl::post_ops ops;
  if (hasResidual) ops.append_binary(dnnl::algorithm::binary_add, dst);
  if (!addActivation(p.activation, &ops))
    throw Error(ErrorCode::kUnsupported, "conv.onednn: the fused activation has no oneDNN post-op");
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  // The caller's scratchpad: oneDNN's own is shared by every thread unless it was built for
  // concurrent execution, and kiln runs contexts (and so this primitive) concurrently.
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return dnnl::convolution_forward::primitive_desc(desc, attr, cpuEngine());
}

[[noreturn]] void rethrow(const dnnl::error& e, const char* what) {
  throw Error(ErrorCode::kInternal, std::string("conv.onednn: oneDNN could not ") + what + ": " +
                                        e.what() + " (status " + std::to_string(e.status) + ")");
}

}  // namespace

struct ConvState {
  static constexpr size_t kMaxPrimitives = 32;
  kernels::Conv2dParams prepared;  // the geometry the weights were reordered for
  bool hasBias = false, hasResidual = false;
  dnnl::memory weights;
  mutable std::mutex mutex;
  mutable std::map<GeometryKey, std::shared_ptr<const Primitive>> primitives;

  // The primitive for p's geometry, made on first use. Another geometry may prefer another
  // weight layout: then the prepared weights are reordered once more, for it alone.
  std::shared_ptr<const Primitive> primitive(const kernels::Conv2dParams& p) const {
    const GeometryKey key = geometryKey(p);
    std::lock_guard<std::mutex> lock(mutex);
    const auto hit = primitives.find(key);
    if (hit != primitives.end()) return hit->second;
    auto made = std::make_shared<Primitive>();
    try {
      const auto pd = primitiveDesc(p, hasBias, hasResidual);
      made->conv = dnnl::convolution_forward(pd);
      made->src = pd.src_desc();
      made->dst = pd.dst_desc();
      made->bias = pd.bias_desc();
      made->scratchpad = pd.scratchpad_desc();
      made->weights = weights;
      if (pd.weights_desc() != weights.get_desc()) {
        dnnl::memory from = weights;  // a handle on the same buffer (execute takes non-const)
        made->weights = dnnl::memory(pd.weights_desc(), cpuEngine());
        dnnl::stream stream(cpuEngine());
        dnnl::reorder(from, made->weights).execute(stream, from, made->weights);
        stream.wait();
      }
    } catch (const dnnl::error& e) {
      rethrow(e, "make the primitive");
    }
    // Input sizes that keep changing (a dynamic image size) must not grow the cache without
    // bound: past a few dozen geometries it starts again (callers hold what they use).
    if (primitives.size() >= kMaxPrimitives) primitives.clear();
    primitives.emplace(key, made);
    return made;
  }
};

bool convApplies(const kernels::Conv2dParams& p) {
  return p.padTop >= 0 && p.padLeft >= 0 && p.padBottom >= 0 && p.padRight >= 0 &&
         addActivation(p.activation, nullptr);
}

std::shared_ptr<const ConvState> prepareConv(const kernels::Conv2dParams& p, const float* w,
                                             bool hasBias, bool hasResidual) {
  if (!convApplies(p))
    throw Error(ErrorCode::kUnsupported, "conv.onednn cannot run this layer's epilogue or pads");
  auto state = std::make_shared<ConvState>();
  state->prepared = p;
  state->hasBias = hasBias;
  state->hasResidual = hasResidual;
  try {
    const auto pd = primitiveDesc(p, hasBias, hasResidual);
    const memory::desc given =
        p.group == 1
            ? memory::desc({p.outChannels, p.inChannels, p.kernelH, p.kernelW}, kF32, Tag::oihw)
            : memory::desc(
                  {p.group, p.outChannels / p.group, p.inChannels / p.group, p.kernelH, p.kernelW},
                  kF32, Tag::goihw);
    dnnl::memory user(given, cpuEngine(), const_cast<float*>(w));
    state->weights = dnnl::memory(pd.weights_desc(), cpuEngine());
    dnnl::stream stream(cpuEngine());
    dnnl::reorder(user, state->weights).execute(stream, user, state->weights);
    stream.wait();
  } catch (const dnnl::error& e) {
    rethrow(e, "reorder the weights");
  }
  return state;
}

void runConv(const ConvState& state, const kernels::Conv2dParams& p, const float* x,
             const float* bias, const float* residual, float* y) {
  const kernels::Conv2dParams& q = state.prepared;
  if (p.inChannels != q.inChannels || p.outChannels != q.outChannels || p.kernelH != q.kernelH ||
      p.kernelW != q.kernelW || p.group != q.group || p.strideH != q.strideH ||
      p.strideW != q.strideW || p.dilationH != q.dilationH || p.dilationW != q.dilationW ||
      (bias != nullptr) != state.hasBias || (residual != nullptr) != state.hasResidual ||
      p.activation.kind != q.activation.kind)
    throw Error(ErrorCode::kInvalidArgument,
                "conv.onednn: the layer does not match the weights prepared for it");
  const std::shared_ptr<const Primitive> prim = state.primitive(p);
  try {
    const dnnl::engine& engine = cpuEngine();
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, dnnl::memory(prim->src, engine, const_cast<float*>(x))},
        {DNNL_ARG_WEIGHTS, prim->weights},
        {DNNL_ARG_DST, dnnl::memory(prim->dst, engine, y)},
    };
    if (bias != nullptr)
      args.emplace(DNNL_ARG_BIAS, dnnl::memory(prim->bias, engine, const_cast<float*>(bias)));
    // One scratchpad per thread, grown as needed: a thread runs one layer at a time.
    thread_local std::vector<uint8_t> scratchpad;
    if (scratchpad.size() < prim->scratchpad.get_size())
      scratchpad.resize(prim->scratchpad.get_size());
    args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(prim->scratchpad, engine, scratchpad.data()));
    if (residual != nullptr)
      args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1,
                   dnnl::memory(prim->dst, engine, const_cast<float*>(residual)));
#if DNNL_CPU_RUNTIME == DNNL_RUNTIME_OMP
    // As many oneDNN threads as the core has workers (which wait meanwhile): no more busy
    // threads than cores. The setting belongs to the calling thread, so it is made each call.
    omp_set_num_threads(globalThreadPool().size());
#endif
    dnnl::stream stream(engine);
    prim->conv.execute(stream, args);
    stream.wait();
  } catch (const dnnl::error& e) {
    rethrow(e, "run the convolution");
  }
}

}  // namespace kiln::onednn
