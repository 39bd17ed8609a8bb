#include "kernels/cpu/common/scratch.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>

#include "kiln/error.h"
#include "kiln/kernels/scratch.h"

namespace kiln::kernels {
namespace {
struct Buffer {
  float* data = nullptr;
  size_t capacity = 0;
  ~Buffer() { std::free(data); }
};
std::atomic<int64_t> highWater[kScratchSlots];
}  // namespace

ScratchNeed scratchHighWater() {
  ScratchNeed need;
  for (size_t s = 0; s < kScratchSlots; ++s) need.floats[s] = highWater[s].load();
  return need;
}

void resetScratchHighWater() {
  for (auto& h : highWater) h.store(0);
}

size_t scratchCapacity(size_t n) {
  n = std::min(n, size_t{1} << 54);  // needs are bounds that may be absurd; keep them finite
  const size_t want = n + n / 2 + 16;
  return ((want * sizeof(float)) + 63) / 64 * 64 / sizeof(float);
}

void ScratchNeed::merge(const ScratchNeed& other) {
  for (size_t s = 0; s < kScratchSlots; ++s) atLeast(s, other.floats[s]);
  if (other.transientBytes > transientBytes) transientBytes = other.transientBytes;
}

int64_t ScratchNeed::bytesPerThread() const {
  int64_t bytes = transientBytes;
  for (int64_t n : floats)
    if (n > 0)
      bytes += static_cast<int64_t>(scratchCapacity(static_cast<size_t>(n)) * sizeof(float));
  return bytes;
}

float* threadScratch(ScratchSlot slot, size_t n) {
  thread_local Buffer buffers[static_cast<int>(ScratchSlot::kCount)];
  Buffer& b = buffers[static_cast<int>(slot)];
  std::atomic<int64_t>& high = highWater[static_cast<size_t>(slot)];
  const auto wanted = static_cast<int64_t>(n);
  for (int64_t seen = high.load(std::memory_order_relaxed); wanted > seen;)
    if (high.compare_exchange_weak(seen, wanted, std::memory_order_relaxed)) break;
  if (n > b.capacity) {
    std::free(b.data);
    b.data = nullptr;
    b.capacity = 0;
    const size_t bytes = scratchCapacity(n) * sizeof(float);
    void* p = std::aligned_alloc(64, bytes);
    if (!p)
      throw Error(ErrorCode::kOutOfMemory,
                  "kernel scratch: cannot allocate " + std::to_string(bytes) + " bytes");
    b.data = static_cast<float*>(p);
    b.capacity = bytes / sizeof(float);
  }
  return b.data;
}

}  // namespace kiln::kernels
