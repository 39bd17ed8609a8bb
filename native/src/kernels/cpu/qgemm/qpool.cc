// Max pooling of 8-bit planes in two passes that the compiler vectorizes: the max over each
// input row's horizontal windows (the row split into its stride phases first, so every tap is a
// contiguous run), then the max over the window's rows of those row maxima. AVX-512 machines take
// the one-pass kernel of qpool_avx512.cc.
#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/cpu/qgemm/qgemm_internal.h"
#include "kernels/cpu/qgemm/quantize_internal.h"
#include "kiln/cpu_features.h"
#include "kiln/error.h"
#include "kiln/kernels/quantize.h"
#include "kiln/kernels/scratch.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {
namespace {

// Row buffers of one worker: the padded input row, its phases and the row maxima of a plane.
struct PoolScratch {
  int64_t padded = 0, phaseLen = 0;
  std::vector<uint8_t> row, phases, rowMax;
};

// The row lengths makeScratch sizes its buffers by (shared with the memory plan's bound).
struct PoolRows {
  int64_t padded = 0, phaseLen = 0, rowMax = 0;
};

PoolRows poolRows(const Pool2dParams& p, int64_t ow) {
  PoolRows r;
  // Phase j of tap kx starts at (kx * dw) / stride; the last output reads phaseLen - 1.
  r.phaseLen = ow + (p.kernelW - 1) * p.dilationW / p.strideW;
  r.padded = std::max(r.phaseLen * p.strideW, p.padLeft + p.inW);
  r.rowMax = scratchProduct(p.inH, ow);
  return r;
}

PoolScratch makeScratch(const Pool2dParams& p, int64_t ow) {
  const PoolRows r = poolRows(p, ow);
  PoolScratch s;
  s.phaseLen = r.phaseLen;
  s.padded = r.padded;
  s.row.resize(static_cast<size_t>(s.padded));
  s.phases.resize(static_cast<size_t>(s.phaseLen * p.strideW));
  s.rowMax.resize(static_cast<size_t>(r.rowMax));
  return s;
}

template <typename T>
void maxPlane(const Pool2dParams& p, const T* x, T* y, int64_t oh, int64_t ow, PoolScratch& s) {
  const T lowest = std::numeric_limits<T>::lowest();
  T* row = reinterpret_cast<T*>(s.row.data());
  const T* phases = reinterpret_cast<const T*>(s.phases.data());
  T* rowMax = reinterpret_cast<T*>(s.rowMax.data());
  // Padding never wins a max: it holds the type's lowest value.
  std::fill(row, row + s.padded, lowest);
  for (int64_t iy = 0; iy < p.inH; ++iy) {
    std::memcpy(row + p.padLeft, x + iy * p.inW, static_cast<size_t>(p.inW) * sizeof(T));
    qgemm::splitPhases(reinterpret_cast<const uint8_t*>(row), p.strideW, s.phaseLen,
                       s.phases.data());
    T* __restrict out = rowMax + iy * ow;
    std::fill(out, out + ow, lowest);
    for (int64_t kx = 0; kx < p.kernelW; ++kx) {
      const int64_t at = kx * p.dilationW;
      const T* __restrict tap = phases + (at % p.strideW) * s.phaseLen + at / p.strideW;
      for (int64_t ox = 0; ox < ow; ++ox) out[ox] = std::max(out[ox], tap[ox]);
    }
  }
  for (int64_t oy = 0; oy < oh; ++oy) {
    T* __restrict out = y + oy * ow;
    std::fill(out, out + ow, lowest);
    for (int64_t ky = 0; ky < p.kernelH; ++ky) {
      const int64_t iy = oy * p.strideH - p.padTop + ky * p.dilationH;
      if (iy < 0 || iy >= p.inH) continue;
      const T* __restrict src = rowMax + iy * ow;
      for (int64_t ox = 0; ox < ow; ++ox) out[ox] = std::max(out[ox], src[ox]);
    }
  }
}

}  // namespace

int64_t maxPool2d8ScratchBytes(const Pool2dParams& p) {
  int64_t oh = 0, ow = 0;
  pool2dOutputShape(p, &oh, &ow);
  const PoolRows r = poolRows(p, ow);
  const int64_t portable = r.padded + scratchProduct(r.phaseLen, p.strideW) + r.rowMax;
  return activeIsa() == CpuIsa::kAvx512 ? qgemm::maxPoolAvx512Bytes(p, ow) : portable;
}

void maxPool2d8(const Pool2dParams& p, const void* x, bool isSigned, void* y) {
  if (p.kind != PoolKind::kMax) throw Error(ErrorCode::kInvalidArgument, "maxPool2d8: max only");
  int64_t oh = 0, ow = 0;
  pool2dOutputShape(p, &oh, &ow);
  const int64_t planes = p.batch * p.channels, in = p.inH * p.inW, out = oh * ow;
  const bool avx512 = activeIsa() == CpuIsa::kAvx512;
  globalThreadPool().parallelFor(static_cast<size_t>(planes), 8, [&](size_t b, size_t e) {
    if (avx512) {
      std::vector<uint8_t> scratch(static_cast<size_t>(qgemm::maxPoolAvx512Bytes(p, ow)));
      return qgemm::maxPoolPlanesAvx512(p, x, isSigned, y, static_cast<int64_t>(b),
                                        static_cast<int64_t>(e), oh, ow, scratch.data());
    }
    PoolScratch s = makeScratch(p, ow);
    for (size_t i = b; i < e; ++i) {
      const int64_t k = static_cast<int64_t>(i);
      if (isSigned)
        maxPlane(p, static_cast<const int8_t*>(x) + k * in, static_cast<int8_t*>(y) + k * out, oh,
                 ow, s);
      else
        maxPlane(p, static_cast<const uint8_t*>(x) + k * in, static_cast<uint8_t*>(y) + k * out, oh,
                 ow, s);
    }
  });
}

}  // namespace kiln::kernels
