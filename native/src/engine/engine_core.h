// An engine: the immutable network of a plan with everything derived once (op
// implementations, tensor lifetimes). Shared by all execution contexts, which share weights.
#pragma once

#include <memory>
#include <vector>

#include "engine/layer_times.h"
#include "engine/op.h"
#include "graph/network.h"

namespace kiln {

class EngineCore {
 public:
  // Throws kUnsupported listing every layer whose op has no implementation.
  explicit EngineCore(Network network);
  // Shares `network` instead of taking it (its weights are copied only when FP16 weights must be
  // expanded). Without `prepare` the ops do no load-time work (no weight packing): enough to
  // infer shapes and list tactics, which is all the builder needs before tactics are chosen.
  EngineCore(std::shared_ptr<const Network> network, bool prepare);

  const Network& network() const { return *network_; }
  const OpImpl& op(size_t layer) const { return *ops_[layer]; }
  int32_t producer(int32_t tensor) const { return producer_[tensor]; }
  int32_t lastUse(int32_t tensor) const { return lastUse_[tensor]; }
  bool isIo(int32_t tensor) const { return io_[tensor] != 0; }
  const void* prepared(size_t layer) const { return prepared_[layer].get(); }

 private:
  std::shared_ptr<const Network> network_;
  std::vector<const OpImpl*> ops_;
  std::vector<int32_t> producer_;  // layer index, -1 for inputs and constants
  std::vector<int32_t> lastUse_;   // last layer reading it (or its producer when unread)
  std::vector<char> io_;
  std::vector<std::shared_ptr<const void>> prepared_;  // per layer, from OpImpl::prepare
};

// Values computed while inferring shapes are kept only for small tensors: shape vectors,
// indices, scalars. Larger ones are computed when the network runs.
constexpr int64_t kMaxShapeTimeElements = 1 << 16;

// Shapes, known values and the memory plan for one set of input shapes. Immutable once made,
// so work already enqueued keeps using the plan it was enqueued with.
struct ShapePlan {
  std::vector<Dims> shapes;                  // per tensor
  std::vector<DataType> types;               // per tensor
  std::vector<std::vector<uint8_t>> values;  // per tensor: host values known at shape time
  std::vector<int64_t> offsets;              // per tensor: arena offset, -1 if not in the arena
  std::vector<char> active;                  // per layer: false when a guard excludes it
  size_t arenaBytes = 0;
  // Kernel scratch (im2col, GEMM packing, pooling work) the layers may ask for at these shapes:
  // per thread that can run a kernel, the largest need of each scratch slot.
  size_t scratchBytes = 0;
  kernels::ScratchNeed scratchPerThread;  // what scratchBytes counts for one thread
  // All the memory running at these shapes takes besides the IO tensors (saturating).
  size_t memoryBytes() const;
};

// Throws kOutOfMemory, saying what it would take, when running `plan` needs more than `available`
// bytes: called before the arena is allocated, so an impossible shape fails cleanly.
void checkMemoryFits(const ShapePlan& plan, uint64_t available);

class ExecutionContext {
 public:
  explicit ExecutionContext(std::shared_ptr<const EngineCore> engine);

  const EngineCore& engine() const { return *engine_; }
  void setProfile(int index);
  int profile() const { return profile_; }
  // `input` is the position in network().inputs. Checks rank, fixed dims and the profile range.
  void setInputShape(size_t input, const Dims& dims);
  const Dims& inputShape(size_t input) const { return inputShapes_.at(input); }
  // Host values of an input that shapes or control flow depend on (like TensorRT's shape tensor
  // inputs); `bytes` must match the input's current shape and type.
  void setInputValues(size_t input, const uint8_t* data, size_t bytes);
  // Infers every shape for the current input shapes (cached until an input shape changes).
  std::shared_ptr<const ShapePlan> plan();
  // Runs all layers. `inputs`/`outputs` follow network().inputs/outputs; `arena` holds
  // plan->arenaBytes bytes.
  void execute(const ShapePlan& plan, const std::vector<const void*>& inputs,
               const std::vector<void*>& outputs, void* arena) const;
  // Per-layer timing of this context's runs (off by default: it costs a clock read per layer).
  // Switching it on zeroes the totals; switching it off keeps them.
  void setProfiling(bool on) { layerTimes_.enable(on, engine_->network().layers.size()); }
  LayerTimes::Totals layerTimes() const { return layerTimes_.totals(); }

 private:
  std::shared_ptr<const EngineCore> engine_;
  int profile_ = 0;
  std::vector<Dims> inputShapes_;
  std::vector<char> inputSet_;
  std::vector<std::vector<uint8_t>> inputValues_;
  std::shared_ptr<const ShapePlan> plan_;
  mutable LayerTimes layerTimes_;
};

}  // namespace kiln
