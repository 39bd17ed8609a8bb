#include "engine/cuda/cuda_runner.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "device/cuda/cuda_device.h"
#include "engine/cuda/cuda_ops.h"
#include "engine/cuda/cuda_precision.h"
#include "kiln/kernels/cast.h"

#ifdef KILN_WITH_CUBLAS
#include <cublas_v2.h>
#endif
#ifdef KILN_WITH_CUDNN
#include <cudnn.h>
#endif

namespace kiln {
namespace {

using cuda::Storage;

void check(cudaError_t status, const std::string& what) {
  if (status == cudaSuccess) return;
  cudaGetLastError();
  throw Error(ErrorCode::kDeviceError, what + ": " + cudaGetErrorString(status));
}

// [n, c, inner] of a tensor stored NHWC-or-not: the batch, the channel and the rest.
struct Nci {
  int64_t n = 1, c = 1, inner = 1;
};

Nci nci(const Dims& d) {
  Nci r;
  if (!d.empty()) r.n = d[0];
  if (d.size() > 1) r.c = d[1];
  const int64_t nc = r.n * r.c;
  r.inner = nc == 0 ? 0 : shapeElements(d) / nc;
  return r;
}

// A float32 constant in another storage, converted on the host: half, and for kHalfNhwc
// permuted from [N, C, spatial...] to [N, spatial..., C] (Conv weights become KRSC).
std::vector<uint8_t> convertConstant(const std::vector<uint8_t>& w, const Dims& shape, Storage to) {
  const size_t count = w.size() / 4;
  std::vector<uint8_t> half(count * 2);
  kernels::cast(w.data(), DataType::kFloat32, half.data(), DataType::kFloat16, count);
  if (to != Storage::kHalfNhwc || count == 0) return half;
  const Nci d = nci(shape);
  std::vector<uint8_t> out(half.size());
  auto* src = reinterpret_cast<const uint16_t*>(half.data());
  auto* dst = reinterpret_cast<uint16_t*>(out.data());
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t c = 0; c < d.c; ++c)
      for (int64_t p = 0; p < d.inner; ++p)
        dst[(n * d.inner + p) * d.c + c] = src[(n * d.c + c) * d.inner + p];
  return out;
}

// What an engine keeps on one GPU: its constant tensors (indexed like network().weights), the
// converted copies its half layers read, the precision plan and the tactics timed there.
struct GpuWeights {
  std::vector<std::shared_ptr<DeviceAllocation>> weights;
  std::map<std::pair<int32_t, Storage>, std::shared_ptr<DeviceAllocation>> converted;
  cuda::PrecisionPlan precision;
  mutable cuda::TacticCache tactics;
};

std::shared_ptr<DeviceAllocation> upload(Device& device, const std::vector<uint8_t>& bytes) {
  auto copy = device.allocate(std::max<size_t>(bytes.size(), 1));
  if (!bytes.empty())
    check(cudaMemcpy(copy->data(), bytes.data(), bytes.size(), cudaMemcpyHostToDevice),
          "uploading weights");
  return copy;
}

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
  const Network& n = engine.network();
  for (const std::vector<uint8_t>& w : n.weights) made->weights.push_back(upload(device, w));
  made->precision = cuda::planPrecision(n);
  for (size_t li = 0; li < n.layers.size(); ++li) {
    const LayerDesc& l = n.layers[li];
    for (size_t i = 0; i < l.inputs.size(); ++i) {
      const int32_t t = l.inputs[i];
      const Storage want = made->precision.layers[li].in[i];
      if (t < 0 || n.tensors[t].constant < 0 || want == Storage::kFloat) continue;
      const int32_t c = n.tensors[t].constant;
      if (made->converted.count({c, want})) continue;
      made->converted[{c, want}] =
          upload(device, convertConstant(n.weights[c], n.tensors[t].shape, want));
    }
  }
  cache[key] = made;
  for (auto it = cache.begin(); it != cache.end();)
    it = it->second.expired() ? cache.erase(it) : std::next(it);
  return made;
}

constexpr size_t kAlign = 256;
size_t aligned(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

// A CUDA graph of one enqueue, replayed while the input shapes and bound buffers stay the
// same; it keeps alive the scratch it was captured with.
struct Graph {
  std::vector<const void*> buffers;  // inputs, outputs, arena
  cudaGraphExec_t exec = nullptr;
  std::vector<std::shared_ptr<const void>> owners;
  ~Graph() {
    if (exec) cudaGraphExecDestroy(exec);
  }
};

// The shape and the host values (when the shape pass knows them) of every input.
using GraphKey = std::vector<std::pair<Dims, std::vector<uint8_t>>>;

class CudaRunner : public Runner {
 public:
  CudaRunner(std::shared_ptr<const EngineCore> engine, Device& device, const RunnerOptions& options)
      : engine_(std::move(engine)),
        device_(device),
        index_(device.info().index),
        cudaGraph_(options.cudaGraph) {
    const Network& n = engine_->network();
    for (const LayerDesc& l : n.layers) ops_.push_back(cuda::findCudaOp(l.op));
    states_.resize(n.layers.size());
    weights_ = gpuWeights(*engine_, device_);
    check(cudaSetDevice(index_), "cudaSetDevice");
#ifdef KILN_WITH_CUBLAS
    cublasHandle_t blas = nullptr;
    if (cublasCreate(&blas) != CUBLAS_STATUS_SUCCESS)
      throw Error(ErrorCode::kDeviceError, "could not create a cuBLAS handle");
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
    graphs_.clear();
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
    if (!cudaGraph_) {
      launchLayers(stream, cs, args, nullptr);
    } else {
      replay(stream, cs, args);
    }
    // The buffers, the plan (its host values) and the weights stay alive until the GPU is done.
    auto keep = std::make_shared<std::tuple<
        EnqueueArgs, std::shared_ptr<const GpuWeights>, std::shared_ptr<const ExecutionContext>,
        std::shared_ptr<DeviceAllocation>, std::shared_ptr<DeviceAllocation>>>(
        std::move(args), weights_, context, workspace_, convert_);
    stream.keepAlive(keep);
  }

 private:
  // Replays the graph of these input shapes and buffers. The first enqueue at new shapes runs
  // eagerly (cuDNN times its algorithms, scratch grows), then its work is captured for the
  // next ones; new buffers at known shapes re-capture and update the graph in place.
  void replay(Stream& stream, cudaStream_t cs, const EnqueueArgs& args) {
    const Network& n = engine_->network();
    // Input values that steer shapes (setInputValues) change the work like shapes do.
    GraphKey key;
    for (int32_t t : n.inputs) key.emplace_back(args.plan->shapes[t], args.plan->values[t]);
    std::vector<const void*> buffers(args.inputs.begin(), args.inputs.end());
    buffers.insert(buffers.end(), args.outputs.begin(), args.outputs.end());
    buffers.push_back(args.arena->data());
    auto it = graphs_.find(key);
    if (it != graphs_.end() && it->second->buffers == buffers) {
      check(cudaGraphLaunch(it->second->exec, cs), "cudaGraphLaunch");
      stream.keepAlive(it->second);
      return;
    }
    launchLayers(stream, cs, args, nullptr);
    auto graph = std::make_shared<Graph>();
    graph->buffers = buffers;
    // Values known at shape time are copied from a device copy (captured copies cannot read
    // pageable host memory).
    std::vector<const void*> staged(n.tensors.size(), nullptr);
    size_t bytes = 0;
    for (const std::vector<uint8_t>& v : args.plan->values) bytes += aligned(v.size());
    if (bytes > 0) {
      std::shared_ptr<DeviceAllocation> values = device_.allocate(bytes);
      auto* base = static_cast<uint8_t*>(values->data());
      size_t at = 0;
      for (size_t t = 0; t < n.tensors.size(); ++t) {
        const std::vector<uint8_t>& v = args.plan->values[t];
        if (v.empty()) continue;
        check(cudaMemcpy(base + at, v.data(), v.size(), cudaMemcpyHostToDevice),
              "staging shape-time values");
        staged[t] = base + at;
        at += aligned(v.size());
      }
      graph->owners.push_back(values);
    }
    cudaGraph_t captured = nullptr;
    check(cudaStreamBeginCapture(cs, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    try {
      launchLayers(stream, cs, args, &staged);
    } catch (...) {
      cudaStreamEndCapture(cs, &captured);
      if (captured) cudaGraphDestroy(captured);
      throw;
    }
    check(cudaStreamEndCapture(cs, &captured), "cudaStreamEndCapture");
    graph->owners.push_back(workspace_);
    graph->owners.push_back(convert_);
    cudaGraphExec_t exec = nullptr;
    if (it != graphs_.end()) {
      // Same shapes, other buffers: the same work with other addresses, updated in place.
      cudaGraphExecUpdateResultInfo info;
      if (cudaGraphExecUpdate(it->second->exec, captured, &info) == cudaSuccess) {
        std::swap(exec, it->second->exec);
      } else {
        cudaGetLastError();
      }
    }
    cudaError_t status = cudaSuccess;
    if (exec == nullptr) status = cudaGraphInstantiate(&exec, captured, 0);
    cudaGraphDestroy(captured);
    check(status, "cudaGraphInstantiate");
    graph->exec = exec;
    if (it != graphs_.end()) stream.keepAlive(it->second);  // replays of it may be queued
    graphs_[key] = std::move(graph);
  }

  // Enqueues every layer on `cs`; `staged` (for a capture) holds device copies of the values
  // known at shape time.
  void launchLayers(Stream& stream, cudaStream_t cs, const EnqueueArgs& args,
                    const std::vector<const void*>* staged) {
    const Network& n = engine_->network();
    const ShapePlan& plan = *args.plan;
    const cuda::PrecisionPlan& precision = weights_->precision;
    std::vector<const void*> address(n.tensors.size(), nullptr);
    for (size_t t = 0; t < n.tensors.size(); ++t) {
      if (n.tensors[t].constant >= 0) address[t] = weights_->weights[n.tensors[t].constant]->data();
      if (plan.offsets[t] >= 0)
        address[t] = static_cast<uint8_t*>(args.arena->data()) + plan.offsets[t];
    }
    for (size_t i = 0; i < n.inputs.size(); ++i) address[n.inputs[i]] = args.inputs.at(i);
    for (size_t i = 0; i < n.outputs.size(); ++i)
      if (address[n.outputs[i]] == nullptr) address[n.outputs[i]] = args.outputs.at(i);

    // Scratch for the copies where storages meet, enough for the layer that needs most.
    size_t convertBytes = 0;
    for (size_t li = 0; li < n.layers.size(); ++li) {
      const LayerDesc& l = n.layers[li];
      size_t need = 0;
      for (size_t i = 0; i < l.inputs.size(); ++i)
        if (l.inputs[i] >= 0 && precision.layers[li].in[i] != precision.tensors[l.inputs[i]])
          need += aligned(
              static_cast<size_t>(shapeBytes(plan.shapes[l.inputs[i]], plan.types[l.inputs[i]])));
      for (size_t o = 0; o < l.outputs.size(); ++o)
        if (l.outputs[o] >= 0 && precision.layers[li].out[o] != precision.tensors[l.outputs[o]])
          need += aligned(
              static_cast<size_t>(shapeBytes(plan.shapes[l.outputs[o]], plan.types[l.outputs[o]])));
      convertBytes = std::max(convertBytes, need);
    }
    if (convertBytes > 0 && (!convert_ || convert_->size() < convertBytes)) {
      if (convert_) stream.keepAlive(convert_);  // queued work may still use the old one
      convert_ = device_.allocate(convertBytes);
    }

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
          const bool device = staged != nullptr;
          check(cudaMemcpyAsync(const_cast<void*>(address[t]),
                                device ? (*staged)[t] : plan.values[t].data(), bytes,
                                device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice, cs),
                "layer '" + layer.name + "': uploading its shape-time values");
        }
        continue;
      }
      if (ops_[li] == nullptr) {
        throw Error(ErrorCode::kUnsupported,
                    "layer '" + layer.name + "' (" + layer.op + ") has no cuda implementation");
      }
      const cuda::LayerStorage& storage = precision.layers[li];
      auto* scratch = convert_ ? static_cast<uint8_t*>(convert_->data()) : nullptr;
      const auto typeOf = [&](int32_t t, Storage s) {
        return s == Storage::kFloat || s == Storage::kByteNhwc ? plan.types[t] : DataType::kFloat16;
      };
      OpContext ctx(layer);
      for (size_t i = 0; i < layer.inputs.size(); ++i) {
        const int32_t t = layer.inputs[i];
        InputView v;
        const int32_t producer = t >= 0 ? engine_->producer(t) : -1;
        if (t >= 0 && (producer < 0 || plan.active[producer])) {
          v.present = true;
          v.shape = &plan.shapes[t];
          v.dtype = typeOf(t, storage.in[i]);
          v.data = address[t];
          const Storage have = precision.tensors[t];
          if (storage.in[i] != have) {
            if (n.tensors[t].constant >= 0) {
              v.data = weights_->converted.at({n.tensors[t].constant, storage.in[i]})->data();
            } else {
              v.data =
                  convertInto(scratch, address[t], have, storage.in[i], plan.shapes[t], cs, layer);
              scratch += aligned(static_cast<size_t>(shapeBytes(plan.shapes[t], plan.types[t])));
            }
          }
        }
        ctx.in.push_back(v);
      }
      std::vector<void*> written;  // where outputs in another storage are written first
      for (size_t o = 0; o < layer.outputs.size(); ++o) {
        const int32_t t = layer.outputs[o];
        ctx.outShapes.push_back(plan.shapes[t]);
        ctx.outTypes.push_back(typeOf(t, storage.out[o]));
        void* at = const_cast<void*>(address[t]);
        if (storage.out[o] != precision.tensors[t]) {
          at = scratch;
          scratch += aligned(static_cast<size_t>(shapeBytes(plan.shapes[t], plan.types[t])));
        }
        ctx.out.push_back(at);
      }
      launch.host.assign(layer.inputs.size(), nullptr);
      for (size_t i = 0; i < layer.inputs.size(); ++i) {
        const int32_t t = layer.inputs[i];
        if (t < 0) continue;
        if (n.tensors[t].constant >= 0)
          launch.host[i] = n.weights[n.tensors[t].constant].data();
        else if (!plan.values[t].empty())
          launch.host[i] = plan.values[t].data();
      }
      launch.state = &states_[li];
      launch.layer = li;
      launch.nhwc = storage.nhwc;
      ops_[li]->run(ctx, launch);
      for (size_t o = 0; o < layer.outputs.size(); ++o) {
        const int32_t t = layer.outputs[o];
        if (storage.out[o] == precision.tensors[t]) continue;
        const Nci d = nci(plan.shapes[t]);
        check(cuda::convert(ctx.out[o], storage.out[o], const_cast<void*>(address[t]),
                            precision.tensors[t], d.n, d.c, d.inner, cs),
              "layer '" + layer.name + "': converting its output");
      }
    }
  }

  // `x` (stored as `from`) as `to`: written into `scratch`, or `x` itself when the two are the
  // same bytes (half NHWC and NCHW of one channel or one position).
  const void* convertInto(void* scratch, const void* x, Storage from, Storage to, const Dims& shape,
                          cudaStream_t cs, const LayerDesc& layer) {
    const Nci d = nci(shape);
    const bool half = from != Storage::kFloat && to != Storage::kFloat;
    if (half && (d.c == 1 || d.inner == 1)) return x;
    check(cuda::convert(x, from, scratch, to, d.n, d.c, d.inner, cs),
          "layer '" + layer.name + "': converting an input");
    return scratch;
  }

  std::shared_ptr<const EngineCore> engine_;
  Device& device_;
  int index_;
  bool cudaGraph_;
  std::vector<const cuda::CudaOp*> ops_;
  std::vector<std::unique_ptr<cuda::LayerState>> states_;
  std::shared_ptr<const GpuWeights> weights_;
  cuda::Libraries libs_;
  std::shared_ptr<DeviceAllocation> workspace_;
  std::shared_ptr<DeviceAllocation> convert_;
  std::map<GraphKey, std::shared_ptr<Graph>> graphs_;
};

}  // namespace

namespace {

// True when the shape pass always computes the layer's outputs on the host (engine_core.cc):
// Shape and Size, and layers reading only constants and such values whose outputs have static
// dims and at most kMaxShapeTimeElements elements (Shape -> Gather -> Concat chains, scalars
// made from dims). The runner uploads those values, so they need no cuda kernel.
bool computedAtShapeTime(const Network& n, const LayerDesc& l, const std::vector<char>& known) {
  const OpImpl* cpu = findOp(l.op);
  if (cpu == nullptr) return false;
  if (!cpu->readsInputData) return true;
  for (int32_t t : l.inputs)
    if (t >= 0 && n.tensors[t].constant < 0 && !known[t]) return false;
  for (int32_t t : l.outputs) {
    if (t < 0) continue;
    const Dims& d = n.tensors[t].shape;
    if (std::any_of(d.begin(), d.end(), [](int64_t v) { return v < 0; })) return false;
    if (shapeElements(d) > kMaxShapeTimeElements) return false;
  }
  return true;
}

}  // namespace

std::vector<std::string> cudaUnsupportedLayers(const Network& network) {
  std::vector<std::string> out;
  std::vector<char> known(network.tensors.size(), 0);  // values the shape pass computes
  // Values the shape pass can compute once input dims are known (from constants and shapes
  // only), whatever their size: it computes them when they turn out small enough, and the
  // runner then uploads them. A layer computing such values is not judged by its cuda op's
  // dtype and attribute limits here (an int64 Add over dynamic dims); if its values turn out
  // too big, its kernel refuses what it lacks when it runs.
  std::vector<char> derivable(network.tensors.size(), 0);
  const auto fromShapes = [&](int32_t t) {
    return t < 0 || network.tensors[t].constant >= 0 || derivable[t];
  };
  for (const LayerDesc& l : network.layers) {
    if (computedAtShapeTime(network, l, known)) {
      for (int32_t t : l.outputs)
        if (t >= 0) known[t] = derivable[t] = 1;
      continue;
    }
    const cuda::CudaOp* op = cuda::findCudaOp(l.op);
    const bool shapeValues =
        findOp(l.op) != nullptr && std::all_of(l.inputs.begin(), l.inputs.end(), fromShapes);
    if (shapeValues)
      for (int32_t t : l.outputs)
        if (t >= 0) derivable[t] = 1;
    std::string why;
    if (op == nullptr)
      why = "no cuda kernel";
    else if (!shapeValues)
      why = cuda::cudaUnsupportedReason(l, network);
    for (size_t i = 0; why.empty() && op != nullptr && i < l.inputs.size() && i < 32; ++i) {
      if ((op->hostInputs >> i & 1u) != 0 && !fromShapes(l.inputs[i]))
        why = "input " + std::to_string(i) + " ('" + network.tensors[l.inputs[i]].name +
              "') computed from data (it must be a constant or computed from shapes)";
    }
    if (!why.empty()) out.push_back(l.name + " (" + l.op + ": " + why + ")");
  }
  return out;
}

std::unique_ptr<Runner> makeCudaRunner(const std::shared_ptr<const EngineCore>& engine,
                                       Device& device, const RunnerOptions& options) {
  const std::vector<std::string> missing = cudaUnsupportedLayers(engine->network());
  if (!missing.empty()) {
    std::string list;
    for (const std::string& m : missing) list += (list.empty() ? "" : ", ") + m;
    throw Error(ErrorCode::kUnsupported,
                std::to_string(missing.size()) + " layer(s) cannot run on " + device.info().name +
                    " in this build: " + list + ". Run this engine on 'cpu'.");
  }
  return std::make_unique<CudaRunner>(engine, device, options);
}

}  // namespace kiln
