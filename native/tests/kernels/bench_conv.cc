// Conv2d and pooling time at the layer shapes of ResNet-50 and MobileNet-v2 (batch 1), with
// weights pre-packed as the engine does; GFLOP/s from the fastest call. Usage: bench_conv
// [seconds per shape] [filter]; the pool's threads come from KILN_NUM_THREADS, the tier from
// KILN_CPU_ISA.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <vector>

#include "kiln/cpu_features.h"
#include "kiln/kernels/conv.h"
#include "kiln/kernels/pool.h"
#include "kiln/thread_pool.h"

namespace {

// Median and fastest wall time per call. On a shared machine the fastest call is the steadier
// figure: other processes can only make a call slower.
struct Timing {
  double median, best;
};

template <typename Fn>
Timing secondsPerCall(Fn&& run, double seconds) {
  run();  // warm up: scratch buffers, pages
  std::vector<double> samples;
  const auto start = std::chrono::steady_clock::now();
  do {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    samples.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  } while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() <
           seconds);
  std::sort(samples.begin(), samples.end());
  return {samples[samples.size() / 2], samples.front()};
}

struct ConvShape {
  const char* what;
  int64_t c, h, w, m, k, stride, pad, group;
  bool residual;
};

}  // namespace

namespace {
int run(double seconds, const char* filter) {
  std::printf("isa: %s, pool threads: %d\n", kiln::isaName(kiln::activeIsa()),
              kiln::globalThreadPool().size());
  const ConvShape shapes[] = {
      {"r50 conv1 7x7 s2", 3, 224, 224, 64, 7, 2, 3, 1, false},
      {"r50 l1 1x1 64->64", 64, 56, 56, 64, 1, 1, 0, 1, false},
      {"r50 l1 3x3 64", 64, 56, 56, 64, 3, 1, 1, 1, false},
      {"r50 l1 1x1 64->256 +res", 64, 56, 56, 256, 1, 1, 0, 1, true},
      {"r50 l1 1x1 256->64", 256, 56, 56, 64, 1, 1, 0, 1, false},
      {"r50 l2 3x3 128 s2", 128, 56, 56, 128, 3, 2, 1, 1, false},
      {"r50 l2 3x3 128", 128, 28, 28, 128, 3, 1, 1, 1, false},
      {"r50 l2 1x1 512->128", 512, 28, 28, 128, 1, 1, 0, 1, false},
      {"r50 l3 3x3 256", 256, 14, 14, 256, 3, 1, 1, 1, false},
      {"r50 l3 1x1 1024->256", 1024, 14, 14, 256, 1, 1, 0, 1, false},
      {"r50 l4 3x3 512", 512, 7, 7, 512, 3, 1, 1, 1, false},
      {"r50 l4 1x1 512->2048 +res", 512, 7, 7, 2048, 1, 1, 0, 1, true},
      {"r50 l4 1x1 2048->512", 2048, 7, 7, 512, 1, 1, 0, 1, false},
      {"mv2 dw 3x3 32 @112", 32, 112, 112, 32, 3, 1, 1, 32, false},
      {"mv2 dw 3x3 144 s2 @56", 144, 56, 56, 144, 3, 2, 1, 144, false},
      {"mv2 dw 3x3 576 @14", 576, 14, 14, 576, 3, 1, 1, 576, false},
      {"mv2 1x1 96->576 @14", 96, 14, 14, 576, 1, 1, 0, 1, false},
      {"mv2 1x1 16->96 @112", 16, 112, 112, 96, 1, 1, 0, 1, false},
      {"mv2 1x1 192->64 @14", 192, 14, 14, 64, 1, 1, 0, 1, false},
      {"mv2 dw 3x3 384 @14", 384, 14, 14, 384, 3, 1, 1, 384, false},
      {"mv2 dw 3x3 960 @7", 960, 7, 7, 960, 3, 1, 1, 960, false},
      {"mv2 1x1 960->160 @7", 960, 7, 7, 160, 1, 1, 0, 1, false},
      {"mv2 dw 3x3 96 s2 @112", 96, 112, 112, 96, 3, 2, 1, 96, false},
      {"cls 1x1 32->200 @3x24", 32, 3, 24, 200, 1, 1, 0, 1, false},
      {"cls 1x1 32->200 @6x24", 32, 6, 24, 200, 1, 1, 0, 1, false},
      {"cls dw 5x5 88 @6x24", 88, 6, 24, 88, 5, 1, 2, 88, false},
      {"cls dw 5x5 88 @12x48", 88, 12, 48, 88, 5, 1, 2, 88, false},
  };
  std::printf("%-28s %-8s %10s %10s %10s\n", "layer", "algo", "median ms", "best ms", "GFLOP/s");
  double total = 0, totalFastest = 0;
  for (const ConvShape& s : shapes) {
    if (*filter && !std::strstr(s.what, filter)) continue;
    kiln::kernels::Conv2dParams p;
    p.inChannels = s.c, p.inH = s.h, p.inW = s.w, p.outChannels = s.m;
    p.kernelH = p.kernelW = s.k;
    p.strideH = p.strideW = s.stride;
    p.padTop = p.padLeft = p.padBottom = p.padRight = s.pad;
    p.group = s.group;
    p.activation.kind = kiln::kernels::ActivationKind::kRelu;
    int64_t oh, ow;
    kiln::kernels::conv2dOutputShape(p, &oh, &ow);
    std::vector<float> x(static_cast<size_t>(s.c * s.h * s.w), 0.5f);
    std::vector<float> w(static_cast<size_t>(s.m * (s.c / s.group) * s.k * s.k), 0.01f);
    std::vector<float> bias(static_cast<size_t>(s.m), 0.1f);
    std::vector<float> y(static_cast<size_t>(s.m * oh * ow)), res(y.size(), 1.0f);
    // Every algorithm that applies, timed in turn on the same buffers; "sum" counts the
    // default (im2col + GEMM) and the fastest of them separately.
    double fastest = 0;
    for (const kiln::kernels::ConvAlgo algo :
         {kiln::kernels::ConvAlgo::kGemm, kiln::kernels::ConvAlgo::kWinograd}) {
      if (!kiln::kernels::conv2dAlgoApplies(p, algo)) continue;
      // BENCH_COLD_WEIGHTS=1 rotates through copies of the weights that together exceed the
      // caches, as in a whole network where every layer's weights come from memory.
      const std::vector<uint8_t> blob0 = kiln::kernels::packConv2dWeights(p, w.data(), algo);
      const size_t copies =
          std::getenv("BENCH_COLD_WEIGHTS") ? std::max<size_t>(2, (256u << 20) / blob0.size()) : 1;
      std::vector<std::vector<uint8_t>> blobs(std::min<size_t>(copies, 512), blob0);
      size_t next = 0;
      const Timing t = secondsPerCall(
          [&] {
            const std::vector<uint8_t>& blob = blobs[next++ % blobs.size()];
            kiln::kernels::conv2dPacked(p, x.data(), blob.data(), blob.size(), bias.data(),
                                        s.residual ? res.data() : nullptr, y.data());
          },
          seconds);
      // GFLOP/s of the direct convolution's count, so algorithms compare by time.
      const double flops = 2.0 * s.m * oh * ow * (s.c / s.group) * s.k * s.k;
      if (algo == kiln::kernels::ConvAlgo::kGemm) total += t.best;
      fastest = fastest == 0 ? t.best : std::min(fastest, t.best);
      std::printf("%-28s %-8s %10.4f %10.4f %10.1f\n", s.what,
                  algo == kiln::kernels::ConvAlgo::kGemm ? "gemm" : "winograd", t.median * 1e3,
                  t.best * 1e3, flops / t.best / 1e9);
    }
    totalFastest += fastest;
  }
  if (!*filter || std::strstr("r50 maxpool 3x3 s2", filter)) {
    kiln::kernels::Pool2dParams pp;
    pp.batch = 1, pp.channels = 64, pp.inH = 112, pp.inW = 112;
    pp.kernelH = pp.kernelW = 3;
    pp.strideH = pp.strideW = 2;
    pp.padTop = pp.padLeft = pp.padBottom = pp.padRight = 1;
    std::vector<float> x(64 * 112 * 112, 0.5f), y(64 * 56 * 56);
    const Timing t =
        secondsPerCall([&] { kiln::kernels::pool2d(pp, x.data(), y.data()); }, seconds);
    total += t.best;
    totalFastest += t.best;
    std::printf("%-28s %-8s %10.4f %10.4f\n", "r50 maxpool 3x3 s2", "", t.median * 1e3,
                t.best * 1e3);
  }
  std::printf("%-28s %-8s %10s %10.4f\n", "sum", "gemm", "", total * 1e3);
  std::printf("%-28s %-8s %10s %10.4f\n", "sum", "fastest", "", totalFastest * 1e3);
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 0.5;
  const char* filter = argc > 2 ? argv[2] : "";
  // Run on a pool thread, as an engine's stream does: its kernels then recruit pool size - 1
  // helpers, and no extra thread competes for the cores.
  std::promise<int> done;
  kiln::globalThreadPool().submit([&] { done.set_value(run(seconds, filter)); });
  return done.get_future().get();
}
