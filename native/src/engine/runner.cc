#include "engine/runner.h"

#ifdef KILN_WITH_CUDA
#include "engine/cuda/cuda_runner.h"
#endif

namespace kiln {
namespace {

// The whole network runs as one task on the cpu stream's worker threads.
class CpuRunner : public Runner {
 public:
  void enqueue(const std::shared_ptr<ExecutionContext>& context, Stream& stream,
               EnqueueArgs args) override {
    auto shared = std::make_shared<EnqueueArgs>(std::move(args));
    stream.hostTask([context, shared] {
      context->execute(*shared->plan, shared->inputs, shared->outputs, shared->arena->data());
    });
  }
};

}  // namespace

std::unique_ptr<Runner> makeRunner(const std::shared_ptr<const EngineCore>& engine, Device& device,
                                   const RunnerOptions& options) {
  if (device.info().kind == DeviceKind::kCpu) {
    if (options.cudaGraph)
      throw Error(ErrorCode::kInvalidArgument, "cudaGraph needs a cuda device, not 'cpu'");
    return std::make_unique<CpuRunner>();
  }
#ifdef KILN_WITH_CUDA
  return makeCudaRunner(engine, device, options);
#else
  (void)engine;
  throw Error(ErrorCode::kUnsupported, "kiln was built without the cuda device");
#endif
}

}  // namespace kiln
