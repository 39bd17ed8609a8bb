// 8-bit kernels of INT8 engines: quantize, dequantize, quantized add, 8-bit max pooling and the
// quantized convolution (an implicit GEMM on __dp4a). Each computes the same integers as the cpu
// kernels (kernels/cpu/qgemm): int32 sums, requantization as float(sum) * scale rounded half to
// even (__float2int_rn, like cvtps2dq and lrintf), saturation. Float arithmetic uses the _rn
// intrinsics so nvcc never contracts a multiply and an add into an fma the cpu does not do (or
// the reverse). Scales and zero points stay on the device: kernels read them where they are.
#include <cstdint>

#include "kernels/cuda/cuda_kernels.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

int blocksFor(int64_t count) {
  const int64_t blocks = (count + kThreads - 1) / kThreads;
  return static_cast<int>(blocks < 65535 * 16 ? blocks : 65535 * 16);
}

__device__ int32_t load8(const void* p, int64_t i, bool isSigned) {
  return isSigned ? static_cast<const int8_t*>(p)[i] : static_cast<const uint8_t*>(p)[i];
}

__device__ int32_t loadInt(const void* p, int64_t i, QuantType t) {
  switch (t) {
    case QuantType::kInt8:
      return static_cast<const int8_t*>(p)[i];
    case QuantType::kUInt8:
      return static_cast<const uint8_t*>(p)[i];
    case QuantType::kInt32:
      return static_cast<const int32_t*>(p)[i];
  }
  return 0;
}

// The zero point of slice c: zeros when absent.
__device__ int32_t zeroAt(const QuantAxis& q, int64_t c) {
  return q.zeroPoint == nullptr ? 0 : loadInt(q.zeroPoint, q.count == 1 ? 0 : c, q.zeroType);
}

__device__ int64_t sliceOf(const QuantAxis& q, int64_t i) {
  return q.count == 1 ? 0 : (i / q.inner) % q.count;
}

// Clamps a rounded float into the 8-bit range (NaN gives 0, as the cpu's saturate).
__device__ int32_t saturate(float v, bool isSigned) {
  if (isnan(v)) return 0;
  const float lo = isSigned ? -128.0f : 0.0f, hi = isSigned ? 127.0f : 255.0f;
  return static_cast<int32_t>(fminf(fmaxf(v, lo), hi));
}

__global__ void quantizeKernel(const float* x, int64_t n, QuantAxis q, bool outSigned, uint8_t* y) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t c = sliceOf(q, i);
    // x / scale rounded half to even first, then the zero point added, as the spec orders it.
    const float v = __fadd_rn(rintf(__fdiv_rn(x[i], q.scale[c])), static_cast<float>(zeroAt(q, c)));
    y[i] = static_cast<uint8_t>(saturate(v, outSigned));
  }
}

__global__ void dequantizeKernel(const void* x, QuantType t, int64_t n, QuantAxis q, float* y) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t c = sliceOf(q, i);
    y[i] = __fmul_rn(static_cast<float>(loadInt(x, i, t) - zeroAt(q, c)), q.scale[c]);
  }
}

// QLinearAdd's per-tensor constants, read once per thread.
struct AddConstants {
  float ra, rb;
  int32_t az, bz, cz;
  bool isSigned, relu;
};

__device__ AddConstants addConstants(const QAddArgs& p) {
  const bool s = p.isSigned;
  AddConstants k;
  k.ra = __fdiv_rn(*p.aScale, *p.cScale), k.rb = __fdiv_rn(*p.bScale, *p.cScale);
  k.az = p.aZero ? load8(p.aZero, 0, s) : 0, k.bz = p.bZero ? load8(p.bZero, 0, s) : 0;
  k.cz = p.cZero ? load8(p.cZero, 0, s) : 0;
  k.isSigned = s, k.relu = p.relu;
  return k;
}

// One element from its two stored bytes.
__device__ uint32_t addOne(uint32_t a, uint32_t b, const AddConstants& k) {
  const int32_t ia = k.isSigned ? static_cast<int8_t>(a) : static_cast<int32_t>(a);
  const int32_t ib = k.isSigned ? static_cast<int8_t>(b) : static_cast<int32_t>(b);
  const float va = static_cast<float>(ia - k.az), vb = static_cast<float>(ib - k.bz);
  const float v = __fmaf_rn(va, k.ra, __fmul_rn(vb, k.rb));
  int32_t q = saturate(__fadd_rn(rintf(v), static_cast<float>(k.cz)), k.isSigned);
  if (k.relu) q = q > k.cz ? q : k.cz;
  return static_cast<uint32_t>(q) & 0xFF;
}

// Elements [first, n) one a thread.
__global__ void qlinearAddKernel(const uint8_t* a, const uint8_t* b, int64_t first, int64_t n,
                                 QAddArgs p, uint8_t* c) {
  const AddConstants k = addConstants(p);
  for (int64_t i = first + blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x)
    c[i] = static_cast<uint8_t>(addOne(a[i], b[i], k));
}

// `words` 16-byte words (16-byte aligned) one a thread: the byte kernel reads a quarter of
// memory's bandwidth.
__global__ void qlinearAdd16Kernel(const uint4* a, const uint4* b, int64_t words, QAddArgs p,
                                   uint4* c) {
  const AddConstants k = addConstants(p);
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < words;
       i += int64_t{gridDim.x} * blockDim.x) {
    const uint4 va = a[i], vb = b[i];
    const uint32_t wa[4] = {va.x, va.y, va.z, va.w}, wb[4] = {vb.x, vb.y, vb.z, vb.w};
    uint32_t out[4];
#pragma unroll
    for (int w = 0; w < 4; ++w) {
      uint32_t word = 0;
#pragma unroll
      for (int j = 0; j < 4; ++j)
        word |= addOne((wa[w] >> (8 * j)) & 0xFF, (wb[w] >> (8 * j)) & 0xFF, k) << (8 * j);
      out[w] = word;
    }
    c[i] = make_uint4(out[0], out[1], out[2], out[3]);
  }
}

// Padding never wins: an all-padding window gives the type's lowest value, as on the cpu. NCHW
// walks one plane per (image, channel); NHWC (p.nhwc) one channel of an image at stride C.
template <typename T>
__global__ void maxPool8Kernel(Pool2dParams p, const T* x, T* y, int64_t count, int32_t lowest) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    int64_t ow, oh, step;
    const T* in;
    if (p.nhwc) {
      const int64_t c = i % p.channels, pixel = i / p.channels;
      ow = pixel % p.outW, oh = (pixel / p.outW) % p.outH;
      in = x + (pixel / (p.outW * p.outH)) * p.inH * p.inW * p.channels + c;
      step = p.channels;
    } else {
      ow = i % p.outW, oh = (i / p.outW) % p.outH;
      in = x + (i / (p.outW * p.outH)) * p.inH * p.inW;
      step = 1;
    }
    int32_t best = lowest;
    for (int64_t kh = 0; kh < p.kernelH; ++kh) {
      const int64_t h = oh * p.strideH - p.padTop + kh * p.dilationH;
      if (h < 0 || h >= p.inH) continue;
      for (int64_t kw = 0; kw < p.kernelW; ++kw) {
        const int64_t w = ow * p.strideW - p.padLeft + kw * p.dilationW;
        if (w < 0 || w >= p.inW) continue;
        const int32_t v = in[(h * p.inW + w) * step];
        best = v > best ? v : best;
      }
    }
    y[i] = static_cast<T>(best);
  }
}

// NHWC with channels a multiple of 16: a thread takes 16 channels of one output pixel in one
// 16-byte load a tap, compared four bytes at a time (__vmaxs4 / __vmaxu4); 32-bit index math.
template <bool kSigned>
__global__ void maxPool8Nhwc16Kernel(Pool2dParams p, const uint4* x, uint4* y, int32_t count) {
  const int32_t groups = static_cast<int32_t>(p.channels / 16);
  const int32_t inH = static_cast<int32_t>(p.inH), inW = static_cast<int32_t>(p.inW);
  const int32_t outH = static_cast<int32_t>(p.outH), outW = static_cast<int32_t>(p.outW);
  const uint32_t lowest = kSigned ? 0x80808080u : 0u;
  const auto max4 = [](uint32_t a, uint32_t b) {
    return kSigned ? __vmaxs4(a, b) : __vmaxu4(a, b);
  };
  for (int32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < count; i += gridDim.x * blockDim.x) {
    const int32_t g = i % groups, pixel = i / groups;
    const int32_t ow = pixel % outW, t = pixel / outW, oh = t % outH, n = t / outH;
    uint4 best = make_uint4(lowest, lowest, lowest, lowest);
    for (int32_t kh = 0; kh < p.kernelH; ++kh) {
      const int32_t h = oh * static_cast<int32_t>(p.strideH) - static_cast<int32_t>(p.padTop) +
                        kh * static_cast<int32_t>(p.dilationH);
      if (h < 0 || h >= inH) continue;
      for (int32_t kw = 0; kw < p.kernelW; ++kw) {
        const int32_t w = ow * static_cast<int32_t>(p.strideW) - static_cast<int32_t>(p.padLeft) +
                          kw * static_cast<int32_t>(p.dilationW);
        if (w < 0 || w >= inW) continue;
        const uint4 v = x[(int64_t{n} * inH * inW + int64_t{h} * inW + w) * groups + g];
        best =
            make_uint4(max4(best.x, v.x), max4(best.y, v.y), max4(best.z, v.z), max4(best.w, v.w));
      }
    }
    y[i] = best;
  }
}

// The int8 zero point of activations that enter as int8 (uint8 ones as x - 128).
__device__ int32_t inputZero8(const QConvArgs& a) {
  const int32_t xZero = a.inZeroPoint ? load8(a.inZeroPoint, 0, a.inSigned) : 0;
  return a.inSigned ? xZero : xZero - 128;
}

// The cpu's requantization of one output channel: float(sum + bias) * (x_scale * w_scale /
// y_scale) in that float order, bounded first so the conversion never overflows, rounded half
// to even, moved by the zero point, saturated (a fused Relu raises the floor to the zero point:
// relu(v) quantizes to at least it). `bias` already holds -zero8 * sum(w).
struct Requant {
  float scale;
  int32_t bias, yZero, lo, hi;
};

__device__ Requant requantFor(const QConvArgs& a, int64_t channel, int32_t wsum) {
  Requant r;
  r.scale =
      __fdiv_rn(__fmul_rn(*a.inScale, a.wScale[a.wScaleCount > 1 ? channel : 0]), *a.outScale);
  r.bias = (a.bias ? a.bias[channel] : 0) - inputZero8(a) * wsum;
  r.yZero = a.outZeroPoint ? load8(a.outZeroPoint, 0, a.outSigned) : 0;
  r.lo = a.outSigned ? -128 : 0;
  r.hi = a.outSigned ? 127 : 255;
  if (a.relu) r.lo = r.lo > r.yZero ? r.lo : r.yZero;
  return r;
}

__device__ uint8_t requantize(const Requant& r, int32_t sum) {
  float v = __fmul_rn(static_cast<float>(sum + r.bias), r.scale);
  v = fminf(fmaxf(v, -1.0e9f), 1.0e9f);
  int32_t q = __float2int_rn(v) + r.yZero;
  q = q < r.lo ? r.lo : (q > r.hi ? r.hi : q);
  return static_cast<uint8_t>(q);
}

// The implicit GEMM: C[m][col] = sum over k of W[m][k] * X[k][col], per group, where m is an
// output channel of the group, col = (image, oh, ow) and k = (input channel, kh, kw). A block
// computes a kTileM x kTileN tile, 16 threads by 16 each holding 4 x 4 sums; k advances 16 at a
// time (4 int32 words of 4 packed bytes each per row and column), staged in shared memory.
// Activations enter as int8: uint8 ones flipped to x - 128 (with the zero point moved by 128),
// which leaves x - zero point unchanged; padding holds that int8 zero point, so it adds
// nothing once zeroPoint * sum(w) is subtracted. Rows past K have zero weights.
constexpr int kTileM = 64, kTileN = 64, kWordsK = 4;

__device__ int32_t activation8(const QConvArgs& a, int64_t image, int64_t k, int64_t oh, int64_t ow,
                               int32_t zero8, int64_t group) {
  const int64_t cg = a.inChannels / a.group;
  const int64_t taps = a.kernelH * a.kernelW;
  if (k >= cg * taps) return zero8;
  const int64_t c = k / taps, kh = (k / a.kernelW) % a.kernelH, kw = k % a.kernelW;
  const int64_t h = oh * a.strideH - a.padTop + kh * a.dilationH;
  const int64_t w = ow * a.strideW - a.padLeft + kw * a.dilationW;
  if (h < 0 || h >= a.inH || w < 0 || w >= a.inW) return zero8;
  const int64_t at = ((image * a.inChannels + group * cg + c) * a.inH + h) * a.inW + w;
  const int32_t v = a.inSigned ? static_cast<const int8_t*>(a.x)[at]
                               : static_cast<int32_t>(static_cast<const uint8_t*>(a.x)[at]) - 128;
  return v;
}

__device__ uint32_t pack4(int32_t b0, int32_t b1, int32_t b2, int32_t b3) {
  return (static_cast<uint32_t>(b0) & 0xFF) | ((static_cast<uint32_t>(b1) & 0xFF) << 8) |
         ((static_cast<uint32_t>(b2) & 0xFF) << 16) | ((static_cast<uint32_t>(b3) & 0xFF) << 24);
}

__global__ void __launch_bounds__(256) qconvKernel(QConvArgs a) {
  __shared__ int32_t ws[kWordsK][kTileM];
  __shared__ int32_t xs[kWordsK][kTileN];
  const int64_t group = blockIdx.z;
  const int64_t mg = a.outChannels / a.group;
  const int64_t k = (a.inChannels / a.group) * a.kernelH * a.kernelW;
  const int64_t plane = a.outH * a.outW, cols = a.batch * plane;
  const int64_t m0 = blockIdx.y * int64_t{kTileM}, col0 = blockIdx.x * int64_t{kTileN};
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int32_t zero8 = inputZero8(a);
  const auto* w8 = static_cast<const int8_t*>(a.w);

  // What this thread loads: weight word (row lm, word lk) and activation word (column ln, lk).
  const int lm = tid % kTileM, lk = tid / kTileM;
  const int64_t wRow = m0 + lm, col = col0 + lm;
  const bool rowOk = wRow < mg, colOk = col < cols;
  const int64_t image = colOk ? col / plane : 0, oh = colOk ? (col % plane) / a.outW : 0,
                ow = colOk ? col % a.outW : 0;
  const int8_t* wBase = w8 + (group * mg + (rowOk ? wRow : 0)) * k;

  int32_t acc[4][4] = {};
  int32_t wsum[4] = {};
  for (int64_t k0 = 0; k0 < k; k0 += 4 * kWordsK) {
    const int64_t kk = k0 + 4 * lk;
    int32_t wb[4], xb[4];
#pragma unroll
    for (int t = 0; t < 4; ++t) {
      wb[t] = rowOk && kk + t < k ? wBase[kk + t] : 0;
      xb[t] = colOk ? activation8(a, image, kk + t, oh, ow, zero8, group) : zero8;
    }
    ws[lk][lm] = static_cast<int32_t>(pack4(wb[0], wb[1], wb[2], wb[3]));
    xs[lk][lm] = static_cast<int32_t>(pack4(xb[0], xb[1], xb[2], xb[3]));
    __syncthreads();
#pragma unroll
    for (int q = 0; q < kWordsK; ++q) {
      int32_t wv[4], xv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        wv[i] = ws[q][ty * 4 + i];
        xv[i] = xs[q][tx * 4 + i];
      }
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        wsum[i] = __dp4a(wv[i], 0x01010101, wsum[i]);
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = __dp4a(wv[i], xv[j], acc[i][j]);
      }
    }
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int64_t m = m0 + ty * 4 + i;
    if (m >= mg) continue;
    const int64_t channel = group * mg + m;
    const Requant r = requantFor(a, channel, wsum[i]);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t c = col0 + tx * 4 + j;
      if (c >= cols) continue;
      const int64_t img = c / plane, pos = c % plane;
      static_cast<uint8_t*>(a.y)[(img * a.outChannels + channel) * plane + pos] =
          requantize(r, acc[i][j]);
    }
  }
}

// The tensor-core path's im2col (one group): column col = (image, oh, ow) gets its K bytes,
// k = (input channel, kh, kw) as in the weights, 4 per int32 word. A block stages 32 columns x
// 32 words in shared memory: it reads along columns (neighbouring pixels) and writes along
// words (whole rows), both coalesced. 32-bit index math: 64-bit division per byte would cost
// more than the copy.
constexpr int kColTile = 32, kColRows = 8;

__global__ void __launch_bounds__(kColTile* kColRows)
    im2colKernel(QConvArgs a, int32_t words, int32_t ncols, int32_t* out) {
  __shared__ int32_t tile[kColTile][kColTile + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int32_t kernelH = static_cast<int32_t>(a.kernelH),
                kernelW = static_cast<int32_t>(a.kernelW);
  const int32_t inH = static_cast<int32_t>(a.inH), inW = static_cast<int32_t>(a.inW);
  const int32_t taps = kernelH * kernelW, k = static_cast<int32_t>(a.inChannels) * taps;
  const int32_t plane = static_cast<int32_t>(a.outH * a.outW), outW = static_cast<int32_t>(a.outW);
  const int32_t word0 = blockIdx.y * kColTile;
  const int32_t col = blockIdx.x * kColTile + tx;
  if (col < ncols) {
    const int32_t pos = col % plane;
    const int32_t h0 =
        (pos / outW) * static_cast<int32_t>(a.strideH) - static_cast<int32_t>(a.padTop);
    const int32_t w0 =
        (pos % outW) * static_cast<int32_t>(a.strideW) - static_cast<int32_t>(a.padLeft);
    const auto* x =
        static_cast<const uint8_t*>(a.x) + int64_t{col / plane} * a.inChannels * inH * inW;
    const int32_t zero8 = inputZero8(a);
    for (int wd = ty; wd < kColTile; wd += kColRows) {
      const int32_t k0 = (word0 + wd) * 4;
      int32_t c = k0 / taps, kh = (k0 % taps) / kernelW, kw = k0 % kernelW;
      int32_t b[4];
#pragma unroll
      for (int t = 0; t < 4; ++t) {
        int32_t v = 0;  // past K: the padded weights are zero there
        if (k0 + t < k) {
          const int32_t h = h0 + kh * static_cast<int32_t>(a.dilationH);
          const int32_t w = w0 + kw * static_cast<int32_t>(a.dilationW);
          if (h < 0 || h >= inH || w < 0 || w >= inW) {
            v = zero8;
          } else {
            const uint8_t raw = x[(int64_t{c} * inH + h) * inW + w];
            v = a.inSigned ? static_cast<int32_t>(static_cast<int8_t>(raw)) : raw - 128;
          }
        }
        b[t] = v;
        if (++kw == kernelW) {
          kw = 0;
          if (++kh == kernelH) {
            kh = 0;
            ++c;
          }
        }
      }
      tile[wd][tx] = static_cast<int32_t>(pack4(b[0], b[1], b[2], b[3]));
    }
  }
  __syncthreads();
  for (int r = ty; r < kColTile; r += kColRows) {
    const int32_t c = blockIdx.x * kColTile + r, wd = word0 + tx;
    if (c < ncols && wd < words) out[int64_t{c} * words + wd] = tile[tx][r];
  }
}

// One block per output channel: the sum of its weights (and their copy at stride kPad).
__global__ void weightSumsKernel(QConvArgs a, int64_t kPad, int8_t* padded, int32_t* wsum) {
  __shared__ int32_t part[kThreads / 32];
  const int64_t k = a.inChannels * a.kernelH * a.kernelW, m = blockIdx.x;
  const int8_t* row = static_cast<const int8_t*>(a.w) + m * k;
  int32_t s = 0;
  for (int64_t i = threadIdx.x; i < kPad; i += blockDim.x) {
    const int32_t v = i < k ? row[i] : 0;
    s += v;
    if (padded) padded[m * kPad + i] = static_cast<int8_t>(v);
  }
  for (int d = 16; d > 0; d /= 2) s += __shfl_down_sync(0xFFFFFFFFu, s, d);
  if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = s;
  __syncthreads();
  if (threadIdx.x == 0) {
    int32_t total = 0;
    for (int i = 0; i < kThreads / 32; ++i) total += part[i];
    wsum[m] = total;
  }
}

// blockIdx.y is the output channel; sums are [outChannels][ncols], y is NCHW: both coalesced.
__global__ void requantizeKernel(QConvArgs a, int32_t ncols, const int32_t* sums,
                                 const int32_t* wsum) {
  const int64_t m = blockIdx.y;
  const int32_t plane = static_cast<int32_t>(a.outH * a.outW);
  const Requant r = requantFor(a, m, wsum[m]);
  const int32_t* row = sums + m * ncols;
  auto* y = static_cast<uint8_t*>(a.y);
  for (int32_t c = blockIdx.x * blockDim.x + threadIdx.x; c < ncols; c += gridDim.x * blockDim.x)
    y[(int64_t{c / plane} * a.outChannels + m) * plane + c % plane] = requantize(r, row[c]);
}

// The same for sums as [ncols][outChannels] (pixel rows): a block moves a 32 x 32 tile through
// shared memory, reading along channels and writing along pixels, both coalesced.
__global__ void __launch_bounds__(kColTile* kColRows)
    requantizePixelRowsKernel(QConvArgs a, int32_t ncols, const int32_t* sums,
                              const int32_t* wsum) {
  __shared__ int32_t tile[kColTile][kColTile + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int32_t m = static_cast<int32_t>(a.outChannels);
  const int32_t plane = static_cast<int32_t>(a.outH * a.outW);
  const int32_t c0 = blockIdx.x * kColTile, m0 = blockIdx.y * kColTile;
  for (int r = ty; r < kColTile; r += kColRows)
    if (c0 + r < ncols && m0 + tx < m) tile[r][tx] = sums[int64_t{c0 + r} * m + m0 + tx];
  __syncthreads();
  const int32_t c = c0 + tx;
  if (c >= ncols) return;
  auto* y = static_cast<uint8_t*>(a.y);
  for (int r = ty; r < kColTile; r += kColRows) {
    const int32_t channel = m0 + r;
    if (channel >= m) break;
    const Requant q = requantFor(a, channel, wsum[channel]);
    y[(int64_t{c / plane} * m + channel) * plane + c % plane] = requantize(q, tile[tx][r]);
  }
}

}  // namespace

cudaError_t quantizeLinear(const float* x, int64_t n, const QuantAxis& q, bool outSigned, void* y,
                           cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  quantizeKernel<<<blocksFor(n), kThreads, 0, stream>>>(x, n, q, outSigned,
                                                        static_cast<uint8_t*>(y));
  return cudaGetLastError();
}

cudaError_t dequantizeLinear(const void* x, QuantType t, int64_t n, const QuantAxis& q, float* y,
                             cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  dequantizeKernel<<<blocksFor(n), kThreads, 0, stream>>>(x, t, n, q, y);
  return cudaGetLastError();
}

cudaError_t qlinearAdd(const void* a, const void* b, int64_t n, const QAddArgs& p, void* c,
                       cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  const auto aligned = [](const void* q) { return reinterpret_cast<uintptr_t>(q) % 16 == 0; };
  const int64_t words = aligned(a) && aligned(b) && aligned(c) ? n / 16 : 0;
  if (words > 0)
    qlinearAdd16Kernel<<<blocksFor(words), kThreads, 0, stream>>>(static_cast<const uint4*>(a),
                                                                  static_cast<const uint4*>(b),
                                                                  words, p, static_cast<uint4*>(c));
  if (words * 16 < n)
    qlinearAddKernel<<<blocksFor(n - words * 16), kThreads, 0, stream>>>(
        static_cast<const uint8_t*>(a), static_cast<const uint8_t*>(b), words * 16, n, p,
        static_cast<uint8_t*>(c));
  return cudaGetLastError();
}

cudaError_t maxPool2d8(const Pool2dParams& p, const void* x, bool isSigned, void* y,
                       cudaStream_t stream) {
  const int64_t count = p.batch * p.channels * p.outH * p.outW;
  if (count == 0) return cudaSuccess;
  const auto aligned = [](const void* q) { return reinterpret_cast<uintptr_t>(q) % 16 == 0; };
  if (p.nhwc && p.channels % 16 == 0 && aligned(x) && aligned(y) &&
      count / 16 < (int64_t{1} << 31) &&
      p.batch * p.inH * p.inW * p.channels < (int64_t{1} << 40)) {
    const auto words = static_cast<int32_t>(count / 16);
    if (isSigned)
      maxPool8Nhwc16Kernel<true><<<blocksFor(words), kThreads, 0, stream>>>(
          p, static_cast<const uint4*>(x), static_cast<uint4*>(y), words);
    else
      maxPool8Nhwc16Kernel<false><<<blocksFor(words), kThreads, 0, stream>>>(
          p, static_cast<const uint4*>(x), static_cast<uint4*>(y), words);
    return cudaGetLastError();
  }
  if (isSigned)
    maxPool8Kernel<<<blocksFor(count), kThreads, 0, stream>>>(p, static_cast<const int8_t*>(x),
                                                              static_cast<int8_t*>(y), count, -128);
  else
    maxPool8Kernel<<<blocksFor(count), kThreads, 0, stream>>>(p, static_cast<const uint8_t*>(x),
                                                              static_cast<uint8_t*>(y), count, 0);
  return cudaGetLastError();
}

cudaError_t qconv2d(const QConvArgs& a, cudaStream_t stream) {
  const int64_t cols = a.batch * a.outH * a.outW, mg = a.outChannels / a.group;
  if (cols == 0 || mg == 0) return cudaSuccess;
  const dim3 grid(static_cast<unsigned>((cols + kTileN - 1) / kTileN),
                  static_cast<unsigned>((mg + kTileM - 1) / kTileM),
                  static_cast<unsigned>(a.group));
  if (grid.y > 65535 || grid.z > 65535) return cudaErrorInvalidConfiguration;
  qconvKernel<<<grid, kThreads, 0, stream>>>(a);
  return cudaGetLastError();
}

// Column counts stay below 2^31 (the caller checks): cuBLAS takes int sizes.
cudaError_t qconvIm2col(const QConvArgs& a, int64_t kPad, int8_t* cols, cudaStream_t stream) {
  const int64_t ncols = a.batch * a.outH * a.outW, words = kPad / 4;
  if (ncols == 0) return cudaSuccess;
  const dim3 grid(static_cast<unsigned>((ncols + kColTile - 1) / kColTile),
                  static_cast<unsigned>((words + kColTile - 1) / kColTile));
  if (grid.y > 65535) return cudaErrorInvalidConfiguration;
  im2colKernel<<<grid, dim3(kColTile, kColRows), 0, stream>>>(a, static_cast<int32_t>(words),
                                                              static_cast<int32_t>(ncols),
                                                              reinterpret_cast<int32_t*>(cols));
  return cudaGetLastError();
}

cudaError_t qconvWeightSums(const QConvArgs& a, int64_t kPad, int8_t* padded, int32_t* wsum,
                            cudaStream_t stream) {
  if (a.outChannels == 0) return cudaSuccess;
  weightSumsKernel<<<static_cast<unsigned>(a.outChannels), kThreads, 0, stream>>>(a, kPad, padded,
                                                                                  wsum);
  return cudaGetLastError();
}

cudaError_t qconvRequantize(const QConvArgs& a, const int32_t* sums, const int32_t* wsum,
                            bool pixelRows, cudaStream_t stream) {
  const int64_t ncols = a.batch * a.outH * a.outW;
  if (ncols == 0 || a.outChannels == 0) return cudaSuccess;
  if (pixelRows) {
    const dim3 grid(static_cast<unsigned>((ncols + kColTile - 1) / kColTile),
                    static_cast<unsigned>((a.outChannels + kColTile - 1) / kColTile));
    requantizePixelRowsKernel<<<grid, dim3(kColTile, kColRows), 0, stream>>>(
        a, static_cast<int32_t>(ncols), sums, wsum);
    return cudaGetLastError();
  }
  if (a.outChannels > 65535) return cudaErrorInvalidConfiguration;
  const int64_t blocks = (ncols + kThreads - 1) / kThreads;
  const dim3 grid(static_cast<unsigned>(blocks < 4096 ? blocks : 4096),
                  static_cast<unsigned>(a.outChannels));
  requantizeKernel<<<grid, kThreads, 0, stream>>>(a, static_cast<int32_t>(ncols), sums, wsum);
  return cudaGetLastError();
}

}  // namespace kiln::cuda
