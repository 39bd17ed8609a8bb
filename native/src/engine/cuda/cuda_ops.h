// The cuda implementations of engine layers: one table from ONNX op name to a launcher, the
// cuda counterpart of the cpu op registry (engine/op.h). A launcher sees the same OpContext as
// a cpu op (shapes from the context's ShapePlan), but every data pointer in it is a device
// address, so it must not read tensor data on the host.
#pragma once

#include <cuda_runtime_api.h>

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/op.h"
#include "kernels/cuda/cuda_kernels.h"

namespace kiln::cuda {

// The cuBLAS and cuDNN handles of one execution context (null when the build has no such
// library), bound to the context's stream before each enqueue.
struct Libraries {
  void* cublas = nullptr;  // cublasHandle_t
  void* cudnn = nullptr;   // cudnnHandle_t
};

// What a layer keeps between runs of one context (cuDNN descriptors and the algorithm chosen
// for the input shape it saw last).
struct LayerState {
  virtual ~LayerState() = default;
};

// Tactics (e.g. the cuDNN algorithm) chosen by timing, per layer and input shape, shared by
// every context of one engine on one GPU: each shape is timed once, and all those contexts
// compute the same bits.
class TacticCache {
 public:
  struct Tactic {
    int algorithm = 0;
    size_t workspace = 0;
    // A finalized plan of cuDNN's graph API (cudnnBackendDescriptor_t), shared by the
    // contexts (finalizing one can compile a kernel); null for a legacy algorithm.
    std::shared_ptr<void> plan;
  };
  // The tactic for (layer, input shape); `choose` times the candidates the first time.
  Tactic get(size_t layer, const Dims& shape, const std::function<Tactic()>& choose) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto key = std::make_pair(layer, shape);
    auto it = chosen_.find(key);
    if (it != chosen_.end()) return it->second;
    const Tactic t = choose();
    chosen_.emplace(std::move(key), t);
    return t;
  }

 private:
  std::mutex mutex_;
  std::map<std::pair<size_t, Dims>, Tactic> chosen_;
};

struct Launch {
  cudaStream_t stream = nullptr;
  Libraries* libs = nullptr;
  TacticCache* tactics = nullptr;
  size_t layer = 0;                              // the layer's index in the network
  std::unique_ptr<LayerState>* state = nullptr;  // this layer's slot
  // The layer's half activations are NHWC (cuda_precision.h); a float16 input or output has
  // dtype kFloat16 in the OpContext. For 8-bit layers (CudaOp::nhwc8, follows8): their 8-bit
  // activations are NHWC.
  bool nhwc = false;
  // Device scratch of at least `bytes`, valid for work enqueued on `stream` from now on.
  std::function<void*(size_t bytes)> workspace;
  // Per input, its values on the host when they are known there (a constant, or computed when
  // shapes were: Slice's starts, Pad's pads, reduction axes), else null.
  std::vector<const void*> host;
};

// When a layer runs in half precision (see cuda_precision.h).
enum class Half : uint8_t {
  kNever,
  kWeights,  // Conv, Gemm, MatMul: when the builder stored its weights (input 1) as float16
  kFollows,  // activations, arithmetic, pooling, copies: when its activation inputs are half
};

struct CudaOp {
  void (*run)(OpContext& ctx, Launch& launch);
  // Optional: why this layer cannot run on cuda although its op is listed (an attribute or
  // a weight layout the kernels lack), judged from the network alone; empty when it can.
  std::string (*unsupported)(const LayerDesc& layer, const Network& network) = nullptr;
  Half half = Half::kNever;
  bool nhwc = false;         // reads (and writes) half activations in NHWC too
  bool writesFloat = false;  // a half layer can write a float32 output itself (GEMMs)
  // Inputs after the first are float32 parameters (LayerNormalization's scale and bias): a
  // half layer reads them as float32, and they do not keep it in float32.
  bool floatParams = false;
  // 8-bit layers whose activations (non-constant int8 / uint8 inputs and outputs) may be NHWC
  // (Storage::kByteNhwc): `nhwc8` says whether this layer reads and writes them so (judged from
  // the network alone); a `follows8` layer (elementwise, pooling) does when all its 8-bit
  // activation inputs are NHWC. Launch::nhwc tells the layer.
  bool (*nhwc8)(const LayerDesc& layer, const Network& network) = nullptr;
  bool follows8 = false;
  // Bit i: the launcher reads input i on the host (Launch::host), so it must be a constant or
  // computed from shapes; a layer where it comes from data is refused at context creation.
  uint32_t hostInputs = 0;
};

// nullptr when the op has no cuda implementation in this build.
const CudaOp* findCudaOp(const std::string& op);

// Why `layer` cannot run on cuda; empty when it can.
std::string cudaUnsupportedReason(const LayerDesc& layer, const Network& network);

// Throws kDeviceError naming the layer when a CUDA call or launch failed.
void checkCuda(const OpContext& ctx, cudaError_t status, const char* what);

// Input i's and output 0's device data as T (float or __half).
template <typename T>
const T* in(const OpContext& ctx, size_t i) {
  return static_cast<const T*>(ctx.in[i].data);
}
template <typename T>
T* out(const OpContext& ctx) {
  return static_cast<T*>(ctx.out[0]);
}

// True when the layer runs in half (the output and `inputs` are float16), false for float32;
// throws kUnsupported for other types or a mix.
bool requireFloat(const OpContext& ctx, std::initializer_list<size_t> inputs);

// The strides that broadcast `a` (and `b`, `c`, when given) to `out` (numpy rules,
// right-aligned).
BroadcastShape broadcastShape(const OpContext& ctx, const Dims& a, const Dims* b, const Dims& out,
                              const Dims* c = nullptr);

// The integer values of input i (int32 or int64) from Launch::host; kUnsupported when they are
// not known on the host.
std::vector<int64_t> hostInts(const OpContext& ctx, const Launch& launch, size_t i);
// The same for float32 values (Resize's scales and roi).
std::vector<float> hostFloats(const OpContext& ctx, const Launch& launch, size_t i);

// Why the layer cannot run when an input or output (those present) has a type outside
// `allowed`: "<which> of type <t>", empty when every one is allowed. `inputs` lists the input
// positions to check (all when empty); outputs are checked when `outputs` is set.
std::string typesOutside(const LayerDesc& layer, const Network& network,
                         std::initializer_list<DataType> allowed,
                         std::initializer_list<size_t> inputs = {}, bool outputs = true);
// typesOutside with float32 alone: the layers whose kernels take float32 (float16 inside FP16
// engines) and not the integer types the cpu op also takes.
std::string floatOnly(const LayerDesc& layer, const Network& network);

}  // namespace kiln::cuda
