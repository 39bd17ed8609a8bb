// Resize: one thread per output element, the taps of every resized axis computed the way the
// cpu's kernels::resize computes them (in double, same rounding and clamping), then the tensor
// product of the taps summed in float. The cpu resizes one axis at a time, rounding between
// passes: the two agree up to that rounding. Tap computation is shared by host and device so the
// launcher finds the axes the cpu skips (identity taps) with the same code.
#include <cmath>

#include "kernels/cuda/eltwise/elementwise.cuh"
#include "kiln/kernels/resize.h"

namespace kiln::cuda {
namespace {

using elementwise::blocksFor;
using elementwise::kThreads;
using elementwise::load;
using elementwise::store;
using kernels::ResizeCoordMode;
using kernels::ResizeMode;
using kernels::ResizeNearestMode;

struct Taps {
  int64_t index[4];
  float weight[4];
  int count;
  bool outside;  // tf_crop_and_resize outside the input: the extrapolation value
};

__host__ __device__ double sourceCoord(const ResizeShape& p, int axis, double x) {
  const int64_t inLen = p.inDims[axis], outLen = p.outDims[axis];
  const double scale = p.scales[axis];
  switch (static_cast<ResizeCoordMode>(p.coordMode)) {
    case ResizeCoordMode::kHalfPixel:
      return (x + 0.5) / scale - 0.5;
    case ResizeCoordMode::kHalfPixelSymmetric: {
      const double adj = static_cast<double>(outLen) / (scale * inLen);
      const double center = inLen / 2.0;
      return center * (1 - adj) + (x + 0.5) / scale - 0.5;
    }
    case ResizeCoordMode::kPytorchHalfPixel:
      return outLen > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
    case ResizeCoordMode::kAlignCorners:
      return outLen == 1 ? 0.0 : x * (inLen - 1) / static_cast<double>(outLen - 1);
    case ResizeCoordMode::kAsymmetric:
      return x / scale;
    case ResizeCoordMode::kTfCropAndResize: {
      const double s = p.roi[axis], e = p.roi[axis + p.rank];
      return outLen > 1 ? s * (inLen - 1) + x * (e - s) * (inLen - 1) / (outLen - 1)
                        : 0.5 * (s + e) * (inLen - 1);
    }
  }
  return x;
}

__host__ __device__ double cubicWeight(double d, double a) {
  d = fabs(d);
  if (d <= 1) return ((a + 2) * d - (a + 3)) * d * d + 1;
  if (d < 2) return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
  return 0;
}

__host__ __device__ int64_t clampIndex(int64_t i, int64_t len) {
  return i < 0 ? 0 : (i > len - 1 ? len - 1 : i);
}

__host__ __device__ Taps axisTaps(const ResizeShape& p, int axis, int64_t o) {
  Taps t{};
  const int64_t inLen = p.inDims[axis];
  const double xo = sourceCoord(p, axis, static_cast<double>(o));
  t.outside = static_cast<ResizeCoordMode>(p.coordMode) == ResizeCoordMode::kTfCropAndResize &&
              (xo < 0 || xo > inLen - 1);
  if (t.outside) return t;
  const ResizeMode mode = static_cast<ResizeMode>(p.mode);
  if (mode == ResizeMode::kNearest) {
    const double fl = floor(xo), frac = xo - fl;
    double r;
    switch (static_cast<ResizeNearestMode>(p.nearestMode)) {
      case ResizeNearestMode::kRoundPreferFloor:
        r = frac == 0.5 ? fl : round(xo);
        break;
      case ResizeNearestMode::kRoundPreferCeil:
        r = frac == 0.5 ? fl + 1 : round(xo);
        break;
      case ResizeNearestMode::kFloor:
        r = fl;
        break;
      default:
        r = ceil(xo);
        break;
    }
    t.index[0] = clampIndex(static_cast<int64_t>(r), inLen);
    t.weight[0] = 1.0f;
    t.count = 1;
  } else if (mode == ResizeMode::kLinear) {
    const double xc = xo < 0 ? 0.0 : (xo > inLen - 1 ? static_cast<double>(inLen - 1) : xo);
    const int64_t i0 = static_cast<int64_t>(floor(xc));
    const int64_t i1 = i0 + 1 < inLen - 1 ? i0 + 1 : inLen - 1;
    const double w1 = xc - i0;
    t.index[0] = i0;
    t.weight[0] = static_cast<float>(1 - w1);
    t.index[1] = i1;
    t.weight[1] = static_cast<float>(w1);
    t.count = 2;
  } else {
    const int64_t i = static_cast<int64_t>(floor(xo));
    const double f = xo - i;
    double w[4], sum = 0;
    for (int k = 0; k < 4; ++k) {
      const int64_t idx = i - 1 + k;
      w[k] = cubicWeight(f - (k - 1), p.cubicCoeffA);
      if (p.excludeOutside && (idx < 0 || idx >= inLen)) w[k] = 0;
      sum += w[k];
      t.index[k] = clampIndex(idx, inLen);
    }
    for (int k = 0; k < 4; ++k)
      t.weight[k] = static_cast<float>(p.excludeOutside ? w[k] / sum : w[k]);
    t.count = 4;
  }
  return t;
}

// `skip` bit d: axis d is an identity the cpu does not pass over.
template <typename T>
__global__ void resizeKernel(ResizeShape p, unsigned skip, const T* x, T* y, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    Taps taps[kMaxRank];
    int64_t stride[kMaxRank];
    int64_t rest = i, base = 0, s = 1;
    bool outside = false;
    int combos = 1;
    for (int d = p.rank - 1; d >= 0; --d) {
      const int64_t o = rest % p.outDims[d];
      rest /= p.outDims[d];
      stride[d] = s;
      if (skip >> d & 1u) {
        base += o * s;
        taps[d].count = 1;
        taps[d].index[0] = 0;
        taps[d].weight[0] = 1.0f;
      } else {
        taps[d] = axisTaps(p, d, o);
        outside = outside || taps[d].outside;
        combos *= taps[d].count;
      }
      s *= p.inDims[d];
    }
    if (outside) {
      store(y, i, p.extrapolation);
      continue;
    }
    float acc = 0.0f;
    for (int c = 0; c < combos; ++c) {
      int rem = c;
      int64_t offset = base;
      float w = 1.0f;
      for (int d = p.rank - 1; d >= 0; --d) {
        const int k = rem % taps[d].count;
        rem /= taps[d].count;
        offset += taps[d].index[k] * stride[d];
        w *= taps[d].weight[k];
      }
      acc += combos == 1 ? load(x, offset) : w * load(x, offset);
    }
    store(y, i, acc);
  }
}

}  // namespace

template <typename T>
cudaError_t resize(const ResizeShape& shape, const T* x, T* y, cudaStream_t stream) {
  int64_t count = 1;
  for (int d = 0; d < shape.rank; ++d) count *= shape.outDims[d];
  if (count == 0) return cudaSuccess;
  unsigned skip = 0;
  int resized = 0;
  for (int d = 0; d < shape.rank; ++d) {
    bool identity = shape.inDims[d] == shape.outDims[d];
    for (int64_t j = 0; identity && j < shape.outDims[d]; ++j) {
      const Taps t = axisTaps(shape, d, j);
      identity = !t.outside && t.index[0] == j && t.weight[0] == 1.0f;
      for (int k = 1; identity && k < t.count; ++k) identity = t.weight[k] == 0.0f;
    }
    if (identity)
      skip |= 1u << d;
    else
      ++resized;
  }
  // 4 taps on each resized axis: 4^4 = 256 products an element at most.
  if (resized > 4) return cudaErrorInvalidValue;
  resizeKernel<<<blocksFor(count), kThreads, 0, stream>>>(shape, skip, x, y, count);
  return cudaGetLastError();
}

template cudaError_t resize<float>(const ResizeShape&, const float*, float*, cudaStream_t);
template cudaError_t resize<__half>(const ResizeShape&, const __half*, __half*, cudaStream_t);

}  // namespace kiln::cuda
