// 8-bit GEMM and convolution against exact integer references (int64 sums of (x - zx) * w,
// then the one float requantization formula of qgemm.h): every micro-kernel variant the CPU
// can run, every ISA tier through the public entry points, and shapes with ragged M, N and K.
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/cpu/qgemm/qgemm_internal.h"
#include "kiln/error.h"
#include "kiln/kernels/qgemm.h"
#include "kiln/kernels/quantize.h"

using kiln::kernels::QConv2dParams;
using kiln::kernels::QRequant;

namespace {

template <typename T>
std::vector<T> randomInts(size_t n, uint32_t seed, int lo, int hi) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(dist(gen));
  return v;
}

// The requantization spelled out independently of the kernels' helper.
uint8_t refRequant(int64_t acc, float scale, const QRequant& rq) {
  float v = static_cast<float>(static_cast<int32_t>(acc)) * scale;
  v = std::min(std::max(v, -1.0e9f), 1.0e9f);
  int64_t q = static_cast<int64_t>(std::nearbyint(v)) + rq.zeroPoint;
  q = std::min<int64_t>(std::max<int64_t>(q, rq.lo), rq.hi);
  return static_cast<uint8_t>(q);
}

bool sameBytes(const std::string& what, const uint8_t* got, const uint8_t* want, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (got[i] != want[i]) {
      kiln_test::fail(__FILE__, __LINE__,
                      what + " [" + std::to_string(i) + "]: got " + std::to_string(got[i]) +
                          " want " + std::to_string(want[i]));
      return false;
    }
  }
  return true;
}

struct GemmCase {
  int64_t m, n, k;
  uint8_t zb;
  bool outSigned;
  bool clipped = false;  // a range narrower than 8 bits, as a fused Relu or Clip leaves
};

// Requantization parameters that spread the outputs over the whole 8-bit range.
void makeRequant(int64_t m, int64_t k, bool outSigned, uint32_t seed, std::vector<int32_t>& bias,
                 std::vector<float>& scale, QRequant& rq) {
  bias = randomInts<int32_t>(static_cast<size_t>(m), seed, -5000, 5000);
  scale.resize(static_cast<size_t>(m));
  std::mt19937 gen(seed + 1);
  std::uniform_real_distribution<float> d(0.5f, 2.0f);
  for (auto& s : scale) s = d(gen) / (64.0f * static_cast<float>(std::max<int64_t>(k, 1)));
  rq.bias = bias.data();
  rq.scale = scale.data();
  rq.outSigned = outSigned;
  rq.zeroPoint = outSigned ? 3 : 120;
  rq.lo = outSigned ? -128 : 0;
  rq.hi = outSigned ? 127 : 255;
}

std::vector<uint8_t> refGemm(const GemmCase& c, const int8_t* a, const uint8_t* b,
                             const QRequant& rq) {
  std::vector<uint8_t> want(static_cast<size_t>(c.m * c.n));
  for (int64_t i = 0; i < c.m; ++i)
    for (int64_t j = 0; j < c.n; ++j) {
      int64_t acc = rq.bias[i];
      for (int64_t kk = 0; kk < c.k; ++kk)
        acc +=
            static_cast<int64_t>(a[i * c.k + kk]) * (static_cast<int64_t>(b[kk * c.n + j]) - c.zb);
      want[i * c.n + j] = refRequant(acc, rq.scale[i], rq);
    }
  return want;
}

const GemmCase kGemmCases[] = {
    {1, 1, 1, 0, false},        {8, 16, 4, 128, false},       {9, 17, 5, 7, true},
    {13, 33, 37, 255, false},   {64, 49, 576, 114, false},    {3, 100, 147, 0, true},
    {24, 31, 1023, 200, false}, {16, 64, 20, 9, false, true}, {11, 40, 24, 77, true, true},
};

}  // namespace

TEST(qgemm_every_variant_matches_reference) {
  std::vector<kiln::kernels::qgemm::Variant> variants = {kiln::kernels::qgemm::scalarVariant()};
  const kiln::CpuFeatures& f = kiln::cpuFeatures();
  if (f.avx2) variants.push_back(kiln::kernels::qgemm::avx2Variant(false));
  if (f.avx2 && f.avxvnni) variants.push_back(kiln::kernels::qgemm::avx2Variant(true));
  if (f.avx512f && f.avx512vnni) variants.push_back(kiln::kernels::qgemm::avx512VnniVariant());
  for (const GemmCase& c : kGemmCases) {
    // Extremes included: 255 x -128 products are where a 16-bit pairwise sum would saturate.
    std::vector<int8_t> a = randomInts<int8_t>(static_cast<size_t>(c.m * c.k), 1, -128, 127);
    std::vector<uint8_t> b = randomInts<uint8_t>(static_cast<size_t>(c.k * c.n), 2, 0, 255);
    for (size_t i = 0; i < a.size(); i += 3) a[i] = -128;
    for (size_t i = 0; i < b.size(); i += 2) b[i] = 255;
    std::vector<int32_t> bias;
    std::vector<float> scale;
    QRequant rq;
    makeRequant(c.m, c.k, c.outSigned, 3, bias, scale, rq);
    if (c.clipped) {
      rq.lo = rq.zeroPoint + 4;
      rq.hi = rq.zeroPoint + 90;
    }
    const std::vector<uint8_t> want = refGemm(c, a.data(), b.data(), rq);
    const kiln::kernels::QPackedA pa = kiln::kernels::packQGemmA(a.data(), c.m, c.k);
    std::vector<uint8_t> pb(static_cast<size_t>(kiln::kernels::qgemmPackedBSize(c.k, c.n)));
    kiln::kernels::packQGemmB(b.data(), c.k, c.n, c.n, pb.data(), c.zb);
    for (const auto& v : variants) {
      // Drive the micro-kernel directly, panel by panel and block by block.
      std::vector<uint8_t> got(want.size(), 0xAB);
      const int64_t ldb = kiln::kernels::qgemmPaddedN(c.n) * 4;
      std::vector<int64_t> offsets(static_cast<size_t>(pa.k4));
      for (int64_t kk = 0; kk < pa.k4; ++kk) offsets[kk] = kk * ldb;
      for (int64_t i0 = 0; i0 < c.m; i0 += kiln::kernels::kQGemmMr) {
        std::vector<int32_t> pbias(kiln::kernels::kQGemmMr, 0);
        std::vector<float> pscale(kiln::kernels::kQGemmMr, 0.0f);
        for (int64_t r = 0; r < kiln::kernels::kQGemmMr && i0 + r < c.m; ++r) {
          pbias[r] = bias[i0 + r] - c.zb * pa.rowSums[i0 + r];
          pscale[r] = scale[i0 + r];
        }
        for (int64_t j0 = 0; j0 < c.n; j0 += v.nr)
          v.ukernel(pa.k4,
                    pa.data.data() + i0 / kiln::kernels::kQGemmMr * pa.k4 * kiln::kernels::kQGemmMr,
                    pb.data() + j0 * 4, offsets.data(), std::min(kiln::kernels::kQGemmMr, c.m - i0),
                    std::min(v.nr, c.n - j0), pbias.data(), pscale.data(), rq,
                    got.data() + i0 * c.n + j0, c.n);
      }
      sameBytes(std::string(v.name) + " m=" + std::to_string(c.m) + " n=" + std::to_string(c.n) +
                    " k=" + std::to_string(c.k),
                got.data(), want.data(), want.size());
    }
    kt::forEachIsa([&](kiln::CpuIsa isa) {
      std::vector<uint8_t> got(want.size(), 0xAB);
      kiln::kernels::qgemmU8S8(pa, pb.data(), c.n, c.zb, rq, got.data(), c.n);
      sameBytes(std::string("qgemmU8S8 ") + kiln::isaName(isa) + " m=" + std::to_string(c.m),
                got.data(), want.data(), want.size());
    });
  }
}

// A fully connected layer: rows of x against the weights as A (y = x * A^T), every ISA tier
// (the VNNI matrix-vector body and the 1-column GEMM elsewhere), 1 to 6 rows (its 4-row steps
// and their remainders), K not a multiple of 4, N not a multiple of the panel height.
TEST(qgemm_rows_matches_reference) {
  const GemmCase cases[] = {{13, 5, 37, 17, false}, {1000, 6, 2048, 0, true},
                            {8, 1, 4, 255, false},  {21, 4, 130, 128, true},
                            {3, 2, 1, 9, false},    {40, 3, 515, 77, false}};
  for (const GemmCase& c : cases) {
    // a: c.m outputs x c.k; x: c.n rows of c.k (the GEMM's B transposed).
    std::vector<int8_t> a = randomInts<int8_t>(static_cast<size_t>(c.m * c.k), 4, -128, 127);
    std::vector<uint8_t> x = randomInts<uint8_t>(static_cast<size_t>(c.n * c.k), 5, 0, 255);
    for (size_t i = 0; i < a.size(); i += 3) a[i] = -128;
    for (size_t i = 0; i < x.size(); i += 2) x[i] = 255;
    std::vector<uint8_t> b(x.size());  // k x n for refGemm
    for (int64_t r = 0; r < c.n; ++r)
      for (int64_t kk = 0; kk < c.k; ++kk) b[kk * c.n + r] = x[r * c.k + kk];
    std::vector<int32_t> bias;
    std::vector<float> scale;
    QRequant rq;
    makeRequant(c.m, c.k, c.outSigned, 6, bias, scale, rq);
    const std::vector<uint8_t> ref = refGemm(c, a.data(), b.data(), rq);  // m x n
    std::vector<uint8_t> want(ref.size());
    for (int64_t i = 0; i < c.m; ++i)
      for (int64_t r = 0; r < c.n; ++r) want[r * c.m + i] = ref[i * c.n + r];
    const kiln::kernels::QPackedA pa = kiln::kernels::packQGemmA(a.data(), c.m, c.k);
    kt::forEachIsa([&](kiln::CpuIsa isa) {
      std::vector<uint8_t> got(want.size(), 0xAB);
      kiln::kernels::qgemmRowsU8S8(pa, x.data(), c.n, c.zb, rq, got.data());
      sameBytes(std::string("qgemmRowsU8S8 ") + kiln::isaName(isa) + " m=" + std::to_string(c.m) +
                    " rows=" + std::to_string(c.n) + " k=" + std::to_string(c.k),
                got.data(), want.data(), want.size());
    });
  }
}

namespace {

std::vector<uint8_t> refConv(const QConv2dParams& p, const int8_t* w, const uint8_t* x,
                             const QRequant& rq) {
  int64_t oh = 0, ow = 0;
  kiln::kernels::qconv2dOutputShape(p, &oh, &ow);
  const int64_t cg = p.inChannels / p.group, mg = p.outChannels / p.group;
  std::vector<uint8_t> y(static_cast<size_t>(p.batch * p.outChannels * oh * ow));
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t m = 0; m < p.outChannels; ++m)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          const int64_t g = m / mg;
          int64_t acc = rq.bias[m];
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t ky = 0; ky < p.kernelH; ++ky)
              for (int64_t kx = 0; kx < p.kernelW; ++kx) {
                const int64_t iy = oy * p.strideH - p.padTop + ky * p.dilationH;
                const int64_t ix = ox * p.strideW - p.padLeft + kx * p.dilationW;
                if (iy < 0 || iy >= p.inH || ix < 0 || ix >= p.inW)
                  continue;  // pads are 0 after centring
                const int64_t xv = x[((b * p.inChannels + g * cg + c) * p.inH + iy) * p.inW + ix];
                acc += (xv - p.inZeroPoint) * w[((m * cg + c) * p.kernelH + ky) * p.kernelW + kx];
              }
          y[((b * p.outChannels + m) * oh + oy) * ow + ox] = refRequant(acc, rq.scale[m], rq);
        }
  return y;
}

QConv2dParams convCase(int64_t n, int64_t c, int64_t h, int64_t w, int64_t m, int64_t k, int64_t s,
                       int64_t pad, int64_t group, int64_t dil = 1) {
  QConv2dParams p;
  p.batch = n;
  p.inChannels = c;
  p.inH = h;
  p.inW = w;
  p.outChannels = m;
  p.kernelH = p.kernelW = k;
  p.strideH = p.strideW = s;
  p.dilationH = p.dilationW = dil;
  p.padTop = p.padLeft = pad;
  p.padBottom = p.padRight = pad + (s > 1 ? 1 : 0);
  p.group = group;
  p.inZeroPoint = static_cast<uint8_t>(17 * c + 5);
  return p;
}

}  // namespace

TEST(qconv2d_matches_reference) {
  const QConv2dParams cases[] = {
      convCase(1, 3, 17, 19, 8, 7, 2, 3, 1),     // a stem: K = 147, stride 2
      convCase(1, 3, 9, 75, 8, 7, 2, 3, 1),      // wide rows: the vector stride-2 gather
      convCase(1, 3, 15, 21, 9, 3, 2, 1, 1),     // MobileNet's 3x3/2 stem
      convCase(1, 8, 5, 67, 8, 1, 2, 0, 1),      // 1x1 stride 2, wide rows
      convCase(2, 16, 9, 9, 24, 1, 1, 0, 1),     // 1x1 direct packing, batch 2
      convCase(1, 10, 7, 9, 13, 1, 1, 0, 1),     // 1x1: ragged K, M and column blocks
      convCase(1, 12, 3, 3, 20, 1, 1, 0, 1),     // 1x1, one short block over split panels
      convCase(1, 8, 40, 40, 16, 1, 1, 0, 2),    // 1x1 grouped, many blocks
      convCase(1, 37, 30, 31, 20, 1, 1, 0, 1),   // 1x1 packed in pixel chunks, ragged K
      convCase(1, 64, 56, 56, 24, 1, 1, 0, 1),   // 1x1 packed in 8 pixel chunks
      convCase(1, 12, 8, 10, 20, 3, 1, 1, 1),    // 3x3 same
      convCase(1, 8, 11, 11, 8, 1, 2, 0, 1),     // 1x1 stride 2 (im2col)
      convCase(1, 8, 10, 9, 12, 3, 1, 1, 2),     // grouped
      convCase(1, 16, 12, 13, 16, 3, 1, 1, 16),  // depthwise
      convCase(2, 24, 15, 14, 24, 3, 2, 1, 24),  // depthwise stride 2
      convCase(1, 5, 9, 9, 5, 3, 1, 2, 5, 2),    // depthwise dilated
      convCase(1, 6, 9, 9, 7, 3, 1, 2, 1, 2),    // dilated
      convCase(1, 12, 15, 13, 20, 3, 2, 1, 1),   // 3x3 stride 2: four stride phases
      convCase(2, 6, 14, 17, 9, 3, 2, 1, 1),     // channels not a multiple of 4
      convCase(1, 8, 16, 19, 8, 3, 3, 1, 1),     // stride 3: nine phases
      convCase(1, 8, 17, 15, 8, 3, 2, 2, 1, 2),  // stride 2, dilation 2: one phase per tap row
      convCase(1, 16, 7, 7, 24, 1, 1, 1, 1),     // 1x1 with padding
      convCase(1, 8, 7, 70, 16, 5, 2, 2, 1),     // 5x5 stride 2, wide rows
      convCase(1, 34, 9, 11, 8, 3, 2, 1, 1),     // 34 channels: padded to 36 in groups of 4
      convCase(1, 8, 6, 150, 8, 3, 1, 1, 8),     // depthwise, wide rows: 64 columns at once
      convCase(1, 8, 7, 141, 8, 3, 2, 1, 8),     // depthwise stride 2, wide rows
      convCase(1, 4, 9, 70, 4, 5, 1, 2, 4),      // depthwise 5x5: two tap groups per row
      convCase(1, 4, 9, 40, 4, 3, 3, 1, 4),      // depthwise stride 3
      convCase(1, 6, 7, 7, 6, 3, 1, 1, 6),       // depthwise 7 x 7 (MobileNet's last stage)
      convCase(1, 6, 14, 14, 6, 3, 2, 1, 6),     // depthwise stride 2 to 7 x 7
      convCase(1, 5, 8, 19, 5, 3, 1, 0, 5),      // depthwise unpadded
      convCase(1, 3, 9, 17, 3, 2, 2, 0, 3),      // depthwise 2x2: a short group per row
      convCase(1, 4, 5, 90, 4, 3, 2, 1, 4),      // depthwise stride 2, 45 columns: 3 blocks
  };
  std::vector<QConv2dParams> all(std::begin(cases), std::end(cases));
  QConv2dParams mixed = convCase(1, 8, 13, 18, 12, 3, 1, 1, 1);
  mixed.strideW = 2;  // different strides per axis
  mixed.padRight = 0;
  all.push_back(mixed);
  for (const QConv2dParams& p : all) {
    const int64_t kArea = p.kernelH * p.kernelW;
    std::vector<int8_t> w = randomInts<int8_t>(
        static_cast<size_t>(p.outChannels * p.inChannels / p.group * kArea), 4, -128, 127);
    std::vector<uint8_t> x =
        randomInts<uint8_t>(static_cast<size_t>(p.batch * p.inChannels * p.inH * p.inW), 5, 0, 255);
    std::vector<int32_t> bias;
    std::vector<float> scale;
    QRequant rq;
    makeRequant(p.outChannels, p.inChannels / p.group * kArea, false, 6, bias, scale, rq);
    const std::vector<uint8_t> want = refConv(p, w.data(), x.data(), rq);
    const kiln::kernels::QConvWeights packed = kiln::kernels::packQConvWeights(p, w.data());
    kt::forEachIsa([&](kiln::CpuIsa isa) {
      std::vector<uint8_t> got(want.size(), 0xAB);
      kiln::kernels::qconv2d(p, packed, x.data(), rq, got.data());
      sameBytes(std::string("qconv2d ") + kiln::isaName(isa) +
                    " c=" + std::to_string(p.inChannels) + " k=" + std::to_string(p.kernelH) +
                    " g=" + std::to_string(p.group),
                got.data(), want.data(), want.size());
    });
  }
}

TEST(qconv2d_rejects_mismatched_weights) {
  QConv2dParams p = convCase(1, 8, 6, 6, 8, 3, 1, 1, 1);
  std::vector<int8_t> w(8 * 8 * 9, 1);
  const kiln::kernels::QConvWeights packed = kiln::kernels::packQConvWeights(p, w.data());
  std::vector<uint8_t> x(8 * 36), y(8 * 36);
  std::vector<float> scale(8, 1.0f);
  QRequant rq;
  rq.scale = scale.data();
  p.inChannels = 4;
  p.group = 1;
  CHECK_THROWS(kiln::kernels::qconv2d(p, packed, x.data(), rq, y.data()), kiln::Error);
  p.strideW = 0;
  CHECK_THROWS(kiln::kernels::packQConvWeights(p, w.data()), kiln::Error);
}

TEST(quantize_kernels_match_reference_on_every_tier) {
  const int64_t n = 1000;  // not a multiple of 16: the tails run too
  std::vector<float> x = kt::randomVector(static_cast<size_t>(n), 7, -40.0f, 40.0f);
  x[0] = 0.5f * 0.25f;  // exactly half a step: rounds to even
  x[1] = 1.5f * 0.25f;
  const float scale = 0.25f;
  for (bool isSigned : {false, true}) {
    const int32_t zp = isSigned ? -3 : 128;
    std::vector<uint8_t> want(static_cast<size_t>(n));
    std::vector<float> deq(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const double q = std::nearbyint(static_cast<double>(x[i]) / scale) + zp;
      const double c = std::min(std::max(q, isSigned ? -128.0 : 0.0), isSigned ? 127.0 : 255.0);
      want[i] = static_cast<uint8_t>(static_cast<int32_t>(c));
      deq[i] = static_cast<float>((c - zp) * scale);
    }
    kt::forEachIsa([&](kiln::CpuIsa isa) {
      const std::string tier = kiln::isaName(isa);
      std::vector<uint8_t> got(static_cast<size_t>(n));
      kiln::kernels::quantizeLinear(x.data(), n, scale, zp, isSigned, got.data());
      sameBytes("quantizeLinear " + tier, got.data(), want.data(), want.size());
      std::vector<float> back(static_cast<size_t>(n));
      kiln::kernels::dequantizeLinear(want.data(), isSigned, n, scale, zp, back.data());
      for (int64_t i = 0; i < n; ++i)
        if (back[i] != deq[i]) {
          kiln_test::fail(__FILE__, __LINE__,
                          "dequantizeLinear " + tier + " at " + std::to_string(i));
          break;
        }
    });
  }
}

TEST(qlinear_add_matches_reference_on_every_tier) {
  const int64_t n = 777;
  std::vector<uint8_t> a = randomInts<uint8_t>(static_cast<size_t>(n), 8, 0, 255);
  std::vector<uint8_t> b = randomInts<uint8_t>(static_cast<size_t>(n), 9, 0, 255);
  kiln::kernels::QAddParams p;
  p.aScale = 0.031f, p.bScale = 0.047f, p.cScale = 0.05f;
  p.aZero = 120, p.bZero = 3, p.cZero = 60;
  std::vector<uint8_t> want(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    // Double precision: agrees with the float32 kernel except within float rounding of a .5.
    const double v = (a[i] - p.aZero) * static_cast<double>(p.aScale) / p.cScale +
                     (b[i] - p.bZero) * static_cast<double>(p.bScale) / p.cScale;
    want[i] = static_cast<uint8_t>(std::min(std::max(std::nearbyint(v) + p.cZero, 0.0), 255.0));
  }
  kt::forEachIsa([&](kiln::CpuIsa isa) {
    std::vector<uint8_t> got(static_cast<size_t>(n));
    kiln::kernels::qlinearAdd(a.data(), b.data(), n, p, got.data());
    int off = 0;
    for (int64_t i = 0; i < n; ++i) off += std::abs(got[i] - want[i]) > 0;
    int bad = 0;
    for (int64_t i = 0; i < n; ++i) bad += std::abs(got[i] - want[i]) > 1;
    CHECK_EQ(bad, 0);
    CHECK(off <= 2);  // only ties decided by float32 rounding may differ
    // A fused Relu clamps at the output zero point and changes nothing above it.
    kiln::kernels::QAddParams r = p;
    r.relu = true;
    std::vector<uint8_t> relu(static_cast<size_t>(n));
    kiln::kernels::qlinearAdd(a.data(), b.data(), n, r, relu.data());
    int wrong = 0;
    for (int64_t i = 0; i < n; ++i) wrong += relu[i] != std::max<int>(got[i], p.cZero);
    CHECK_EQ(wrong, 0);
    (void)isa;
  });
}

TEST(max_pool_8bit_matches_reference) {
  struct PoolCase {
    int64_t h, w, kh, kw, sh, sw, pad, dh, dw;
    bool ceil;
  };
  // ResNet's 3x3/2 stem pool, wide rows (the vector paths; rows of several 64- and 128-column
  // steps), strides 1 and 3, dilation, ceil mode and asymmetric windows, on every ISA tier.
  const PoolCase cases[] = {
      {13, 11, 3, 3, 2, 2, 1, 1, 1, false}, {9, 70, 3, 3, 2, 2, 1, 1, 1, false},
      {7, 40, 2, 2, 1, 1, 0, 1, 1, false},  {10, 35, 3, 3, 3, 3, 1, 1, 1, true},
      {12, 45, 3, 2, 2, 2, 1, 2, 2, false}, {6, 33, 1, 4, 1, 3, 0, 1, 1, true},
      {5, 300, 3, 3, 2, 2, 1, 1, 1, false}, {4, 200, 3, 3, 1, 1, 1, 1, 1, false},
      {8, 131, 5, 5, 2, 2, 2, 1, 1, true},  {3, 140, 2, 3, 1, 2, 0, 1, 3, false},
  };
  uint32_t seed = 10;
  for (const PoolCase& c : cases) {
    kiln::kernels::Pool2dParams p;
    p.kind = kiln::kernels::PoolKind::kMax;
    p.batch = 2, p.channels = 3, p.inH = c.h, p.inW = c.w;
    p.kernelH = c.kh, p.kernelW = c.kw, p.strideH = c.sh, p.strideW = c.sw;
    p.padTop = p.padLeft = p.padBottom = p.padRight = c.pad;
    p.dilationH = c.dh, p.dilationW = c.dw, p.ceilMode = c.ceil;
    std::vector<uint8_t> x =
        randomInts<uint8_t>(static_cast<size_t>(6 * c.h * c.w), ++seed, 0, 255);
    int64_t oh = 0, ow = 0;
    kiln::kernels::pool2dOutputShape(p, &oh, &ow);
    for (bool isSigned : {false, true}) {
      std::vector<uint8_t> want(static_cast<size_t>(6 * oh * ow)), got(want.size());
      for (int64_t pl = 0; pl < 6; ++pl)
        for (int64_t y = 0; y < oh; ++y)
          for (int64_t xx = 0; xx < ow; ++xx) {
            int m = isSigned ? -128 : 0;
            for (int64_t ky = 0; ky < c.kh; ++ky)
              for (int64_t kx = 0; kx < c.kw; ++kx) {
                const int64_t iy = y * c.sh - c.pad + ky * c.dh, ix = xx * c.sw - c.pad + kx * c.dw;
                if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
                const uint8_t v = x[(pl * c.h + iy) * c.w + ix];
                m = std::max(m, isSigned ? static_cast<int>(static_cast<int8_t>(v)) : v);
              }
            want[(pl * oh + y) * ow + xx] = static_cast<uint8_t>(m);
          }
      kt::forEachIsa([&](kiln::CpuIsa isa) {
        std::fill(got.begin(), got.end(), 0xAB);
        kiln::kernels::maxPool2d8(p, x.data(), isSigned, got.data());
        sameBytes(std::string(isSigned ? "maxPool2d8 int8 " : "maxPool2d8 uint8 ") +
                      kiln::isaName(isa) + " " + std::to_string(c.h) + "x" + std::to_string(c.w),
                  got.data(), want.data(), want.size());
      });
    }
  }
}
