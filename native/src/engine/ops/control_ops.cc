// If (its branches are flattened into the network by the parser, each layer guarded by the
// condition; this layer picks the taken branch's results) and LSTM.
#include <cstring>

#include "engine/op.h"
#include "engine/ops/register.h"
#include "kiln/kernels/rnn.h"

namespace kiln {
namespace {

// Inputs: cond, the then-branch results, then the else-branch results (one per output).
size_t takenBranchOffset(const OpContext& ctx) {
  const size_t outputs = ctx.layer.outputs.size();
  ctx.require(ctx.inputCount() == 1 + 2 * outputs,
              "expects the condition and one result per output per branch");
  ctx.require(ctx.has(0) && ctx.dtype(0) == DataType::kBool, "the condition must be a bool tensor");
  ctx.require(ctx.in[0].data != nullptr, "the condition must be known when shapes are computed");
  return *static_cast<const uint8_t*>(ctx.in[0].data) != 0 ? 1 : 1 + outputs;
}

void inferIf(OpContext& ctx) {
  const size_t first = takenBranchOffset(ctx);
  for (size_t o = 0; o < ctx.layer.outputs.size(); ++o) {
    ctx.require(ctx.has(first + o),
                "the taken branch does not produce output " + std::to_string(o));
    ctx.outShapes[o] = ctx.shape(first + o);
    ctx.outTypes[o] = ctx.dtype(first + o);
  }
}

void runIf(OpContext& ctx) {
  const size_t first = takenBranchOffset(ctx);
  for (size_t o = 0; o < ctx.layer.outputs.size(); ++o) {
    const size_t bytes =
        static_cast<size_t>(shapeElements(ctx.outShapes[o])) * dataTypeSize(ctx.outTypes[o]);
    if (bytes > 0) std::memcpy(ctx.out[o], ctx.in[first + o].data, bytes);
  }
}

kernels::RnnDirection direction(const OpContext& ctx) {
  const std::string d = ctx.layer.attrString("direction", "forward");
  if (d == "forward") return kernels::RnnDirection::kForward;
  if (d == "reverse") return kernels::RnnDirection::kReverse;
  if (d == "bidirectional") return kernels::RnnDirection::kBidirectional;
  ctx.fail("unknown direction '" + d + "'");
}

kernels::LstmParams lstmParams(const OpContext& ctx) {
  ctx.requireFloatInputs({0, 1, 2, 3, 5, 6, 7});
  ctx.require(ctx.layer.attrInt("layout", 0) == 0, "layout = 1 is not supported yet");
  ctx.require(!ctx.layer.attrs.count("activations"), "custom activations are not supported yet");
  const Dims& x = ctx.shape(0);
  ctx.require(x.size() == 3, "X must be [seq, batch, input], got " + formatDims(x));
  kernels::LstmParams p;
  p.seqLength = x[0];
  p.batch = x[1];
  p.inputSize = x[2];
  ctx.require(!ctx.shape(2).empty(), "R must be [directions, 4*hidden, hidden]");
  p.hiddenSize = ctx.layer.attrInt("hidden_size", ctx.shape(2).back());
  ctx.require(p.hiddenSize >= 1 && p.hiddenSize <= (int64_t{1} << 31),
              "hidden_size is out of range");
  p.direction = direction(ctx);
  p.clip = static_cast<float>(ctx.layer.attrFloat("clip", 0.0));
  p.inputForget = ctx.layer.attrInt("input_forget", 0) != 0;
  const int64_t dirs = p.direction == kernels::RnnDirection::kBidirectional ? 2 : 1;
  ctx.require(ctx.shape(1) == (Dims{dirs, 4 * p.hiddenSize, p.inputSize}),
              "W must be [directions, 4*hidden, input]");
  ctx.require(ctx.shape(2) == (Dims{dirs, 4 * p.hiddenSize, p.hiddenSize}),
              "R must be [directions, 4*hidden, hidden]");
  // The optional inputs are read at fixed offsets per direction: their shapes must be exact.
  const auto optional = [&](size_t i, const Dims& want, const char* what) {
    if (ctx.has(i)) ctx.require(ctx.shape(i) == want, what);
  };
  optional(3, Dims{dirs, 8 * p.hiddenSize}, "B must be [directions, 8*hidden]");
  optional(5, Dims{dirs, p.batch, p.hiddenSize}, "initial_h must be [directions, batch, hidden]");
  optional(6, Dims{dirs, p.batch, p.hiddenSize}, "initial_c must be [directions, batch, hidden]");
  optional(7, Dims{dirs, 3 * p.hiddenSize}, "P must be [directions, 3*hidden]");
  if (ctx.has(4)) {
    // sequence_lens: only full-length sequences are supported.
    ctx.require(ctx.in[4].data != nullptr, "sequence_lens must be known when shapes are computed");
    for (int64_t len : ctx.ints(4))
      ctx.require(len == p.seqLength,
                  "sequence_lens shorter than the sequence are not supported yet");
  }
  return p;
}

void inferLstm(OpContext& ctx) {
  const kernels::LstmParams p = lstmParams(ctx);
  const int64_t dirs = p.direction == kernels::RnnDirection::kBidirectional ? 2 : 1;
  const Dims shapes[3] = {{p.seqLength, dirs, p.batch, p.hiddenSize},
                          {dirs, p.batch, p.hiddenSize},
                          {dirs, p.batch, p.hiddenSize}};
  for (size_t o = 0; o < ctx.layer.outputs.size() && o < 3; ++o) ctx.outShapes[o] = shapes[o];
}

void runLstm(OpContext& ctx) {
  const kernels::LstmParams p = lstmParams(ctx);
  const auto opt = [&](size_t i) { return ctx.has(i) ? ctx.f32(i) : nullptr; };
  const auto out = [&](size_t o) { return o < ctx.out.size() ? ctx.outF32(o) : nullptr; };
  kernels::lstm(p, ctx.f32(0), ctx.f32(1), ctx.f32(2), opt(3), opt(5), opt(6), opt(7), out(0),
                out(1), out(2));
}

void scratchLstm(const OpContext& ctx, kernels::ScratchNeed* need) {
  kernels::lstmScratch(lstmParams(ctx), need);
}

}  // namespace

void registerControlOps(OpTable& table) {
  table["If"] = OpImpl{inferIf, runIf};
  table["LSTM"] = OpImpl{inferLstm, runLstm, true, nullptr, scratchLstm};
}

}  // namespace kiln
