// Max pooling of 8-bit planes: per output row, the max over the window's rows of each tap
// column, in loops over output columns the compiler vectorizes for stride 1.
#include <algorithm>
#include <limits>
#include <vector>

#include "kiln/error.h"
#include "kiln/kernels/quantize.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {
namespace {

template <typename T>
void maxPlane(const Pool2dParams& p, const T* x, T* y, int64_t oh, int64_t ow, T* row) {
  for (int64_t oy = 0; oy < oh; ++oy) {
    std::fill(row, row + ow, std::numeric_limits<T>::lowest());
    for (int64_t ky = 0; ky < p.kernelH; ++ky) {
      const int64_t iy = oy * p.strideH - p.padTop + ky * p.dilationH;
      if (iy < 0 || iy >= p.inH) continue;
      const T* src = x + iy * p.inW;
      for (int64_t kx = 0; kx < p.kernelW; ++kx) {
        const int64_t off = kx * p.dilationW - p.padLeft;
        // Output columns whose tap lies inside the row.
        const int64_t x0 = off >= 0 ? 0 : (-off + p.strideW - 1) / p.strideW;
        const int64_t x1 =
            std::min(ow, p.inW - off <= 0 ? 0 : (p.inW - off + p.strideW - 1) / p.strideW);
        for (int64_t ox = x0; ox < x1; ++ox) row[ox] = std::max(row[ox], src[ox * p.strideW + off]);
      }
    }
    std::copy(row, row + ow, y + oy * ow);
  }
}

}  // namespace

void maxPool2d8(const Pool2dParams& p, const void* x, bool isSigned, void* y) {
  if (p.kind != PoolKind::kMax) throw Error(ErrorCode::kInvalidArgument, "maxPool2d8: max only");
  int64_t oh = 0, ow = 0;
  pool2dOutputShape(p, &oh, &ow);
  const int64_t planes = p.batch * p.channels, in = p.inH * p.inW, out = oh * ow;
  globalThreadPool().parallelFor(static_cast<size_t>(planes), 8, [&](size_t b, size_t e) {
    std::vector<uint8_t> row(static_cast<size_t>(ow));
    for (size_t i = b; i < e; ++i) {
      const int64_t k = static_cast<int64_t>(i);
      if (isSigned)
        maxPlane(p, static_cast<const int8_t*>(x) + k * in, static_cast<int8_t*>(y) + k * out, oh,
                 ow, reinterpret_cast<int8_t*>(row.data()));
      else
        maxPlane(p, static_cast<const uint8_t*>(x) + k * in, static_cast<uint8_t*>(y) + k * out, oh,
                 ow, row.data());
    }
  });
}

}  // namespace kiln::kernels
