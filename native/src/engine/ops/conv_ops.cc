// Conv and ConvTranspose (1-D and 2-D; 1-D runs as 2-D with height 1). A builder fusion pass
// may add a fourth input to Conv, a residual added before the fused activation.
#include <algorithm>

#include "engine/ops/fused_activation.h"
#include "engine/ops/register.h"
#include "engine/ops/spatial_nd.h"
#include "kiln/cpu_features.h"
#include "kiln/kernels/conv.h"
#ifdef KILN_WITH_ONEDNN
#include "tactics/onednn/onednn_conv.h"
#endif

namespace kiln {
namespace {

struct Geometry {
  bool oneD = false;
  int64_t n = 0, c = 0, h = 1, w = 0;
  int64_t kh = 1, kw = 1;
  int64_t sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pt = 0, pl = 0, pb = 0, pr = 0;
};

// Reads the shared Conv/ConvTranspose attributes for a rank-3 or rank-4 input.
Geometry geometry(const OpContext& ctx, const Dims& x, const Dims& w) {
  Geometry g;
  ctx.require(x.size() == 3 || x.size() == 4,
              "only 1-D and 2-D convolutions are supported (input rank 3 or 4)");
  ctx.require(w.size() == x.size(), "weights must have the same rank as the input");
  g.oneD = x.size() == 3;
  g.n = x[0];
  g.c = x[1];
  g.h = g.oneD ? 1 : x[2];
  g.w = x.back();
  const size_t spatial = x.size() - 2;
  const std::vector<int64_t> kernel = ctx.layer.attrInts("kernel_shape", {w.begin() + 2, w.end()});
  const std::vector<int64_t> strides =
      ctx.layer.attrInts("strides", std::vector<int64_t>(spatial, 1));
  const std::vector<int64_t> dilations =
      ctx.layer.attrInts("dilations", std::vector<int64_t>(spatial, 1));
  const std::vector<int64_t> pads =
      ctx.layer.attrInts("pads", std::vector<int64_t>(2 * spatial, 0));
  ctx.require(kernel.size() == spatial && strides.size() == spatial &&
                  dilations.size() == spatial && pads.size() == 2 * spatial,
              "kernel_shape/strides/dilations/pads do not match the spatial rank");
  // The kernels read the weights with the attribute's kernel size: it must be theirs.
  ctx.require(std::equal(kernel.begin(), kernel.end(), w.begin() + 2, w.end()),
              "kernel_shape does not match the weights' spatial dims " + formatDims(w));
  // Bounds that keep the output-size arithmetic far from 64-bit overflow.
  constexpr int64_t kMaxSize = int64_t{1} << 31;
  for (const auto* list : {&kernel, &strides, &dilations, &pads})
    for (int64_t v : *list)
      ctx.require(v >= -kMaxSize && v <= kMaxSize,
                  "a kernel size, stride, dilation or pad is out of range");
  for (size_t d = 2; d < x.size(); ++d)
    ctx.require(x[d] <= kMaxSize, "spatial sizes above 2^31 are not supported");
  if (g.oneD) {
    g.kw = kernel[0], g.sw = strides[0], g.dw = dilations[0], g.pl = pads[0], g.pr = pads[1];
  } else {
    g.kh = kernel[0], g.kw = kernel[1], g.sh = strides[0], g.sw = strides[1];
    g.dh = dilations[0], g.dw = dilations[1];
    g.pt = pads[0], g.pl = pads[1], g.pb = pads[2], g.pr = pads[3];
  }
  for (int64_t v : {g.sh, g.sw, g.dh, g.dw})
    ctx.require(v >= 1, "strides and dilations must be >= 1");
  return g;
}

// The fields Conv2dParams and ConvTranspose2dParams share, from the parsed attributes.
template <typename Params>
void setGeometry(Params& p, const Geometry& g) {
  p.batch = g.n;
  p.inChannels = g.c;
  p.inH = g.h;
  p.inW = g.w;
  p.kernelH = g.kh;
  p.kernelW = g.kw;
  p.strideH = g.sh;
  p.strideW = g.sw;
  p.dilationH = g.dh;
  p.dilationW = g.dw;
  p.padTop = g.pt;
  p.padLeft = g.pl;
  p.padBottom = g.pb;
  p.padRight = g.pr;
}

kernels::Conv2dParams convParams(const OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  const Dims& w = ctx.shape(1);
  Geometry g = geometry(ctx, x, w);
  const std::string autoPad = ctx.layer.attrString("auto_pad", "NOTSET");
  if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    const bool upper = autoPad == "SAME_UPPER";
    if (!g.oneD) kernels::convSamePads(g.h, g.kh, g.sh, g.dh, upper, &g.pt, &g.pb);
    kernels::convSamePads(g.w, g.kw, g.sw, g.dw, upper, &g.pl, &g.pr);
  } else if (autoPad == "VALID") {
    g.pt = g.pl = g.pb = g.pr = 0;
  } else {
    ctx.require(autoPad == "NOTSET", "unknown auto_pad '" + autoPad + "'");
  }
  kernels::Conv2dParams p;
  setGeometry(p, g);
  p.outChannels = w[0];
  p.group = ctx.layer.attrInt("group", 1);
  ctx.require(p.group >= 1 && g.c % p.group == 0 && p.outChannels % p.group == 0,
              "group must divide the input and output channels");
  ctx.require(w[1] * p.group == g.c, "weights expect " + std::to_string(w[1] * p.group) +
                                         " input channels but the input has " +
                                         std::to_string(g.c));
  ctx.require(g.kh == (g.oneD ? 1 : w[2]) && g.kw == w.back(),
              "kernel_shape does not match the weights");
  return p;
}

void inferConv(OpContext& ctx) {
  if (isSpatialNd(ctx)) return inferConvNd(ctx);
  ctx.requireFloatInputs({0, 1, 2, 3});
  ctx.outTypes[0] = DataType::kFloat32;  // what the kernel writes, whatever the plan declares
  const kernels::Conv2dParams p = convParams(ctx);
  int64_t oh = 0, ow = 0;
  kernels::conv2dOutputShape(p, &oh, &ow);
  ctx.require(oh >= 1 && ow >= 1,
              "the output would be empty: the kernel is larger than the padded input");
  if (ctx.has(2))
    ctx.require(shapeElements(ctx.shape(2)) == p.outChannels,
                "bias must have one value per output channel");
  ctx.outShapes[0] = ctx.shape(0).size() == 3 ? Dims{p.batch, p.outChannels, ow}
                                              : Dims{p.batch, p.outChannels, oh, ow};
  if (ctx.has(3))
    ctx.require(ctx.shape(3) == ctx.outShapes[0],
                "the fused residual must have the output's shape");
}

// Constant 2-D weights packed once at engine load, for the ISA tier active then.
struct PackedConv {
  std::vector<uint8_t> blob;
  CpuIsa isa;
};

// The conv tactics' names in plans and timing caches.
constexpr const char* kTacticGemm = "conv.gemm";
constexpr const char* kTacticWinograd = "conv.winograd";

const char* tacticName(kernels::ConvAlgo algo) {
  return algo == kernels::ConvAlgo::kWinograd ? kTacticWinograd : kTacticGemm;
}

#ifdef KILN_WITH_ONEDNN
// The oneDNN tactic's state: its weights reordered for the primitive at the declared input
// size (a mid-network stand-in where it is dynamic), with the layer's fused epilogue.
std::shared_ptr<const void> prepareOnednnConv(const LayerDesc& layer, const Network& network,
                                              kernels::Conv2dParams p) {
  const Dims x = layer.inputs[0] >= 0 ? network.tensors[layer.inputs[0]].shape : Dims{};
  const bool known = x.size() == 4 && x[0] > 0 && x[2] > 0 && x[3] > 0;
  p.batch = known ? x[0] : 1;
  p.inH = known ? x[2] : 56;
  p.inW = known ? x[3] : 56;
  p.activation = fusedActivation(OpContext(layer));
  const auto has = [&](size_t i) { return layer.inputs.size() > i && layer.inputs[i] >= 0; };
  const TensorDesc& w = network.tensors[layer.inputs[1]];
  try {
    return onednn::prepareConv(
        p, reinterpret_cast<const float*>(network.weights[w.constant].data()), has(2), has(3));
  } catch (const Error&) {
    return nullptr;  // oneDNN refused the layer: the plain path runs it (and times slower)
  }
}
#endif

std::shared_ptr<const void> prepareConv(const LayerDesc& layer, const Network& network) {
  if (layer.inputs.size() < 2 || layer.inputs[1] < 0) return nullptr;
  const TensorDesc& w = network.tensors[layer.inputs[1]];
  if (w.constant < 0 || w.dtype != DataType::kFloat32 || w.shape.size() != 4) return nullptr;
  // Packing depends on channels, groups, kernel size and (for the 1x1 path) strides and pads,
  // never on the spatial size of the input, which only steers the heuristic.
  kernels::Conv2dParams p;
  p.group = layer.attrInt("group", 1);
  p.outChannels = w.shape[0];
  // A hostile group count is refused when the layer's shapes are checked; nothing to pack.
  if (p.group < 1 || __builtin_mul_overflow(w.shape[1], p.group, &p.inChannels)) return nullptr;
  p.kernelH = w.shape[2];
  p.kernelW = w.shape[3];
  p.inH = p.kernelH;
  p.inW = p.kernelW;
  const std::vector<int64_t> strides = layer.attrInts("strides", {1, 1});
  const std::vector<int64_t> pads = layer.attrInts("pads", {0, 0, 0, 0});
  const std::vector<int64_t> dilations = layer.attrInts("dilations", {1, 1});
  if (strides.size() != 2 || pads.size() != 4 || dilations.size() != 2) return nullptr;
  p.strideH = strides[0], p.strideW = strides[1];
  p.padTop = pads[0], p.padLeft = pads[1], p.padBottom = pads[2], p.padRight = pads[3];
  p.dilationH = dilations[0], p.dilationW = dilations[1];
#ifdef KILN_WITH_ONEDNN
  if (layer.tactic == onednn::kConvTactic) return prepareOnednnConv(layer, network, p);
#endif
  kernels::ConvAlgo algo = kernels::ConvAlgo::kGemm;
  if (layer.tactic == kTacticWinograd) {
    algo = kernels::ConvAlgo::kWinograd;
  } else if (layer.tactic.empty()) {
    // No timed choice (a level-0 build or an older plan): the heuristic, at the input's
    // declared spatial size when it is fixed, else at a mid-network size.
    const Dims x = layer.inputs[0] >= 0 ? network.tensors[layer.inputs[0]].shape : Dims{};
    const bool known = x.size() == 4 && x[2] > 0 && x[3] > 0;
    p.inH = known ? x[2] : 56;
    p.inW = known ? x[3] : 56;
    try {
      algo = kernels::conv2dHeuristicAlgo(p);
    } catch (const Error&) {
      algo = kernels::ConvAlgo::kGemm;
    }
    p.inH = p.kernelH, p.inW = p.kernelW;
  }
  try {
    auto packed = std::make_shared<PackedConv>();
    const float* weights = reinterpret_cast<const float*>(network.weights[w.constant].data());
    if (!kernels::conv2dAlgoApplies(p, algo)) algo = kernels::ConvAlgo::kGemm;
    packed->blob = kernels::packConv2dWeights(p, weights, algo);
    packed->isa = activeIsa();
    return packed;
  } catch (const Error&) {
    return nullptr;  // a shape the packer does not take: the plain path runs it
  }
}

// The heuristic's choice first, then the other algorithms that apply at these shapes; only
// layers whose weights prepareConv packs have a choice.
std::vector<std::string> convTactics(const OpContext& ctx) {
  if (isSpatialNd(ctx) || !ctx.has(1) || ctx.shape(0).size() != 4 || ctx.shape(1).size() != 4)
    return {};
  const kernels::Conv2dParams p = convParams(ctx);
  const kernels::ConvAlgo first = kernels::conv2dHeuristicAlgo(p);
  std::vector<std::string> names{tacticName(first)};
  for (kernels::ConvAlgo algo : {kernels::ConvAlgo::kGemm, kernels::ConvAlgo::kWinograd})
    if (algo != first && kernels::conv2dAlgoApplies(p, algo)) names.push_back(tacticName(algo));
#ifdef KILN_WITH_ONEDNN
  // Only with constant weights (prepared once) and an epilogue oneDNN can express.
  kernels::Conv2dParams fused = p;
  fused.activation = fusedActivation(ctx);
  if (ctx.in[1].data != nullptr && ctx.dtype(0) == DataType::kFloat32 && onednn::convApplies(fused))
    names.push_back(onednn::kConvTactic);
#endif
  return names;
}

void runConv(OpContext& ctx) {
  if (isSpatialNd(ctx)) return runConvNd(ctx);
  kernels::Conv2dParams p = convParams(ctx);
  p.activation = fusedActivation(ctx);
  const float* bias = ctx.has(2) ? ctx.f32(2) : nullptr;
  const float* residual = ctx.has(3) ? ctx.f32(3) : nullptr;
#ifdef KILN_WITH_ONEDNN
  if (ctx.layer.tactic == onednn::kConvTactic && ctx.prepared != nullptr)
    return onednn::runConv(*static_cast<const onednn::ConvState*>(ctx.prepared), p, ctx.f32(0),
                           bias, residual, ctx.outF32(0));
#endif
  const auto* packed = static_cast<const PackedConv*>(ctx.prepared);
  if (packed != nullptr && packed->isa == activeIsa()) {
    try {
      kernels::conv2dPacked(p, ctx.f32(0), packed->blob.data(), packed->blob.size(), bias, residual,
                            ctx.outF32(0));
      return;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kInvalidArgument) throw;
      // Packed for other geometry (pads from auto_pad, a 1-D conv): run unpacked.
    }
  }
  kernels::conv2d(p, ctx.f32(0), ctx.f32(1), bias, residual, ctx.outF32(0));
}

void scratchConv(const OpContext& ctx, kernels::ScratchNeed* need) {
  if (isSpatialNd(ctx)) return;  // direct loops, no scratch
  const kernels::Conv2dParams p = convParams(ctx);
#ifdef KILN_WITH_ONEDNN
  if (ctx.layer.tactic == onednn::kConvTactic && ctx.prepared != nullptr)
    return;  // a per-thread scratchpad of its own (onednn_conv.cc)
#endif
  const auto* packed = static_cast<const PackedConv*>(ctx.prepared);
  if (packed == nullptr || packed->isa != activeIsa())
    return kernels::conv2dScratch(p, false, need);
  kernels::ConvAlgo algo;
  try {
    algo = kernels::validatePackedConv2dWeights(p, packed->blob.data(), packed->blob.size());
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kInvalidArgument) throw;
    return kernels::conv2dScratch(p, false, need);  // runConv falls back to the plain path
  }
  kernels::conv2dScratch(p, true, need, algo);
}

kernels::ConvTranspose2dParams convTransposeParams(const OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  const Dims& w = ctx.shape(1);
  Geometry g = geometry(ctx, x, w);
  kernels::ConvTranspose2dParams p;
  setGeometry(p, g);
  p.group = ctx.layer.attrInt("group", 1);
  p.outChannels = w[1] * p.group;
  ctx.require(w[0] == g.c, "weights expect " + std::to_string(w[0]) + " input channels");
  const size_t spatial = x.size() - 2;
  const std::vector<int64_t> outPad =
      ctx.layer.attrInts("output_padding", std::vector<int64_t>(spatial, 0));
  ctx.require(outPad.size() == spatial, "output_padding does not match the spatial rank");
  for (int64_t v : outPad)
    ctx.require(v >= 0 && v <= (int64_t{1} << 31), "output_padding is out of range");
  p.outputPaddingH = g.oneD ? 0 : outPad[0];
  p.outputPaddingW = outPad.back();
  const std::string autoPad = ctx.layer.attrString("auto_pad", "NOTSET");
  const bool same = autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER";
  ctx.require(same || autoPad == "NOTSET" || autoPad == "VALID",
              "unknown auto_pad '" + autoPad + "'");
  if (autoPad == "VALID") p.padTop = p.padLeft = p.padBottom = p.padRight = 0;
  if (same || ctx.layer.attrs.count("output_shape")) {
    // The pads that give the wanted output size (input * stride for SAME_*), split as the
    // spec's reference does (floor division); a negative trailing pad extends the output,
    // which is what output padding does.
    std::vector<int64_t> want = ctx.layer.attrInts("output_shape");
    if (want.size() == x.size()) want.erase(want.begin(), want.begin() + 2);
    if (want.empty())
      for (size_t d = 0; d < spatial; ++d)
        want.push_back(x[2 + d] * (g.oneD ? g.sw : (d == 0 ? g.sh : g.sw)));
    ctx.require(want.size() == spatial, "output_shape does not match the spatial rank");
    for (int64_t v : want)
      ctx.require(v >= 0 && v <= (int64_t{1} << 31), "output_shape is out of range");
    const auto floorHalf = [](int64_t v) { return v >= 0 ? v / 2 : -((1 - v) / 2); };
    const auto split = [&](int64_t in, int64_t k, int64_t s, int64_t d, int64_t op, int64_t out,
                           int64_t* begin, int64_t* end, int64_t* outputPadding) {
      const int64_t total = s * (in - 1) + op + (k - 1) * d + 1 - out;
      const int64_t half = floorHalf(total);
      *begin = autoPad == "SAME_UPPER" ? half : total - half;
      *end = total - *begin;
      ctx.require(*begin >= 0, "output_shape asks for more leading output than the kernel gives");
      if (*end < 0) {
        *outputPadding += -*end;
        *end = 0;
      }
    };
    if (!g.oneD)
      split(p.inH, p.kernelH, p.strideH, p.dilationH, p.outputPaddingH, want[0], &p.padTop,
            &p.padBottom, &p.outputPaddingH);
    split(p.inW, p.kernelW, p.strideW, p.dilationW, p.outputPaddingW, want.back(), &p.padLeft,
          &p.padRight, &p.outputPaddingW);
  }
  return p;
}

void inferConvTranspose(OpContext& ctx) {
  ctx.requireFloatInputs({0, 1, 2});
  ctx.outTypes[0] = DataType::kFloat32;  // what the kernel writes, whatever the plan declares
  const kernels::ConvTranspose2dParams p = convTransposeParams(ctx);
  if (ctx.has(2))
    ctx.require(shapeElements(ctx.shape(2)) == p.outChannels,
                "bias must have one value per output channel");
  int64_t oh = 0, ow = 0;
  kernels::convTranspose2dOutputShape(p, &oh, &ow);
  ctx.outShapes[0] = ctx.shape(0).size() == 3 ? Dims{p.batch, p.outChannels, ow}
                                              : Dims{p.batch, p.outChannels, oh, ow};
}

void runConvTranspose(OpContext& ctx) {
  kernels::convTranspose2d(convTransposeParams(ctx), ctx.f32(0), ctx.f32(1),
                           ctx.has(2) ? ctx.f32(2) : nullptr, ctx.outF32(0));
}

void scratchConvTranspose(const OpContext& ctx, kernels::ScratchNeed* need) {
  kernels::convTranspose2dScratch(convTransposeParams(ctx), need);
}

}  // namespace

void registerConvOps(OpTable& table) {
  table["Conv"] = OpImpl{inferConv, runConv, true, prepareConv, scratchConv, convTactics};
  table["ConvTranspose"] =
      OpImpl{inferConvTranspose, runConvTranspose, true, nullptr, scratchConvTranspose};
}

}  // namespace kiln
