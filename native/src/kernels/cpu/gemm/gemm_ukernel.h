// The register-blocked inner kernels of sgemm, one per ISA tier.
#pragma once

#include <cstdint>

namespace kiln::kernels {

// What a micro-kernel that fuses the epilogue adds to a tile on its last K block, while the
// tile is still in registers: a separate pass re-read every output from cache, and a residual
// copied into C beforehand cost a second full write of C (ResNet's 1x1 convolutions spent ~15%
// of their time there).
struct GemmTileEpilogue {
  const float* rowBias = nullptr;   // bias of the tile's first row (one per row), or null
  const float* colBias = nullptr;   // bias of the tile's first column (one per column), or null
  const float* residual = nullptr;  // residual at the tile's first element, or null
  int64_t ldr = 0;                  // row stride of residual
  // After bias and residual: ReLU (relu), or a clamp to [lo, hi] (clip, ONNX Clip), NaN
  // handled as activate() does.
  bool relu = false, clip = false;
  float lo = 0.0f, hi = 0.0f;
};

// Computes an MR x NR tile from packed panels: a holds kc steps of MR values (k-major), b holds
// kc steps of NR values. Stores C[r][j] = alpha * acc + beta * C[r][j] for r < mr, j < nr; with
// beta == 0, C is not read. A kernel with fusesEpilogue then applies ep (when not null): + bias,
// + residual, clamp.
using GemmMicroKernel = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                                 int mr, int nr, float alpha, float beta,
                                 const GemmTileEpilogue* ep);

// A micro-kernel and its tile shape.
struct GemmKernelInfo {
  int mr;
  int nr;
  GemmMicroKernel fn;
  bool fusesEpilogue;  // whether fn honours ep (otherwise the driver runs a separate pass)
};

namespace isa_scalar {
GemmKernelInfo gemmKernel();
}
namespace isa_avx2 {
GemmKernelInfo gemmKernel();
}
namespace isa_avx512 {
GemmKernelInfo gemmKernel();
}

}  // namespace kiln::kernels
