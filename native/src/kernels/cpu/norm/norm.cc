#include "kiln/kernels/norm.h"

#include <cmath>
#include <string>

#include "kernels/cpu/norm/norm_isa.h"
#include "kiln/cpu_features.h"
#include "kiln/error.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

namespace {
void check(bool ok, const char* op, const std::string& msg) {
  if (!ok) throw Error(ErrorCode::kInvalidArgument, std::string(op) + ": " + msg);
}

// Mean and population variance of n values, two-pass in double: ViT activations have large
// means, where one-pass E[x^2] - E[x]^2 cancels.
// Mean and variance in double, in kLanes partial sums so the loops vectorize instead of waiting
// on one long chain of dependent adds.
void meanVar(const float* v, int64_t n, double* mean, double* var) {
  constexpr int64_t kLanes = 8;
  const int64_t body = n / kLanes * kLanes;
  double part[kLanes] = {};
  for (int64_t i = 0; i < body; i += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) part[l] += v[i + l];
  double s = 0;
  for (int64_t l = 0; l < kLanes; ++l) s += part[l];
  for (int64_t i = body; i < n; ++i) s += v[i];
  const double m = s / static_cast<double>(n);
  double qpart[kLanes] = {};
  for (int64_t i = 0; i < body; i += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) {
      const double d = v[i + l] - m;
      qpart[l] += d * d;
    }
  double q = 0;
  for (int64_t l = 0; l < kLanes; ++l) q += qpart[l];
  for (int64_t i = body; i < n; ++i) {
    const double d = v[i] - m;
    q += d * d;
  }
  *mean = m;
  *var = q / static_cast<double>(n);
}
}  // namespace

void batchNormInference(int64_t batch, int64_t channels, int64_t spatial, const float* x,
                        const float* scale, const float* bias, const float* mean, const float* var,
                        float epsilon, float* y, const Activation& act) {
  check(batch >= 0 && channels > 0 && spatial >= 0, "batchNorm", "bad shape");
  check(scale && bias && mean && var, "batchNorm", "scale, bias, mean and var are required");
  globalThreadPool().parallelFor(static_cast<size_t>(batch * channels), 1, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      const int64_t c = static_cast<int64_t>(i) % channels;
      // (x - mean) * k + bias: folding the mean into the offset cancels when var is tiny.
      const float k =
          static_cast<float>(scale[c] / std::sqrt(static_cast<double>(var[c]) + epsilon));
      const float m = mean[c], o = bias[c];
      const float* in = x + i * spatial;
      float* out = y + i * spatial;
      for (int64_t j = 0; j < spatial; ++j) out[j] = (in[j] - m) * k + o;
      applyActivation(act, out, static_cast<size_t>(spatial));
    }
  });
}

void instanceNorm(int64_t batch, int64_t channels, int64_t spatial, const float* x,
                  const float* scale, const float* bias, float epsilon, float* y) {
  check(batch >= 0 && channels > 0 && spatial > 0, "instanceNorm", "bad shape");
  check(scale && bias, "instanceNorm", "scale and bias are required");
  globalThreadPool().parallelFor(static_cast<size_t>(batch * channels), 1, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      const int64_t c = static_cast<int64_t>(i) % channels;
      const float* in = x + i * spatial;
      float* out = y + i * spatial;
      double m, v;
      meanVar(in, spatial, &m, &v);
      const double inv = 1.0 / std::sqrt(v + epsilon);
      // (x - mean) first: folding the mean into the offset cancels badly when var is tiny.
      const float k = static_cast<float>(scale[c] * inv), fm = static_cast<float>(m), o = bias[c];
      for (int64_t j = 0; j < spatial; ++j) out[j] = (in[j] - fm) * k + o;
    }
  });
}

void layerNorm(int64_t rows, int64_t cols, const float* x, const float* scale, const float* bias,
               float epsilon, float* y, float* mean, float* invStdDev) {
  check(rows >= 0 && cols > 0, "layerNorm", "bad shape");
  check(scale != nullptr, "layerNorm", "scale is required");
  const bool vector = activeIsa() == CpuIsa::kAvx512;
  globalThreadPool().parallelFor(static_cast<size_t>(rows), 4, [&](size_t b, size_t e) {
    for (size_t r = b; r < e; ++r) {
      const float* in = x + r * cols;
      float* out = y + r * cols;
      if (vector) {
        isa_avx512::layerNormRow(in, cols, scale, bias, epsilon, out, mean ? mean + r : nullptr,
                                 invStdDev ? invStdDev + r : nullptr);
        continue;
      }
      double m, v;
      meanVar(in, cols, &m, &v);
      const double inv = 1.0 / std::sqrt(v + epsilon);
      const float fm = static_cast<float>(m), fi = static_cast<float>(inv);
      if (bias) {
        for (int64_t j = 0; j < cols; ++j) out[j] = (in[j] - fm) * fi * scale[j] + bias[j];
      } else {
        for (int64_t j = 0; j < cols; ++j) out[j] = (in[j] - fm) * fi * scale[j];
      }
      if (mean) mean[r] = fm;
      if (invStdDev) invStdDev[r] = fi;
    }
  });
}

}  // namespace kiln::kernels
