// SGEMM throughput at a few shapes, next to an estimate of the machine's FP32 FMA peak.
// Usage: bench_gemm [seconds per shape] (GFLOP/s columns; us/call is the all-threads time);
// KILN_NUM_THREADS / KILN_CPU_ISA pick threads and tier.
#include <immintrin.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "kiln/cpu_features.h"
#include "kiln/kernels/gemm.h"
#include "kiln/thread_pool.h"

namespace {

// Measured single-core FP32 peak: 12 independent FMA chains (enough to cover latency x pipes),
// so the estimate reflects the real boost clock instead of the nominal one.
__attribute__((target("avx512f,fma"))) double measuredPeakAvx512(double seconds) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
  long iters = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double elapsed = 0;
  do {
    for (int r = 0; r < 1000; ++r)
      for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], m, a);
    iters += 1000;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (elapsed < seconds);
  float sink = 0;
  for (int i = 0; i < 12; ++i) {
    float lanes[16];
    _mm512_storeu_ps(lanes, acc[i]);
    sink += lanes[0];
  }
  if (sink == 12345.0f) std::printf(" ");  // keeps the loop alive
  return iters * 12.0 * 16 * 2 / elapsed / 1e9;
}

// Clock from /proc/cpuinfo (the nominal MHz the kernel reports), 0 when unknown.
double cpuGhz() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("cpu MHz", 0) == 0) {
      const auto pos = line.find(':');
      if (pos != std::string::npos) return std::atof(line.c_str() + pos + 1) / 1000.0;
    }
  }
  return 0.0;
}

double bench(int64_t m, int64_t n, int64_t k, bool transB, bool packed, double seconds,
             kiln::ThreadPool* pool) {
  std::vector<float> a(static_cast<size_t>(m * k), 0.5f), b(static_cast<size_t>(k * n), 0.25f),
      c(static_cast<size_t>(m * n));
  kiln::kernels::GemmParams p;
  p.m = m;
  p.n = n;
  p.k = k;
  p.transB = transB;
  // Packed: B is packed once, as the engine does at build time, and only the run is timed.
  const std::vector<uint8_t> blob =
      packed ? kiln::kernels::packGemmB(k, n, transB, b.data()) : std::vector<uint8_t>();
  auto run = [&] {
    if (packed)
      kiln::kernels::sgemmPackedB(p, a.data(), blob.data(), blob.size(), c.data(), pool);
    else
      kiln::kernels::sgemm(p, a.data(), b.data(), c.data(), pool);
  };
  run();  // warm up: packing buffers, pages
  int iters = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double elapsed = 0;
  do {
    run();
    ++iters;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (elapsed < seconds);
  return 2.0 * m * n * k * iters / elapsed / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  const auto& f = kiln::cpuFeatures();
  const kiln::CpuIsa isa = kiln::activeIsa();
  const int lanes = isa == kiln::CpuIsa::kAvx512 ? 16 : isa == kiln::CpuIsa::kAvx2 ? 8 : 4;
  const double ghz = cpuGhz();
  // Two FMA pipes per core, 2 flops per lane per FMA, at the nominal clock; measured when the
  // CPU has AVX-512 (boost clocks make the nominal figure too low).
  double peakCore = ghz * 2 * 2 * lanes;
  if (isa == kiln::CpuIsa::kAvx512) peakCore = measuredPeakAvx512(0.3);
  const int threads = kiln::globalThreadPool().size();
  std::printf("cpu: %s, isa: %s, pool threads: %d, clock %.2f GHz\n", f.model.c_str(),
              kiln::isaName(isa), threads, ghz);
  std::printf(
      "peak (measured FMA loop on AVX-512, else nominal clock): %.0f GFLOP/s per core, %.0f "
      "GFLOP/s for %d cores\n",
      peakCore, peakCore * f.logicalCores, f.logicalCores);
  struct Shape {
    int64_t m, n, k;
    bool transB;
    const char* what;
    bool packed = false;
  };
  const Shape shapes[] = {
      {1024, 1024, 1024, false, "square 1024^3"},
      {64, 3136, 576, false, "ResNet-50 conv2 3x3 (im2col)"},
      {512, 49, 4608, false, "ResNet-50 conv5 3x3 (im2col)"},
      {256, 3136, 64, false, "ResNet-50 conv2 1x1"},
      {197, 192, 192, false, "DeiT-tiny qkv-like"},
      // Batch-1 fully connected layers (GEMV): ONNX Gemm stores FC weights as [N, K], transB = 1.
      {1, 1000, 2048, true, "GEMV ResNet-50 fc (transB)"},
      {1, 1000, 2048, false, "GEMV ResNet-50 fc"},
      {1, 768, 768, false, "GEMV BERT-base proj"},
      {1, 3072, 768, false, "GEMV BERT-base ffn up"},
      {1, 768, 3072, true, "GEMV BERT-base ffn down (transB)"},
      {1, 1000, 2048, true, "GEMV ResNet-50 fc, packed B", true},
      {1, 3072, 768, false, "GEMV BERT-base ffn up, packed B", true},
      {197, 192, 192, false, "DeiT-tiny qkv-like, packed B", true},
      {64, 3136, 576, false, "ResNet-50 conv2 3x3, packed B", true},
  };
  std::printf("%-34s %10s %12s %10s %12s   %s\n", "shape", "1 thread", "all threads", "% of peak",
              "us/call all", "M x N x K");
  for (const auto& s : shapes) {
    const double g1 = bench(s.m, s.n, s.k, s.transB, s.packed, seconds, nullptr);
    const double gn = bench(s.m, s.n, s.k, s.transB, s.packed, seconds, &kiln::globalThreadPool());
    const double us = 2.0 * s.m * s.n * s.k / (gn * 1e9) * 1e6;
    std::printf("%-34s %10.1f %12.1f %9.0f%% %12.1f   %ldx%ldx%ld\n", s.what, g1, gn,
                peakCore > 0 ? 100.0 * gn / (peakCore * f.logicalCores) : 0.0, us, (long)s.m,
                (long)s.n, (long)s.k);
  }
  return 0;
}
