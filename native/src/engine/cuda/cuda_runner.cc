#include "engine/cuda/cuda_runner.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "device/cuda/cuda_device.h"
#include "engine/cuda/cuda_ops.h"

#ifdef KILN_WITH_CUBLAS
#include <cublas_v2.h>
#endif
#ifdef KILN_WITH_CUDNN
#include <cudnn.h>
#endif

namespace kiln {
namespace {

void check(cudaError_t status, const std::string& what) {
  if (status == cudaSuccess) return;
  cudaGetLastError();
  throw Error(ErrorCode::kDeviceError, what + ": " + cudaGetErrorString(status));
}

// What an engine keeps on one GPU: its constant tensors (indexed like network().weights) and
// the tactics timed there.
struct GpuWeights {
  std::vector<std::shared_ptr<DeviceAllocation>> weights;
  mutable cuda::TacticCache tactics;
};

// Uploads the weights of `engine` to `device` once: contexts made while another context of
// the same engine lives on that GPU share its copy (an engine alive keeps its address, so the
// address is a safe key while the copy is alive).
std::shared_ptr<const GpuWeights> gpuWeights(const EngineCore& engine, Device& device) {
  static std::mutex mutex;
  static std::map<std::pair<const EngineCore*, int>, std::weak_ptr<const GpuWeights>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  const auto key = std::make_pair(&engine, device.info().index);
  if (auto alive = cache[key].lock()) return alive;
  auto made = std::make_shared<GpuWeights>();
  check(cudaSetDevice(device.info().index), "cudaSetDevice");
  for (const std::vector<uint8_t>& w : engine.network().weights) {
    auto copy = device.allocate(std::max<size_t>(w.size(), 1));
    if (!w.empty())
      check(cudaMemcpy(copy->data(), w.data(), w.size(), cudaMemcpyHostToDevice),
            "uploading weights");
    made->weights.push_back(std::move(copy));
  }
  cache[key] = made;
  for (auto it = cache.begin(); it != cache.end();)
    it = it->second.expired() ? cache.erase(it) : std::next(it);
  return made;
}

class CudaRunner : public Runner {
 public:
  CudaRunner(std::shared_ptr<const EngineCore> engine, Device& device)
      : engine_(std::move(engine)), device_(device), index_(device.info().index) {
    const Network& n = engine_->network();
    for (const LayerDesc& l : n.layers) ops_.push_back(cuda::findCudaOp(l.op));
    states_.resize(n.layers.size());
    weights_ = gpuWeights(*engine_, device_);
    check(cudaSetDevice(index_), "cudaSetDevice");
#ifdef KILN_WITH_CUBLAS
    cublasHandle_t blas = nullptr;
    if (cublasCreate(&blas) != CUBLAS_STATUS_SUCCESS)
      throw Error(ErrorCode::kDeviceError, "could not create a cuBLAS handle");
    // FP32 means FP32: no TF32 rounding inside the GEMMs.
    cublasSetMathMode(blas, CUBLAS_PEDANTIC_MATH);
    libs_.cublas = blas;
#endif
#ifdef KILN_WITH_CUDNN
    cudnnHandle_t dnn = nullptr;
    if (cudnnCreate(&dnn) != CUDNN_STATUS_SUCCESS)
      throw Error(ErrorCode::kDeviceError, "could not create a cuDNN handle");
    libs_.cudnn = dnn;
#endif
  }

  ~CudaRunner() override {
    cudaSetDevice(index_);
    states_.clear();  // cuDNN descriptors before their handle
#ifdef KILN_WITH_CUBLAS
    if (libs_.cublas) cublasDestroy(static_cast<cublasHandle_t>(libs_.cublas));
#endif
#ifdef KILN_WITH_CUDNN
    if (libs_.cudnn) cudnnDestroy(static_cast<cudnnHandle_t>(libs_.cudnn));
#endif
  }

  void enqueue(const std::shared_ptr<ExecutionContext>& context, Stream& stream,
               EnqueueArgs args) override {
    const cudaStream_t cs = cudaStreamOf(stream, index_);
    check(cudaSetDevice(index_), "cudaSetDevice");
#ifdef KILN_WITH_CUBLAS
    cublasSetStream(static_cast<cublasHandle_t>(libs_.cublas), cs);
#endif
#ifdef KILN_WITH_CUDNN
    cudnnSetStream(static_cast<cudnnHandle_t>(libs_.cudnn), cs);
#endif
    const Network& n = engine_->network();
    const ShapePlan& plan = *args.plan;
    std::vector<const void*> address(n.tensors.size(), nullptr);
    for (size_t t = 0; t < n.tensors.size(); ++t) {
      if (n.tensors[t].constant >= 0) address[t] = weights_->weights[n.tensors[t].constant]->data();
      if (plan.offsets[t] >= 0)
        address[t] = static_cast<uint8_t*>(args.arena->data()) + plan.offsets[t];
    }
    for (size_t i = 0; i < n.inputs.size(); ++i) address[n.inputs[i]] = args.inputs.at(i);
    for (size_t i = 0; i < n.outputs.size(); ++i)
      if (address[n.outputs[i]] == nullptr) address[n.outputs[i]] = args.outputs.at(i);

    cuda::Launch launch;
    launch.stream = cs;
    launch.libs = &libs_;
    launch.tactics = &weights_->tactics;
    launch.workspace = [&](size_t bytes) {
      if (!workspace_ || workspace_->size() < bytes) {
        if (workspace_) stream.keepAlive(workspace_);  // queued work may still use the old one
        workspace_ = device_.allocate(bytes);
      }
      return workspace_->data();
    };
    for (size_t li = 0; li < n.layers.size(); ++li) {
      if (!plan.active[li]) continue;
      const LayerDesc& layer = n.layers[li];
      if (!layer.outputs.empty() &&
          std::all_of(layer.outputs.begin(), layer.outputs.end(),
                      [&](int32_t t) { return shapeElements(plan.shapes[t]) == 0; })) {
        continue;
      }
      // Values the shape pass already computed on the host (shape arithmetic) are uploaded
      // rather than recomputed: those layers need no cuda kernel.
      if (std::all_of(layer.outputs.begin(), layer.outputs.end(),
                      [&](int32_t t) { return !plan.values[t].empty(); })) {
        for (int32_t t : layer.outputs) {
          const size_t bytes = static_cast<size_t>(shapeBytes(plan.shapes[t], plan.types[t]));
          check(cudaMemcpyAsync(const_cast<void*>(address[t]), plan.values[t].data(), bytes,
                                cudaMemcpyHostToDevice, cs),
                "layer '" + layer.name + "': uploading its shape-time values");
        }
        continue;
      }
      if (ops_[li] == nullptr) {
        throw Error(ErrorCode::kUnsupported,
                    "layer '" + layer.name + "' (" + layer.op + ") has no cuda implementation");
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
      launch.state = &states_[li];
      launch.layer = li;
      ops_[li]->run(ctx, launch);
    }
    // The buffers, the plan (its host values) and the weights stay alive until the GPU is done.
    auto keep = std::make_shared<
        std::tuple<EnqueueArgs, std::shared_ptr<const GpuWeights>,
                   std::shared_ptr<const ExecutionContext>, std::shared_ptr<DeviceAllocation>>>(
        std::move(args), weights_, context, workspace_);
    stream.keepAlive(keep);
  }

 private:
  std::shared_ptr<const EngineCore> engine_;
  Device& device_;
  int index_;
  std::vector<const cuda::CudaOp*> ops_;
  std::vector<std::unique_ptr<cuda::LayerState>> states_;
  std::shared_ptr<const GpuWeights> weights_;
  cuda::Libraries libs_;
  std::shared_ptr<DeviceAllocation> workspace_;
};

}  // namespace

std::vector<std::string> cudaUnsupportedLayers(const Network& network) {
  std::vector<std::string> out;
  for (const LayerDesc& l : network.layers) {
    // Shape, Size: their values are always known on the host and uploaded.
    const OpImpl* cpu = findOp(l.op);
    if (cpu != nullptr && !cpu->readsInputData) continue;
    const std::string why = cuda::cudaUnsupportedReason(l, network);
    if (!why.empty()) out.push_back(l.name + " (" + l.op + ": " + why + ")");
  }
  return out;
}

std::unique_ptr<Runner> makeCudaRunner(const std::shared_ptr<const EngineCore>& engine,
                                       Device& device) {
  const std::vector<std::string> missing = cudaUnsupportedLayers(engine->network());
  if (!missing.empty()) {
    std::string list;
    for (const std::string& m : missing) list += (list.empty() ? "" : ", ") + m;
    throw Error(ErrorCode::kUnsupported,
                std::to_string(missing.size()) + " layer(s) cannot run on " + device.info().name +
                    " in this build: " + list + ". Run this engine on 'cpu'.");
  }
  return std::make_unique<CudaRunner>(engine, device);
}

}  // namespace kiln
