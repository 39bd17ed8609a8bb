// One interface over every backend (cpu always, cuda when built): memory, ordered streams,
// events. Everything above this header is device-agnostic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kiln/error.h"

namespace kiln {

enum class DeviceKind { kCpu, kCuda };

struct DeviceInfo {
  std::string name;  // "cpu", "cuda:0"
  DeviceKind kind = DeviceKind::kCpu;
  int index = 0;
  std::string description;  // CPU model or GPU name
  uint64_t totalMemory = 0;
  int computeMajor = 0;  // cuda only
  int computeMinor = 0;
};

class Device;

// A block of device memory. Freed when the last owner (the JS wrapper or queued work) lets go.
class DeviceAllocation {
 public:
  virtual ~DeviceAllocation() = default;
  virtual void* data() const = 0;
  virtual size_t size() const = 0;
};

// Host memory the device copies to and from fastest (pinned on cuda, aligned on cpu).
class HostAllocation {
 public:
  virtual ~HostAllocation() = default;
  virtual void* data() const = 0;
  virtual size_t size() const = 0;
};

class Event;

// An ordered queue of asynchronous work on one device. Enqueue calls return at once.
class Stream {
 public:
  virtual ~Stream() = default;
  // Copies and fills. Pointers are checked by the caller against their allocations; the
  // caller keeps the allocations alive through keepAlive until the work is done.
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;
  virtual void memset(void* dst, int value, size_t bytes) = 0;
  // Runs `task` on the host in stream order (cpu: the work itself; cuda: a host callback).
  virtual void hostTask(std::function<void()> task) = 0;
  // Holds `owner` until all work enqueued so far has finished.
  virtual void keepAlive(std::shared_ptr<const void> owner) = 0;
  // Calls `done` (on a worker thread) once all work enqueued so far has finished, with the
  // first error raised by that work since the previous notify, if any. Work enqueued after a
  // failure is skipped until the error has been reported.
  virtual void notify(std::function<void(const Status&)> done) = 0;
  // Blocks the calling thread until the queue is drained; throws the pending error if any.
  virtual void synchronize() = 0;
  virtual void record(Event& event) = 0;
};

class Event {
 public:
  virtual ~Event() = default;
  // True once the work recorded before it has finished (true if never recorded).
  virtual bool query() const = 0;
  // Calls `done` once the event has completed (immediately if it has).
  virtual void onComplete(std::function<void()> done) = 0;
  // Milliseconds between two completed events; throws kInvalidState otherwise.
  virtual double elapsedSince(const Event& start) const = 0;
};

class Device {
 public:
  virtual ~Device() = default;
  virtual const DeviceInfo& info() const = 0;
  // Throws kOutOfMemory with the requested size when the allocation fails.
  virtual std::shared_ptr<DeviceAllocation> allocate(size_t bytes) = 0;
  virtual std::shared_ptr<HostAllocation> allocateHost(size_t bytes) = 0;
  virtual std::unique_ptr<Stream> createStream() = 0;
  virtual std::unique_ptr<Event> createEvent() = 0;
};

// All devices of this process: cpu first, then each CUDA GPU when the cuda device is built.
const std::vector<Device*>& devices();

// "cpu" or "cuda:N"; throws kNotFound listing the devices that exist.
Device& deviceByName(const std::string& name);

// True when this binary was built with the cuda device.
bool cudaBuilt();

}  // namespace kiln
