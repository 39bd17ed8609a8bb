// ONNX LSTM (layout 0: X is [seq, batch, input]), gate order i, o, f, c.
#pragma once

#include <cstdint>

#include "kiln/kernels/activation.h"

namespace kiln::kernels {

// Which directions an LSTM runs.
enum class RnnDirection { kForward, kReverse, kBidirectional };

// LSTM attributes; f, g, h are ONNX's activations (default Sigmoid, Tanh, Tanh); clip <= 0 means
// no clipping.
struct LstmParams {
  int64_t seqLength = 0;
  int64_t batch = 0;
  int64_t inputSize = 0;
  int64_t hiddenSize = 0;
  RnnDirection direction = RnnDirection::kForward;
  float clip = 0.0f;
  bool inputForget = false;
  Activation f{ActivationKind::kSigmoid, 0, 0};
  Activation g{ActivationKind::kTanh, 0, 0};
  Activation h{ActivationKind::kTanh, 0, 0};
};

// Runs the LSTM. x [seq, batch, I]; w [dirs, 4H, I]; r [dirs, 4H, H]; b [dirs, 8H] (Wb then Rb) or
// null; initialH / initialC [dirs, batch, H] or null (zeros); peephole [dirs, 3H] (i, o, f) or
// null. Outputs (each may be null): y [seq, dirs, batch, H], yH / yC [dirs, batch, H].
void lstm(const LstmParams& p, const float* x, const float* w, const float* r, const float* b,
          const float* initialH, const float* initialC, const float* peephole, float* y, float* yH,
          float* yC);

struct ScratchNeed;
// The scratch one thread of lstm asks for at most (its own buffers and its GEMMs' packing).
void lstmScratch(const LstmParams& p, ScratchNeed* need);

}  // namespace kiln::kernels
