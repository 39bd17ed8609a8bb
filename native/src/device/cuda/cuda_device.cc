// The cuda device: cudaMalloc'd memory, pinned host memory, CUDA streams and events behind
// the same interface as the cpu device. Built only when CMake finds nvcc and the toolkit.
#include "device/cuda/cuda_device.h"

#include <cuda_runtime_api.h>

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "kiln/device.h"
#include "kiln/fault_injection.h"

namespace kiln {
namespace {

void check(cudaError_t status, const std::string& what) {
  if (status == cudaSuccess) return;
  cudaGetLastError();  // clear the non-sticky error so later calls are not blamed for it
  const ErrorCode code =
      status == cudaErrorMemoryAllocation ? ErrorCode::kOutOfMemory : ErrorCode::kDeviceError;
  throw Error(code, what + ": " + cudaGetErrorString(status));
}

class CudaMemory : public DeviceAllocation {
 public:
  CudaMemory(int device, size_t bytes) : device_(device), size_(bytes) {
    maybeFail("device.allocate");
    check(cudaSetDevice(device), "cudaSetDevice");
    check(
        cudaMalloc(&data_, bytes == 0 ? 1 : bytes),
        "could not allocate " + std::to_string(bytes) + " bytes on cuda:" + std::to_string(device));
  }
  ~CudaMemory() override {
    cudaSetDevice(device_);
    cudaFree(data_);
  }
  void* data() const override { return data_; }
  size_t size() const override { return size_; }

 private:
  int device_;
  void* data_ = nullptr;
  size_t size_;
};

// Page-locked so that async copies really are asynchronous and run at full bus speed.
class PinnedMemory : public HostAllocation {
 public:
  explicit PinnedMemory(size_t bytes) : size_(bytes) {
    maybeFail("device.allocate");
    check(cudaHostAlloc(&data_, bytes == 0 ? 1 : bytes, cudaHostAllocPortable),
          "could not allocate " + std::to_string(bytes) + " bytes of pinned host memory");
  }
  ~PinnedMemory() override { cudaFreeHost(data_); }
  void* data() const override { return data_; }
  size_t size() const override { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_;
};

class CudaEvent : public Event {
 public:
  // Completion is tracked by a host callback enqueued right after the CUDA event, so that
  // waiters are woken without a thread blocking in cudaEventSynchronize.
  struct State {
    std::mutex mutex;
    uint64_t generation = 0;
    bool completed = true;
    bool recorded = false;
    std::vector<std::function<void()>> waiters;
  };

  explicit CudaEvent(int device) : device_(device), state_(std::make_shared<State>()) {
    check(cudaSetDevice(device), "cudaSetDevice");
    check(cudaEventCreate(&event_), "cudaEventCreate");
  }
  ~CudaEvent() override {
    cudaSetDevice(device_);
    cudaEventDestroy(event_);
  }
  bool query() const override {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->completed;
  }
  void onComplete(std::function<void()> done) override {
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      if (!state_->completed) {
        state_->waiters.push_back(std::move(done));
        return;
      }
    }
    done();
  }
  double elapsedSince(const Event& start) const override {
    const auto* other = dynamic_cast<const CudaEvent*>(&start);
    if (other == nullptr)
      throw Error(ErrorCode::kInvalidArgument, "events of different devices cannot be compared");
    if (!other->state_->recorded || !other->query() || !state_->recorded || !query()) {
      throw Error(ErrorCode::kInvalidState,
                  "both events must be recorded and completed: await them first");
    }
    float ms = 0;
    check(cudaEventElapsedTime(&ms, other->event_, event_), "cudaEventElapsedTime");
    return ms;
  }
  cudaEvent_t handle() const { return event_; }
  const std::shared_ptr<State>& state() const { return state_; }

 private:
  int device_;
  cudaEvent_t event_ = nullptr;
  std::shared_ptr<State> state_;
};

class CudaStream : public Stream {
 public:
  explicit CudaStream(int device) : device_(device), failure_(std::make_shared<Failure>()) {
    check(cudaSetDevice(device), "cudaSetDevice");
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  }
  ~CudaStream() override {
    // Work already queued still completes; CUDA frees the stream afterwards.
    cudaSetDevice(device_);
    cudaStreamDestroy(stream_);
  }

  void copy(void* dst, const void* src, size_t bytes) override {
    check(cudaSetDevice(device_), "cudaSetDevice");
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream_), "cudaMemcpyAsync");
  }
  void memset(void* dst, int value, size_t bytes) override {
    check(cudaSetDevice(device_), "cudaSetDevice");
    check(cudaMemsetAsync(dst, value, bytes, stream_), "cudaMemsetAsync");
  }
  void hostTask(std::function<void()> task) override {
    auto failure = failure_;
    launch([task = std::move(task), failure] {
      if (failure->pending()) return;  // like the cpu stream: skip work after an unreported failure
      try {
        maybeFail("stream.task");
        task();
      } catch (const Error& e) {
        failure->set(Status::failure(e.code(), e.what()));
      } catch (const std::exception& e) {
        failure->set(Status::failure(ErrorCode::kInternal, e.what()));
      }
    });
  }
  void keepAlive(std::shared_ptr<const void> owner) override {
    launch([owner] {});
  }
  void notify(std::function<void(const Status&)> done) override {
    auto failure = failure_;
    launch([done = std::move(done), failure] { done(failure->take()); });
  }
  void synchronize() override {
    check(cudaSetDevice(device_), "cudaSetDevice");
    check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
    const Status status = failure_->take();
    if (!status.ok) throw Error(status.code, status.message);
  }
  cudaStream_t handle() const { return stream_; }
  int device() const { return device_; }

  void record(Event& event) override {
    auto* cudaEvent = dynamic_cast<CudaEvent*>(&event);
    if (cudaEvent == nullptr)
      throw Error(ErrorCode::kInvalidArgument, "this event belongs to another device");
    auto st = cudaEvent->state();
    uint64_t generation;
    {
      std::lock_guard<std::mutex> lock(st->mutex);
      generation = ++st->generation;
      st->completed = false;
      st->recorded = true;
    }
    check(cudaSetDevice(device_), "cudaSetDevice");
    check(cudaEventRecord(cudaEvent->handle(), stream_), "cudaEventRecord");
    launch([st, generation] {
      std::vector<std::function<void()>> waiters;
      {
        std::lock_guard<std::mutex> lock(st->mutex);
        if (st->generation != generation) return;
        st->completed = true;
        waiters.swap(st->waiters);
      }
      for (auto& w : waiters) w();
    });
  }

 private:
  struct Failure {
    std::mutex mutex;
    Status status;
    bool pending() {
      std::lock_guard<std::mutex> lock(mutex);
      return !status.ok;
    }
    void set(Status s) {
      std::lock_guard<std::mutex> lock(mutex);
      if (status.ok) status = std::move(s);
    }
    Status take() {
      std::lock_guard<std::mutex> lock(mutex);
      Status s;
      std::swap(s, status);
      return s;
    }
  };

  // Runs `fn` on a CUDA-owned host thread once the stream reaches this point. Host functions
  // must not call the CUDA API, which none of ours do.
  void launch(std::function<void()> fn) {
    auto* heap = new std::function<void()>(std::move(fn));
    check(cudaSetDevice(device_), "cudaSetDevice");
    const cudaError_t status = cudaLaunchHostFunc(
        stream_,
        [](void* data) {
          auto* f = static_cast<std::function<void()>*>(data);
          (*f)();
          delete f;
        },
        heap);
    if (status != cudaSuccess) delete heap;
    check(status, "cudaLaunchHostFunc");
  }

  int device_;
  cudaStream_t stream_ = nullptr;
  std::shared_ptr<Failure> failure_;
};

class CudaDevice : public Device {
 public:
  CudaDevice(int index, const cudaDeviceProp& prop) : index_(index) {
    info_.name = "cuda:" + std::to_string(index);
    info_.kind = DeviceKind::kCuda;
    info_.index = index;
    info_.description = prop.name;
    info_.totalMemory = prop.totalGlobalMem;
    info_.computeMajor = prop.major;
    info_.computeMinor = prop.minor;
  }
  const DeviceInfo& info() const override { return info_; }
  std::shared_ptr<DeviceAllocation> allocate(size_t bytes) override {
    return std::make_shared<CudaMemory>(index_, bytes);
  }
  std::shared_ptr<HostAllocation> allocateHost(size_t bytes) override {
    return std::make_shared<PinnedMemory>(bytes);
  }
  std::unique_ptr<Stream> createStream() override { return std::make_unique<CudaStream>(index_); }
  std::unique_ptr<Event> createEvent() override { return std::make_unique<CudaEvent>(index_); }

 private:
  int index_;
  DeviceInfo info_;
};

}  // namespace

cudaStream_t cudaStreamOf(Stream& stream, int device) {
  auto* cuda = dynamic_cast<CudaStream*>(&stream);
  if (cuda == nullptr || cuda->device() != device) {
    throw Error(ErrorCode::kInvalidArgument,
                "this stream belongs to another device than cuda:" + std::to_string(device));
  }
  return cuda->handle();
}

void appendCudaDevices(std::vector<Device*>& out) {
  int count = 0;
  // No driver or no GPU: the cuda device is built but has nothing to offer; not an error.
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    out.push_back(new CudaDevice(i, prop));  // lives for the whole process, like the cpu device
  }
}

}  // namespace kiln
