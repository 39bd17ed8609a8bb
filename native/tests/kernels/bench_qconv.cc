// 8-bit convolution and max pooling time at the layer shapes of ResNet-50 and MobileNet-v2
// (batch 1), weights packed once as the engine does; GMAC/s from the fastest call. Usage:
// bench_qconv [seconds per shape] [filter]; the pool's threads come from KILN_NUM_THREADS.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <random>
#include <vector>

#include "kiln/cpu_features.h"
#include "kiln/kernels/qgemm.h"
#include "kiln/kernels/quantize.h"
#include "kiln/thread_pool.h"

namespace {

// Median and fastest wall time per call; on a shared machine the fastest is the steadier figure.
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

struct Shape {
  const char* what;
  int64_t c, h, w, m, k, stride, pad, group;
};

// Every distinct convolution of the two models (torchvision layouts).
const Shape kShapes[] = {
    {"r50 conv1 7x7/2", 3, 224, 224, 64, 7, 2, 3, 1},
    {"r50 l1 1x1 64>64", 64, 56, 56, 64, 1, 1, 0, 1},
    {"r50 l1 3x3 64", 64, 56, 56, 64, 3, 1, 1, 1},
    {"r50 l1 1x1 64>256", 64, 56, 56, 256, 1, 1, 0, 1},
    {"r50 l1 1x1 256>64", 256, 56, 56, 64, 1, 1, 0, 1},
    {"r50 l2.0 1x1 256>128", 256, 56, 56, 128, 1, 1, 0, 1},
    {"r50 l2.0 3x3/2 128", 128, 56, 56, 128, 3, 2, 1, 1},
    {"r50 l2.0 ds 1x1/2", 256, 56, 56, 512, 1, 2, 0, 1},
    {"r50 l2 1x1 128>512", 128, 28, 28, 512, 1, 1, 0, 1},
    {"r50 l2 1x1 512>128", 512, 28, 28, 128, 1, 1, 0, 1},
    {"r50 l2 3x3 128", 128, 28, 28, 128, 3, 1, 1, 1},
    {"r50 l3.0 1x1 512>256", 512, 28, 28, 256, 1, 1, 0, 1},
    {"r50 l3.0 3x3/2 256", 256, 28, 28, 256, 3, 2, 1, 1},
    {"r50 l3.0 ds 1x1/2", 512, 28, 28, 1024, 1, 2, 0, 1},
    {"r50 l3 1x1 256>1024", 256, 14, 14, 1024, 1, 1, 0, 1},
    {"r50 l3 1x1 1024>256", 1024, 14, 14, 256, 1, 1, 0, 1},
    {"r50 l3 3x3 256", 256, 14, 14, 256, 3, 1, 1, 1},
    {"r50 l4.0 1x1 1024>512", 1024, 14, 14, 512, 1, 1, 0, 1},
    {"r50 l4.0 3x3/2 512", 512, 14, 14, 512, 3, 2, 1, 1},
    {"r50 l4.0 ds 1x1/2", 1024, 14, 14, 2048, 1, 2, 0, 1},
    {"r50 l4 1x1 512>2048", 512, 7, 7, 2048, 1, 1, 0, 1},
    {"r50 l4 1x1 2048>512", 2048, 7, 7, 512, 1, 1, 0, 1},
    {"r50 l4 3x3 512", 512, 7, 7, 512, 3, 1, 1, 1},
    {"mv2 conv0 3x3/2", 3, 224, 224, 32, 3, 2, 1, 1},
    {"mv2 dw 3x3 32@112", 32, 112, 112, 32, 3, 1, 1, 32},
    {"mv2 1x1 32>16@112", 32, 112, 112, 16, 1, 1, 0, 1},
    {"mv2 1x1 16>96@112", 16, 112, 112, 96, 1, 1, 0, 1},
    {"mv2 dw 3x3/2 96@112", 96, 112, 112, 96, 3, 2, 1, 96},
    {"mv2 1x1 96>24@56", 96, 56, 56, 24, 1, 1, 0, 1},
    {"mv2 1x1 24>144@56", 24, 56, 56, 144, 1, 1, 0, 1},
    {"mv2 dw 3x3 144@56", 144, 56, 56, 144, 3, 1, 1, 144},
    {"mv2 1x1 144>24@56", 144, 56, 56, 24, 1, 1, 0, 1},
    {"mv2 dw 3x3/2 144@56", 144, 56, 56, 144, 3, 2, 1, 144},
    {"mv2 1x1 144>32@28", 144, 28, 28, 32, 1, 1, 0, 1},
    {"mv2 1x1 32>192@28", 32, 28, 28, 192, 1, 1, 0, 1},
    {"mv2 dw 3x3 192@28", 192, 28, 28, 192, 3, 1, 1, 192},
    {"mv2 1x1 192>32@28", 192, 28, 28, 32, 1, 1, 0, 1},
    {"mv2 dw 3x3/2 192@28", 192, 28, 28, 192, 3, 2, 1, 192},
    {"mv2 1x1 192>64@14", 192, 14, 14, 64, 1, 1, 0, 1},
    {"mv2 1x1 64>384@14", 64, 14, 14, 384, 1, 1, 0, 1},
    {"mv2 dw 3x3 384@14", 384, 14, 14, 384, 3, 1, 1, 384},
    {"mv2 1x1 384>64@14", 384, 14, 14, 64, 1, 1, 0, 1},
    {"mv2 1x1 384>96@14", 384, 14, 14, 96, 1, 1, 0, 1},
    {"mv2 1x1 96>576@14", 96, 14, 14, 576, 1, 1, 0, 1},
    {"mv2 dw 3x3 576@14", 576, 14, 14, 576, 3, 1, 1, 576},
    {"mv2 1x1 576>96@14", 576, 14, 14, 96, 1, 1, 0, 1},
    {"mv2 dw 3x3/2 576@14", 576, 14, 14, 576, 3, 2, 1, 576},
    {"mv2 1x1 576>160@7", 576, 7, 7, 160, 1, 1, 0, 1},
    {"mv2 1x1 160>960@7", 160, 7, 7, 960, 1, 1, 0, 1},
    {"mv2 dw 3x3 960@7", 960, 7, 7, 960, 3, 1, 1, 960},
    {"mv2 1x1 960>160@7", 960, 7, 7, 160, 1, 1, 0, 1},
    {"mv2 1x1 960>320@7", 960, 7, 7, 320, 1, 1, 0, 1},
    {"mv2 1x1 320>1280@7", 320, 7, 7, 1280, 1, 1, 0, 1},
};

int run(double seconds, const char* filter) {
  using namespace kiln::kernels;
  std::printf("isa: %s, pool threads: %d\n", kiln::isaName(kiln::activeIsa()),
              static_cast<int>(kiln::globalThreadPool().size()));
  std::printf("%-24s %10s %10s %8s\n", "shape", "median ms", "best ms", "GMAC/s");
  std::mt19937 gen(7);
  double total = 0;
  for (const Shape& s : kShapes) {
    if (std::strstr(s.what, filter) == nullptr) continue;
    QConv2dParams p;
    p.inChannels = s.c;
    p.inH = s.h;
    p.inW = s.w;
    p.outChannels = s.m;
    p.kernelH = p.kernelW = s.k;
    p.strideH = p.strideW = s.stride;
    p.padTop = p.padLeft = p.padBottom = p.padRight = s.pad;
    p.group = s.group;
    p.inZeroPoint = 3;
    std::vector<int8_t> w(static_cast<size_t>(s.m * s.c / s.group * s.k * s.k));
    for (auto& v : w) v = static_cast<int8_t>(static_cast<int>(gen() % 255) - 127);
    std::vector<uint8_t> x(static_cast<size_t>(s.c * s.h * s.w));
    for (auto& v : x) v = static_cast<uint8_t>(gen());
    int64_t oh = 0, ow = 0;
    qconv2dOutputShape(p, &oh, &ow);
    std::vector<uint8_t> y(static_cast<size_t>(s.m * oh * ow));
    std::vector<int32_t> bias(static_cast<size_t>(s.m), 100);
    std::vector<float> scale(static_cast<size_t>(s.m), 1.0f / 4096);
    QRequant rq;
    rq.bias = bias.data();
    rq.scale = scale.data();
    rq.zeroPoint = 5;
    const QConvWeights packed = packQConvWeights(p, w.data());
    const Timing t = secondsPerCall([&] { qconv2d(p, packed, x.data(), rq, y.data()); }, seconds);
    const double macs = static_cast<double>(s.m * oh * ow) * (s.c / s.group) * s.k * s.k;
    std::printf("%-24s %10.4f %10.4f %8.1f\n", s.what, t.median * 1e3, t.best * 1e3,
                macs / t.best * 1e-9);
    total += t.median;
  }
  if (std::strstr("r50 maxpool", filter) != nullptr || filter[0] == '\0') {
    Pool2dParams p;
    p.channels = 64;
    p.inH = p.inW = 112;
    p.kernelH = p.kernelW = 3;
    p.strideH = p.strideW = 2;
    p.padTop = p.padLeft = p.padBottom = p.padRight = 1;
    std::vector<uint8_t> x(static_cast<size_t>(64 * 112 * 112)), y(64 * 56 * 56);
    for (auto& v : x) v = static_cast<uint8_t>(gen());
    const Timing t = secondsPerCall([&] { maxPool2d8(p, x.data(), false, y.data()); }, seconds);
    std::printf("%-24s %10.4f %10.4f\n", "r50 maxpool 3x3/2", t.median * 1e3, t.best * 1e3);
    total += t.median;
  }
  std::printf("%-24s %10.4f\n", "sum of medians", total * 1e3);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 0.3;
  const char* filter = argc > 2 ? argv[2] : "";
  // Run on a pool thread, as an engine's stream does.
  std::promise<int> done;
  kiln::globalThreadPool().submit([&] { done.set_value(run(seconds, filter)); });
  return done.get_future().get();
}
