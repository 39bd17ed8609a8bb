// LSTM against a double-precision step-by-step reference: directions, initial states, bias,
// peepholes, clip, input_forget.
#include <cmath>
#include <vector>

#include "kernel_test_util.h"
#include "kiln/error.h"
#include "kiln/kernels/rnn.h"

using namespace kiln::kernels;

namespace {
double sig(double v) { return 1 / (1 + std::exp(-v)); }

void runLstm(LstmParams p, bool withBias, bool withInit, bool withPeep, kiln::CpuIsa isa) {
  const int64_t S = p.seqLength, B = p.batch, I = p.inputSize, H = p.hiddenSize;
  const int D = p.direction == RnnDirection::kBidirectional ? 2 : 1;
  auto x = kt::randomVector(S * B * I, 1), w = kt::randomVector(D * 4 * H * I, 2),
       r = kt::randomVector(D * 4 * H * H, 3);
  auto b = kt::randomVector(D * 8 * H, 4), h0 = kt::randomVector(D * B * H, 5),
       c0 = kt::randomVector(D * B * H, 6);
  auto pp = kt::randomVector(D * 3 * H, 7);
  std::vector<double> wantY(S * D * B * H), wantH(D * B * H), wantC(D * B * H);
  for (int d = 0; d < D; ++d) {
    const bool rev = p.direction == RnnDirection::kReverse || d == 1;
    std::vector<double> h(B * H, 0), c(B * H, 0);
    if (withInit)
      for (int64_t i = 0; i < B * H; ++i) h[i] = h0[d * B * H + i], c[i] = c0[d * B * H + i];
    for (int64_t s = 0; s < S; ++s) {
      const int64_t t = rev ? S - 1 - s : s;
      std::vector<double> hn(B * H), cn(B * H);
      for (int64_t n = 0; n < B; ++n)
        for (int64_t j = 0; j < H; ++j) {
          double g[4];
          for (int q = 0; q < 4; ++q) {
            const int64_t row = q * H + j;
            double v = withBias
                           ? static_cast<double>(b[d * 8 * H + row]) + b[d * 8 * H + 4 * H + row]
                           : 0.0;
            for (int64_t k = 0; k < I; ++k)
              v += static_cast<double>(x[(t * B + n) * I + k]) * w[(d * 4 * H + row) * I + k];
            for (int64_t k = 0; k < H; ++k) v += h[n * H + k] * r[(d * 4 * H + row) * H + k];
            if (p.clip > 0) v = std::max<double>(-p.clip, std::min<double>(p.clip, v));
            g[q] = v;
          }
          const double cp = c[n * H + j];
          const double pi = withPeep ? pp[d * 3 * H + j] : 0,
                       po = withPeep ? pp[d * 3 * H + H + j] : 0,
                       pf = withPeep ? pp[d * 3 * H + 2 * H + j] : 0;
          const double it = sig(g[0] + pi * cp);
          const double ft = p.inputForget ? 1 - it : sig(g[2] + pf * cp);
          const double cc = ft * cp + it * std::tanh(g[3]);
          const double ot = sig(g[1] + po * cc);
          cn[n * H + j] = cc;
          hn[n * H + j] = ot * std::tanh(cc);
        }
      h = hn;
      c = cn;
      for (int64_t i = 0; i < B * H; ++i) wantY[((t * D + d) * B) * H + i] = h[i];
    }
    for (int64_t i = 0; i < B * H; ++i) wantH[d * B * H + i] = h[i], wantC[d * B * H + i] = c[i];
  }
  std::vector<float> y(wantY.size(), NAN), yh(wantH.size(), NAN), yc(wantC.size(), NAN);
  lstm(p, x.data(), w.data(), r.data(), withBias ? b.data() : nullptr,
       withInit ? h0.data() : nullptr, withInit ? c0.data() : nullptr,
       withPeep ? pp.data() : nullptr, y.data(), yh.data(), yc.data());
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "%slstm S%ld B%ld I%ld H%ld dir%d bias%d init%d peep%d clip%g if%d",
                kt::isaTag(isa).c_str(), (long)S, (long)B, (long)I, (long)H,
                static_cast<int>(p.direction), withBias, withInit, withPeep, p.clip, p.inputForget);
  // Errors compound over steps through the recurrence; gates are bounded so it stays ~1e-6.
  kt::expectClose(std::string(buf) + " Y", y, wantY, 2e-6, 1e-5);
  kt::expectClose(std::string(buf) + " Y_h", yh, wantH, 2e-6, 1e-5);
  kt::expectClose(std::string(buf) + " Y_c", yc, wantC, 2e-6, 1e-5);
}
}  // namespace

TEST(lstm_table) {
  kt::forEachIsa([](kiln::CpuIsa isa) {
    for (RnnDirection dir :
         {RnnDirection::kForward, RnnDirection::kReverse, RnnDirection::kBidirectional}) {
      LstmParams p;
      p.seqLength = 5;
      p.batch = 3;
      p.inputSize = 7;
      p.hiddenSize = 6;
      p.direction = dir;
      runLstm(p, true, true, false, isa);
      runLstm(p, false, false, false, isa);
      runLstm(p, true, false, true, isa);
      p.clip = 0.5f;
      runLstm(p, true, true, true, isa);
      p.clip = 0;
      p.inputForget = true;
      runLstm(p, true, true, false, isa);
    }
    LstmParams silero;  // Silero VAD-like: one step, batch 1, 128 -> 64
    silero.seqLength = 1;
    silero.batch = 1;
    silero.inputSize = 128;
    silero.hiddenSize = 64;
    runLstm(silero, true, true, false, isa);
  });
}

TEST(lstm_rejects_bad_params) {
  LstmParams p;
  std::vector<float> v(10);
  CHECK_THROWS(lstm(p, v.data(), v.data(), v.data(), nullptr, nullptr, nullptr, nullptr, nullptr,
                    nullptr, nullptr),
               kiln::Error);
}
