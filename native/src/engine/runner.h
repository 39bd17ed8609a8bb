// How an execution context's layers run on the device it was created for. The context itself
// (shapes, memory plan) is device-agnostic; a runner turns one enqueue into work on a stream:
// on cpu, ExecutionContext::execute as one host task; on cuda, each layer's kernels launched
// on the CUDA stream (engine/cuda/).
#pragma once

#include <memory>
#include <vector>

#include "engine/engine_core.h"
#include "kiln/device.h"

namespace kiln {

// The buffers of one enqueue: inputs and outputs follow network().inputs/outputs and live on
// the runner's device, as does the arena (at least plan->arenaBytes).
struct EnqueueArgs {
  std::shared_ptr<const ShapePlan> plan;
  std::vector<const void*> inputs;
  std::vector<void*> outputs;
  std::shared_ptr<DeviceAllocation> arena;
  // Kept alive until the enqueued work has finished (the bound buffers).
  std::vector<std::shared_ptr<const void>> owners;
};

struct RunnerOptions {
  // cuda: capture each enqueue's work into a CUDA graph once per input shape (and bound
  // buffers) and replay it, like trtexec --useCudaGraph. Refused on cpu.
  bool cudaGraph = false;
};

class Runner {
 public:
  virtual ~Runner() = default;
  // Enqueues one run of `context` on `stream` (a stream of the runner's device) and returns.
  virtual void enqueue(const std::shared_ptr<ExecutionContext>& context, Stream& stream,
                       EnqueueArgs args) = 0;
};

// The runner for `engine` on `device`. Throws kUnsupported listing every layer the device has
// no implementation for: a context never falls back to another device silently.
// Throws kInvalidArgument for an option the device lacks.
std::unique_ptr<Runner> makeRunner(const std::shared_ptr<const EngineCore>& engine, Device& device,
                                   const RunnerOptions& options = {});

}  // namespace kiln
