// The oneDNN convolution tactic (conv.onednn): a candidate beside kiln's own conv kernels when
// the core is built with oneDNN (KILN_WITH_ONEDNN), timed like them and chosen only if faster.
// Source and destination stay in kiln's NCHW layout; the weights are reordered once, when the
// engine loads, into the layout oneDNN's primitive prefers; bias, residual and activation run as
// the primitive's epilogue (post-ops), so the layer writes its output in one pass.
#pragma once

#include <memory>

#include "kiln/kernels/conv.h"

namespace kiln::onednn {

// The tactic's name in plans and timing caches.
constexpr const char* kConvTactic = "conv.onednn";

// Whether the oneDNN conv can run p with its epilogue: false where the fused activation has no
// oneDNN post-op (then the layer is not a candidate).
bool convApplies(const kernels::Conv2dParams& p);

// The weights in oneDNN's layout and the primitives made so far, one per input geometry (made
// on first use, then reused; safe to share between execution contexts).
struct ConvState;

// Reorders w ([M, C / group, kH, kW]) for the primitive at p's geometry (the declared input
// shape, or a stand-in when it is dynamic). hasBias and hasResidual fix the epilogue.
std::shared_ptr<const ConvState> prepareConv(const kernels::Conv2dParams& p, const float* w,
                                             bool hasBias, bool hasResidual);

// y = act(conv(x, w) + bias + residual), all NCHW, with oneDNN's threads set to the core's
// thread count. p must have the channels, kernel, group and epilogue given to prepareConv.
void runConv(const ConvState& state, const kernels::Conv2dParams& p, const float* x,
             const float* bias, const float* residual, float* y);

}  // namespace kiln::onednn
