// Per-thread scratch memory for packing and im2col: kernels run on the pool's threads many times
// per inference, so buffers are kept and grown instead of allocated per call.
#pragma once

#include <cstddef>

#include "kiln/kernels/scratch.h"

namespace kiln::kernels {

// Distinct uses that may be live at the same time on one thread (conv holds im2col while its
// GEMM packs A and B), so each gets its own buffer.
enum class ScratchSlot { kPackA = 0, kPackB = 1, kIm2col = 2, kWork = 3, kWork2 = 4, kCount = 5 };

static_assert(static_cast<size_t>(ScratchSlot::kCount) == kScratchSlots);

// Floats a slot's buffer holds after a request of n: it grows by half again, so shapes that creep
// up do not reallocate every call.
size_t scratchCapacity(size_t n);

// Returns 64-byte aligned storage for at least n floats, owned by the calling thread; valid until
// the next call for the same slot on the same thread.
float* threadScratch(ScratchSlot slot, size_t n);

}  // namespace kiln::kernels
