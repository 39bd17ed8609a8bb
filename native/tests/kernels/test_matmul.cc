// matmul against a double loop over broadcast batch dims and 1-D promotion, all ISA tiers.
#include <cmath>
#include <vector>

#include "kernel_test_util.h"
#include "kiln/error.h"
#include "kiln/kernels/matmul.h"

using kiln::kernels::Shape;

namespace {
std::string str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

void runMatmul(const Shape& as, const Shape& bs, const Shape& expectOut, bool withBias,
               kiln::CpuIsa isa) {
  const Shape out = kiln::kernels::matmulOutputShape(as, bs);
  CHECK(out == expectOut);
  // Promote for the reference.
  Shape ap = as.size() == 1 ? Shape{1, as[0]} : as, bp = bs.size() == 1 ? Shape{bs[0], 1} : bs;
  const int64_t M = ap[ap.size() - 2], K = ap.back(), N = bp.back();
  const Shape ab(ap.begin(), ap.end() - 2), bb(bp.begin(), bp.end() - 2);
  const Shape ob = kiln::kernels::broadcastShapes(ab, bb);
  auto a = kt::randomVector(kiln::kernels::shapeSize(as), 1),
       b = kt::randomVector(kiln::kernels::shapeSize(bs), 2);
  auto bias = kt::randomVector(N, 3);
  const int64_t batches = kiln::kernels::shapeSize(ob);
  std::vector<double> want(batches * M * N), scale(want.size());
  for (int64_t t = 0; t < batches; ++t) {
    // Batch offsets by explicit broadcasting of the multi-index.
    std::vector<int64_t> idx(ob.size());
    int64_t r = t;
    for (size_t d = ob.size(); d-- > 0;) idx[d] = r % ob[d], r /= ob[d];
    auto off = [&](const Shape& s) {
      int64_t o = 0;
      for (size_t d = 0; d < s.size(); ++d)
        o = o * s[d] + (s[d] == 1 ? 0 : idx[d + ob.size() - s.size()]);
      return o;
    };
    const int64_t ao = off(ab) * M * K, bo = off(bb) * K * N;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = withBias ? bias[j] : 0.0, mag = 0;
        for (int64_t k = 0; k < K; ++k) {
          const double v = static_cast<double>(a[ao + i * K + k]) * b[bo + k * N + j];
          s += v;
          mag += std::fabs(v);
        }
        want[(t * M + i) * N + j] = s;
        scale[(t * M + i) * N + j] = std::sqrt(K + 1.0) * (mag + 1);
      }
  }
  std::vector<float> y(want.size(), NAN);
  kiln::kernels::matmul(a.data(), as, b.data(), bs, y.data(), withBias ? bias.data() : nullptr);
  kt::expectClose(kt::isaTag(isa) + "matmul " + str(as) + " x " + str(bs), y.data(), want.data(),
                  y.size(), 1e-6, 1e-6, scale.data());
}
}  // namespace

TEST(matmul_batched_broadcast) {
  kt::forEachIsa([](kiln::CpuIsa isa) {
    runMatmul({3, 4}, {4, 5}, {3, 5}, false, isa);
    runMatmul({1, 197, 192}, {192, 576}, {1, 197, 576}, true, isa);  // ViT linear: one tall GEMM
    runMatmul({2, 3, 197, 64}, {2, 3, 64, 197}, {2, 3, 197, 197}, false, isa);  // attention
    runMatmul({2, 1, 5, 7}, {3, 7, 6}, {2, 3, 5, 6}, false, isa);  // broadcast batch dims
    runMatmul({4, 6, 3}, {1, 3, 2}, {4, 6, 2}, true, isa);
    runMatmul({7}, {7}, {}, false, isa);  // 1-D x 1-D
    runMatmul({7}, {2, 7, 3}, {2, 3}, false, isa);
    runMatmul({2, 4, 7}, {7}, {2, 4}, false, isa);
    runMatmul({5, 1, 9, 33}, {1, 4, 33, 17}, {5, 4, 9, 17}, false,
              isa);  // many small: per-batch parallel
  });
}

TEST(matmul_rejects_mismatch) {
  std::vector<float> v(100);
  CHECK_THROWS(kiln::kernels::matmul(v.data(), {2, 3}, v.data(), {4, 2}, v.data()), kiln::Error);
  CHECK_THROWS(kiln::kernels::matmul(v.data(), {2, 2, 3}, v.data(), {3, 3, 2}, v.data()),
               kiln::Error);
}
