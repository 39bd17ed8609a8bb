// The oneDNN conv tactic (built with KILN_WITH_ONEDNN) against direct double-precision loops:
// strides, pads (asymmetric), groups, depthwise, dilation, 1x1, 3x3, 7x7 stride 2, batch 2, and
// the fused epilogues (bias, residual, each activation oneDNN expresses), at the prepared
// geometry and at another input size (a second primitive, weights reordered again if needed).
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "kernel_test_util.h"
#include "kiln/error.h"
#include "kiln/kernels/conv.h"
#include "tactics/onednn/onednn_conv.h"

using kiln::kernels::Activation;
using kiln::kernels::ActivationKind;
using kiln::kernels::Conv2dParams;

namespace {

Conv2dParams conv(int64_t n, int64_t c, int64_t h, int64_t w, int64_t m, int64_t kh, int64_t kw,
                  int64_t s, int64_t pad, int64_t d = 1, int64_t g = 1) {
  Conv2dParams p;
  p.batch = n;
  p.inChannels = c;
  p.inH = h;
  p.inW = w;
  p.outChannels = m;
  p.kernelH = kh;
  p.kernelW = kw;
  p.strideH = p.strideW = s;
  p.padTop = p.padLeft = p.padBottom = p.padRight = pad;
  p.dilationH = p.dilationW = d;
  p.group = g;
  return p;
}

std::string describe(const Conv2dParams& p, bool bias, bool residual) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "onednn conv N%ld C%ld %ldx%ld M%ld k%ldx%ld s%ld,%ld pad%ld,%ld,%ld,%ld d%ld,%ld "
                "g%ld act%d%s%s",
                (long)p.batch, (long)p.inChannels, (long)p.inH, (long)p.inW, (long)p.outChannels,
                (long)p.kernelH, (long)p.kernelW, (long)p.strideH, (long)p.strideW, (long)p.padTop,
                (long)p.padLeft, (long)p.padBottom, (long)p.padRight, (long)p.dilationH,
                (long)p.dilationW, (long)p.group, static_cast<int>(p.activation.kind),
                bias ? " bias" : "", residual ? " res" : "");
  return buf;
}

// Runs p through a state prepared at `prepared` (same layer, possibly another input size) and
// compares with the reference.
void check(const Conv2dParams& p, bool withBias, bool withResidual, const Conv2dParams& prepared) {
  int64_t OH, OW;
  kiln::kernels::conv2dOutputShape(p, &OH, &OW);
  const int64_t Cg = p.inChannels / p.group, Mg = p.outChannels / p.group;
  const size_t xs = p.batch * p.inChannels * p.inH * p.inW;
  const size_t ws = p.outChannels * Cg * p.kernelH * p.kernelW;
  const size_t ys = p.batch * p.outChannels * OH * OW;
  auto x = kt::randomVector(xs, 21), w = kt::randomVector(ws, 22);
  auto b = kt::randomVector(p.outChannels, 23), res = kt::randomVector(ys, 24);
  std::vector<double> want(ys), scale(ys);
  const int64_t K = Cg * p.kernelH * p.kernelW;
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t oc = 0; oc < p.outChannels; ++oc)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t g = oc / Mg;
          double s = 0, mag = 0;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t ky = 0; ky < p.kernelH; ++ky)
              for (int64_t kx = 0; kx < p.kernelW; ++kx) {
                const int64_t ih = oh * p.strideH - p.padTop + ky * p.dilationH;
                const int64_t iw = ow * p.strideW - p.padLeft + kx * p.dilationW;
                if (ih < 0 || ih >= p.inH || iw < 0 || iw >= p.inW) continue;
                const double t =
                    static_cast<double>(
                        x[((n * p.inChannels + g * Cg + c) * p.inH + ih) * p.inW + iw]) *
                    w[((oc * Cg + c) * p.kernelH + ky) * p.kernelW + kx];
                s += t;
                mag += std::fabs(t);
              }
          const size_t o = ((n * p.outChannels + oc) * OH + oh) * OW + ow;
          if (withBias) s += b[oc];
          if (withResidual) s += res[o];
          want[o] = kt::refActivation(p.activation, s);
          scale[o] = std::sqrt(static_cast<double>(K) + 1) * (mag + 2.0);
        }
  const auto state = kiln::onednn::prepareConv(prepared, w.data(), withBias, withResidual);
  std::vector<float> y(ys, std::nanf(""));
  kiln::onednn::runConv(*state, p, x.data(), withBias ? b.data() : nullptr,
                        withResidual ? res.data() : nullptr, y.data());
  kt::expectClose(describe(p, withBias, withResidual), y.data(), want.data(), ys, 1e-6, 1e-6,
                  scale.data());
}

void check(const Conv2dParams& p, bool withBias, bool withResidual) {
  check(p, withBias, withResidual, p);
}

}  // namespace

TEST(onednn_conv_shapes) {
  check(conv(1, 3, 17, 19, 8, 3, 3, 1, 1), true, false);
  check(conv(2, 5, 9, 7, 13, 3, 3, 2, 1), true, false);      // batch 2, stride 2
  check(conv(1, 3, 30, 31, 16, 7, 7, 2, 3), true, false);    // 7x7 stride 2 (ResNet stem)
  check(conv(1, 64, 14, 14, 64, 3, 3, 1, 1), true, true);    // 3x3 with a residual
  check(conv(1, 6, 11, 13, 7, 3, 3, 1, 2, 2), true, false);  // dilation 2
  check(conv(1, 17, 14, 14, 40, 1, 1, 1, 0), true, true);    // 1x1
  check(conv(1, 3, 8, 8, 4, 1, 1, 2, 0), false, false);      // strided 1x1, no bias
  check(conv(1, 3, 8, 8, 4, 1, 1, 1, 1), true, false);       // padded 1x1
  check(conv(1, 2, 5, 5, 3, 5, 5, 1, 0), true, false);       // kernel covers the input
  Conv2dParams p = conv(1, 3, 10, 11, 5, 3, 3, 2, 0);
  p.padLeft = 1;
  p.padBottom = 1;
  p.padRight = 2;
  check(p, true, true);  // asymmetric pads
  p.strideH = 1;
  p.strideW = 3;
  p.kernelH = 2;
  p.kernelW = 4;
  p.dilationW = 2;
  check(p, true, false);  // rectangular kernel, unequal strides
}

TEST(onednn_conv_groups_and_depthwise) {
  check(conv(1, 8, 9, 9, 12, 3, 3, 1, 1, 1, 4), true, false);      // 4 groups
  check(conv(2, 32, 15, 15, 32, 3, 3, 1, 1, 1, 32), true, false);  // depthwise
  check(conv(1, 24, 16, 16, 24, 3, 3, 2, 1, 1, 24), true, false);  // depthwise stride 2
  check(conv(1, 8, 10, 10, 16, 3, 3, 1, 1, 1, 8), true, true);     // depthwise multiplier 2
}

TEST(onednn_conv_epilogues) {
  using K = ActivationKind;
  for (K kind : {K::kRelu, K::kLeakyRelu, K::kClip, K::kSigmoid, K::kHardSigmoid, K::kHardSwish,
                 K::kSilu, K::kGelu, K::kGeluTanh, K::kTanh, K::kElu}) {
    Conv2dParams p = conv(1, 16, 12, 12, 24, 3, 3, 1, 1);
    p.activation = kiln::kernels::makeActivation(kind);
    if (kind == K::kClip) p.activation.alpha = 0, p.activation.beta = 6;  // ReLU6
    if (kind == K::kLeakyRelu) p.activation.alpha = 0.1f;
    CHECK(kiln::onednn::convApplies(p));
    check(p, true, true);
    check(p, true, false);
    Conv2dParams dw = conv(1, 16, 12, 12, 16, 3, 3, 1, 1, 1, 16);
    dw.activation = p.activation;
    check(dw, true, false);
  }
}

TEST(onednn_conv_not_a_candidate) {
  // Softplus has no oneDNN post-op here: the tactic must not apply (nor prepare).
  Conv2dParams p = conv(1, 4, 6, 6, 4, 3, 3, 1, 1);
  p.activation = kiln::kernels::makeActivation(ActivationKind::kSoftplus);
  CHECK(!kiln::onednn::convApplies(p));
  const std::vector<float> w(4 * 4 * 9, 0.5f);
  CHECK_THROWS(kiln::onednn::prepareConv(p, w.data(), true, false), kiln::Error);
}

TEST(onednn_conv_other_geometry) {
  // A dynamic input: prepared at one size (as an engine does at load), run at others, and the
  // pads auto_pad SAME would give another size.
  const Conv2dParams prepared = conv(1, 32, 56, 56, 64, 3, 3, 1, 1);
  check(conv(1, 32, 20, 17, 64, 3, 3, 1, 1), true, true, prepared);
  check(conv(3, 32, 9, 9, 64, 3, 3, 1, 1), true, false, prepared);
  Conv2dParams same = conv(1, 32, 10, 10, 64, 3, 3, 1, 0);
  same.padBottom = same.padRight = 2;
  check(same, true, true, prepared);
}

TEST(onednn_conv_rejects_another_layer) {
  const Conv2dParams p = conv(1, 4, 6, 6, 8, 3, 3, 1, 1);
  const std::vector<float> w(8 * 4 * 9, 0.25f), x(4 * 36, 1.0f);
  std::vector<float> y(8 * 36);
  const auto state = kiln::onednn::prepareConv(p, w.data(), false, false);
  Conv2dParams other = p;
  other.outChannels = 4;
  CHECK_THROWS(kiln::onednn::runConv(*state, other, x.data(), nullptr, nullptr, y.data()),
               kiln::Error);
  const std::vector<float> bias(8, 1.0f);  // prepared without a bias
  CHECK_THROWS(kiln::onednn::runConv(*state, p, x.data(), bias.data(), nullptr, y.data()),
               kiln::Error);
}

TEST(onednn_conv_runs_concurrently) {
  // Two threads on one prepared state, at different batch sizes (two primitives), as two
  // execution contexts of one engine run: each needs its own scratchpad.
  const Conv2dParams p1 = conv(1, 16, 28, 28, 32, 5, 5, 1, 2);
  const Conv2dParams p8 = conv(8, 16, 28, 28, 32, 5, 5, 1, 2);
  const auto w = kt::randomVector(32 * 16 * 25, 31);
  const auto b = kt::randomVector(32, 32);
  const auto state = kiln::onednn::prepareConv(p1, w.data(), true, false);
  const auto x = kt::randomVector(8 * 16 * 28 * 28, 33);
  std::vector<float> want(8 * 32 * 28 * 28), got(want.size());
  kiln::onednn::runConv(*state, p8, x.data(), b.data(), nullptr, want.data());
  std::vector<float> want1(32 * 28 * 28), y1(want1.size());
  kiln::onednn::runConv(*state, p1, x.data(), b.data(), nullptr, want1.data());
  std::thread other([&] {
    for (int i = 0; i < 20; ++i)
      kiln::onednn::runConv(*state, p1, x.data(), b.data(), nullptr, y1.data());
  });
  for (int i = 0; i < 20; ++i)
    kiln::onednn::runConv(*state, p8, x.data(), b.data(), nullptr, got.data());
  other.join();
  // Each primitive computes the same way every time: concurrent runs change nothing.
  CHECK(got == want);
  CHECK(y1 == want1);
}
