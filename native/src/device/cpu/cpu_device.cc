#include "cpu_device.h"

#include <unistd.h>

#include <cstdlib>
#include <string>

#include "cpu_stream.h"
#include "kiln/cpu_features.h"
#include "kiln/fault_injection.h"

namespace kiln {
namespace {

// 64-byte alignment: a cache line and one AVX-512 register, so kernels can use aligned loads.
constexpr size_t kAlignment = 64;

void* alignedAllocate(size_t bytes, const char* what) {
  maybeFail("device.allocate");
  const size_t rounded = ((bytes == 0 ? 1 : bytes) + kAlignment - 1) / kAlignment * kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded);
  if (p == nullptr) {
    throw Error(ErrorCode::kOutOfMemory, "could not allocate " + std::to_string(bytes) +
                                             " bytes of " + what + " memory on cpu");
  }
  return p;
}

class CpuMemory : public DeviceAllocation, public HostAllocation {
 public:
  CpuMemory(size_t bytes, const char* what) : data_(alignedAllocate(bytes, what)), size_(bytes) {}
  ~CpuMemory() override { std::free(data_); }
  void* data() const override { return data_; }
  size_t size() const override { return size_; }

 private:
  void* data_;
  size_t size_;
};

class CpuDevice : public Device {
 public:
  CpuDevice() {
    info_.name = "cpu";
    info_.kind = DeviceKind::kCpu;
    info_.index = 0;
    info_.description = cpuFeatures().model;
    const long pages = sysconf(_SC_PHYS_PAGES);
    const long pageSize = sysconf(_SC_PAGE_SIZE);
    if (pages > 0 && pageSize > 0) info_.totalMemory = static_cast<uint64_t>(pages) * pageSize;
  }
  const DeviceInfo& info() const override { return info_; }
  std::shared_ptr<DeviceAllocation> allocate(size_t bytes) override {
    return std::make_shared<CpuMemory>(bytes, "device");
  }
  std::shared_ptr<HostAllocation> allocateHost(size_t bytes) override {
    return std::make_shared<CpuMemory>(bytes, "host");
  }
  std::unique_ptr<Stream> createStream() override { return std::make_unique<CpuStream>(); }
  std::unique_ptr<Event> createEvent() override { return std::make_unique<CpuEvent>(); }

 private:
  DeviceInfo info_;
};

}  // namespace

Device& cpuDevice() {
  static CpuDevice device;
  return device;
}

}  // namespace kiln
