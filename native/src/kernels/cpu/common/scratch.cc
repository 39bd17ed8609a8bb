#include "kernels/cpu/common/scratch.h"

#include <cstdlib>
#include <new>

#include "kiln/error.h"

namespace kiln::kernels {
namespace {
struct Buffer {
  float* data = nullptr;
  size_t capacity = 0;
  ~Buffer() { std::free(data); }
};
}  // namespace

float* threadScratch(ScratchSlot slot, size_t n) {
  thread_local Buffer buffers[static_cast<int>(ScratchSlot::kCount)];
  Buffer& b = buffers[static_cast<int>(slot)];
  if (n > b.capacity) {
    std::free(b.data);
    b.data = nullptr;
    b.capacity = 0;
    // Grow by 1.5x so shapes that creep up do not reallocate every call.
    size_t want = n + n / 2 + 16;
    size_t bytes = ((want * sizeof(float)) + 63) / 64 * 64;
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
