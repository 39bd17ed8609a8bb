#include "engine/engine_core.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include "engine/half_weights.h"
#include "graph/memory_plan.h"
#include "kiln/thread_pool.h"
#include "tactics/tactics.h"

namespace kiln {

namespace {

// The address of a constant; an empty one gets a valid address rather than null, which kernels
// must not offset or hand to memcpy, and which plan() reads as "value unknown".
const void* constantData(const Network& n, int32_t tensor) {
  static const uint64_t kEmpty = 0;
  const std::vector<uint8_t>& w = n.weights[n.tensors[tensor].constant];
  return w.empty() ? static_cast<const void*>(&kEmpty) : w.data();
}
}  // namespace

EngineCore::EngineCore(Network network)
    : EngineCore(std::make_shared<const Network>(std::move(network)), true) {}

EngineCore::EngineCore(std::shared_ptr<const Network> shared, bool prepare) {
  shared->validate(false);
  const bool halfWeights = std::any_of(
      shared->tensors.begin(), shared->tensors.end(),
      [](const TensorDesc& t) { return t.constant >= 0 && t.dtype == DataType::kFloat16; });
  if (halfWeights) {
    auto expanded = std::make_shared<Network>(*shared);
    expandHalfWeights(*expanded);
    shared = std::move(expanded);
  }
  network_ = std::move(shared);
  const Network& n = *network_;
  const size_t nt = n.tensors.size();
  producer_.assign(nt, -1);
  lastUse_.assign(nt, -1);
  io_.assign(nt, 0);
  std::string unsupported;
  for (size_t i = 0; i < n.layers.size(); ++i) {
    const LayerDesc& l = n.layers[i];
    const OpImpl* impl = findOp(l.op);
    if (impl == nullptr)
      unsupported += (unsupported.empty() ? "" : ", ") + l.name + " (" + l.op + ")";
    ops_.push_back(impl);
    for (int32_t t : l.inputs) {
      if (t >= 0) lastUse_[t] = static_cast<int32_t>(i);
    }
    for (int32_t t : l.outputs) {
      producer_[t] = static_cast<int32_t>(i);
      if (lastUse_[t] < static_cast<int32_t>(i)) lastUse_[t] = static_cast<int32_t>(i);
    }
  }
  if (!unsupported.empty()) {
    throw Error(ErrorCode::kUnsupported,
                "the native core has no implementation for: " + unsupported);
  }
  prepared_.resize(n.layers.size());
  for (size_t i = 0; i < n.layers.size(); ++i) {
    requireTacticBuilt(n.layers[i]);
    if (prepare && ops_[i]->prepare != nullptr) prepared_[i] = ops_[i]->prepare(n.layers[i], n);
  }
  for (int32_t t : n.inputs) io_[t] = 1;
  for (int32_t t : n.outputs) io_[t] = 1;
}

ExecutionContext::ExecutionContext(std::shared_ptr<const EngineCore> engine)
    : engine_(std::move(engine)) {
  const Network& n = engine_->network();
  inputShapes_.resize(n.inputs.size());
  inputSet_.assign(n.inputs.size(), 0);
  inputValues_.resize(n.inputs.size());
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    const Dims& declared = n.tensors[n.inputs[i]].shape;
    if (std::all_of(declared.begin(), declared.end(), [](int64_t d) { return d >= 0; })) {
      inputShapes_[i] = declared;
      inputSet_[i] = 1;
    }
  }
}

void ExecutionContext::setProfile(int index) {
  const int count = static_cast<int>(engine_->network().profiles.size());
  if (index < 0 || index >= std::max(count, 1)) {
    throw Error(ErrorCode::kInvalidArgument, "profile " + std::to_string(index) +
                                                 " does not exist; the engine has " +
                                                 std::to_string(std::max(count, 1)));
  }
  profile_ = index;
  plan_.reset();
}

void ExecutionContext::setInputShape(size_t input, const Dims& dims) {
  const Network& n = engine_->network();
  if (input >= n.inputs.size())
    throw Error(ErrorCode::kInvalidArgument, "input index out of range");
  const TensorDesc& t = n.tensors[n.inputs[input]];
  if (dims.size() != t.shape.size()) {
    throw Error(ErrorCode::kInvalidArgument, "input '" + t.name + "' has rank " +
                                                 std::to_string(t.shape.size()) +
                                                 " but the shape " + formatDims(dims) +
                                                 " has rank " + std::to_string(dims.size()));
  }
  const ProfileDims* range = nullptr;
  if (!n.profiles.empty()) {
    for (const ProfileDims& p : n.profiles[profile_].inputs) {
      if (p.tensor == n.inputs[input]) range = &p;
    }
  }
  for (size_t k = 0; k < dims.size(); ++k) {
    if (t.shape[k] >= 0 && dims[k] != t.shape[k]) {
      throw Error(ErrorCode::kInvalidArgument, "input '" + t.name + "' dim " + std::to_string(k) +
                                                   " is fixed at " + std::to_string(t.shape[k]) +
                                                   " but " + std::to_string(dims[k]) +
                                                   " was given");
    }
    if (t.shape[k] < 0) {
      if (range == nullptr) {
        throw Error(ErrorCode::kInvalidArgument,
                    "input '" + t.name + "' has dynamic dims but profile " +
                        std::to_string(profile_) + " gives no range for it");
      }
      if (dims[k] < range->min[k] || dims[k] > range->max[k]) {
        throw Error(ErrorCode::kInvalidArgument,
                    "input '" + t.name + "' dim " + std::to_string(k) + " = " +
                        std::to_string(dims[k]) + " is outside profile " +
                        std::to_string(profile_) + "'s range [" + std::to_string(range->min[k]) +
                        ", " + std::to_string(range->max[k]) + "]");
      }
    }
  }
  shapeElements(dims);  // refuses dims no tensor can have, even within a profile's range
  if (!inputSet_[input] || inputShapes_[input] != dims) {
    plan_.reset();
    inputValues_[input].clear();  // values given for another shape no longer apply
  }
  inputShapes_[input] = dims;
  inputSet_[input] = 1;
}

void ExecutionContext::setInputValues(size_t input, const uint8_t* data, size_t bytes) {
  const Network& n = engine_->network();
  if (input >= n.inputs.size())
    throw Error(ErrorCode::kInvalidArgument, "input index out of range");
  const TensorDesc& t = n.tensors[n.inputs[input]];
  if (!inputSet_[input])
    throw Error(ErrorCode::kInvalidState,
                "set the shape of input '" + t.name + "' before its values");
  const size_t expect = static_cast<size_t>(shapeBytes(inputShapes_[input], t.dtype));
  if (bytes != expect) {
    throw Error(ErrorCode::kInvalidArgument, "values of input '" + t.name + "' need " +
                                                 std::to_string(expect) + " bytes for shape " +
                                                 formatDims(inputShapes_[input]) + ", got " +
                                                 std::to_string(bytes));
  }
  std::vector<uint8_t> copy(data, data + bytes);
  copy.push_back(0);  // the spare byte that marks even an empty tensor's value as known
  if (copy != inputValues_[input]) plan_.reset();
  inputValues_[input] = std::move(copy);
}

std::shared_ptr<const ShapePlan> ExecutionContext::plan() {
  if (plan_) return plan_;
  const Network& n = engine_->network();
  auto plan = std::make_shared<ShapePlan>();
  const size_t nt = n.tensors.size();
  plan->shapes.resize(nt);
  plan->types.resize(nt);
  plan->values.resize(nt);
  plan->offsets.assign(nt, -1);
  std::vector<char> known(nt, 0);  // shape known
  for (size_t t = 0; t < nt; ++t) {
    plan->types[t] = n.tensors[t].dtype;
    if (n.tensors[t].constant >= 0) {
      plan->shapes[t] = n.tensors[t].shape;
      known[t] = 1;
    }
  }
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    if (!inputSet_[i]) {
      throw Error(ErrorCode::kInvalidState,
                  "set the shape of input '" + n.tensors[n.inputs[i]].name +
                      "' first: it has dynamic dims " + formatDims(n.tensors[n.inputs[i]].shape));
    }
    plan->shapes[n.inputs[i]] = inputShapes_[i];
    if (!inputValues_[i].empty()) plan->values[n.inputs[i]] = inputValues_[i];
  }
  plan->active.assign(n.layers.size(), 1);
  // KILN_DEBUG_SHAPES=1 prints every layer's output shapes as they are inferred.
  static const bool traceShapes = std::getenv("KILN_DEBUG_SHAPES") != nullptr;
  std::vector<char> produced(nt, 1);  // false for outputs of layers a guard excluded
  kernels::ScratchNeed scratch;       // per slot, the most any layer asks of one thread
  const auto dataOf = [&](int32_t t) -> const void* {
    if (n.tensors[t].constant >= 0) return constantData(n, t);
    return plan->values[t].empty() ? nullptr : plan->values[t].data();
  };
  for (size_t li = 0; li < n.layers.size(); ++li) {
    const LayerDesc& layer = n.layers[li];
    const OpImpl& impl = engine_->op(li);
    // Guards run outermost first: an inner condition exists only when the outer branch is taken.
    for (const auto& [tensor, wanted] : layer.guards) {
      if (!plan->active[li]) break;
      const auto* known = static_cast<const uint8_t*>(dataOf(tensor));
      if (known == nullptr) {
        throw Error(ErrorCode::kUnsupported,
                    "layer '" + layer.name + "' runs under a condition ('" +
                        n.tensors[tensor].name +
                        "') that depends on input data; it must be known when shapes are computed: "
                        "a constant, "
                        "computed from shapes, or from an input whose values are given "
                        "(setInputValues when running, "
                        "OptimizationProfile.setShapeValues when building)");
      }
      if ((known[0] != 0) != wanted) plan->active[li] = 0;
    }
    if (!plan->active[li]) {
      for (int32_t t : layer.outputs) produced[t] = 0;
      continue;
    }
    OpContext ctx(layer);
    bool allData = true;
    for (int32_t t : layer.inputs) {
      InputView v;
      if (t >= 0 && produced[t]) {
        v.present = true;
        v.shape = &plan->shapes[t];
        v.dtype = plan->types[t];
        v.data = dataOf(t);
        if (v.data == nullptr) allData = false;
      }
      ctx.in.push_back(v);
    }
    ctx.outShapes.resize(layer.outputs.size());
    for (int32_t t : layer.outputs) ctx.outTypes.push_back(n.tensors[t].dtype);
    impl.infer(ctx);
    if (impl.scratch) {
      ctx.prepared = engine_->prepared(li);
      impl.scratch(ctx, &scratch);
    }
    int64_t outElements = 0;
    for (size_t o = 0; o < layer.outputs.size(); ++o) {
      const int32_t t = layer.outputs[o];
      plan->shapes[t] = ctx.outShapes[o];
      plan->types[t] = ctx.outTypes[o];
      // Saturated at the limit: several huge outputs would overflow the sum (fuzz_plan).
      outElements = std::min(
          kMaxShapeTimeElements + 1,
          outElements + std::min(kMaxShapeTimeElements + 1, shapeElements(ctx.outShapes[o])));
      if (traceShapes) {
        std::fprintf(stderr, "[kiln shapes] %s (%s) -> %s %s %s\n", layer.name.c_str(),
                     layer.op.c_str(), n.tensors[t].name.c_str(), dataTypeName(ctx.outTypes[o]),
                     formatDims(ctx.outShapes[o]).c_str());
      }
    }
    // Compute values now when they are cheap and knowable, so shape inputs downstream
    // (Reshape's shape, Slice's bounds...) are known: this runs Shape -> Gather -> Concat chains.
    if ((allData || !impl.readsInputData) && outElements <= kMaxShapeTimeElements) {
      for (size_t o = 0; o < layer.outputs.size(); ++o) {
        const int32_t t = layer.outputs[o];
        // One spare byte keeps an empty tensor's value non-empty, which marks it as known.
        plan->values[t].assign(static_cast<size_t>(shapeBytes(plan->shapes[t], plan->types[t])) + 1,
                               0);
        ctx.out.push_back(plan->values[t].data());
      }
      if (outElements > 0) impl.run(ctx);  // empty outputs: nothing to compute
    }
  }
  // Outputs are bound by the user, not in the arena: their sizes must be representable too.
  for (int32_t t : n.outputs) {
    if (produced[t]) shapeBytes(plan->shapes[t], plan->types[t]);
  }
  // Arena: every computed tensor that is not bound by the user.
  std::vector<BufferLifetime> lifetimes;
  std::vector<int32_t> arenaTensors;
  for (size_t t = 0; t < nt; ++t) {
    const int32_t tensor = static_cast<int32_t>(t);
    if (n.tensors[t].constant >= 0 || engine_->isIo(tensor) || engine_->producer(tensor) < 0 ||
        !produced[t]) {
      continue;
    }
    const size_t bytes = static_cast<size_t>(shapeBytes(plan->shapes[t], plan->types[t]));
    lifetimes.push_back({bytes, engine_->producer(tensor), engine_->lastUse(tensor)});
    arenaTensors.push_back(tensor);
  }
  const MemoryPlan mem = planMemory(lifetimes);
  for (size_t i = 0; i < arenaTensors.size(); ++i)
    plan->offsets[arenaTensors[i]] = static_cast<int64_t>(mem.offsets[i]);
  plan->arenaBytes = mem.totalBytes;
  // Every pool worker and the thread that runs the stream may hold a full set of buffers.
  const int64_t threads = globalThreadPool().size() + 1;
  const int64_t perThread = scratch.bytesPerThread();
  plan->scratchPerThread = scratch;
  plan->scratchBytes = static_cast<size_t>(perThread > std::numeric_limits<int64_t>::max() / threads
                                               ? std::numeric_limits<int64_t>::max()
                                               : perThread * threads);
  plan_ = plan;
  return plan_;
}

size_t ShapePlan::memoryBytes() const {
  return arenaBytes > std::numeric_limits<size_t>::max() - scratchBytes
             ? std::numeric_limits<size_t>::max()
             : arenaBytes + scratchBytes;
}

void checkMemoryFits(const ShapePlan& plan, uint64_t available) {
  if (available == 0 || plan.memoryBytes() <= available) return;
  throw Error(ErrorCode::kOutOfMemory,
              "running at these shapes needs " + std::to_string(plan.memoryBytes()) +
                  " bytes (activations " + std::to_string(plan.arenaBytes) + ", kernel scratch " +
                  std::to_string(plan.scratchBytes) + ") but the device has " +
                  std::to_string(available));
}

void ExecutionContext::execute(const ShapePlan& plan, const std::vector<const void*>& inputs,
                               const std::vector<void*>& outputs, void* arena) const {
  const Network& n = engine_->network();
  std::vector<const void*> address(n.tensors.size(), nullptr);
  for (size_t t = 0; t < n.tensors.size(); ++t) {
    if (n.tensors[t].constant >= 0) address[t] = constantData(n, static_cast<int32_t>(t));
    if (plan.offsets[t] >= 0) address[t] = static_cast<uint8_t*>(arena) + plan.offsets[t];
  }
  for (size_t i = 0; i < n.inputs.size(); ++i) address[n.inputs[i]] = inputs.at(i);
  for (size_t i = 0; i < n.outputs.size(); ++i) {
    // An output that is also an input (a pass-through network) is copied below by Identity.
    if (address[n.outputs[i]] == nullptr) address[n.outputs[i]] = outputs.at(i);
  }
  const bool profiling = layerTimes_.enabled();
  std::vector<double> seconds(profiling ? n.layers.size() : 0, 0.0);
  for (size_t li = 0; li < n.layers.size(); ++li) {
    if (!plan.active[li]) continue;
    const LayerDesc& layer = n.layers[li];
    // A layer whose outputs are all empty has nothing to compute, and its kernel need not face
    // the degenerate shapes an empty tensor may carry (a 0 beside huge dims).
    if (!layer.outputs.empty() &&
        std::all_of(layer.outputs.begin(), layer.outputs.end(),
                    [&](int32_t t) { return shapeElements(plan.shapes[t]) == 0; })) {
      continue;
    }
    OpContext ctx(layer);
    for (int32_t t : layer.inputs) {
      InputView v;
      const int32_t producer = t >= 0 ? engine_->producer(t) : -1;
      if (t >= 0 && (producer < 0 || plan.active[producer])) {
        v.present = true;
        v.shape = &plan.shapes[t];
        v.dtype = plan.types[t];
        v.data = address[t];
      }
      ctx.in.push_back(v);
    }
    for (int32_t t : layer.outputs) {
      ctx.outShapes.push_back(plan.shapes[t]);
      ctx.outTypes.push_back(plan.types[t]);
      ctx.out.push_back(const_cast<void*>(address[t]));
    }
    ctx.prepared = engine_->prepared(li);
    if (!profiling) {
      engine_->op(li).run(ctx);
      continue;
    }
    const auto start = std::chrono::steady_clock::now();
    engine_->op(li).run(ctx);
    seconds[li] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  if (profiling) layerTimes_.add(seconds);
}

}  // namespace kiln
