// Signal processing on float32: DFT (forward/inverse, onesided, dft_length), STFT (framed,
// windowed DFTs) and MelWeightMatrix. Complex values are a trailing dim of 2 (real, imag);
// transforms are FFTs in double: radix 2 for powers of two, Bluestein's chirp z-transform for
// other lengths (direct O(n^2) sums took hours for a hostile length: fuzz_plan).
#include <algorithm>
#include <cmath>
#include <complex>
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

using Complex = std::complex<double>;

// In-place iterative radix-2 FFT of a power-of-two length, e^(sign 2 pi i jk / m) kernel.
void fft(std::vector<Complex>& a, double sign) {
  const size_t m = a.size();
  for (size_t i = 1, j = 0; i < m; ++i) {  // bit-reversal permutation
    size_t bit = m >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j |= bit;
    if (i < j) std::swap(a[i], a[j]);
  }
  for (size_t len = 2; len <= m; len <<= 1) {
    for (size_t k = 0; k < len / 2; ++k) {
      // Each twiddle from its own angle, not by repeated multiplication (error would grow).
      const double angle = sign * 2 * kPi * static_cast<double>(k) / static_cast<double>(len);
      const Complex w(std::cos(angle), std::sin(angle));
      for (size_t i = k; i < m; i += len) {
        const Complex u = a[i], v = a[i + len / 2] * w;
        a[i] = u + v;
        a[i + len / 2] = u - v;
      }
    }
  }
}

// Transforms of n points (zero beyond the input's `available` points) into `bins` outputs,
// planned once per layer run: the chirp and its transform are shared by every signal.
class DftPlan {
 public:
  DftPlan(int64_t n, int64_t bins, bool inverse)
      : n_(n), bins_(bins), inverse_(inverse), sign_(inverse ? 1.0 : -1.0) {
    size_t m = 1;
    while (m < static_cast<size_t>(n)) m <<= 1;
    if (m == static_cast<size_t>(n)) {
      buffer_.resize(m);
      return;
    }
    // Bluestein: jk = (j^2 + k^2 - (k - j)^2) / 2 turns the DFT into a convolution with the
    // chirp w_j = e^(sign pi i j^2 / n), done by FFTs of a power-of-two length >= 2n - 1.
    while (m < static_cast<size_t>(2 * n - 1)) m <<= 1;
    chirp_.resize(static_cast<size_t>(n));
    // j^2 mod 2n (kept by (j + 1)^2 = j^2 + 2j + 1) keeps each angle small and exact.
    for (int64_t j = 0, j2 = 0; j < n; j2 = (j2 + 2 * j + 1) % (2 * n), ++j) {
      const double angle = sign_ * kPi * static_cast<double>(j2) / static_cast<double>(n);
      chirp_[static_cast<size_t>(j)] = Complex(std::cos(angle), std::sin(angle));
    }
    kernel_.assign(m, Complex(0, 0));
    for (int64_t j = 0; j < n; ++j) {
      kernel_[static_cast<size_t>(j)] = std::conj(chirp_[static_cast<size_t>(j)]);
      if (j > 0) kernel_[m - static_cast<size_t>(j)] = std::conj(chirp_[static_cast<size_t>(j)]);
    }
    fft(kernel_, -1);
    buffer_.resize(m);
  }

  // x: points `stride` floats apart (real, or real and imaginary); y: bins `yStride` apart.
  void run(const float* x, int64_t stride, bool complex, int64_t available, float* y,
           int64_t yStride) {
    std::fill(buffer_.begin(), buffer_.end(), Complex(0, 0));
    for (int64_t j = 0; j < std::min(n_, available); ++j) {
      const Complex v(x[j * stride], complex ? x[j * stride + 1] : 0.0f);
      buffer_[static_cast<size_t>(j)] = chirp_.empty() ? v : v * chirp_[static_cast<size_t>(j)];
    }
    if (chirp_.empty()) {
      fft(buffer_, sign_);
    } else {
      fft(buffer_, -1);
      for (size_t i = 0; i < buffer_.size(); ++i) buffer_[i] *= kernel_[i];
      fft(buffer_, 1);  // the inverse transform, unscaled: divide by m below
    }
    const double scale = (chirp_.empty() ? 1.0 : 1.0 / static_cast<double>(buffer_.size())) /
                         (inverse_ ? static_cast<double>(n_) : 1.0);
    for (int64_t k = 0; k < bins_; ++k) {
      Complex v = buffer_[static_cast<size_t>(k)] * scale;
      if (!chirp_.empty()) v *= chirp_[static_cast<size_t>(k)];
      y[k * yStride] = static_cast<float>(v.real());
      y[k * yStride + 1] = static_cast<float>(v.imag());
    }
  }

 private:
  int64_t n_, bins_;
  bool inverse_;
  double sign_;
  std::vector<Complex> chirp_, kernel_, buffer_;
};

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
  DftPlan plan(s.length, s.bins, inverse);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i)
      plan.run(src + (o * x[s.axis] * inner + i) * comps, inner * comps, complex, x[s.axis],
               dst + (o * s.bins * inner + i) * 2, inner * 2);
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
  DftPlan plan(s.frameLength, s.bins, false);
  for (int64_t b = 0; b < x[0]; ++b) {
    for (int64_t f = 0; f < s.frames; ++f) {
      const float* at = src + (b * x[1] + f * s.step) * comps;
      for (int64_t j = 0; j < s.frameLength * comps; ++j)
        frame[j] = at[j] * (window ? window[j / comps] : 1.0f);
      plan.run(frame.data(), comps, comps == 2, s.frameLength,
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
