// BatchNormalization, InstanceNormalization, LayerNormalization and Softmax/LogSoftmax against
// double-precision formulas.
#include <cmath>
#include <vector>

#include "kernel_test_util.h"
#include "kiln/error.h"
#include "kiln/kernels/norm.h"
#include "kiln/kernels/softmax.h"

TEST(batch_norm) {
  kt::forEachIsa([](kiln::CpuIsa isa) {
    for (int64_t spatial : {1, 7, 49, 100}) {
      const int64_t N = 2, C = 5;
      auto x = kt::randomVector(N * C * spatial, 1, -3, 3), sc = kt::randomVector(C, 2),
           bi = kt::randomVector(C, 3);
      auto mean = kt::randomVector(C, 4), var = kt::randomVector(C, 5, 0.1f, 2.0f);
      for (const auto& act : kt::allActivations()) {
        std::vector<float> y(x.size());
        kiln::kernels::batchNormInference(N, C, spatial, x.data(), sc.data(), bi.data(),
                                          mean.data(), var.data(), 1e-5f, y.data(), act);
        std::vector<double> want(x.size());
        for (size_t i = 0; i < x.size(); ++i) {
          const int64_t c = static_cast<int64_t>(i / spatial) % C;
          want[i] =
              kt::refActivation(act, sc[c] * (x[i] - mean[c]) / std::sqrt(var[c] + 1e-5) + bi[c]);
        }
        kt::expectClose(kt::isaTag(isa) + "batchNorm spatial " + std::to_string(spatial) + " act " +
                            std::to_string(static_cast<int>(act.kind)),
                        y, want, 2e-6, 2e-6);
      }
    }
  });
}

TEST(instance_norm) {
  for (int64_t spatial : {1, 5, 64, 1000}) {
    const int64_t N = 2, C = 3;
    auto x = kt::randomVector(N * C * spatial, 7, 5, 9), sc = kt::randomVector(C, 8),
         bi = kt::randomVector(C, 9);
    std::vector<float> y(x.size());
    kiln::kernels::instanceNorm(N, C, spatial, x.data(), sc.data(), bi.data(), 1e-5f, y.data());
    std::vector<double> want(x.size());
    for (int64_t pl = 0; pl < N * C; ++pl) {
      double m = 0, v = 0;
      for (int64_t j = 0; j < spatial; ++j) m += x[pl * spatial + j];
      m /= spatial;
      for (int64_t j = 0; j < spatial; ++j)
        v += (x[pl * spatial + j] - m) * (x[pl * spatial + j] - m);
      v /= spatial;
      for (int64_t j = 0; j < spatial; ++j)
        want[pl * spatial + j] =
            sc[pl % C] * (x[pl * spatial + j] - m) / std::sqrt(v + 1e-5) + bi[pl % C];
    }
    kt::expectClose("instanceNorm spatial " + std::to_string(spatial), y, want, 1e-5, 1e-5);
  }
}

TEST(layer_norm) {
  kt::forEachIsa([](kiln::CpuIsa isa) {
    for (int64_t cols : {1, 3, 17, 192, 768, 1001}) {
      for (bool withBias : {true, false}) {
        const int64_t rows = 7;
        // Offset inputs: the mean is large next to the spread, as in transformer residual streams.
        auto x = kt::randomVector(rows * cols, 11, 40, 44), sc = kt::randomVector(cols, 12),
             bi = kt::randomVector(cols, 13);
        std::vector<float> y(x.size()), mean(rows), inv(rows);
        kiln::kernels::layerNorm(rows, cols, x.data(), sc.data(), withBias ? bi.data() : nullptr,
                                 1e-5f, y.data(), mean.data(), inv.data());
        std::vector<double> want(x.size()), wantMean(rows), wantInv(rows);
        for (int64_t r = 0; r < rows; ++r) {
          double m = 0, v = 0;
          for (int64_t j = 0; j < cols; ++j) m += x[r * cols + j];
          m /= cols;
          for (int64_t j = 0; j < cols; ++j) v += (x[r * cols + j] - m) * (x[r * cols + j] - m);
          v /= cols;
          const double is = 1 / std::sqrt(v + 1e-5);
          wantMean[r] = m;
          wantInv[r] = is;
          for (int64_t j = 0; j < cols; ++j)
            want[r * cols + j] = (x[r * cols + j] - m) * is * sc[j] + (withBias ? bi[j] : 0.0);
        }
        // The normalized value carries the rounding of x - mean relative to the spread
        // (~1/sqrt(var)).
        const double atol = 1e-5 * (cols > 1 ? wantInv[0] / 20 + 1 : 1);
        const std::string tag = kt::isaTag(isa) + "layerNorm cols " + std::to_string(cols);
        kt::expectClose(tag, y, want, atol, 1e-5);
        kt::expectClose(tag + " mean", mean, wantMean, 0, 1e-6);
        kt::expectClose(tag + " invStdDev", inv, wantInv, 0, 1e-6);
      }
    }
  });
}

TEST(softmax_axes) {
  struct Shape {
    int64_t outer, axis, inner;
  };
  const Shape shapes[] = {{1, 1, 1},  {4, 10, 1}, {3, 197, 1}, {2, 5, 7}, {1, 1000, 1},
                          {6, 3, 33}, {1, 2, 1},  {5, 16, 1},  {2, 33, 1}};
  kt::forEachIsa([&](kiln::CpuIsa isa) {
    for (const Shape& s : shapes)
      for (bool logSm : {false, true}) {
        auto x = kt::randomVector(s.outer * s.axis * s.inner, 17, -20, 20);
        std::vector<float> y(x.size());
        kiln::kernels::softmax(s.outer, s.axis, s.inner, x.data(), y.data(), logSm);
        std::vector<double> want(x.size());
        for (int64_t o = 0; o < s.outer; ++o)
          for (int64_t i = 0; i < s.inner; ++i) {
            double m = -INFINITY, sum = 0;
            for (int64_t a = 0; a < s.axis; ++a)
              m = std::max(m, static_cast<double>(x[(o * s.axis + a) * s.inner + i]));
            for (int64_t a = 0; a < s.axis; ++a)
              sum += std::exp(x[(o * s.axis + a) * s.inner + i] - m);
            for (int64_t a = 0; a < s.axis; ++a) {
              const double v = x[(o * s.axis + a) * s.inner + i] - m;
              want[(o * s.axis + a) * s.inner + i] = logSm ? v - std::log(sum) : std::exp(v) / sum;
            }
          }
        kt::expectClose(kt::isaTag(isa) + (logSm ? "logSoftmax " : "softmax ") +
                            std::to_string(s.outer) + "x" + std::to_string(s.axis) + "x" +
                            std::to_string(s.inner),
                        y, want, 1e-6, 1e-5);
      }
  });
}

TEST(softmax_extremes) {
  kt::forEachIsa([](kiln::CpuIsa) {
    std::vector<float> x = {1e30f, -1e30f, 0.0f, -INFINITY}, y(4);
    kiln::kernels::softmax(1, 4, 1, x.data(), y.data());
    CHECK(y[0] == 1.0f && y[1] == 0.0f && y[2] == 0.0f && y[3] == 0.0f);
    CHECK_THROWS(kiln::kernels::softmax(1, 0, 1, x.data(), y.data()), kiln::Error);
  });
}
