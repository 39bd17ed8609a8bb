#include "kiln/kernels/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/softmax/softmax_isa.h"
#include "kiln/cpu_features.h"
#include "kiln/error.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

namespace {
// One softmax over n values spaced `stride` apart; the max is subtracted so exp never overflows.
void softmaxLine(const float* x, float* y, int64_t n, int64_t stride, bool logSoftmax) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) m = std::max(m, x[i * stride]);
  double sum = 0;
  if (logSoftmax) {
    for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(x[i * stride] - m));
    const float lse = static_cast<float>(std::log(sum));
    for (int64_t i = 0; i < n; ++i) y[i * stride] = x[i * stride] - m - lse;
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    const float e = std::exp(x[i * stride] - m);
    y[i * stride] = e;
    sum += e;
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) y[i * stride] *= inv;
}
}  // namespace

void softmax(int64_t outer, int64_t axisDim, int64_t inner, const float* x, float* y,
             bool logSoftmax) {
  if (outer < 0 || axisDim <= 0 || inner <= 0)
    throw Error(ErrorCode::kInvalidArgument, "softmax: axis and inner sizes must be positive");
  const int64_t lines = outer * inner;
  const bool vector = activeIsa() == CpuIsa::kAvx512 && inner == 1 && !logSoftmax;
  globalThreadPool().parallelFor(
      static_cast<size_t>(lines), std::max<size_t>(1, 4096 / axisDim), [&](size_t b, size_t e) {
        for (int64_t l = static_cast<int64_t>(b); l < static_cast<int64_t>(e); ++l) {
          const int64_t o = l / inner, i = l % inner;
          const int64_t base = o * axisDim * inner + i;
          if (vector) {
            isa_avx512::softmaxContiguous(x + base, y + base, axisDim);
            continue;
          }
          softmaxLine(x + base, y + base, axisDim, inner, logSoftmax);
        }
      });
}

}  // namespace kiln::kernels
