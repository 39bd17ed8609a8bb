// Activation memory planning: tensors whose lifetimes do not overlap share bytes of one arena.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kiln {

struct BufferLifetime {
  size_t bytes = 0;
  int32_t firstStep = 0;  // the layer that writes it
  int32_t lastStep = 0;   // the last layer that reads it (>= firstStep)
};

struct MemoryPlan {
  std::vector<size_t> offsets;  // per buffer, aligned
  size_t totalBytes = 0;        // the arena size
};

// Greedy best-fit, largest buffers first: each buffer takes the lowest aligned offset that
// overlaps no buffer alive at the same time. Throws kInvalidArgument on a bad lifetime.
MemoryPlan planMemory(const std::vector<BufferLifetime>& buffers, size_t alignment = 64);

}  // namespace kiln
