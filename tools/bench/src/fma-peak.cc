// FP32 FMA peak probe: every thread runs independent chains of fused multiply-adds on
// registers only (no memory traffic), enough chains to cover FMA latency x FMA ports, so the
// figure is what the cores can issue, not what a kernel achieves. Compiled by peak.mjs with
// -march=native at run time; prints one JSON line.
//
//   fma-peak THREADS SECONDS
#include <immintrin.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#if defined(__AVX512F__)
using Vec = __m512;
static constexpr int kLanes = 16;
static constexpr const char* kIsa = "avx512f";
static inline Vec splat(float x) { return _mm512_set1_ps(x); }
static inline Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
static inline float lane0(Vec v) { return _mm512_cvtss_f32(v); }
#elif defined(__FMA__)
using Vec = __m256;
static constexpr int kLanes = 8;
static constexpr const char* kIsa = "avx2+fma";
static inline Vec splat(float x) { return _mm256_set1_ps(x); }
static inline Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
static inline float lane0(Vec v) { return _mm256_cvtss_f32(v); }
#else
#error "no FMA instructions on this target"
#endif

// 12 chains: more than latency (4-5 cycles) x ports (2) on current x86 cores, fewer than the
// vector registers, so nothing spills.
static constexpr int kChains = 12;

static float spin(long iterations) {
  const Vec m = splat(0.9999999f);
  const Vec c = splat(1e-7f);
  Vec a0 = splat(1.0f), a1 = splat(1.1f), a2 = splat(1.2f), a3 = splat(1.3f);
  Vec a4 = splat(1.4f), a5 = splat(1.5f), a6 = splat(1.6f), a7 = splat(1.7f);
  Vec a8 = splat(1.8f), a9 = splat(1.9f), a10 = splat(2.0f), a11 = splat(2.1f);
  for (long i = 0; i < iterations; i++) {
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
    a4 = fma(a4, m, c);
    a5 = fma(a5, m, c);
    a6 = fma(a6, m, c);
    a7 = fma(a7, m, c);
    a8 = fma(a8, m, c);
    a9 = fma(a9, m, c);
    a10 = fma(a10, m, c);
    a11 = fma(a11, m, c);
  }
  // Using every chain's result keeps the compiler from dropping any of them.
  return lane0(a0) + lane0(a1) + lane0(a2) + lane0(a3) + lane0(a4) + lane0(a5) + lane0(a6) +
         lane0(a7) + lane0(a8) + lane0(a9) + lane0(a10) + lane0(a11);
}

// Wall time of `threads` threads each running `iterations`, started together.
static double timed(int threads, long iterations, float* sink) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<float> results(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; t++) {
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) {
      }
      results[t] = spin(iterations);
    });
  }
  while (ready.load() < threads) {
  }
  auto start = std::chrono::steady_clock::now();
  go.store(true, std::memory_order_release);
  for (auto& th : pool) th.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (float r : results) *sink += r;
  return seconds;
}

int main(int argc, char** argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  double budget = argc > 2 ? std::atof(argv[2]) : 1.0;
  if (threads < 1 || budget <= 0) {
    std::fprintf(stderr, "usage: fma-peak THREADS SECONDS\n");
    return 2;
  }
  float sink = 0;
  // Calibrate to ~1/10 of the budget per trial, then keep the best trial: interruptions by
  // other processes only ever make a trial slower.
  long iterations = 1 << 16;
  while (timed(1, iterations, &sink) < 0.02) iterations *= 2;
  double one = timed(1, iterations, &sink);
  iterations = static_cast<long>(iterations * (budget / 10) / one) + 1;
  double best = 1e300;
  int trials = 0;
  auto start = std::chrono::steady_clock::now();
  do {
    best = std::min(best, timed(threads, iterations, &sink));
    trials++;
  } while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() <
           budget);
  double flops = 2.0 * kLanes * kChains * static_cast<double>(iterations) * threads;
  std::printf("{\"isa\":\"%s\",\"threads\":%d,\"gflops\":%.3f,\"trials\":%d,\"sink\":%g}\n", kIsa,
              threads, flops / best / 1e9, trials, static_cast<double>(sink));
  return 0;
}
