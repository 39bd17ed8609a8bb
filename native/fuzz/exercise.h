// What both fuzz targets do with a network: load it as an engine, infer shapes at every
// profile's min / opt / max, and execute it when the memory involved is small. Bad input may
// only ever surface as a kiln::Error; anything else (a crash, a sanitizer report, another
// exception escaping) is a finding.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#include "engine/engine_core.h"
#include "kiln/error.h"

namespace kiln::fuzz {

// Larger runs are skipped: the fuzzer looks for wrong code, not for slow inputs.
inline constexpr size_t kMaxRunBytes = size_t{16} << 20;

// Source of input-tensor bytes: the fuzz data where there is some left, a pattern otherwise.
using ByteSource = std::function<uint8_t(size_t index)>;

inline size_t tensorBytes(const ShapePlan& plan, int32_t t) {
  return static_cast<size_t>(shapeBytes(plan.shapes[t], plan.types[t]));
}

// Work is bounded as well as memory: a convolution's multiply-adds and a pool's window visits
// grow with the kernel, not with the tensors (a ConvInteger of small tensors and 1.3 * 10^9
// multiply-adds ran 22 s under the sanitizers, a MaxPool with Indices 7 s: slow, not wrong).
inline constexpr double kMaxLayerWork = double(int64_t{1} << 26);

inline double product(const std::vector<int64_t>& dims, size_t from = 0) {
  double v = 1;
  for (size_t d = from; d < dims.size(); ++d) v *= static_cast<double>(dims[d]);
  return v;
}

inline bool tooMuchWork(const ShapePlan& plan, const Network& n) {
  for (const LayerDesc& l : n.layers) {
    if (l.outputs.empty() || l.outputs[0] < 0 || l.inputs.empty() || l.inputs[0] < 0) continue;
    const auto shape = [&](int32_t t) { return plan.shapes[static_cast<size_t>(t)]; };
    double work = 0;
    if (l.op == "MaxPool" || l.op == "AveragePool" || l.op == "LpPool") {
      const auto k = l.attrs.find("kernel_shape");
      if (k != l.attrs.end()) work = product(shape(l.outputs[0])) * product(k->second.ints);
    } else {
      // Each output (each input, transposed) takes every weight of one output channel.
      const bool transposed = l.op == "ConvTranspose";
      const size_t w = l.op == "QLinearConv"                                     ? 3
                       : (l.op == "Conv" || l.op == "ConvInteger" || transposed) ? 1
                                                                                 : 0;
      if (w > 0 && l.inputs.size() > w && l.inputs[w] >= 0)
        work = product(shape(l.inputs[w]), 1) *
               product(shape(transposed ? l.inputs[0] : l.outputs[0]));
    }
    if (work > kMaxLayerWork) return true;
  }
  return false;
}

// Infers shapes for the context's current input shapes and, when small, runs the network on
// inputs drawn from `bytes`.
inline void inferAndRun(ExecutionContext& ctx, const ByteSource& bytes) {
  std::shared_ptr<const ShapePlan> plan = ctx.plan();
  const Network& n = ctx.engine().network();
  // Kernel scratch counts too: a convolution whose im2col columns dwarf its tensors is as large
  // a run as one with large tensors.
  size_t total = plan->memoryBytes();
  for (const auto* io : {&n.inputs, &n.outputs}) {
    for (int32_t t : *io) {
      const size_t b = tensorBytes(*plan, t);
      if (b > kMaxRunBytes || total > kMaxRunBytes) return;
      total += b;
    }
  }
  if (total > kMaxRunBytes || tooMuchWork(*plan, n)) return;
  std::vector<std::vector<uint8_t>> ins(n.inputs.size()), outs(n.outputs.size());
  std::vector<const void*> inPtrs;
  std::vector<void*> outPtrs;
  size_t k = 0;
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    ins[i].resize(tensorBytes(*plan, n.inputs[i]) + 1);
    for (size_t b = 0; b + 1 < ins[i].size(); ++b) ins[i][b] = bytes(k++);
    // Booleans must hold 0 or 1, as every bool a user or a layer produces does.
    if (plan->types[n.inputs[i]] == DataType::kBool) {
      for (auto& v : ins[i]) v &= 1;
    }
    inPtrs.push_back(ins[i].data());
  }
  for (size_t i = 0; i < n.outputs.size(); ++i) {
    outs[i].resize(tensorBytes(*plan, n.outputs[i]) + 1);
    outPtrs.push_back(outs[i].data());
  }
  // The device arena is 64-byte aligned; so is this one.
  const size_t arenaBytes = (plan->arenaBytes + 64) / 64 * 64;
  std::unique_ptr<void, decltype(&std::free)> arena(std::aligned_alloc(64, arenaBytes), &std::free);
  ctx.execute(*plan, inPtrs, outPtrs, arena.get());
}

// Loads `network` as an engine and exercises every profile (or the static shapes).
inline void exerciseNetwork(Network network, const ByteSource& bytes) {
  std::shared_ptr<const EngineCore> core;
  try {
    core = std::make_shared<const EngineCore>(std::move(network));
  } catch (const Error&) {
    return;
  }
  const Network& n = core->network();
  const size_t profiles = n.profiles.empty() ? 1 : n.profiles.size();
  for (size_t p = 0; p < profiles; ++p) {
    for (int which = 0; which < 3; ++which) {
      try {
        ExecutionContext ctx(core);
        ctx.setProfile(static_cast<int>(p));
        if (!n.profiles.empty()) {
          for (const ProfileDims& d : n.profiles[p].inputs) {
            for (size_t i = 0; i < n.inputs.size(); ++i) {
              if (n.inputs[i] == d.tensor)
                ctx.setInputShape(i, which == 0 ? d.min : which == 1 ? d.opt : d.max);
            }
          }
        }
        inferAndRun(ctx, bytes);
      } catch (const Error&) {
        // A clean refusal: what bad input should get.
      }
      if (n.profiles.empty()) break;
    }
  }
}

}  // namespace kiln::fuzz
