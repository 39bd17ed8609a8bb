// Shared helpers for the kernel tests: deterministic data, a loop over the ISA tiers this CPU
// has, and a comparison that prints the first mismatch with its case description.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kiln/cpu_features.h"
#include "kiln/kernels/activation.h"
#include "kiln/kernels/shape.h"
#include "kiln_test.h"

namespace kt {

// Uniform values in [lo, hi) from a fixed seed, so failures reproduce.
inline std::vector<float> randomVector(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

// Runs fn once per ISA tier the CPU supports (scalar always), then restores the active tier.
inline void forEachIsa(const std::function<void(kiln::CpuIsa)>& fn) {
  const kiln::CpuIsa saved = kiln::activeIsa();
  const kiln::CpuIsa top = kiln::setActiveIsa(kiln::CpuIsa::kAvx512);  // clamped to the CPU
  const kiln::CpuIsa supported = kiln::activeIsa();
  (void)top;
  for (int t = 0; t <= static_cast<int>(supported); ++t) {
    kiln::setActiveIsa(static_cast<kiln::CpuIsa>(t));
    fn(static_cast<kiln::CpuIsa>(t));
  }
  kiln::setActiveIsa(saved);
}

// Checks |got - want| <= atol + rtol * |want| element-wise; on the first failure prints the case
// and the index and records one test failure. Returns whether all matched.
inline bool expectClose(const std::string& what, const float* got, const double* want, size_t n,
                        double atol, double rtol, const double* scale = nullptr) {
  for (size_t i = 0; i < n; ++i) {
    const double g = got[i], w = want[i];
    const double tol = atol + rtol * (scale ? scale[i] : std::fabs(w));
    const bool bothNan = std::isnan(g) && std::isnan(w);
    const bool sameInf = std::isinf(g) && std::isinf(w) && (g > 0) == (w > 0);
    if (bothNan || sameInf) continue;
    if (!(std::fabs(g - w) <= tol)) {
      char buf[256];
      std::snprintf(buf, sizeof buf, " [%zu]: got %.9g want %.9g (tol %.3g)", i, g, w, tol);
      kiln_test::fail(__FILE__, __LINE__, what + buf);
      return false;
    }
  }
  return true;
}

inline bool expectClose(const std::string& what, const std::vector<float>& got,
                        const std::vector<double>& want, double atol, double rtol) {
  if (got.size() != want.size()) {
    kiln_test::fail(__FILE__, __LINE__, what + ": size mismatch");
    return false;
  }
  return expectClose(what, got.data(), want.data(), got.size(), atol, rtol);
}

// Exact comparison for data movement kernels (transpose, slice, ...), which must not round.
inline bool expectEqual(const std::string& what, const std::vector<float>& got,
                        const std::vector<float>& want) {
  if (got.size() != want.size()) {
    kiln_test::fail(__FILE__, __LINE__, what + ": size mismatch");
    return false;
  }
  for (size_t i = 0; i < got.size(); ++i) {
    if (!(got[i] == want[i]) && !(std::isnan(got[i]) && std::isnan(want[i]))) {
      char buf[160];
      std::snprintf(buf, sizeof buf, " [%zu]: got %.9g want %.9g", i, got[i], want[i]);
      kiln_test::fail(__FILE__, __LINE__, what + buf);
      return false;
    }
  }
  return true;
}

// Index of an input element for output multi-index `idx` under numpy broadcasting.
inline int64_t sourceIndex(const kiln::kernels::Shape& out, const kiln::kernels::Shape& in,
                           const std::vector<int64_t>& idx) {
  int64_t off = 0;
  const size_t shift = out.size() - in.size();
  for (size_t d = 0; d < in.size(); ++d) off = off * in[d] + (in[d] == 1 ? 0 : idx[d + shift]);
  return off;
}

// The multi-index of flat element `i` of shape `s`.
inline std::vector<int64_t> unravel(int64_t i, const kiln::kernels::Shape& s) {
  std::vector<int64_t> idx(s.size());
  for (size_t d = s.size(); d-- > 0;) idx[d] = i % s[d], i /= s[d];
  return idx;
}

inline std::string isaTag(kiln::CpuIsa isa) { return std::string("[") + kiln::isaName(isa) + "] "; }

// Double-precision reference of every fused activation, written from the ONNX definitions.
inline double refActivation(const kiln::kernels::Activation& a, double x) {
  using K = kiln::kernels::ActivationKind;
  const double al = a.alpha, be = a.beta;
  switch (a.kind) {
    case K::kNone:
      return x;
    case K::kRelu:
      return x > 0 ? x : 0;
    case K::kLeakyRelu:
      return x >= 0 ? x : al * x;
    case K::kClip:
      return std::min(std::max(x, al), be);
    case K::kSigmoid:
      return 1.0 / (1.0 + std::exp(-x));
    case K::kHardSigmoid:
      return std::max(0.0, std::min(1.0, al * x + be));
    case K::kHardSwish:
      return x * std::max(0.0, std::min(1.0, x / 6.0 + 0.5));
    case K::kSilu:
      return x / (1.0 + std::exp(-x));
    case K::kGelu:
      return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case K::kGeluTanh:
      return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case K::kTanh:
      return std::tanh(x);
    case K::kElu:
      return x >= 0 ? x : al * (std::exp(x) - 1.0);
    case K::kSoftplus:
      return std::log1p(std::exp(x));
  }
  return x;
}

// All activation kinds with non-default attributes where they have any.
inline std::vector<kiln::kernels::Activation> allActivations() {
  using K = kiln::kernels::ActivationKind;
  return {{K::kNone, 0, 0},         {K::kRelu, 0, 0},    {K::kLeakyRelu, 0.1f, 0},
          {K::kClip, -0.5f, 0.75f}, {K::kSigmoid, 0, 0}, {K::kHardSigmoid, 0.2f, 0.5f},
          {K::kHardSwish, 0, 0},    {K::kSilu, 0, 0},    {K::kGelu, 0, 0},
          {K::kGeluTanh, 0, 0},     {K::kTanh, 0, 0},    {K::kElu, 0.7f, 0},
          {K::kSoftplus, 0, 0}};
}

}  // namespace kt
