#include "engine/cuda/cuda_precision.h"

#include <algorithm>

#include "engine/cuda/cuda_ops.h"

namespace kiln::cuda {
namespace {

bool isFloat(const Network& n, int32_t t) {
  return t >= 0 && n.tensors[t].dtype == DataType::kFloat32;
}

// A half Conv, Gemm or MatMul: every float input in half; Conv's in NHWC but its bias.
void planWeighted(const Network& n, const LayerDesc& l, const CudaOp& op, LayerStorage& s) {
  s.nhwc = op.nhwc;
  for (size_t i = 0; i < l.inputs.size(); ++i)
    if (isFloat(n, l.inputs[i])) s.in[i] = op.nhwc && i != 2 ? Storage::kHalfNhwc : Storage::kHalf;
  const Storage made = op.nhwc ? Storage::kHalfNhwc : Storage::kHalf;
  for (size_t o = 0; o < l.outputs.size(); ++o)
    if (isFloat(n, l.outputs[o])) s.out[o] = made;
}

bool isActivation8(const Network& n, int32_t t) {
  return t >= 0 && n.tensors[t].constant < 0 &&
         (n.tensors[t].dtype == DataType::kInt8 || n.tensors[t].dtype == DataType::kUInt8);
}

// An 8-bit layer's activations NHWC when the op says so (nhwc8) or, for an elementwise one
// (follows8), when every 8-bit activation it reads already is; otherwise they stay as planned.
void planBytes(const Network& n, const LayerDesc& l, const CudaOp& op, const PrecisionPlan& plan,
               LayerStorage& s) {
  bool nhwc = false;
  if (op.nhwc8 != nullptr) {
    nhwc = op.nhwc8(l, n);
  } else {
    for (int32_t t : l.inputs) {
      if (!isActivation8(n, t)) continue;
      if (plan.tensors[t] != Storage::kByteNhwc) return;
      nhwc = true;
    }
  }
  if (!nhwc) return;
  s.nhwc = true;
  for (size_t i = 0; i < l.inputs.size(); ++i)
    if (isActivation8(n, l.inputs[i])) s.in[i] = Storage::kByteNhwc;
  for (size_t o = 0; o < l.outputs.size(); ++o)
    if (isActivation8(n, l.outputs[o])) s.out[o] = Storage::kByteNhwc;
}

}  // namespace

PrecisionPlan planPrecision(const Network& n) {
  PrecisionPlan plan;
  plan.tensors.assign(n.tensors.size(), Storage::kFloat);
  std::vector<char> isOutput(n.tensors.size(), 0);
  for (int32_t t : n.outputs) isOutput[t] = 1;
  for (const LayerDesc& l : n.layers) {
    LayerStorage s;
    s.in.assign(l.inputs.size(), Storage::kFloat);
    s.out.assign(l.outputs.size(), Storage::kFloat);
    const CudaOp* op = findCudaOp(l.op);
    const bool eightBit = std::any_of(l.inputs.begin(), l.inputs.end(),
                                      [&](int32_t t) { return isActivation8(n, t); });
    if (op != nullptr && eightBit && (op->nhwc8 != nullptr || op->follows8)) {
      planBytes(n, l, *op, plan, s);
    } else if (op != nullptr && op->half == Half::kWeights) {
      if (l.inputs.size() > 1 && l.inputs[1] >= 0 && n.tensors[l.inputs[1]].halfStored)
        planWeighted(n, l, *op, s);
    } else if (op != nullptr && op->half == Half::kFollows) {
      // Half when its float inputs are all half activations (a float32 constant operand keeps
      // the layer in float32).
      bool half = false, nhwc = op->nhwc, floatOperand = false;
      const size_t activations =
          op->floatParams ? std::min<size_t>(1, l.inputs.size()) : l.inputs.size();
      for (size_t i = 0; i < activations; ++i) {
        const int32_t t = l.inputs[i];
        if (!isFloat(n, t)) continue;
        if (plan.tensors[t] == Storage::kFloat) floatOperand = true;
        half = true;
        nhwc = nhwc && plan.tensors[t] == Storage::kHalfNhwc;
      }
      if (half && !floatOperand) {
        s.nhwc = nhwc;
        const Storage want = nhwc ? Storage::kHalfNhwc : Storage::kHalf;
        for (size_t i = 0; i < activations; ++i)
          if (isFloat(n, l.inputs[i])) s.in[i] = want;
        for (size_t o = 0; o < l.outputs.size(); ++o)
          if (isFloat(n, l.outputs[o])) s.out[o] = want;
      }
    }
    for (size_t o = 0; o < l.outputs.size(); ++o) {
      const int32_t t = l.outputs[o];
      if (t < 0) continue;
      // The network's outputs stay float32; a GEMM writes them so itself, and then adds its
      // bias (C) in float32.
      if (isOutput[t] && op != nullptr && op->writesFloat && s.out[o] != Storage::kFloat) {
        s.out[o] = Storage::kFloat;
        if (l.inputs.size() > 2 && isFloat(n, l.inputs[2])) s.in[2] = Storage::kFloat;
      }
      plan.tensors[t] = isOutput[t] ? Storage::kFloat : s.out[o];
    }
    plan.layers.push_back(std::move(s));
  }
  return plan;
}

}  // namespace kiln::cuda
