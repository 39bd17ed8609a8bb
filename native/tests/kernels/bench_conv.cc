// Conv2d and pooling time at the layer shapes of ResNet-50 and MobileNet-v2 (batch 1), with
// weights pre-packed as the engine does; GFLOP/s from the fastest call. Usage: bench_conv
// [seconds per shape] [filter]; the pool's threads come from KILN_NUM_THREADS, the tier from
// KILN_CPU_ISA. The filter "mv2net" times MobileNet-v2's whole conv sequence instead, with each
// layer's fastest time in it.
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

// MobileNet-v2's 52 convolutions in network order (batch 1, 224 x 224), for "bench_conv
// [seconds] mv2net": the whole sequence per call, each layer on its own buffers as in an engine,
// so a layer finds in cache only what the one before it left there.
std::vector<ConvShape> mobilenetV2Sequence() {
  std::vector<ConvShape> seq{{"mv2 conv0", 3, 224, 224, 32, 3, 2, 1, 1, false}};
  int64_t c = 32, hw = 112;
  const auto block = [&](int64_t expand, int64_t out, int64_t stride) {
    const int64_t mid = c * expand;
    if (expand != 1) seq.push_back({"pw", c, hw, hw, mid, 1, 1, 0, 1, false});
    seq.push_back({"dw", mid, hw, hw, mid, 3, stride, 1, mid, false});
    hw = (hw + 2 - 3) / stride + 1;
    seq.push_back({"pw", mid, hw, hw, out, 1, 1, 0, 1, stride == 1 && c == out});
    c = out;
  };
  block(1, 16, 1);
  const int64_t stages[][4] = {{6, 24, 2, 2}, {6, 32, 3, 2},  {6, 64, 4, 2},
                               {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  for (const auto& st : stages)
    for (int64_t i = 0; i < st[2]; ++i) block(st[0], st[1], i == 0 ? st[3] : 1);
  seq.push_back({"pw", c, hw, hw, 1280, 1, 1, 0, 1, false});
  return seq;
}
}  // namespace

namespace {
// The mobilenetV2Sequence as one timed call, relu6 fused as the engine fuses Clip.
int runMobileNetV2(double seconds) {
  struct Layer {
    kiln::kernels::Conv2dParams p;
    std::vector<uint8_t> blob;
    std::vector<float> bias, y;
    bool residual;
    double best = 0;  // fastest time of this layer within a sequence
  };
  std::vector<Layer> layers;
  std::vector<float> input(3 * 224 * 224, 0.5f);
  for (const ConvShape& s : mobilenetV2Sequence()) {
    Layer l;
    kiln::kernels::Conv2dParams& p = l.p;
    p.inChannels = s.c, p.inH = s.h, p.inW = s.w, p.outChannels = s.m;
    p.kernelH = p.kernelW = s.k;
    p.strideH = p.strideW = s.stride;
    p.padTop = p.padLeft = p.padBottom = p.padRight = s.pad;
    p.group = s.group;
    p.activation.kind = kiln::kernels::ActivationKind::kClip;
    p.activation.alpha = 0.0f;
    p.activation.beta = 6.0f;
    int64_t oh, ow;
    kiln::kernels::conv2dOutputShape(p, &oh, &ow);
    std::vector<float> w(static_cast<size_t>(s.m * (s.c / s.group) * s.k * s.k), 0.01f);
    l.blob = kiln::kernels::packConv2dWeights(p, w.data(), kiln::kernels::conv2dHeuristicAlgo(p));
    l.bias.assign(static_cast<size_t>(s.m), 0.1f);
    l.y.assign(static_cast<size_t>(s.m * oh * ow), 0.0f);
    l.residual = s.residual;
    layers.push_back(std::move(l));
  }
  const Timing t = secondsPerCall(
      [&] {
        const float* x = input.data();
        const float* blockInput = nullptr;  // what a residual layer adds
        for (size_t i = 0; i < layers.size(); ++i) {
          Layer& l = layers[i];
          const auto t0 = std::chrono::steady_clock::now();
          // An expansion (a 1x1 before a depthwise) starts a block.
          if (l.p.group == 1 && i + 1 < layers.size() && layers[i + 1].p.group > 1) blockInput = x;
          kiln::kernels::conv2dPacked(l.p, x, l.blob.data(), l.blob.size(), l.bias.data(),
                                      l.residual ? blockInput : nullptr, l.y.data());
          x = l.y.data();
          const double dt =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          l.best = l.best == 0 ? dt : std::min(l.best, dt);
        }
      },
      seconds);
  for (const Layer& l : layers) {
    int64_t oh, ow;
    kiln::kernels::conv2dOutputShape(l.p, &oh, &ow);
    std::printf("%-4s %4lld -> %4lld  k%lld s%lld @%3lld%s  best %.4f ms\n",
                l.p.group > 1 ? "dw" : "conv", static_cast<long long>(l.p.inChannels),
                static_cast<long long>(l.p.outChannels), static_cast<long long>(l.p.kernelH),
                static_cast<long long>(l.p.strideH), static_cast<long long>(l.p.inH),
                l.residual ? " +res" : "     ", l.best * 1e3);
  }
  std::printf("mv2 sequence: %zu convs, median %.4f ms, best %.4f ms\n", layers.size(),
              t.median * 1e3, t.best * 1e3);
  return 0;
}

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
      {"r50 l3 3x3 256 s2 @28", 256, 28, 28, 256, 3, 2, 1, 1, false},
      {"r50 l3 3x3 256", 256, 14, 14, 256, 3, 1, 1, 1, false},
      {"r50 l3 1x1 1024->256", 1024, 14, 14, 256, 1, 1, 0, 1, false},
      {"r50 l4 3x3 512 s2 @14", 512, 14, 14, 512, 3, 2, 1, 1, false},
      {"r50 l4 3x3 512", 512, 7, 7, 512, 3, 1, 1, 1, false},
      {"r50 l4 1x1 512->2048 +res", 512, 7, 7, 2048, 1, 1, 0, 1, true},
      {"r50 l4 1x1 2048->512", 2048, 7, 7, 512, 1, 1, 0, 1, false},
      {"mv2 conv0 3x3 s2 @224", 3, 224, 224, 32, 3, 2, 1, 1, false},
      {"mv2 dw 3x3 32 @112", 32, 112, 112, 32, 3, 1, 1, 32, false},
      {"mv2 dw 3x3 144 s2 @56", 144, 56, 56, 144, 3, 2, 1, 144, false},
      {"mv2 dw 3x3 576 @14", 576, 14, 14, 576, 3, 1, 1, 576, false},
      {"mv2 1x1 96->576 @14", 96, 14, 14, 576, 1, 1, 0, 1, false},
      {"mv2 1x1 16->96 @112", 16, 112, 112, 96, 1, 1, 0, 1, false},
      {"mv2 1x1 192->64 @14", 192, 14, 14, 64, 1, 1, 0, 1, false},
      {"mv2 dw 3x3 384 @14", 384, 14, 14, 384, 3, 1, 1, 384, false},
      {"mv2 dw 3x3 960 @7", 960, 7, 7, 960, 3, 1, 1, 960, false},
      {"mv2 1x1 960->160 @7", 960, 7, 7, 160, 1, 1, 0, 1, false},
      {"mv2 1x1 960->320 @7", 960, 7, 7, 320, 1, 1, 0, 1, false},
      {"mv2 1x1 320->1280 @7", 320, 7, 7, 1280, 1, 1, 0, 1, false},
      {"mv2 1x1 576->96 @14", 576, 14, 14, 96, 1, 1, 0, 1, false},
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
  kiln::globalThreadPool().submit([&] {
    done.set_value(std::strcmp(filter, "mv2net") == 0 ? runMobileNetV2(seconds)
                                                      : run(seconds, filter));
  });
  return done.get_future().get();
}
