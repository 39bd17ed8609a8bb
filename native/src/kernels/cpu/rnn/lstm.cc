// LSTM: the input projection of every step is one GEMM up front; each step then adds
// H_{t-1} R^T with a small GEMM and applies the gates.
#include <algorithm>
#include <cstring>

#include "kernels/cpu/common/scratch.h"
#include "kiln/error.h"
#include "kiln/kernels/gemm.h"
#include "kiln/kernels/rnn.h"
#include "kiln/kernels/scratch.h"

namespace kiln::kernels {
namespace {

// Floats of the calling thread's scratch: every step's input projection (slot kIm2col), and the
// gates, h, c and bias of the step running (kWork). sgemm packs into kPackA / kPackB.
int64_t projectionFloats(const LstmParams& p) {
  return scratchProduct(scratchProduct(p.seqLength, p.batch), 4 * p.hiddenSize);
}
int64_t stateFloats(const LstmParams& p) {
  return scratchProduct(p.batch, 6 * p.hiddenSize) + 4 * p.hiddenSize;
}

}  // namespace

void lstmScratch(const LstmParams& p, ScratchNeed* need) {
  const int64_t H = p.hiddenSize, G = 4 * H;
  need->atLeast(static_cast<size_t>(ScratchSlot::kIm2col), projectionFloats(p));
  need->atLeast(static_cast<size_t>(ScratchSlot::kWork), stateFloats(p));
  gemmScratch(scratchProduct(p.seqLength, p.batch), G, p.inputSize, false, false, need);
  gemmScratch(p.batch, G, H, false, false, need);
}

void lstm(const LstmParams& p, const float* x, const float* w, const float* r, const float* b,
          const float* initialH, const float* initialC, const float* peephole, float* y, float* yH,
          float* yC) {
  if (p.seqLength < 0 || p.batch < 0 || p.inputSize <= 0 || p.hiddenSize <= 0)
    throw Error(ErrorCode::kInvalidArgument, "lstm: sizes must be positive");
  if (!x || !w || !r) throw Error(ErrorCode::kInvalidArgument, "lstm: x, w and r are required");
  const int64_t S = p.seqLength, B = p.batch, I = p.inputSize, H = p.hiddenSize, G = 4 * H;
  const int dirs = p.direction == RnnDirection::kBidirectional ? 2 : 1;
  float* xw = threadScratch(ScratchSlot::kIm2col, static_cast<size_t>(projectionFloats(p)));
  float* gates = threadScratch(ScratchSlot::kWork, static_cast<size_t>(stateFloats(p)));
  float* hPrev = gates + B * G;
  float* cPrev = hPrev + B * H;
  float* bias = cPrev + B * H;
  for (int d = 0; d < dirs; ++d) {
    const bool reverse = p.direction == RnnDirection::kReverse || d == 1;
    for (int64_t j = 0; j < G; ++j) bias[j] = b ? b[d * 8 * H + j] + b[d * 8 * H + G + j] : 0.0f;
    // xw[t*B + n] = x[t, n] W^T + (Wb + Rb)
    GemmParams proj;
    proj.m = S * B;
    proj.n = G;
    proj.k = I;
    proj.transB = true;
    proj.bias = bias;
    proj.biasKind = BiasKind::kPerCol;
    if (S * B > 0) sgemm(proj, x, w + d * G * I, xw);
    if (initialH)
      std::copy(initialH + d * B * H, initialH + (d + 1) * B * H, hPrev);
    else
      std::fill(hPrev, hPrev + B * H, 0.0f);
    if (initialC)
      std::copy(initialC + d * B * H, initialC + (d + 1) * B * H, cPrev);
    else
      std::fill(cPrev, cPrev + B * H, 0.0f);
    const float* pI = peephole ? peephole + d * 3 * H : nullptr;
    const float* pO = peephole ? pI + H : nullptr;
    const float* pF = peephole ? pI + 2 * H : nullptr;
    for (int64_t step = 0; step < S; ++step) {
      const int64_t t = reverse ? S - 1 - step : step;
      std::memcpy(gates, xw + t * B * G, sizeof(float) * static_cast<size_t>(B * G));
      GemmParams rec;
      rec.m = B;
      rec.n = G;
      rec.k = H;
      rec.transB = true;
      rec.beta = 1.0f;
      sgemm(rec, hPrev, r + d * G * H, gates);
      for (int64_t n = 0; n < B; ++n) {
        float* gt = gates + n * G;
        float* hn = hPrev + n * H;
        float* cn = cPrev + n * H;
        for (int64_t j = 0; j < H; ++j) {
          float gi = gt[j], go = gt[H + j], gf = gt[2 * H + j], gc = gt[3 * H + j];
          if (p.clip > 0) {
            gi = std::clamp(gi, -p.clip, p.clip);
            go = std::clamp(go, -p.clip, p.clip);
            gf = std::clamp(gf, -p.clip, p.clip);
            gc = std::clamp(gc, -p.clip, p.clip);
          }
          const float c0 = cn[j];
          const float it = activate(p.f, gi + (pI ? pI[j] * c0 : 0.0f));
          const float ft = p.inputForget ? 1.0f - it : activate(p.f, gf + (pF ? pF[j] * c0 : 0.0f));
          const float ct = activate(p.g, gc);
          const float c1 = ft * c0 + it * ct;
          const float ot = activate(p.f, go + (pO ? pO[j] * c1 : 0.0f));
          cn[j] = c1;
          hn[j] = ot * activate(p.h, c1);
        }
      }
      if (y) {
        for (int64_t n = 0; n < B; ++n)
          std::memcpy(y + ((t * dirs + d) * B + n) * H, hPrev + n * H,
                      sizeof(float) * static_cast<size_t>(H));
      }
    }
    if (yH) std::copy(hPrev, hPrev + B * H, yH + d * B * H);
    if (yC) std::copy(cPrev, cPrev + B * H, yC + d * B * H);
  }
}

}  // namespace kiln::kernels
