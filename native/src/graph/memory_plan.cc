#include "graph/memory_plan.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "kiln/error.h"

namespace kiln {

MemoryPlan planMemory(const std::vector<BufferLifetime>& buffers, size_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    throw Error(ErrorCode::kInvalidArgument, "memory plan alignment must be a power of two");
  }
  for (size_t i = 0; i < buffers.size(); ++i) {
    if (buffers[i].lastStep < buffers[i].firstStep) {
      throw Error(ErrorCode::kInvalidArgument,
                  "buffer " + std::to_string(i) + " is read before it is written");
    }
  }
  const auto roundUp = [&](size_t v) { return (v + alignment - 1) / alignment * alignment; };
  std::vector<size_t> order(buffers.size());
  std::iota(order.begin(), order.end(), 0);
  // Placing large buffers first keeps small ones from fragmenting the arena.
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return buffers[a].bytes > buffers[b].bytes; });

  MemoryPlan plan;
  plan.offsets.assign(buffers.size(), 0);
  std::vector<size_t> placed;
  for (size_t idx : order) {
    const BufferLifetime& buf = buffers[idx];
    const size_t size = roundUp(buf.bytes == 0 ? 1 : buf.bytes);
    // Occupied ranges of buffers alive at the same time, sorted by offset.
    std::vector<std::pair<size_t, size_t>> busy;
    for (size_t other : placed) {
      const BufferLifetime& o = buffers[other];
      if (o.lastStep < buf.firstStep || buf.lastStep < o.firstStep) continue;
      busy.emplace_back(plan.offsets[other],
                        plan.offsets[other] + roundUp(o.bytes == 0 ? 1 : o.bytes));
    }
    std::sort(busy.begin(), busy.end());
    size_t best = SIZE_MAX, bestGap = SIZE_MAX, cursor = 0;
    for (const auto& [begin, end] : busy) {
      if (begin >= cursor && begin - cursor >= size && begin - cursor < bestGap) {
        best = cursor;
        bestGap = begin - cursor;
      }
      cursor = std::max(cursor, end);
    }
    plan.offsets[idx] = best != SIZE_MAX ? best : cursor;
    plan.totalBytes = std::max(plan.totalBytes, plan.offsets[idx] + size);
    placed.push_back(idx);
  }
  return plan;
}

}  // namespace kiln
