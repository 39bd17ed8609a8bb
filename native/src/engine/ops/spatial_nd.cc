#include "engine/ops/spatial_nd.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/ops/fused_activation.h"
#include "kiln/kernels/cast.h"
#include "kiln/kernels/conv_integer.h"
#include "kiln/kernels/scratch.h"

namespace kiln {
namespace {

// One spatial window geometry: per spatial dim the input and output sizes, kernel, stride,
// dilation and leading/trailing pads.
struct Window {
  std::vector<int64_t> in, out, kernel, stride, dilation, padBegin, padEnd;
  size_t rank() const { return in.size(); }
};

// Reads kernel_shape (or `kernel` when the op has none)/strides/dilations/pads/auto_pad and
// computes the output size (floor, or ceil when `ceilMode`).
Window window(const OpContext& ctx, const std::vector<int64_t>& kernelDefault, bool ceilMode) {
  const Dims& x = ctx.shape(0);
  ctx.require(x.size() >= 3, "input must be [N, C, spatial...]");
  const size_t n = x.size() - 2;
  Window w;
  w.in.assign(x.begin() + 2, x.end());
  w.kernel = ctx.layer.attrInts("kernel_shape", kernelDefault);
  w.stride = ctx.layer.attrInts("strides", std::vector<int64_t>(n, 1));
  w.dilation = ctx.layer.attrInts("dilations", std::vector<int64_t>(n, 1));
  const std::vector<int64_t> pads = ctx.layer.attrInts("pads", std::vector<int64_t>(2 * n, 0));
  ctx.require(w.kernel.size() == n && w.stride.size() == n && w.dilation.size() == n &&
                  pads.size() == 2 * n,
              "kernel_shape/strides/dilations/pads do not match the spatial rank");
  w.padBegin.assign(pads.begin(), pads.begin() + static_cast<int64_t>(n));
  w.padEnd.assign(pads.begin() + static_cast<int64_t>(n), pads.end());
  const std::string autoPad = ctx.layer.attrString("auto_pad", "NOTSET");
  for (size_t d = 0; d < n; ++d) {
    // Bounds that keep the window arithmetic far from 64-bit overflow.
    constexpr int64_t kMaxSize = int64_t{1} << 31;
    ctx.require(w.stride[d] >= 1 && w.dilation[d] >= 1 && w.kernel[d] >= 1 &&
                    w.stride[d] <= kMaxSize && w.dilation[d] <= kMaxSize && w.kernel[d] <= kMaxSize,
                "kernel, strides and dilations must be in [1, 2^31]");
    ctx.require(w.padBegin[d] >= 0 && w.padEnd[d] >= 0 && w.padBegin[d] <= kMaxSize &&
                    w.padEnd[d] <= kMaxSize && w.in[d] <= kMaxSize,
                "pads must be in [0, 2^31] and spatial sizes at most 2^31");
    const int64_t span = (w.kernel[d] - 1) * w.dilation[d] + 1;
    if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
      const int64_t out = (w.in[d] + w.stride[d] - 1) / w.stride[d];
      const int64_t total = std::max<int64_t>(0, (out - 1) * w.stride[d] + span - w.in[d]);
      const int64_t small = total / 2;
      w.padBegin[d] = autoPad == "SAME_UPPER" ? small : total - small;
      w.padEnd[d] = total - w.padBegin[d];
    } else if (autoPad == "VALID") {
      w.padBegin[d] = w.padEnd[d] = 0;
    } else {
      ctx.require(autoPad == "NOTSET", "unknown auto_pad '" + autoPad + "'");
    }
    const int64_t room = w.in[d] + w.padBegin[d] + w.padEnd[d] - span;
    ctx.require(room >= 0, "the window is larger than the padded input");
    int64_t out = (ceilMode ? (room + w.stride[d] - 1) / w.stride[d] : room / w.stride[d]) + 1;
    // A last window starting in the trailing padding is dropped (ceil mode only).
    if (ceilMode && (out - 1) * w.stride[d] >= w.in[d] + w.padBegin[d]) --out;
    w.out.push_back(out);
  }
  return w;
}

int64_t product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t d : v) p *= d;
  return p;
}

// Advances a multi-index over `dims`; false once it wraps around.
bool next(std::vector<int64_t>& pos, const std::vector<int64_t>& dims) {
  for (size_t d = dims.size(); d-- > 0;) {
    if (++pos[d] < dims[d]) return true;
    pos[d] = 0;
  }
  return false;
}

Window convWindow(const OpContext& ctx, size_t weightInput = 1) {
  const Dims& x = ctx.shape(0);
  const Dims& w = ctx.shape(weightInput);
  ctx.require(w.size() == x.size(), "weights must have the same rank as the input");
  Window win = window(ctx, std::vector<int64_t>(w.begin() + 2, w.end()), false);
  for (size_t d = 0; d < win.rank(); ++d)
    ctx.require(win.kernel[d] == w[d + 2], "kernel_shape does not match the weights");
  return win;
}

}  // namespace

void inferConvNd(OpContext& ctx) {
  ctx.requireFloatInputs({0, 1, 2, 3});
  ctx.outTypes[0] = DataType::kFloat32;  // what the kernel writes, whatever the plan declares
  const Dims& x = ctx.shape(0);
  const Dims& w = ctx.shape(1);
  const Window win = convWindow(ctx);
  const int64_t group = ctx.layer.attrInt("group", 1);
  ctx.require(group >= 1 && x[1] % group == 0 && w[0] % group == 0 && w[1] * group == x[1],
              "group and weights do not match the input channels");
  if (ctx.has(2))
    ctx.require(shapeElements(ctx.shape(2)) == w[0], "bias must have one value per output channel");
  Dims y{x[0], w[0]};
  y.insert(y.end(), win.out.begin(), win.out.end());
  ctx.outShapes[0] = y;
  if (ctx.has(3)) ctx.require(ctx.shape(3) == y, "the fused residual must have the output's shape");
}

void runConvNd(OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  const Dims& wd = ctx.shape(1);
  const Window win = convWindow(ctx);
  const size_t n = win.rank();
  const int64_t group = ctx.layer.attrInt("group", 1);
  const int64_t batch = x[0], inC = x[1], outC = wd[0];
  const int64_t inPerGroup = inC / group, outPerGroup = outC / group;
  const int64_t inSize = product(win.in), outSize = product(win.out);
  const int64_t kSize = product(win.kernel);
  const float* src = ctx.f32(0);
  const float* weights = ctx.f32(1);
  const float* bias = ctx.has(2) ? ctx.f32(2) : nullptr;
  float* dst = ctx.outF32(0);
  // Input offset of each kernel tap relative to a window origin, and its per-dim offsets.
  std::vector<std::vector<int64_t>> taps;
  std::vector<int64_t> k(n, 0);
  do {
    std::vector<int64_t> t(n);
    for (size_t d = 0; d < n; ++d) t[d] = k[d] * win.dilation[d];
    taps.push_back(t);
  } while (next(k, win.kernel));
  std::vector<int64_t> o(n, 0);
  for (int64_t op = 0; op < outSize; ++op) {
    // Each tap's flat input offset, or -1 where it falls into padding.
    std::vector<int64_t> offsets(static_cast<size_t>(kSize));
    for (int64_t t = 0; t < kSize; ++t) {
      int64_t offset = 0;
      for (size_t d = 0; d < n && offset >= 0; ++d) {
        const int64_t i = o[d] * win.stride[d] - win.padBegin[d] + taps[t][d];
        offset = (i < 0 || i >= win.in[d]) ? -1 : offset * win.in[d] + i;
      }
      offsets[t] = offset;
    }
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t oc = 0; oc < outC; ++oc) {
        const int64_t g = oc / outPerGroup;
        double acc = bias ? bias[oc] : 0.0;
        for (int64_t ic = 0; ic < inPerGroup; ++ic) {
          const float* plane = src + (b * inC + g * inPerGroup + ic) * inSize;
          const float* kernel = weights + (oc * inPerGroup + ic) * kSize;
          for (int64_t t = 0; t < kSize; ++t)
            if (offsets[t] >= 0) acc += static_cast<double>(plane[offsets[t]]) * kernel[t];
        }
        dst[(b * outC + oc) * outSize + op] = static_cast<float>(acc);
      }
    }
    next(o, win.out);
  }
  const size_t total = static_cast<size_t>(shapeElements(ctx.outShapes[0]));
  if (ctx.has(3)) {
    const float* residual = ctx.f32(3);
    for (size_t i = 0; i < total; ++i) dst[i] += residual[i];
  }
  const kernels::Activation act = fusedActivation(ctx);
  if (act.kind != kernels::ActivationKind::kNone) kernels::applyActivation(act, dst, total);
}

void inferPoolNd(OpContext& ctx, kernels::PoolKind kind) {
  ctx.requireFloatInputs({0});
  ctx.outTypes[0] = DataType::kFloat32;  // what the kernel writes, whatever the plan declares
  ctx.require(ctx.shape(0).size() >= 3, "input must be [N, C, spatial...]");
  ctx.require(ctx.layer.outputs.size() == 1 || kind == kernels::PoolKind::kMax,
              "only MaxPool has an Indices output");
  ctx.require(
      kind == kernels::PoolKind::kMax || !ctx.layer.attrs.count("dilations") ||
          ctx.layer.attrInts("dilations") == std::vector<int64_t>(ctx.shape(0).size() - 2, 1),
      "AveragePool with dilations is not supported");
  const Window win = window(ctx, {}, ctx.layer.attrInt("ceil_mode", 0) != 0);
  const Dims& x = ctx.shape(0);
  Dims y{x[0], x[1]};
  y.insert(y.end(), win.out.begin(), win.out.end());
  ctx.outShapes[0] = y;
  if (ctx.outShapes.size() > 1) {
    ctx.outShapes[1] = y;
    ctx.outTypes[1] = DataType::kInt64;
  }
}

std::vector<kernels::PoolAxis> poolNdAxes(const OpContext& ctx) {
  const Window win = window(ctx, {}, ctx.layer.attrInt("ceil_mode", 0) != 0);
  std::vector<kernels::PoolAxis> axes(win.rank());
  for (size_t d = 0; d < win.rank(); ++d)
    axes[d] = {win.in[d],       win.out[d],      win.kernel[d], win.stride[d],
               win.dilation[d], win.padBegin[d], win.padEnd[d]};
  return axes;
}

void runPoolNd(OpContext& ctx, kernels::PoolKind kind) {
  const Dims& x = ctx.shape(0);
  const std::vector<kernels::PoolAxis> axes = poolNdAxes(ctx);
  const int64_t planes = x[0] * x[1];
  if (ctx.out.size() > 1) {
    // storage_order = 1 numbers the spatial positions column-major (the first dim fastest).
    return kernels::maxPoolWithIndices(planes, axes, ctx.layer.attrInt("storage_order", 0) != 0,
                                       ctx.f32(0), ctx.outF32(0),
                                       static_cast<int64_t*>(ctx.out[1]));
  }
  kernels::poolSeparable(kind, ctx.layer.attrInt("count_include_pad", 0) != 0, planes, axes,
                         ctx.f32(0), ctx.outF32(0));
}

namespace {

// Element k of a zero-point input as an int (0 when absent); per-channel when it has > 1 value.
int32_t zeroPointAt(const OpContext& ctx, size_t input, int64_t k) {
  if (!ctx.has(input)) return 0;
  const int64_t n = shapeElements(ctx.shape(input));
  int32_t v = 0;
  kernels::cast(static_cast<const uint8_t*>(ctx.in[input].data) +
                    (n > 1 ? k : 0) * static_cast<int64_t>(dataTypeSize(ctx.dtype(input))),
                ctx.dtype(input), &v, DataType::kInt32, 1);
  return v;
}

// The integer convolution of input 0 by the weights at wIn: geometry and types only, which is
// all its scratch bound needs (input data may be unknown then).
kernels::IntegerConvParams integerConvGeometry(const OpContext& ctx, size_t wIn) {
  const Window win = convWindow(ctx, wIn);
  kernels::IntegerConvParams p;
  p.batch = ctx.shape(0)[0];
  p.inChannels = ctx.shape(0)[1];
  p.outChannels = ctx.shape(wIn)[0];
  p.group = ctx.layer.attrInt("group", 1);
  p.in = win.in;
  p.out = win.out;
  p.kernel = win.kernel;
  p.stride = win.stride;
  p.dilation = win.dilation;
  p.padBegin = win.padBegin;
  p.xSigned = ctx.dtype(0) == DataType::kInt8;
  p.wSigned = ctx.dtype(wIn) == DataType::kInt8;
  return p;
}

// The int32 sums (x - x_zero_point) * (w - w_zero_point) of the convolution, into y.
void integerConvSums(const OpContext& ctx, size_t xZp, size_t wIn, size_t wZp, int32_t* y) {
  kernels::IntegerConvParams p = integerConvGeometry(ctx, wIn);
  p.xZeroPoint = zeroPointAt(ctx, xZp, 0);
  const bool perChannel = ctx.has(wZp) && shapeElements(ctx.shape(wZp)) > 1;
  p.wZeroPoints.assign(perChannel ? static_cast<size_t>(p.outChannels) : 1, 0);
  for (size_t m = 0; m < p.wZeroPoints.size(); ++m)
    p.wZeroPoints[m] = zeroPointAt(ctx, wZp, static_cast<int64_t>(m));
  kernels::integerConv(p, ctx.in[0].data, ctx.in[wIn].data, y);
}

// x and w are 8-bit; x's zero point is a scalar, w's a scalar or one per output channel, each
// of its tensor's type (as ONNX defines ConvInteger and QLinearConv).
void inferIntegerConv(OpContext& ctx, size_t xZp, size_t wIn, size_t wZp) {
  const Dims& x = ctx.shape(0);
  const Dims& w = ctx.shape(wIn);
  for (size_t i : {size_t{0}, wIn}) {
    const DataType t = ctx.dtype(i);
    ctx.require(t == DataType::kUInt8 || t == DataType::kInt8, "x and w must be 8-bit integers");
  }
  ctx.require(x.size() >= 3, "input must be [N, C, spatial...]");
  const Window win = convWindow(ctx, wIn);
  const int64_t group = ctx.layer.attrInt("group", 1);
  ctx.require(group >= 1 && x[1] % group == 0 && w[0] % group == 0 && w[1] * group == x[1],
              "group and weights do not match the input channels");
  if (ctx.has(xZp))
    ctx.require(shapeElements(ctx.shape(xZp)) == 1 && ctx.dtype(xZp) == ctx.dtype(0),
                "x_zero_point must be a scalar of x's type");
  if (ctx.has(wZp)) {
    const int64_t n = shapeElements(ctx.shape(wZp));
    ctx.require((n == 1 || n == w[0]) && ctx.dtype(wZp) == ctx.dtype(wIn),
                "w_zero_point must be a scalar or one per output channel, of w's type");
  }
  Dims y{x[0], w[0]};
  y.insert(y.end(), win.out.begin(), win.out.end());
  ctx.outShapes[0] = y;
}

}  // namespace

void inferConvInteger(OpContext& ctx) {
  inferIntegerConv(ctx, 2, 1, 3);
  ctx.outTypes[0] = DataType::kInt32;
}

void runConvInteger(OpContext& ctx) {
  integerConvSums(ctx, 2, 1, 3, static_cast<int32_t*>(ctx.out[0]));
}

void scratchConvInteger(const OpContext& ctx, kernels::ScratchNeed* need) {
  kernels::integerConvScratch(integerConvGeometry(ctx, 1), need);
}

// QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B): the integer convolution
// plus the int32 bias, rescaled by x_scale * w_scale / y_scale, rounded half to even, shifted
// by y_zp and saturated.
void inferQLinearConv(OpContext& ctx) {
  inferIntegerConv(ctx, 2, 3, 5);
  ctx.requireFloatInputs({1, 4, 6});
  ctx.outTypes[0] = ctx.has(7) ? ctx.dtype(7) : ctx.dtype(0);
}

void scratchQLinearConv(const OpContext& ctx, kernels::ScratchNeed* need) {
  kernels::integerConvScratch(integerConvGeometry(ctx, 3), need);
  // The int32 sums, held while they are requantized.
  need->transientBytes = std::max<int64_t>(
      need->transientBytes, kernels::scratchProduct(shapeElements(ctx.outShapes[0]), 4));
}

void runQLinearConv(OpContext& ctx) {
  const Dims& y = ctx.outShapes[0];
  std::vector<int32_t> acc(static_cast<size_t>(shapeElements(y)));
  integerConvSums(ctx, 2, 3, 5, acc.data());
  const int64_t outC = y[1];
  const int64_t inner = shapeElements(Dims(y.begin() + 2, y.end()));
  const float xs = ctx.f32(1)[0], ys = ctx.f32(6)[0];
  const int64_t wsCount = shapeElements(ctx.shape(4));
  const auto* bias = ctx.has(8) ? static_cast<const int32_t*>(ctx.in[8].data) : nullptr;
  const bool isSigned = ctx.outTypes[0] == DataType::kInt8;
  const double lo = isSigned ? -128 : 0, hi = isSigned ? 127 : 255;
  for (size_t i = 0; i < acc.size(); ++i) {
    const int64_t oc = (static_cast<int64_t>(i) / inner) % outC;
    const float scale = xs * ctx.f32(4)[wsCount > 1 ? oc : 0] / ys;
    const double v = std::nearbyint((static_cast<double>(acc[i]) + (bias ? bias[oc] : 0)) * scale) +
                     zeroPointAt(ctx, 7, 0);
    // NaN (a NaN scale or input) has no integer: it becomes 0 rather than undefined behaviour.
    const double q = std::isnan(v) ? 0 : std::min(std::max(v, lo), hi);
    if (isSigned)
      static_cast<int8_t*>(ctx.out[0])[i] = static_cast<int8_t>(q);
    else
      static_cast<uint8_t*>(ctx.out[0])[i] = static_cast<uint8_t>(q);
  }
}

namespace {

// The unpooled shape the indices refer to: (in - 1) * stride + kernel - pads per spatial dim.
Dims unpooledShape(const OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  const size_t n = x.size() - 2;
  const std::vector<int64_t> kernel = ctx.layer.attrInts("kernel_shape");
  const std::vector<int64_t> stride = ctx.layer.attrInts("strides", std::vector<int64_t>(n, 1));
  const std::vector<int64_t> pads = ctx.layer.attrInts("pads", std::vector<int64_t>(2 * n, 0));
  ctx.require(kernel.size() == n && stride.size() == n && pads.size() == 2 * n,
              "kernel_shape/strides/pads do not match the spatial rank");
  Dims y{x[0], x[1]};
  for (size_t d = 0; d < n; ++d)
    y.push_back((x[2 + d] - 1) * stride[d] + kernel[d] - pads[d] - pads[n + d]);
  return y;
}

}  // namespace

void inferMaxUnpool(OpContext& ctx) {
  ctx.requireFloatInputs({0});
  ctx.outTypes[0] = DataType::kFloat32;  // what the kernel writes, whatever the plan declares
  ctx.require(ctx.dtype(1) == DataType::kInt64, "indices must be int64");
  const Dims& x = ctx.shape(0);
  ctx.require(x.size() >= 3, "input must be [N, C, spatial...]");
  ctx.require(ctx.shape(1) == x, "indices must have the input's shape");
  const Dims natural = unpooledShape(ctx);
  Dims y = natural;
  if (ctx.has(2)) {
    y = ctx.ints(2);
    ctx.require(y.size() == x.size(), "output_shape must have the input's rank");
    for (size_t d = 0; d < y.size(); ++d)
      ctx.require(y[d] >= natural[d], "output_shape is smaller than the unpooled shape");
  }
  ctx.outShapes[0] = y;
}

// Scatters each value to its index, which counts positions of the unpooled shape; a larger
// output_shape keeps each position's coordinates (the extra rows and columns stay zero).
void runMaxUnpool(OpContext& ctx) {
  const Dims& y = ctx.outShapes[0];
  const Dims natural = unpooledShape(ctx);
  const int64_t total = shapeElements(y), naturalTotal = shapeElements(natural);
  float* dst = ctx.outF32(0);
  std::fill(dst, dst + total, 0.0f);
  const float* src = ctx.f32(0);
  const auto* idx = static_cast<const int64_t*>(ctx.in[1].data);
  const int64_t n = shapeElements(ctx.shape(0));
  for (int64_t k = 0; k < n; ++k) {
    int64_t rest = idx[k];
    if (rest < 0 || rest >= naturalTotal)
      ctx.fail("index " + std::to_string(rest) + " is out of range");
    int64_t offset = 0, stride = 1;
    for (size_t d = natural.size(); d-- > 0;) {
      offset += (rest % natural[d]) * stride;
      rest /= natural[d];
      stride *= y[d];
    }
    dst[offset] = src[k];
  }
}

}  // namespace kiln
