// What kernels ask of their per-thread scratch memory (im2col columns, GEMM packing, pooling
// work), as bounds the engine adds to its memory plan: an engine whose activations plus scratch
// exceed the memory pool limit or the machine fails before anything is allocated.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace kiln::kernels {

// The kernels' scratch slots (kernels/cpu/common/scratch.h, ScratchSlot): each thread keeps one
// buffer per slot and grows it to the largest request it ever sees.
inline constexpr size_t kScratchSlots = 5;

struct ScratchNeed {
  // Per slot, the most floats one thread asks threadScratch for.
  std::array<int64_t, kScratchSlots> floats{};
  // Bytes one thread allocates for a call and frees before it returns.
  int64_t transientBytes = 0;

  void atLeast(size_t slot, int64_t n) {
    if (n > floats[slot]) floats[slot] = n;
  }
  // Keeps, slot by slot, the larger of the two.
  void merge(const ScratchNeed& other);
  // Bytes one thread holds once every slot has grown to its need, plus the transient bytes.
  int64_t bytesPerThread() const;
};

// a * b for need arithmetic, saturating at 2^60 (more than any machine's memory) instead of
// overflowing.
inline int64_t scratchProduct(int64_t a, int64_t b) {
  constexpr int64_t kMost = int64_t{1} << 60;
  if (a <= 0 || b <= 0) return 0;
  return a > kMost / b ? kMost : a * b;
}

// The largest request each slot has seen on any thread since the last reset (for tests that
// check the bounds above against what kernels really ask).
ScratchNeed scratchHighWater();
void resetScratchHighWater();

// GEMM of m x k by k x n: the A and B panels gemmDriver packs on the calling thread.
void gemmScratch(int64_t m, int64_t n, int64_t k, bool prePackedA, bool prePackedB,
                 ScratchNeed* need);

}  // namespace kiln::kernels
