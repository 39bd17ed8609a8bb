// Signal processing on float32: DFT (forward/inverse, onesided, dft_length), STFT (framed,
// windowed DFTs) and MelWeightMatrix. Complex values are a trailing dim of 2 (real, imag);
// transforms are direct sums in double, exact enough for the sizes models use them at.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/op.h"
#include "engine/ops/register.h"
#include "kiln/kernels/cast.h"

namespace kiln {
namespace {

const double kPi = std::acos(-1.0);

int64_t scalarInput(const OpContext& ctx, size_t input, const std::string& what) {
  const std::vector<int64_t> v = ctx.ints(input);
  ctx.require(v.size() == 1, what + " must hold one value");
  return v[0];
}

// One transform of n input points (complex, `stride` elements apart, zero beyond `available`)
// into `bins` output points.
void dft(const float* x, int64_t stride, bool complex, int64_t available, int64_t n, int64_t bins,
         bool inverse, float* y, int64_t yStride) {
  const double sign = inverse ? 1.0 : -1.0;
  for (int64_t k = 0; k < bins; ++k) {
    double re = 0, im = 0;
    for (int64_t j = 0; j < std::min(n, available); ++j) {
      const double xr = x[j * stride], xi = complex ? x[j * stride + 1] : 0.0;
      const double angle =
          sign * 2 * kPi * static_cast<double>((j * k) % n) / static_cast<double>(n);
      const double c = std::cos(angle), s = std::sin(angle);
      re += xr * c - xi * s;
      im += xr * s + xi * c;
    }
    if (inverse) re /= static_cast<double>(n), im /= static_cast<double>(n);
    y[k * yStride] = static_cast<float>(re);
    y[k * yStride + 1] = static_cast<float>(im);
  }
}

struct DftShape {
  int64_t axis = 1;    // the signal axis in the input
  int64_t length = 0;  // transform size n
  int64_t bins = 0;    // outputs per transform
};

DftShape dftShape(const OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  const int64_t rank = static_cast<int64_t>(x.size());
  ctx.require(rank >= 3 && (x.back() == 1 || x.back() == 2),
              "input must be [batch, signal..., 1 or 2]");
  DftShape s;
  // The axis is an attribute until opset 20, an input since.
  s.axis = ctx.has(2) ? scalarInput(ctx, 2, "axis") : ctx.layer.attrInt("axis", 1);
  if (s.axis < 0) s.axis += rank;
  ctx.require(s.axis >= 1 && s.axis < rank - 1, "axis must be a signal dim");
  s.length = ctx.has(1) ? scalarInput(ctx, 1, "dft_length") : x[s.axis];
  ctx.require(s.length >= 1, "dft_length must be positive");
  const bool onesided = ctx.layer.attrInt("onesided", 0) != 0;
  ctx.require(!onesided || x.back() == 1, "onesided needs a real input");
  s.bins = onesided ? s.length / 2 + 1 : s.length;
  return s;
}

void inferDft(OpContext& ctx) {
  ctx.requireFloatInputs({0});
  ctx.outTypes[0] = DataType::kFloat32;  // what the kernel writes, whatever the plan declares
  const DftShape s = dftShape(ctx);
  Dims y = ctx.shape(0);
  y[s.axis] = s.bins;
  y.back() = 2;
  ctx.outShapes[0] = y;
}

void runDft(OpContext& ctx) {
  const DftShape s = dftShape(ctx);
  const Dims& x = ctx.shape(0);
  const bool complex = x.back() == 2;
  const bool inverse = ctx.layer.attrInt("inverse", 0) != 0;
  const int64_t outer = shapeElements(Dims(x.begin(), x.begin() + s.axis));
  const int64_t inner = shapeElements(Dims(x.begin() + s.axis + 1, x.end() - 1));
  const int64_t comps = x.back();
  const float* src = ctx.f32(0);
  float* dst = ctx.outF32(0);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i)
      dft(src + (o * x[s.axis] * inner + i) * comps, inner * comps, complex, x[s.axis], s.length,
          s.bins, inverse, dst + (o * s.bins * inner + i) * 2, inner * 2);
}

struct StftShape {
  int64_t step = 1, frameLength = 0, frames = 0, bins = 0;
};

StftShape stftShape(const OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  ctx.require(x.size() == 3 && (x[2] == 1 || x[2] == 2), "signal must be [batch, length, 1|2]");
  StftShape s;
  s.step = scalarInput(ctx, 1, "frame_step");
  if (ctx.has(3))
    s.frameLength = scalarInput(ctx, 3, "frame_length");
  else if (ctx.has(2))
    s.frameLength = shapeElements(ctx.shape(2));
  ctx.require(s.step >= 1 && s.frameLength >= 1 && s.frameLength <= x[1],
              "frame_step and frame_length (or the window) must fit the signal");
  if (ctx.has(2))
    ctx.require(shapeElements(ctx.shape(2)) == s.frameLength, "window must be [frame_length]");
  const bool onesided = ctx.layer.attrInt("onesided", 1) != 0;
  ctx.require(!onesided || x[2] == 1, "onesided needs a real signal");
  s.frames = (x[1] - s.frameLength) / s.step + 1;
  s.bins = onesided ? s.frameLength / 2 + 1 : s.frameLength;
  return s;
}

void inferStft(OpContext& ctx) {
  ctx.requireFloatInputs({0, 2});
  ctx.outTypes[0] = DataType::kFloat32;  // what the kernel writes, whatever the plan declares
  const StftShape s = stftShape(ctx);
  ctx.outShapes[0] = Dims{ctx.shape(0)[0], s.frames, s.bins, 2};
}

void runStft(OpContext& ctx) {
  const StftShape s = stftShape(ctx);
  const Dims& x = ctx.shape(0);
  const int64_t comps = x[2];
  const float* window = ctx.has(2) ? ctx.f32(2) : nullptr;
  const float* src = ctx.f32(0);
  float* dst = ctx.outF32(0);
  std::vector<float> frame(static_cast<size_t>(s.frameLength * comps));
  for (int64_t b = 0; b < x[0]; ++b) {
    for (int64_t f = 0; f < s.frames; ++f) {
      const float* at = src + (b * x[1] + f * s.step) * comps;
      for (int64_t j = 0; j < s.frameLength * comps; ++j)
        frame[j] = at[j] * (window ? window[j / comps] : 1.0f);
      dft(frame.data(), comps, comps == 2, s.frameLength, s.frameLength, s.bins, false,
          dst + ((b * s.frames + f) * s.bins) * 2, 2);
    }
  }
}

void inferMelWeightMatrix(OpContext& ctx) {
  const int64_t mels = scalarInput(ctx, 0, "num_mel_bins");
  const int64_t length = scalarInput(ctx, 1, "dft_length");
  ctx.require(mels >= 1 && length >= 1, "num_mel_bins and dft_length must be positive");
  const int64_t dtype = ctx.layer.attrInt("output_datatype", 1);
  ctx.require(isValidDataType(static_cast<int32_t>(dtype)),
              "output_datatype " + std::to_string(dtype) + " is not supported");
  ctx.outShapes[0] = Dims{length / 2 + 1, mels};
  ctx.outTypes[0] = static_cast<DataType>(dtype);
}

// Triangular filters between mel-spaced edges (mel = 2595 log10(1 + hz / 700)), each edge
// snapped down to a spectrogram bin, as the ONNX spec defines them.
void runMelWeightMatrix(OpContext& ctx) {
  const int64_t mels = scalarInput(ctx, 0, "num_mel_bins");
  const int64_t length = scalarInput(ctx, 1, "dft_length");
  const int64_t rate = scalarInput(ctx, 2, "sample_rate");
  float lowHz = 0, highHz = 0;
  kernels::cast(ctx.in[3].data, ctx.dtype(3), &lowHz, DataType::kFloat32, 1);
  kernels::cast(ctx.in[4].data, ctx.dtype(4), &highHz, DataType::kFloat32, 1);
  const int64_t bins = length / 2 + 1;
  // The edges in mel and their spacing are float32 values, as the reference (numpy on float32
  // inputs) computes them; where an edge lands on a bin boundary, this decides the bin.
  const auto toMel = [](float hz) { return 2595.0f * std::log10(1.0f + hz / 700.0f); };
  const float lowMel = toMel(lowHz), highMel = toMel(highHz);
  // The spec divides the range into mels + 2 steps (not mels + 1), so the last edge stops short
  // of upper_edge_hertz.
  const float step = (highMel - lowMel) / static_cast<float>(mels + 2);
  std::vector<int64_t> edge(static_cast<size_t>(mels + 2));
  for (int64_t i = 0; i < mels + 2; ++i) {
    const double hz =
        700.0 * (std::pow(10.0, (static_cast<double>(i) * step + lowMel) / 2595.0) - 1);
    edge[i] = static_cast<int64_t>(
        std::floor(static_cast<double>(length + 1) * hz / static_cast<double>(rate)));
  }
  std::vector<float> w(static_cast<size_t>(bins * mels), 0.0f);
  const auto set = [&](int64_t bin, int64_t mel, double v) {
    if (bin >= 0 && bin < bins) w[bin * mels + mel] = static_cast<float>(v);
  };
  for (int64_t m = 0; m < mels; ++m) {
    const int64_t lo = edge[m], mid = edge[m + 1], hi = edge[m + 2];
    if (mid == lo) {
      set(mid, m, 1.0);
    } else {
      for (int64_t j = lo; j <= mid; ++j)
        set(j, m, static_cast<double>(j - lo) / static_cast<double>(mid - lo));
    }
    for (int64_t j = mid; j < hi; ++j)
      set(j, m, static_cast<double>(hi - j) / static_cast<double>(hi - mid));
  }
  kernels::cast(w.data(), DataType::kFloat32, ctx.out[0], ctx.outTypes[0], w.size());
}

}  // namespace

void registerSignalOps(OpTable& table) {
  table["DFT"] = OpImpl{inferDft, runDft};
  table["STFT"] = OpImpl{inferStft, runStft};
  table["MelWeightMatrix"] = OpImpl{inferMelWeightMatrix, runMelWeightMatrix};
}

}  // namespace kiln
