// sgemm against a double-precision triple loop over many shapes, transposes, alpha/beta, bias
// kinds, activations and leading dimensions, on every ISA tier the CPU has.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kiln/error.h"
#include "kiln/kernels/gemm.h"
#include "kiln/thread_pool.h"

using kiln::kernels::Activation;
using kiln::kernels::ActivationKind;
using kiln::kernels::BiasKind;
using kiln::kernels::GemmParams;

// GCC 12 clones runCase for the constant cases below and then reports -Warray-bounds on the
// transposed-index branch that those clones never take.
#pragma GCC diagnostic ignored "-Warray-bounds"

namespace {

struct Case {
  int64_t m, n, k;
  bool ta, tb;
  float alpha, beta;
  BiasKind bias;
  Activation act;
  int64_t pad;   // extra elements per row in lda/ldb/ldc
  int mode = 0;  // 0: sgemm, 1: sgemmPackedB (packGemmB), 2: sgemmPackedA (packGemmA)
};

// Runs one case; tolerance scales with sqrt(K) times the natural size of the sum, which is what
// float rounding of a K-term dot product grows like.
void runCase(const Case& cs, kiln::CpuIsa isa, kiln::ThreadPool* pool) {
  const int64_t M = cs.m, N = cs.n, K = cs.k;
  const int64_t aRows = cs.ta ? K : M, aCols = cs.ta ? M : K;
  const int64_t bRows = cs.tb ? N : K, bCols = cs.tb ? K : N;
  const int64_t lda = aCols + cs.pad, ldb = bCols + cs.pad, ldc = N + cs.pad;
  const uint32_t seed = static_cast<uint32_t>(M * 131 + N * 17 + K);
  auto A = kt::randomVector(static_cast<size_t>(std::max<int64_t>(aRows * lda, 1)), seed);
  auto B = kt::randomVector(static_cast<size_t>(std::max<int64_t>(bRows * ldb, 1)), seed + 1);
  auto C = kt::randomVector(static_cast<size_t>(std::max<int64_t>(M * ldc, 1)), seed + 2);
  auto bias = kt::randomVector(static_cast<size_t>(std::max(M, N)), seed + 3);
  std::vector<double> want(C.size()), scale(C.size(), 0.0);
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      double s = 0, mag = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double av = cs.ta ? A[k * lda + i] : A[i * lda + k];
        const double bv = cs.tb ? B[j * ldb + k] : B[k * ldb + j];
        s += av * bv;
        mag += std::fabs(av * bv);
      }
      double v =
          cs.alpha * s + (cs.beta != 0.0f ? cs.beta * static_cast<double>(C[i * ldc + j]) : 0.0);
      if (cs.bias == BiasKind::kPerRow) v += bias[i];
      if (cs.bias == BiasKind::kPerCol) v += bias[j];
      want[i * ldc + j] = kt::refActivation(cs.act, v);
      // Activations have slope at most ~1.1, so the pre-activation error bound carries over.
      scale[i * ldc + j] = std::sqrt(static_cast<double>(K) + 1) *
                           (std::fabs(cs.alpha) * mag + std::fabs(cs.beta) + 1.0);
    }
  }
  // Elements between rows (ld padding) must come back untouched.
  for (size_t idx = 0; idx < C.size(); ++idx)
    if (static_cast<int64_t>(idx % ldc) >= N || static_cast<int64_t>(idx / ldc) >= M)
      want[idx] = C[idx], scale[idx] = 0;

  GemmParams p;
  p.m = M;
  p.n = N;
  p.k = K;
  p.transA = cs.ta;
  p.transB = cs.tb;
  p.alpha = cs.alpha;
  p.beta = cs.beta;
  p.lda = lda;
  p.ldb = ldb;
  p.ldc = ldc;
  p.bias = bias.data();
  p.biasKind = cs.bias;
  p.activation = cs.act;
  if (cs.mode == 1) {
    const auto blob = kiln::kernels::packGemmB(K, N, cs.tb, B.data(), ldb);
    kiln::kernels::sgemmPackedB(p, A.data(), blob.data(), blob.size(), C.data(), pool);
  } else if (cs.mode == 2) {
    const auto blob = kiln::kernels::packGemmA(M, K, cs.ta, A.data(), lda);
    kiln::kernels::sgemmPackedA(p, blob.data(), blob.size(), B.data(), C.data(), pool);
  } else {
    kiln::kernels::sgemm(p, A.data(), B.data(), C.data(), pool);
  }
  char name[220];
  std::snprintf(name, sizeof name,
                "%sgemm M=%ld N=%ld K=%ld ta=%d tb=%d alpha=%g beta=%g bias=%d act=%d pad=%ld "
                "pool=%d mode=%d",
                kt::isaTag(isa).c_str(), (long)M, (long)N, (long)K, cs.ta, cs.tb, cs.alpha, cs.beta,
                static_cast<int>(cs.bias), static_cast<int>(cs.act.kind), (long)cs.pad,
                pool != nullptr, cs.mode);
  kt::expectClose(name, C.data(), want.data(), C.size(), 1e-6, 1e-6, scale.data());
}

}  // namespace

TEST(gemm_shapes_transposes_and_edges) {
  const int64_t dims[] = {1, 2, 3, 7, 12, 13, 31, 32, 33, 65};
  const int64_t ks[] = {1, 5, 16, 257, 300};
  kt::forEachIsa([&](kiln::CpuIsa isa) {
    for (int64_t m : dims)
      for (int64_t n : dims)
        for (int64_t k : ks)
          for (int t = 0; t < 4; ++t)
            runCase({m, n, k, (t & 1) != 0, (t & 2) != 0, 1.0f, 0.0f, BiasKind::kNone, {}, 0}, isa,
                    &kiln::globalThreadPool());
  });
}

TEST(gemm_alpha_beta_bias_activation_ld) {
  kt::forEachIsa([&](kiln::CpuIsa isa) {
    const float alphas[] = {1.0f, -0.5f};
    const float betas[] = {0.0f, 1.0f, 0.25f};
    for (float alpha : alphas)
      for (float beta : betas)
        for (BiasKind bias : {BiasKind::kNone, BiasKind::kPerRow, BiasKind::kPerCol})
          for (int64_t pad : {0, 3})
            runCase({29, 45, 70, pad != 0, false, alpha, beta, bias, {}, pad}, isa,
                    &kiln::globalThreadPool());
    for (const Activation& act : kt::allActivations()) {
      runCase({50, 77, 40, false, false, 1.0f, 0.0f, BiasKind::kPerRow, act, 0}, isa,
              &kiln::globalThreadPool());
      runCase({3, 100, 9, false, true, 2.0f, 0.5f, BiasKind::kPerCol, act, 1}, isa, nullptr);
    }
  });
}

TEST(gemm_17_column_edge_panel) {
  // N = 49 (7 x 7 convolutions) and 17 leave a last panel of 17 columns, which the AVX-512
  // tier runs as a vector plus a column: alpha, beta, both bias kinds, ld padding, K past one
  // block, 4, 8 and 12 row tiles, and every activation.
  kt::forEachIsa([&](kiln::CpuIsa isa) {
    for (float beta : {0.0f, 0.25f})
      for (BiasKind bias : {BiasKind::kNone, BiasKind::kPerRow, BiasKind::kPerCol})
        for (int64_t m : {3, 8, 29})
          runCase({m, 49, 300, false, false, -0.5f, beta, bias, {}, 3}, isa,
                  &kiln::globalThreadPool());
    for (const Activation& act : kt::allActivations()) {
      runCase({13, 17, 40, false, false, 1.0f, 0.0f, BiasKind::kPerRow, act, 0}, isa, nullptr);
      runCase({5, 49, 9, false, true, 2.0f, 0.5f, BiasKind::kPerCol, act, 1}, isa, nullptr);
    }
  });
}

TEST(gemm_large_blocks_threaded_and_serial) {
  // Crosses the K, M and N blocking boundaries of every tier.
  kt::forEachIsa([&](kiln::CpuIsa isa) {
    runCase({200, 513, 600, false, false, 1.0f, 0.0f, BiasKind::kNone, {}, 0}, isa,
            &kiln::globalThreadPool());
    runCase({257,
             129,
             1030,
             true,
             true,
             1.0f,
             1.0f,
             BiasKind::kPerRow,
             {ActivationKind::kRelu, 0, 0},
             0},
            isa, &kiln::globalThreadPool());
    runCase({97, 800, 64, false, true, 1.0f, 0.0f, BiasKind::kPerCol, {}, 0}, isa, nullptr);
    runCase({64, 3136, 64, false, false, 1.0f, 0.0f, BiasKind::kNone, {}, 0}, isa,
            &kiln::globalThreadPool());
  });
}

TEST(gemv_m1_all_paths) {
  // M == 1 takes the GEMV kernels: both B layouts, packed B panels, transposed A, alpha/beta,
  // bias, activations, ld padding, and N/K that leave every vector tail non-empty.
  kt::forEachIsa([&](kiln::CpuIsa isa) {
    const int64_t ns[] = {1, 3, 15, 16, 17, 63, 64, 65, 96, 100, 1000};
    const int64_t ks[] = {1, 7, 16, 31, 33, 300, 2048};
    for (int64_t n : ns)
      for (int64_t k : ks)
        for (int t = 0; t < 4; ++t)
          for (int mode : {0, 1})
            runCase({1, n, k, (t & 1) != 0, (t & 2) != 0, 1.0f, 0.0f, BiasKind::kNone, {}, 0, mode},
                    isa, &kiln::globalThreadPool());
    for (bool tb : {false, true})
      for (int mode : {0, 1}) {
        runCase({1, 77, 130, false, tb, -0.5f, 0.25f, BiasKind::kPerCol, {}, 3, mode}, isa,
                nullptr);
        runCase({1,
                 77,
                 130,
                 true,
                 tb,
                 1.0f,
                 1.0f,
                 BiasKind::kPerRow,
                 {ActivationKind::kGelu, 0, 0},
                 2,
                 mode},
                isa, &kiln::globalThreadPool());
        runCase({1,
                 2048,
                 1000,
                 false,
                 tb,
                 1.0f,
                 0.0f,
                 BiasKind::kPerCol,
                 {ActivationKind::kRelu, 0, 0},
                 0,
                 mode},
                isa, &kiln::globalThreadPool());
      }
  });
}

TEST(gemm_prepacked_equals_unpacked) {
  // Every tier: packed-B and packed-A runs across tile, K-block and thread boundaries.
  kt::forEachIsa([&](kiln::CpuIsa isa) {
    const int64_t dims[] = {2, 13, 33, 65};
    for (int mode : {1, 2})
      for (int64_t m : dims)
        for (int64_t n : dims)
          for (int t = 0; t < 4; ++t)
            runCase(
                {m, n, 300, (t & 1) != 0, (t & 2) != 0, 1.0f, 0.0f, BiasKind::kNone, {}, 0, mode},
                isa, &kiln::globalThreadPool());
    for (int mode : {1, 2}) {
      runCase({257,
               129,
               1030,
               true,
               true,
               0.5f,
               1.0f,
               BiasKind::kPerRow,
               {ActivationKind::kRelu, 0, 0},
               1,
               mode},
              isa, &kiln::globalThreadPool());
      runCase({97, 800, 64, false, true, 1.0f, 0.0f, BiasKind::kPerCol, {}, 0, mode}, isa, nullptr);
    }
  });
}

TEST(packed_blob_validation) {
  const auto b = kt::randomVector(40 * 24, 9);
  const auto blob = kiln::kernels::packGemmB(40, 24, false, b.data());
  kiln::kernels::validatePackedGemmB(blob.data(), blob.size(), 40, 24);
  // Other dims, other kind, truncated, corrupted magic.
  CHECK_THROWS(kiln::kernels::validatePackedGemmB(blob.data(), blob.size(), 24, 40), kiln::Error);
  CHECK_THROWS(kiln::kernels::validatePackedGemmA(blob.data(), blob.size(), 40, 24), kiln::Error);
  CHECK_THROWS(kiln::kernels::validatePackedGemmB(blob.data(), blob.size() - 4, 40, 24),
               kiln::Error);
  auto bad = blob;
  bad[0] ^= 1;
  CHECK_THROWS(kiln::kernels::validatePackedGemmB(bad.data(), bad.size(), 40, 24), kiln::Error);
  // A header that claims more dims than its payload holds is refused before any read.
  auto big = blob;
  kiln::kernels::PackedWeightsHeader h;
  std::memcpy(&h, big.data(), sizeof h);
  h.rows = 4000;
  std::memcpy(big.data(), &h, sizeof h);
  CHECK_THROWS(kiln::kernels::readPackedWeightsHeader(big.data(), big.size()), kiln::Error);
  // A blob made on one ISA tier is rejected on every other tier.
  kt::forEachIsa([&](kiln::CpuIsa isa) {
    const auto mine = kiln::kernels::packGemmB(40, 24, false, b.data());
    kt::forEachIsa([&](kiln::CpuIsa other) {
      if (other == isa) {
        kiln::kernels::validatePackedGemmB(mine.data(), mine.size(), 40, 24);
      } else {
        bool thrown = false;
        try {
          kiln::kernels::validatePackedGemmB(mine.data(), mine.size(), 40, 24);
        } catch (const kiln::Error& e) {
          thrown = e.code() == kiln::ErrorCode::kInvalidArgument;
        }
        if (!thrown) kiln_test::fail(__FILE__, __LINE__, "blob accepted on another ISA tier");
      }
    });
  });
  // sgemmPackedB validates too.
  GemmParams p;
  p.m = 2;
  p.n = 24;
  p.k = 41;
  std::vector<float> a(2 * 41), c(2 * 24);
  CHECK_THROWS(kiln::kernels::sgemmPackedB(p, a.data(), blob.data(), blob.size(), c.data()),
               kiln::Error);
}

TEST(gemm_k_zero_and_empty) {
  std::vector<float> c = {5, 6, 7, 8};
  GemmParams p;
  p.m = 2;
  p.n = 2;
  p.k = 0;
  p.beta = 0.5f;
  kiln::kernels::sgemm(p, nullptr, nullptr, c.data());
  CHECK(c[0] == 2.5f && c[3] == 4.0f);
  p.m = 0;
  kiln::kernels::sgemm(p, nullptr, nullptr, nullptr);  // nothing to do, nothing touched
}

TEST(gemm_beta_zero_ignores_nan) {
  kt::forEachIsa([&](kiln::CpuIsa) {
    std::vector<float> a(6, 1.0f), b(6, 1.0f), c(4, std::nanf(""));
    GemmParams p;
    p.m = 2;
    p.n = 2;
    p.k = 3;
    kiln::kernels::sgemm(p, a.data(), b.data(), c.data());
    CHECK(c[0] == 3.0f && c[1] == 3.0f && c[2] == 3.0f && c[3] == 3.0f);
  });
}

TEST(gemm_rejects_bad_params) {
  std::vector<float> x(16);
  GemmParams p;
  p.m = 2;
  p.n = 2;
  p.k = 2;
  p.lda = 1;
  CHECK_THROWS(kiln::kernels::sgemm(p, x.data(), x.data(), x.data()), kiln::Error);
  p.lda = 0;
  p.m = -1;
  CHECK_THROWS(kiln::kernels::sgemm(p, x.data(), x.data(), x.data()), kiln::Error);
  p.m = 2;
  p.biasKind = BiasKind::kPerRow;
  CHECK_THROWS(kiln::kernels::sgemm(p, x.data(), x.data(), x.data()), kiln::Error);
}
