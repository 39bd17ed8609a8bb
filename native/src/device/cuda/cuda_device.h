// What the cuda engine code needs from the cuda device beyond the Device interface.
#pragma once

#include <cuda_runtime_api.h>

#include "kiln/device.h"

namespace kiln {

// The CUDA stream behind a cuda device's Stream; throws kInvalidArgument when `stream` is not
// a stream of cuda:`device`.
cudaStream_t cudaStreamOf(Stream& stream, int device);

}  // namespace kiln
