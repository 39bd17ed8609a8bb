// integerConv (ConvInteger) against a naive reference: the exact sum of centred products in
// int64, wrapped to int32 through unsigned arithmetic (the header's overflow rule). 1-D to 3-D,
// groups, pads, strides, dilations, uint8/int8 data and weights, scalar and per-channel weight
// zero points, K split over several chunks, and sums past 2^31.
#include <cstdio>
#include <random>
#include <vector>

#include "kernels/conv_integer_reference.h"
#include "kiln/cpu_features.h"
#include "kiln/error.h"
#include "kiln/kernels/conv_integer.h"
#include "kiln/kernels/scratch.h"
#include "kiln_test.h"

using kiln::kernels::IntegerConvParams;

namespace {

struct Case {
  const char* name;
  int64_t batch, inChannels, outChannels, group;
  std::vector<int64_t> in, kernel, stride, dilation, padBegin, padEnd;
  bool xSigned, wSigned, perChannel;
};

// Runs body once per ISA tier this machine has (SSE2 tile below AVX-512, the AVX-512 tile).
template <typename F>
void onEveryTier(F body) {
  const kiln::CpuIsa best = kiln::activeIsa();
  for (kiln::CpuIsa isa : {kiln::CpuIsa::kScalar, kiln::CpuIsa::kAvx2, kiln::CpuIsa::kAvx512}) {
    if (isa > best) continue;
    kiln::setActiveIsa(isa);
    body();
  }
  kiln::setActiveIsa(best);
}

// Checks one case with random data and zero points (or extreme values when `extreme`).
void check(const Case& c, unsigned seed, bool extreme = false) {
  std::mt19937 rng(seed);
  IntegerConvParams p;
  p.batch = c.batch;
  p.inChannels = c.inChannels;
  p.outChannels = c.outChannels;
  p.group = c.group;
  p.in = c.in;
  p.kernel = c.kernel;
  p.stride = c.stride;
  p.dilation = c.dilation;
  p.padBegin = c.padBegin;
  p.xSigned = c.xSigned;
  p.wSigned = c.wSigned;
  for (size_t d = 0; d < c.in.size(); ++d)
    p.out.push_back(
        (c.in[d] + c.padBegin[d] + c.padEnd[d] - (c.kernel[d] - 1) * c.dilation[d] - 1) /
            c.stride[d] +
        1);
  auto randomByte = [&] { return static_cast<uint8_t>(rng() & 0xFF); };
  const auto zeroPoint = [&](bool isSigned) {
    const uint8_t b = randomByte();
    return isSigned ? int32_t{static_cast<int8_t>(b)} : int32_t{b};
  };
  int64_t inSize = 1, kSize = 1, outSize = 1;
  for (size_t d = 0; d < c.in.size(); ++d) {
    inSize *= c.in[d];
    kSize *= c.kernel[d];
    outSize *= p.out[d];
  }
  std::vector<uint8_t> x(static_cast<size_t>(c.batch * c.inChannels * inSize));
  std::vector<uint8_t> w(static_cast<size_t>(c.outChannels * c.inChannels / c.group * kSize));
  if (extreme) {
    // Every product -255 * 255: sums run far past -2^31 and wrap.
    for (auto& b : x) b = c.xSigned ? 0x80 : 0;
    p.xZeroPoint = c.xSigned ? 127 : 255;
    p.wZeroPoints = {c.wSigned ? -128 : 0};
    for (auto& b : w) b = c.wSigned ? 0x7F : 255;
  } else {
    for (auto& b : x) b = randomByte();
    for (auto& b : w) b = randomByte();
    p.xZeroPoint = zeroPoint(c.xSigned);
    p.wZeroPoints.assign(c.perChannel ? static_cast<size_t>(c.outChannels) : 1, 0);
    for (auto& z : p.wZeroPoints) z = zeroPoint(c.wSigned);
  }
  std::vector<int32_t> y(static_cast<size_t>(c.batch * c.outChannels * outSize), 12345);
  kiln::kernels::resetScratchHighWater();
  kiln::kernels::integerConv(p, x.data(), w.data(), y.data());
  const kiln::kernels::ScratchNeed asked = kiln::kernels::scratchHighWater();
  kiln::kernels::ScratchNeed bound;
  kiln::kernels::integerConvScratch(p, &bound);
  for (size_t s = 0; s < kiln::kernels::kScratchSlots; ++s)
    CHECK(asked.floats[s] <= bound.floats[s]);
  const std::vector<int32_t> want = kt::integerConvReference(p, x, w);
  size_t wrong = 0;
  for (size_t i = 0; i < y.size(); ++i) wrong += y[i] != want[i];
  if (wrong) std::fprintf(stderr, "%s: %zu of %zu outputs differ\n", c.name, wrong, y.size());
  CHECK(wrong == 0);
}

}  // namespace

TEST(integer_conv_matches_reference) {
  const std::vector<Case> cases = {
      {"1-D", 2, 3, 5, 1, {17}, {3}, {1}, {1}, {1}, {1}, false, false, false},
      {"1-D stride dilation", 1, 4, 6, 2, {40}, {4}, {3}, {2}, {2}, {3}, true, true, true},
      {"2-D", 2, 4, 8, 1, {9, 11}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, false, true, true},
      {"2-D groups strides",
       1,
       6,
       9,
       3,
       {13, 10},
       {3, 2},
       {2, 3},
       {1, 2},
       {0, 2},
       {2, 1},
       true,
       false,
       false},
      {"2-D depthwise",
       1,
       5,
       5,
       5,
       {12, 12},
       {3, 3},
       {1, 1},
       {1, 1},
       {1, 1},
       {1, 1},
       false,
       false,
       true},
      {"2-D wide (many column blocks)",
       1,
       2,
       3,
       1,
       {23, 29},
       {2, 2},
       {1, 1},
       {1, 1},
       {0, 0},
       {0, 0},
       false,
       true,
       false},
      {"2-D K over chunks",
       1,
       260,
       7,
       1,
       {6, 6},
       {3, 3},
       {1, 1},
       {1, 1},
       {1, 1},
       {1, 1},
       false,
       true,
       true},
      {"2-D huge pads",
       1,
       2,
       2,
       1,
       {3, 4},
       {2, 2},
       {1, 1},
       {1, 1},
       {4, 5},
       {3, 6},
       false,
       false,
       true},
      {"3-D",
       1,
       4,
       6,
       2,
       {5, 6, 7},
       {2, 3, 2},
       {1, 2, 1},
       {2, 1, 1},
       {1, 0, 1},
       {0, 1, 1},
       true,
       true,
       true},
      {"3-D 1x1x1",
       2,
       3,
       4,
       1,
       {3, 4, 5},
       {1, 1, 1},
       {1, 1, 1},
       {1, 1, 1},
       {0, 0, 0},
       {0, 0, 0},
       false,
       false,
       false},
  };
  onEveryTier([&] {
    unsigned seed = 1;
    for (const Case& c : cases) check(c, seed++);
  });
}

TEST(integer_conv_sums_wrap_modulo_2_to_32) {
  // 64 channels x 600 taps of -255 * 255: -2.5e9 on an unpadded output, which wraps.
  const Case c = {"wrap", 1, 64, 2, 1, {605}, {600}, {1}, {1}, {0}, {0}, false, true, false};
  const Case s = {"wrap signed", 1, 64, 2, 1, {605}, {600}, {1}, {1}, {0}, {0}, true, false, false};
  onEveryTier([&] {
    check(c, 7, true);
    check(s, 8, true);
  });
}

TEST(integer_conv_rejects_bad_params) {
  IntegerConvParams p;
  p.inChannels = 4;
  p.outChannels = 3;
  p.group = 2;  // does not divide 3 output channels
  p.in = {5};
  p.out = {3};
  p.kernel = {3};
  p.stride = {1};
  p.dilation = {1};
  p.padBegin = {0};
  std::vector<uint8_t> x(20), w(18);
  std::vector<int32_t> y(9);
  CHECK_THROWS(kiln::kernels::integerConv(p, x.data(), w.data(), y.data()), kiln::Error);
  p.group = 1;
  p.wZeroPoints = {0, 0};  // neither one nor one per output channel
  CHECK_THROWS(kiln::kernels::integerConv(p, x.data(), w.data(), y.data()), kiln::Error);
}
