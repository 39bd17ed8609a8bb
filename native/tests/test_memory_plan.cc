#include <random>

#include "graph/memory_plan.h"
#include "kiln/error.h"
#include "kiln_test.h"

using namespace kiln;

// No two buffers alive at the same step may share a byte.
static bool valid(const std::vector<BufferLifetime>& b, const MemoryPlan& p) {
  for (size_t i = 0; i < b.size(); ++i) {
    if (p.offsets[i] % 64 != 0 || p.offsets[i] + b[i].bytes > p.totalBytes) return false;
    for (size_t j = i + 1; j < b.size(); ++j) {
      const bool together = !(b[i].lastStep < b[j].firstStep || b[j].lastStep < b[i].firstStep);
      const bool overlap =
          p.offsets[i] < p.offsets[j] + b[j].bytes && p.offsets[j] < p.offsets[i] + b[i].bytes;
      if (together && overlap && b[i].bytes > 0 && b[j].bytes > 0) return false;
    }
  }
  return true;
}

TEST(a_chain_reuses_memory) {
  // x0 -> x1 -> x2 -> x3: each buffer is only alive with its neighbours.
  std::vector<BufferLifetime> chain = {{1000, 0, 1}, {1000, 1, 2}, {1000, 2, 3}, {1000, 3, 4}};
  const MemoryPlan p = planMemory(chain);
  CHECK(valid(chain, p));
  CHECK_EQ(p.totalBytes, 2048u);  // two 1024-byte slots ping-pong
}

TEST(random_lifetimes_never_overlap_and_beat_no_reuse) {
  std::mt19937 rng(3);
  for (int round = 0; round < 200; ++round) {
    std::vector<BufferLifetime> b(1 + rng() % 40);
    size_t sum = 0;
    for (auto& x : b) {
      x.firstStep = static_cast<int32_t>(rng() % 50);
      x.lastStep = x.firstStep + static_cast<int32_t>(rng() % 8);
      x.bytes = rng() % 5000;
      sum += (x.bytes + 63) / 64 * 64 + (x.bytes == 0 ? 64 : 0);
    }
    const MemoryPlan p = planMemory(b);
    CHECK(valid(b, p));
    CHECK(p.totalBytes <= sum);
  }
}

TEST(rejects_bad_input) {
  CHECK_THROWS(planMemory({{10, 3, 2}}), Error);
  CHECK_THROWS(planMemory({{10, 0, 1}}, 48), Error);
  CHECK_EQ(planMemory({}).totalBytes, 0u);
}
