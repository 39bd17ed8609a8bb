// conv2d and convTranspose2d against direct double-precision loops: groups, depthwise with
// multipliers, strides, dilations, asymmetric pads, 1x1, 1-D, residual and every activation.
#include <cmath>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kiln/error.h"
#include "kiln/kernels/conv.h"
#include "kiln/kernels/gemm.h"

using kiln::kernels::Activation;
using kiln::kernels::ActivationKind;
using kiln::kernels::Conv2dParams;
using kiln::kernels::ConvAlgo;
using kiln::kernels::ConvTranspose2dParams;

namespace {

// Winograd F(4x4, 3x3) rounds in its transforms, whose coefficients reach 5 (B^T d B) and 8
// (A^T m A), so its error grows by roughly the transforms' norms over direct summation; the
// literature puts F(4, 3) about an order of magnitude above direct convolution (F(6, 3) two).
// Measured over the shapes below: worst |error| / sum |x * w| = 2.0e-6 for Winograd against
// 1.3e-7 for im2col + GEMM (10-18x), and relative to this test's scale (sqrt(K + 1) times
// sum |x * w|, the bound for the direct path) 2.8e-7: the direct path's 1e-6 still holds with a
// 3.5x margin, so Winograd gets the same bound, not a looser one.
constexpr double kWinogradRtol = 1e-6;
double worstWinogradRatio = 0;

std::string describe(const Conv2dParams& p) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "N%ld C%ld %ldx%ld M%ld k%ldx%ld s%ld,%ld pad%ld,%ld,%ld,%ld d%ld,%ld g%ld act%d",
                (long)p.batch, (long)p.inChannels, (long)p.inH, (long)p.inW, (long)p.outChannels,
                (long)p.kernelH, (long)p.kernelW, (long)p.strideH, (long)p.strideW, (long)p.padTop,
                (long)p.padLeft, (long)p.padBottom, (long)p.padRight, (long)p.dilationH,
                (long)p.dilationW, (long)p.group, static_cast<int>(p.activation.kind));
  return buf;
}

void runConv(const Conv2dParams& p, bool withBias, bool withResidual, kiln::CpuIsa isa) {
  int64_t OH, OW;
  kiln::kernels::conv2dOutputShape(p, &OH, &OW);
  const int64_t Cg = p.inChannels / p.group, Mg = p.outChannels / p.group;
  const size_t xs = p.batch * p.inChannels * p.inH * p.inW,
               ws = p.outChannels * Cg * p.kernelH * p.kernelW;
  const size_t ys = p.batch * p.outChannels * OH * OW;
  auto x = kt::randomVector(xs, 11), w = kt::randomVector(ws, 12),
       b = kt::randomVector(p.outChannels, 13);
  auto res = kt::randomVector(ys, 14);
  std::vector<float> y(ys, std::nanf(""));
  std::vector<double> want(ys), scale(ys);
  const int64_t K = Cg * p.kernelH * p.kernelW;
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t oc = 0; oc < p.outChannels; ++oc) {
      const int64_t g = oc / Mg;
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
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
    }
  kiln::kernels::conv2d(p, x.data(), w.data(), withBias ? b.data() : nullptr,
                        withResidual ? res.data() : nullptr, y.data());
  kt::expectClose(kt::isaTag(isa) + "conv " + describe(p) + (withBias ? " bias" : "") +
                      (withResidual ? " res" : ""),
                  y.data(), want.data(), ys, 1e-6, 1e-6, scale.data());
  // The same layer from weights packed once (im2col, 1x1 and depthwise paths alike).
  const auto packed = kiln::kernels::packConv2dWeights(p, w.data());
  std::vector<float> yp(static_cast<size_t>(ys), std::nanf(""));
  kiln::kernels::conv2dPacked(p, x.data(), packed.data(), packed.size(),
                              withBias ? b.data() : nullptr, withResidual ? res.data() : nullptr,
                              yp.data());
  kt::expectClose(kt::isaTag(isa) + "packed conv " + describe(p) + (withBias ? " bias" : "") +
                      (withResidual ? " res" : ""),
                  yp.data(), want.data(), ys, 1e-6, 1e-6, scale.data());
  if (withResidual && !(p.group == p.inChannels && p.group > 1)) {
    // In place, the residual being the output buffer: the GEMM paths (the direct depthwise
    // kernel does not take its residual in place).
    std::vector<float> yi = res;
    kiln::kernels::conv2dPacked(p, x.data(), packed.data(), packed.size(),
                                withBias ? b.data() : nullptr, yi.data(), yi.data());
    kt::expectClose(
        kt::isaTag(isa) + "in-place residual conv " + describe(p) + (withBias ? " bias" : ""),
        yi.data(), want.data(), ys, 1e-6, 1e-6, scale.data());
  }
  if (!kiln::kernels::conv2dAlgoApplies(p, ConvAlgo::kWinograd)) return;
  const auto wino = kiln::kernels::packConv2dWeights(p, w.data(), ConvAlgo::kWinograd);
  std::vector<float> yw(static_cast<size_t>(ys), std::nanf(""));
  kiln::kernels::conv2dPacked(p, x.data(), wino.data(), wino.size(), withBias ? b.data() : nullptr,
                              withResidual ? res.data() : nullptr, yw.data());
  for (size_t i = 0; i < ys; ++i)
    worstWinogradRatio = std::max(worstWinogradRatio, std::fabs(yw[i] - want[i]) / scale[i]);
  kt::expectClose(kt::isaTag(isa) + "winograd conv " + describe(p) + (withBias ? " bias" : "") +
                      (withResidual ? " res" : ""),
                  yw.data(), want.data(), ys, 1e-6, kWinogradRtol, scale.data());
}

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

}  // namespace

TEST(conv_dense_shapes) {
  kt::forEachIsa([](kiln::CpuIsa isa) {
    runConv(conv(1, 3, 17, 19, 8, 3, 3, 1, 1), true, false, isa);
    runConv(conv(2, 5, 9, 7, 13, 3, 3, 2, 1), true, false, isa);
    runConv(conv(1, 4, 12, 12, 6, 5, 5, 1, 2), false, false, isa);
    runConv(conv(1, 3, 30, 31, 16, 7, 7, 2, 3), true, false, isa);    // ResNet stem-like
    runConv(conv(1, 6, 11, 13, 7, 3, 3, 1, 2, 2), true, false, isa);  // dilation 2
    runConv(conv(1, 2, 5, 5, 3, 5, 5, 1, 0), true, false, isa);       // kernel covers the input
    runConv(conv(1, 3, 8, 8, 4, 1, 1, 2, 0), true, false, isa);       // strided 1x1: im2col path
    runConv(conv(1, 3, 8, 8, 4, 1, 1, 1, 1), true, false, isa);       // padded 1x1
    runConv(conv(1, 1, 4, 4, 1, 3, 3, 3, 1), true, false, isa);       // single channel, stride 3
  });
}

TEST(conv_winograd_shapes) {
  // Odd sizes (partial tiles on the right and bottom), pads 0-2 and asymmetric, channel counts
  // that are not multiples of 16, more tiles than one block, a tile count past one 16-lane
  // vector and past one 32-column panel, batch 2, residual and bias.
  kt::forEachIsa([](kiln::CpuIsa isa) {
    runConv(conv(1, 3, 5, 5, 2, 3, 3, 1, 1), true, false, isa);
    runConv(conv(1, 17, 13, 11, 19, 3, 3, 1, 1), true, true, isa);
    runConv(conv(2, 8, 9, 23, 5, 3, 3, 1, 0), false, true, isa);
    runConv(conv(1, 33, 14, 14, 40, 3, 3, 1, 1), true, false, isa);
    runConv(conv(1, 20, 7, 7, 70, 3, 3, 1, 1), true, true, isa);
    runConv(conv(1, 5, 3, 3, 4, 3, 3, 1, 2), true, false, isa);  // pads larger than the image
    runConv(conv(1, 64, 56, 56, 32, 3, 3, 1, 1), true, true, isa);
    runConv(conv(1, 300, 6, 6, 24, 3, 3, 1, 1), true, false, isa);  // K above one GEMM block
    Conv2dParams p = conv(1, 6, 19, 26, 9, 3, 3, 1, 0);
    p.padLeft = 2;
    p.padBottom = 1;
    runConv(p, true, true, isa);
    p.activation = kiln::kernels::makeActivation(ActivationKind::kLeakyRelu);
    runConv(p, true, true, isa);
  });
  std::printf("winograd: largest error / direct scale = %.3g (tolerance %.3g)\n",
              worstWinogradRatio, kWinogradRtol);
}

TEST(conv_pointwise_gemm_path) {
  kt::forEachIsa([](kiln::CpuIsa isa) {
    runConv(conv(2, 64, 7, 9, 33, 1, 1, 1, 0), true, false, isa);
    runConv(conv(1, 17, 14, 14, 40, 1, 1, 1, 0), true, true, isa);
    // K past one 256-deep block: partial sums pass through C before the residual is added
    // (an input of 300 x 462 floats is too large for the in-place path).
    runConv(conv(1, 300, 21, 22, 30, 1, 1, 1, 0), true, true, isa);
  });
}

TEST(conv_asymmetric_pads_and_strides) {
  kt::forEachIsa([](kiln::CpuIsa isa) {
    Conv2dParams p = conv(1, 3, 10, 11, 5, 3, 3, 2, 0);
    p.padTop = 0;
    p.padLeft = 1;
    p.padBottom = 1;
    p.padRight = 2;
    runConv(p, true, false, isa);
    p.strideH = 1;
    p.strideW = 3;
    p.kernelH = 2;
    p.kernelW = 4;
    p.dilationW = 2;
    runConv(p, true, false, isa);
  });
}

TEST(conv_groups_and_depthwise) {
  kt::forEachIsa([](kiln::CpuIsa isa) {
    runConv(conv(1, 8, 9, 9, 12, 3, 3, 1, 1, 1, 4), true, false, isa);  // grouped
    runConv(conv(2, 6, 10, 7, 6, 3, 3, 1, 1, 1, 2), true, true, isa);
    runConv(conv(1, 16, 15, 15, 16, 3, 3, 1, 1, 1, 16), true, false, isa);  // depthwise
    runConv(conv(1, 16, 15, 16, 16, 3, 3, 2, 1, 1, 16), true, true, isa);   // depthwise stride 2
    runConv(conv(2, 5, 13, 11, 10, 5, 5, 1, 2, 1, 5), true, false, isa);    // multiplier 2
    runConv(conv(1, 4, 12, 12, 4, 3, 3, 1, 2, 2, 4), false, false, isa);    // dilated depthwise
    Conv2dParams p = conv(1, 8, 9, 10, 8, 3, 3, 2, 0, 1, 8);
    p.padLeft = 1;
    p.padBottom = 2;
    runConv(p, true, false, isa);
  });
}

TEST(conv_depthwise_wide_rows) {
  // Rows of several vectors plus a tail (the vector path covers 16 columns at a time), edge
  // columns in the padding on both sides, every stride with and without a vector path, and a
  // kernel with more taps than one row descriptor holds.
  kt::forEachIsa([](kiln::CpuIsa isa) {
    for (int64_t s : {1, 2, 3}) {
      runConv(conv(1, 3, 6, 71, 3, 3, 3, s, 1, 1, 3), true, s == 1, isa);
      runConv(conv(1, 2, 7, 50, 4, 5, 5, s, 2, 1, 2), true, false, isa);  // multiplier 2
      runConv(conv(1, 2, 9, 64, 2, 7, 7, s, 3, 1, 2), false, s == 2, isa);
      runConv(conv(1, 2, 5, 48, 2, 3, 3, s, 0, 1, 2), true, false, isa);  // unpadded
      runConv(conv(1, 2, 9, 40, 2, 3, 3, s, 2, 2, 2), true, false, isa);  // dilated
    }
    runConv(conv(1, 2, 12, 33, 2, 9, 9, 1, 4, 1, 2), true, true, isa);  // 81 taps
    runConv(conv(1, 3, 9, 20, 6, 3, 3, 1, 1, 1, 3), true, true, isa);   // 3x3, multiplier 2
    runConv(conv(1, 3, 9, 20, 6, 3, 3, 2, 1, 1, 3), true, false, isa);  // and stride 2
    // Narrow stride-1 planes, whose items span rows: 7 x 7 with a residual, unpadded, and one
    // too tall for that path.
    runConv(conv(2, 6, 7, 7, 6, 3, 3, 1, 1, 1, 6), true, true, isa);
    runConv(conv(1, 3, 5, 9, 3, 3, 3, 1, 0, 1, 3), true, true, isa);
    runConv(conv(1, 2, 100, 10, 2, 3, 3, 1, 1, 1, 2), true, true, isa);
    // Planes of 28+ output rows split into row bands across threads: batch 2, multiplier 2,
    // stride 2, an odd row count.
    runConv(conv(2, 3, 61, 23, 6, 3, 3, 2, 1, 1, 3), true, true, isa);
    Conv2dParams p = conv(1, 3, 8, 37, 3, 3, 3, 2, 0, 1, 3);
    p.padLeft = 2;  // asymmetric: the interior starts at a different column
    runConv(p, true, false, isa);
  });
}

TEST(conv_1d_as_2d) {
  kt::forEachIsa([](kiln::CpuIsa isa) {
    Conv2dParams p = conv(2, 4, 1, 50, 6, 1, 5, 1, 0);
    p.padLeft = 2;
    p.padRight = 2;
    p.strideW = 2;
    runConv(p, true, false, isa);
    p.group = 2;
    p.dilationW = 3;
    runConv(p, true, false, isa);
  });
}

TEST(conv_fused_activations) {
  kt::forEachIsa([](kiln::CpuIsa isa) {
    for (const Activation& act : kt::allActivations()) {
      Conv2dParams p = conv(1, 6, 8, 9, 10, 3, 3, 1, 1);
      p.activation = act;
      runConv(p, true, true, isa);
      Conv2dParams d = conv(1, 8, 8, 9, 8, 3, 3, 1, 1, 1, 8);
      d.activation = act;
      runConv(d, true, false, isa);
      // 1x1 with a short K (the in-place pointwise path): tail rows and columns, a residual.
      Conv2dParams pw = conv(1, 6, 5, 9, 14, 1, 1, 1, 0);
      pw.activation = act;
      runConv(pw, true, true, isa);
      // Blocks ending in a few columns run them with the rows in the lanes: 49 pixels (32 +
      // 16 + 1), 18 (16 + 2) and 3 (columns only).
      for (int64_t w : {7, 9, 3}) {
        Conv2dParams few = conv(1, 5, w == 3 ? 1 : w == 9 ? 2 : 7, w, 14, 1, 1, 1, 0);
        few.activation = act;
        runConv(few, true, true, isa);
      }
      // And with a long K over few pixels (in place too, column blocks fastest).
      Conv2dParams deep = conv(1, 300, 3, 5, 14, 1, 1, 1, 0);
      deep.activation = act;
      runConv(deep, true, true, isa);
      // The in-place 3x3 depthwise path (rows of 12+ columns, or stride 2), with a residual;
      // and planes tall enough for row bands.
      for (int64_t stride : {1, 2}) {
        Conv2dParams r = conv(1, 4, 6, 20, 4, 3, 3, stride, 1, 1, 4);
        r.activation = act;
        runConv(r, true, true, isa);
        Conv2dParams tall = conv(1, 3, 30 * stride, 18, 3, 3, 3, stride, 1, 1, 3);
        tall.activation = act;
        runConv(tall, true, true, isa);
      }
    }
  });
}

TEST(conv_pointwise_tasks) {
  // 1x1 layers split into tasks over 12-row by 32-column tiles (9 panels, 12 blocks), K at the
  // in-place path's limit and past it (the GEMM path).
  kt::forEachIsa([](kiln::CpuIsa isa) {
    runConv(conv(1, 8, 12, 30, 100, 1, 1, 1, 0), true, true, isa);
    runConv(conv(1, 256, 7, 7, 40, 1, 1, 1, 0), true, false, isa);
    // Longer K takes the in-place path while the input (K x P) fits its 128 Ki-float budget,
    // with column blocks varying fastest: odd K, a 17-column last block, 4 rows in the last
    // panel, a residual; then 600 x 210 (in place) and 600 x 221 (the GEMM path) either side
    // of the budget.
    runConv(conv(1, 1025, 7, 7, 40, 1, 1, 1, 0), true, true, isa);
    runConv(conv(1, 2048, 7, 7, 28, 1, 1, 1, 0), false, true, isa);
    runConv(conv(1, 600, 14, 15, 37, 1, 1, 1, 0), true, true, isa);
    runConv(conv(1, 600, 13, 17, 37, 1, 1, 1, 0), true, true, isa);
    runConv(conv(2, 12, 7, 7, 24, 1, 1, 1, 0, 1, 2), true, true, isa);  // batch 2, 2 groups
    runConv(conv(1, 3, 1, 17, 9, 1, 1, 1, 0), true, true, isa);         // one block of 17 columns
    runConv(conv(1, 70, 7, 7, 5, 1, 1, 1, 0), false, true, isa);        // 5 rows x 17 columns
    runConv(conv(1, 40, 4, 9, 13, 1, 1, 1, 0), true, true, isa);        // a last block of 4 columns
  });
}

TEST(conv_stem_stride2) {
  // A network's first layer (stride 2, up to 7x7, <= 4 channels) has its own in-place path:
  // channel counts 1 to 4, output rows wider than a vector with a tail, 20 output channels (a
  // partial group of 16), unpadded and asymmetric pads, every activation; filters of 1 to 7
  // rows and columns, square or not (ResNet's 7x7 pad 3).
  kt::forEachIsa([](kiln::CpuIsa isa) {
    for (int64_t c : {1, 3, 4}) runConv(conv(1, c, 17, 41, 20, 3, 3, 2, 1), true, true, isa);
    for (int64_t k : {1, 2, 4, 5, 6, 7})
      runConv(conv(1, 3, 19, 45, 20, k, k, 2, k / 2), true, true, isa);
    runConv(conv(2, 4, 23, 37, 64, 7, 7, 2, 3), true, false, isa);
    Conv2dParams wide = conv(1, 2, 11, 40, 12, 3, 7, 2, 0);
    wide.padLeft = 3;
    wide.padTop = 1;
    runConv(wide, true, true, isa);
    runConv(conv(2, 3, 9, 9, 8, 3, 3, 2, 0), true, false, isa);
    Conv2dParams p = conv(1, 3, 12, 35, 16, 3, 3, 2, 1);
    p.padRight = 0;
    p.padBottom = 2;
    runConv(p, false, true, isa);
    for (const Activation& act : kt::allActivations()) {
      Conv2dParams a = conv(1, 3, 10, 38, 17, 3, 3, 2, 1);
      a.activation = act;
      runConv(a, true, true, isa);
      Conv2dParams r = conv(1, 3, 15, 36, 17, 7, 7, 2, 3);
      r.activation = act;
      runConv(r, true, false, isa);
    }
  });
}

TEST(conv_large_image_chunks_im2col) {
  // K = 32 * 9 = 288 and 100 x 100 pixels exceed one im2col chunk, so several bands run.
  kt::forEachIsa(
      [](kiln::CpuIsa isa) { runConv(conv(1, 32, 100, 100, 8, 3, 3, 1, 1), true, false, isa); });
}

TEST(conv_rejects_bad_params) {
  std::vector<float> v(1000);
  Conv2dParams p = conv(1, 3, 4, 4, 4, 3, 3, 1, 0, 1, 2);  // 3 channels, 2 groups
  CHECK_THROWS(kiln::kernels::conv2d(p, v.data(), v.data(), nullptr, nullptr, v.data()),
               kiln::Error);
  p = conv(1, 2, 2, 2, 2, 5, 5, 1, 0);  // kernel larger than input
  CHECK_THROWS(kiln::kernels::conv2d(p, v.data(), v.data(), nullptr, nullptr, v.data()),
               kiln::Error);
  p = conv(1, 2, 4, 4, 2, 3, 3, 0, 0);
  CHECK_THROWS(kiln::kernels::conv2d(p, v.data(), v.data(), nullptr, nullptr, v.data()),
               kiln::Error);
}

TEST(conv_packed_weights_rejected_for_other_layers) {
  const auto p = conv(1, 8, 9, 9, 16, 3, 3, 1, 1);
  const auto w = kt::randomVector(16 * 8 * 9, 4);
  const auto blob = kiln::kernels::packConv2dWeights(p, w.data());
  kiln::kernels::validatePackedConv2dWeights(p, blob.data(), blob.size());
  auto other = p;
  other.outChannels = 8;  // other dims
  CHECK_THROWS(kiln::kernels::validatePackedConv2dWeights(other, blob.data(), blob.size()),
               kiln::Error);
  other = p;
  other.group = 2;  // same weights count, other grouping
  CHECK_THROWS(kiln::kernels::validatePackedConv2dWeights(other, blob.data(), blob.size()),
               kiln::Error);
  // Winograd weights are refused for a layer it cannot run, and by another tier.
  const auto wino = kiln::kernels::packConv2dWeights(p, w.data(), ConvAlgo::kWinograd);
  CHECK(kiln::kernels::validatePackedConv2dWeights(p, wino.data(), wino.size()) ==
        ConvAlgo::kWinograd);
  other = p;
  other.strideH = other.strideW = 2;
  CHECK_THROWS(kiln::kernels::validatePackedConv2dWeights(other, wino.data(), wino.size()),
               kiln::Error);
  CHECK_THROWS(kiln::kernels::packConv2dWeights(other, w.data(), ConvAlgo::kWinograd), kiln::Error);
  const auto gemmBlob = kiln::kernels::packGemmA(16, 72, false, w.data());
  CHECK_THROWS(kiln::kernels::validatePackedConv2dWeights(p, gemmBlob.data(), gemmBlob.size()),
               kiln::Error);
  std::vector<float> x(8 * 81), y(16 * 81);
  CHECK_THROWS(kiln::kernels::conv2dPacked(p, x.data(), blob.data(), blob.size() - 1, nullptr,
                                           nullptr, y.data()),
               kiln::Error);
  // Packed on one tier, refused on the others.
  kt::forEachIsa([&](kiln::CpuIsa isa) {
    const auto mine = kiln::kernels::packConv2dWeights(p, w.data());
    kt::forEachIsa([&](kiln::CpuIsa other) {
      bool thrown = false;
      try {
        kiln::kernels::validatePackedConv2dWeights(p, mine.data(), mine.size());
      } catch (const kiln::Error&) {
        thrown = true;
      }
      if (thrown != (other != isa)) kiln_test::fail(__FILE__, __LINE__, "tier check");
    });
  });
}

TEST(conv_same_pads) {
  int64_t b, e;
  kiln::kernels::convSamePads(7, 3, 2, 1, true, &b, &e);  // out 4, total pad 2
  CHECK(b == 1 && e == 1);
  kiln::kernels::convSamePads(8, 3, 2, 1, true, &b, &e);  // out 4, total pad 1
  CHECK(b == 0 && e == 1);
  kiln::kernels::convSamePads(8, 3, 2, 1, false, &b, &e);
  CHECK(b == 1 && e == 0);
}

namespace {
void runConvTranspose(const ConvTranspose2dParams& p, kiln::CpuIsa isa) {
  int64_t OH, OW;
  kiln::kernels::convTranspose2dOutputShape(p, &OH, &OW);
  const int64_t Cg = p.inChannels / p.group, Mg = p.outChannels / p.group;
  const size_t xs = p.batch * p.inChannels * p.inH * p.inW,
               ws = p.inChannels * Mg * p.kernelH * p.kernelW;
  const size_t ys = p.batch * p.outChannels * OH * OW;
  auto x = kt::randomVector(xs, 21), w = kt::randomVector(ws, 22),
       b = kt::randomVector(p.outChannels, 23);
  std::vector<double> want(ys, 0.0), mag(ys, 0.0);
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t c = 0; c < p.inChannels; ++c) {
      const int64_t g = c / Cg;
      for (int64_t ih = 0; ih < p.inH; ++ih)
        for (int64_t iw = 0; iw < p.inW; ++iw)
          for (int64_t m = 0; m < Mg; ++m)
            for (int64_t ky = 0; ky < p.kernelH; ++ky)
              for (int64_t kx = 0; kx < p.kernelW; ++kx) {
                const int64_t oh = ih * p.strideH - p.padTop + ky * p.dilationH;
                const int64_t ow = iw * p.strideW - p.padLeft + kx * p.dilationW;
                if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
                const double t =
                    static_cast<double>(x[((n * p.inChannels + c) * p.inH + ih) * p.inW + iw]) *
                    w[((c * Mg + m) * p.kernelH + ky) * p.kernelW + kx];
                const size_t o = ((n * p.outChannels + g * Mg + m) * OH + oh) * OW + ow;
                want[o] += t;
                mag[o] += std::fabs(t);
              }
    }
  const double K = static_cast<double>(Cg * p.kernelH * p.kernelW);
  for (size_t o = 0; o < ys; ++o) {
    const int64_t oc = static_cast<int64_t>(o / (OH * OW)) % p.outChannels;
    want[o] = kt::refActivation(p.activation, want[o] + b[oc]);
    mag[o] = std::sqrt(K + 1) * (mag[o] + 1.0);
  }
  std::vector<float> y(ys, std::nanf(""));
  kiln::kernels::convTranspose2d(p, x.data(), w.data(), b.data(), y.data());
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "convT C%ld %ldx%ld M%ld k%ldx%ld s%ld,%ld pads%ld,%ld,%ld,%ld d%ld op%ld,%ld g%ld",
                (long)p.inChannels, (long)p.inH, (long)p.inW, (long)p.outChannels, (long)p.kernelH,
                (long)p.kernelW, (long)p.strideH, (long)p.strideW, (long)p.padTop, (long)p.padLeft,
                (long)p.padBottom, (long)p.padRight, (long)p.dilationH, (long)p.outputPaddingH,
                (long)p.outputPaddingW, (long)p.group);
  kt::expectClose(kt::isaTag(isa) + buf, y.data(), want.data(), ys, 1e-6, 1e-6, mag.data());
}

ConvTranspose2dParams convT(int64_t c, int64_t h, int64_t w, int64_t m, int64_t k, int64_t s,
                            int64_t pad) {
  ConvTranspose2dParams p;
  p.inChannels = c;
  p.inH = h;
  p.inW = w;
  p.outChannels = m;
  p.kernelH = p.kernelW = k;
  p.strideH = p.strideW = s;
  p.padTop = p.padLeft = p.padBottom = p.padRight = pad;
  return p;
}
}  // namespace

TEST(conv_transpose_shapes) {
  kt::forEachIsa([](kiln::CpuIsa isa) {
    runConvTranspose(convT(4, 5, 6, 3, 2, 2, 0), isa);  // DBNet-style 2x upsample
    // kernel == stride: the banded path, several bands (the last one short), groups, batch.
    ConvTranspose2dParams t = convT(16, 25, 64, 24, 2, 2, 0);
    t.group = 2;
    t.batch = 2;
    t.activation = {ActivationKind::kRelu, 0, 0};
    runConvTranspose(t, isa);
    ConvTranspose2dParams r = convT(5, 9, 7, 3, 2, 2, 0);
    r.kernelW = r.strideW = 3;
    runConvTranspose(r, isa);
    runConvTranspose(convT(3, 7, 7, 5, 3, 2, 1), isa);
    runConvTranspose(convT(2, 4, 3, 2, 3, 1, 0), isa);
    ConvTranspose2dParams p = convT(6, 5, 4, 4, 3, 2, 1);
    p.outputPaddingH = 1;
    p.outputPaddingW = 1;
    p.group = 2;
    p.padBottom = 0;
    p.dilationW = 2;
    p.activation = {ActivationKind::kRelu, 0, 0};
    p.batch = 2;
    runConvTranspose(p, isa);
    ConvTranspose2dParams q = convT(3, 6, 5, 3, 4, 3, 2);
    q.strideW = 1;
    q.padLeft = 0;
    runConvTranspose(q, isa);
  });
}
