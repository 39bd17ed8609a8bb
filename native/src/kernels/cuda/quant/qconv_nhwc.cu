// The NHWC tensor-core QLinearConv: an implicit GEMM on mma.sync m16n8k32 (8-bit x 8-bit,
// int32 sums) whose epilogue requantizes in registers, so neither an im2col nor the int32 sums
// ever reach memory. Rows are output pixels, columns output channels, k = (kh, kw, c) with the
// weights reordered to [M][kH][kW][C] (K padded to 64 with zeros) once per context. uint8
// activations go to the tensor cores unsigned (mma .u8.s8), so padding holds the zero point
// itself and sum(w * (x - zp)) = sum(w * x) - zp * sum(w) is exact; the requantization is
// quant.cu's, to the bit.
#include <cstdint>

#include "kernels/cuda/cuda_kernels.h"

namespace kiln::cuda {
namespace {

// k advances 64 bytes a step through a three-stage cp.async pipeline. A warp computes 64 x 32
// outputs, a block kWarpsM x kWarpsN warps: 2 x 4 (128 x 128), 4 x 2 (256 x 64, for layers of at
// most 64 channels), and 2 x 2 or 1 x 2 (128 x 64, 64 x 64) where the big tiles would leave SMs
// idle (launchNhwc). With C a multiple of 64 a step is one tap's 64 channels, copied 16 bytes at
// a time; otherwise (the stem's C = 3) each byte is gathered.
constexpr int kBlockK = 64, kStages = 3;
constexpr int kHelperThreads = 256;  // the weight and parameter kernels

template <int kWarpsM, int kWarpsN>
struct Tile {
  static constexpr int kThreads = 32 * kWarpsM * kWarpsN;
  static constexpr int kRowsPerPass = kThreads / 4;  // 16-byte chunks of 64-byte rows
  static constexpr int kM = 64 * kWarpsM, kN = 32 * kWarpsN;
  static constexpr int kStageBytes = (kM + kN) * kBlockK;
  static constexpr int kOutStride = kN + 16;  // output staging rows: 16-byte aligned, few bank
                                              // conflicts for the 2-byte writes
  static constexpr int kSharedBytes = kStages * kStageBytes;
  static_assert(kM * kOutStride <= kSharedBytes, "the output tile reuses the stages");
};

__device__ uint32_t sharedAddress(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// Byte offset of 16-byte chunk `chunk` (0-3) of row `row` in a tile of 64-byte rows: the chunk
// index is XORed with bits 1-2 of the row so the eight rows one ldmatrix reads sit in distinct
// banks.
__device__ int tileOffset(int row, int chunk) {
  return row * kBlockK + ((chunk ^ ((row >> 1) & 3)) << 4);
}

__device__ void copyAsync16(uint32_t dst, const void* src) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(src));
}

__device__ void ldmatrix4(uint32_t (&r)[4], uint32_t address) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(address));
}

template <bool kSigned>
__device__ void mma(int32_t (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  if constexpr (kSigned) {
    asm volatile(
        "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};\n"
        : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};\n"
        : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

__device__ int32_t zeroPoint(const void* p, bool isSigned) {
  if (p == nullptr) return 0;
  return isSigned ? *static_cast<const int8_t*>(p) : *static_cast<const uint8_t*>(p);
}

// quant.cu's requantization, from the per-channel constants of qconvNhwcParams.
__device__ uint32_t requantize(int32_t sum, float scale, int32_t bias, int32_t yZero, int32_t lo,
                               int32_t hi) {
  float v = __fmul_rn(static_cast<float>(sum + bias), scale);
  v = fminf(fmaxf(v, -1.0e9f), 1.0e9f);
  int32_t q = __float2int_rn(v) + yZero;
  q = q < lo ? lo : (q > hi ? hi : q);
  return static_cast<uint32_t>(q) & 0xFF;
}

int64_t paddedK(const QConvArgs& a) {
  return (a.inChannels * a.kernelH * a.kernelW + kBlockK - 1) / kBlockK * kBlockK;
}

// 16 warps an SM at least (at most 128 registers a thread) hide the copies' latency.
template <bool kSigned, int kWarpsM, int kWarpsN, bool kGather>
__global__ void __launch_bounds__(Tile<kWarpsM, kWarpsN>::kThreads,
                                  512 / Tile<kWarpsM, kWarpsN>::kThreads)
    qconvNhwcKernel(QConvArgs a, const int8_t* w, const float* scale, const int32_t* bias) {
  using T = Tile<kWarpsM, kWarpsN>;
  constexpr int kRowsA = T::kM / T::kRowsPerPass, kRowsB = T::kN / T::kRowsPerPass;
  extern __shared__ __align__(128) uint8_t shared[];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int32_t c = static_cast<int32_t>(a.inChannels), m = static_cast<int32_t>(a.outChannels);
  const int32_t inH = static_cast<int32_t>(a.inH), inW = static_cast<int32_t>(a.inW);
  const int32_t outW = static_cast<int32_t>(a.outW), plane = static_cast<int32_t>(a.outH) * outW;
  const int32_t pixels = static_cast<int32_t>(a.batch) * plane;
  const int32_t kernelW = static_cast<int32_t>(a.kernelW);
  const int32_t dilH = static_cast<int32_t>(a.dilationH), dilW = static_cast<int32_t>(a.dilationW);
  const int32_t kTrue = c * static_cast<int32_t>(a.kernelH) * kernelW;
  const int32_t chunksPerTap = kGather ? 1 : c / kBlockK;
  const int32_t steps = static_cast<int32_t>((kTrue + kBlockK - 1) / kBlockK);
  const int64_t kStride = int64_t{steps} * kBlockK;
  const int32_t pixel0 = blockIdx.x * T::kM, channel0 = blockIdx.y * T::kN;

  // What this thread copies each step: chunk `chunk` of rows row0 + kRowsPerPass i.
  const int chunk = tid & 3, row0 = tid >> 2;
  const uint8_t* xImage[kRowsA];
  int32_t h0[kRowsA], w0[kRowsA];
  bool pixelOk[kRowsA];
#pragma unroll
  for (int i = 0; i < kRowsA; ++i) {
    const int32_t p = pixel0 + row0 + T::kRowsPerPass * i;
    pixelOk[i] = p < pixels;
    const int32_t q = pixelOk[i] ? p : 0, pos = q % plane;
    xImage[i] = static_cast<const uint8_t*>(a.x) + int64_t{q / plane} * inH * inW * c;
    h0[i] = (pos / outW) * static_cast<int32_t>(a.strideH) - static_cast<int32_t>(a.padTop);
    w0[i] = (pos % outW) * static_cast<int32_t>(a.strideW) - static_cast<int32_t>(a.padLeft);
  }
  // Padding reads as the zero point: sum(w * (x - zp)) then gets nothing from it.
  const uint32_t zp = static_cast<uint32_t>(zeroPoint(a.inZeroPoint, kSigned)) & 0xFF;
  const uint32_t pad = zp * 0x01010101u;

  const auto load = [&](int stage, int32_t step) {
    uint8_t* tileX = shared + stage * T::kStageBytes;
    uint8_t* tileW = tileX + T::kM * kBlockK;
#pragma unroll
    for (int i = 0; i < kRowsA; ++i) {
      const int row = row0 + T::kRowsPerPass * i;
      uint8_t* dst = tileX + tileOffset(row, chunk);
      if constexpr (kGather) {
        // Bytes k0 .. k0 + 15 of the row, k = (kh, kw, c); past K anything (zero weights).
        uint32_t word[4] = {pad, pad, pad, pad};
        const int32_t k0 = step * kBlockK + chunk * 16;
        int32_t tap = k0 / c, ci = k0 - tap * c;
        int32_t kh = tap / kernelW, kw = tap - kh * kernelW;
        for (int j = 0; j < 16; ++j) {
          const int32_t h = h0[i] + kh * dilH, x = w0[i] + kw * dilW;
          if (pixelOk[i] && k0 + j < kTrue && h >= 0 && h < inH && x >= 0 && x < inW) {
            const uint32_t v = xImage[i][(int64_t{h} * inW + x) * c + ci];
            word[j >> 2] = (word[j >> 2] & ~(0xFFu << (8 * (j & 3)))) | (v << (8 * (j & 3)));
          }
          if (++ci == c) {
            ci = 0;
            if (++kw == kernelW) kw = 0, ++kh;
          }
        }
        *reinterpret_cast<uint4*>(dst) = make_uint4(word[0], word[1], word[2], word[3]);
      } else {
        const int32_t tap = step / chunksPerTap, c0 = (step - tap * chunksPerTap) * kBlockK;
        const int32_t kh = tap / kernelW, kw = tap - kh * kernelW;
        const int32_t h = h0[i] + kh * dilH, x = w0[i] + kw * dilW;
        if (pixelOk[i] && h >= 0 && h < inH && x >= 0 && x < inW)
          copyAsync16(sharedAddress(dst), xImage[i] + (int64_t{h} * inW + x) * c + c0 + chunk * 16);
        else
          *reinterpret_cast<uint4*>(dst) = make_uint4(pad, pad, pad, pad);
      }
    }
#pragma unroll
    for (int i = 0; i < kRowsB; ++i) {
      const int row = row0 + T::kRowsPerPass * i;
      const int32_t channel = channel0 + row;
      uint8_t* dst = tileW + tileOffset(row, chunk);
      if (channel < m)
        copyAsync16(sharedAddress(dst),
                    w + channel * kStride + int64_t{step} * kBlockK + chunk * 16);
      else
        *reinterpret_cast<uint4*>(dst) = make_uint4(0, 0, 0, 0);
    }
  };

  int32_t acc[4][4][4] = {};
  const int warpM = (warp % kWarpsM) * 64, warpN = (warp / kWarpsM) * 32;
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < steps) load(s, s);
    asm volatile("cp.async.commit_group;\n" ::);
  }
  for (int32_t step = 0; step < steps; ++step) {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(kStages - 2));
    __syncthreads();
    // The stage refilled here was read in the previous step, which every warp has finished.
    const int32_t next = step + kStages - 1;
    if (next < steps) load(next % kStages, next);
    asm volatile("cp.async.commit_group;\n" ::);
    const uint8_t* tileX = shared + (step % kStages) * T::kStageBytes;
    const uint8_t* tileW = tileX + T::kM * kBlockK;
#pragma unroll
    for (int ks = 0; ks < 2; ++ks) {
      uint32_t fa[4][4], fb[4][2];
#pragma unroll
      for (int mi = 0; mi < 4; ++mi) {
        const int row = warpM + mi * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
        ldmatrix4(fa[mi], sharedAddress(tileX + tileOffset(row, ks * 2 + (lane >> 4))));
      }
#pragma unroll
      for (int nj = 0; nj < 2; ++nj) {
        const int row = warpN + nj * 16 + (lane & 7) + (lane >> 4) * 8;
        uint32_t r[4];
        ldmatrix4(r, sharedAddress(tileW + tileOffset(row, ks * 2 + ((lane >> 3) & 1))));
        fb[2 * nj][0] = r[0], fb[2 * nj][1] = r[1];
        fb[2 * nj + 1][0] = r[2], fb[2 * nj + 1][1] = r[3];
      }
#pragma unroll
      for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni) mma<kSigned>(acc[mi][ni], fa[mi], fb[ni][0], fb[ni][1]);
    }
  }
  asm volatile("cp.async.wait_group 0;\n" ::);
  __syncthreads();  // the stages become the output tile

  // Requantized bytes into shared memory, then whole 16-byte pieces of pixel rows to y.
  const int32_t yZero = zeroPoint(a.outZeroPoint, a.outSigned);
  int32_t lo = a.outSigned ? -128 : 0;
  const int32_t hi = a.outSigned ? 127 : 255;
  if (a.relu) lo = lo > yZero ? lo : yZero;
#pragma unroll
  for (int ni = 0; ni < 4; ++ni) {
    const int col = warpN + ni * 8 + (lane & 3) * 2;
    const int32_t channel = channel0 + col;
    if (channel >= m) continue;  // m is a multiple of 8: channel + 1 < m too
    const float s0 = scale[channel], s1 = scale[channel + 1];
    const int32_t b0 = bias[channel], b1 = bias[channel + 1];
#pragma unroll
    for (int mi = 0; mi < 4; ++mi)
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int row = warpM + mi * 16 + (lane >> 2) + half * 8;
        const uint32_t q0 = requantize(acc[mi][ni][2 * half], s0, b0, yZero, lo, hi);
        const uint32_t q1 = requantize(acc[mi][ni][2 * half + 1], s1, b1, yZero, lo, hi);
        *reinterpret_cast<uint16_t*>(shared + row * T::kOutStride + col) =
            static_cast<uint16_t>(q0 | (q1 << 8));
      }
  }
  __syncthreads();
  auto* y = static_cast<uint8_t*>(a.y);
  constexpr int kPieces = T::kN / 16;
  for (int i = tid; i < T::kM * kPieces; i += T::kThreads) {
    const int row = i / kPieces, col = (i % kPieces) * 16;
    const int32_t p = pixel0 + row, channel = channel0 + col;
    if (p >= pixels || channel >= m) continue;
    const uint8_t* src = shared + row * T::kOutStride + col;
    uint8_t* dst = y + int64_t{p} * m + channel;
    if (m % 16 == 0) {
      *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(src);
    } else {
      const int count = m - channel < 16 ? m - channel : 16;  // m % 8 == 0: 8-byte pieces
      for (int j = 0; j < count; j += 8)
        *reinterpret_cast<uint2*>(dst + j) = *reinterpret_cast<const uint2*>(src + j);
    }
  }
}

template <bool kSigned, int kWarpsM, int kWarpsN, bool kGather>
cudaError_t launchNhwc(const QConvArgs& a, const int8_t* w, const float* scale, const int32_t* bias,
                       cudaStream_t stream) {
  using T = Tile<kWarpsM, kWarpsN>;
  auto kernel = qconvNhwcKernel<kSigned, kWarpsM, kWarpsN, kGather>;
  // Above 48 KiB a kernel must ask for its dynamic shared memory (a host-side setting of the
  // current device, allowed while a stream is captured).
  const cudaError_t opted =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, T::kSharedBytes);
  if (opted != cudaSuccess) return opted;
  const int64_t pixels = a.batch * a.outH * a.outW;
  const dim3 grid(static_cast<unsigned>((pixels + T::kM - 1) / T::kM),
                  static_cast<unsigned>((a.outChannels + T::kN - 1) / T::kN));
  kernel<<<grid, T::kThreads, T::kSharedBytes, stream>>>(a, w, scale, bias);
  return cudaGetLastError();
}

template <bool kSigned, bool kGather>
cudaError_t launchNhwc(const QConvArgs& a, const int8_t* w, const float* scale, const int32_t* bias,
                       cudaStream_t stream) {
  // The biggest tile that still gives every SM two blocks: fewer, larger blocks reload less,
  // but a layer of few pixels (7 x 7, 14 x 14) would leave most SMs idle.
  int device = 0, sms = 0;
  cudaError_t status = cudaGetDevice(&device);
  if (status == cudaSuccess)
    status = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  if (status != cudaSuccess) return status;
  const int64_t pixels = a.batch * a.outH * a.outW, m = a.outChannels;
  const auto blocks = [&](int64_t tileM, int64_t tileN) {
    return ((pixels + tileM - 1) / tileM) * ((m + tileN - 1) / tileN);
  };
  const int64_t enough = 2 * int64_t{sms};
  if (m <= 64 && blocks(256, 64) >= enough)
    return launchNhwc<kSigned, 4, 2, kGather>(a, w, scale, bias, stream);
  if (m > 64 && blocks(128, 128) >= enough)
    return launchNhwc<kSigned, 2, 4, kGather>(a, w, scale, bias, stream);
  if (blocks(128, 64) >= enough)
    return launchNhwc<kSigned, 2, 2, kGather>(a, w, scale, bias, stream);
  return launchNhwc<kSigned, 1, 2, kGather>(a, w, scale, bias, stream);
}

template <bool kSigned>
cudaError_t launchNhwc(const QConvArgs& a, const int8_t* w, const float* scale, const int32_t* bias,
                       cudaStream_t stream) {
  return a.inChannels % kBlockK != 0 ? launchNhwc<kSigned, true>(a, w, scale, bias, stream)
                                     : launchNhwc<kSigned, false>(a, w, scale, bias, stream);
}

// One block per output channel: its weights from [M][C][kH][kW] to [M][kH][kW][C] at stride
// kPad (zeros past K), and their sum.
__global__ void nhwcWeightsKernel(QConvArgs a, int64_t kPad, int8_t* reordered, int32_t* wsum) {
  __shared__ int32_t part[kHelperThreads / 32];
  const int64_t c = a.inChannels, taps = a.kernelH * a.kernelW, k = c * taps, m = blockIdx.x;
  const int8_t* src = static_cast<const int8_t*>(a.w) + m * k;
  int32_t s = 0;
  for (int64_t i = threadIdx.x; i < kPad; i += blockDim.x) {
    const int8_t v = i < k ? src[(i % c) * taps + i / c] : 0;
    reordered[m * kPad + i] = v;
    s += v;
  }
  for (int d = 16; d > 0; d /= 2) s += __shfl_down_sync(0xFFFFFFFFu, s, d);
  if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = s;
  __syncthreads();
  if (threadIdx.x == 0) {
    int32_t total = 0;
    for (int i = 0; i < kHelperThreads / 32; ++i) total += part[i];
    wsum[m] = total;
  }
}

// scale = x_scale * w_scale / y_scale in quant.cu's float order; bias = bias - zp * sum(w), the
// zero point as the tensor cores see x (unflipped uint8 or int8).
__global__ void nhwcParamsKernel(QConvArgs a, const int32_t* wsum, float* scale, int32_t* bias) {
  const int32_t xZero = zeroPoint(a.inZeroPoint, a.inSigned);
  for (int64_t ch = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; ch < a.outChannels;
       ch += int64_t{gridDim.x} * blockDim.x) {
    scale[ch] = __fdiv_rn(__fmul_rn(*a.inScale, a.wScale[a.wScaleCount > 1 ? ch : 0]), *a.outScale);
    bias[ch] = (a.bias ? a.bias[ch] : 0) - xZero * wsum[ch];
  }
}

// 32 x 32 tiles through shared memory: both sides coalesced.
__global__ void transpose8Kernel(const uint8_t* x, uint8_t* y, int32_t rows, int32_t cols) {
  __shared__ uint8_t tile[32][33];
  const int64_t plane = int64_t{rows} * cols, image = blockIdx.z;
  const int32_t r0 = blockIdx.y * 32, c0 = blockIdx.x * 32;
  for (int i = threadIdx.y; i < 32; i += blockDim.y)
    if (r0 + i < rows && c0 + threadIdx.x < cols)
      tile[i][threadIdx.x] = x[image * plane + int64_t{r0 + i} * cols + c0 + threadIdx.x];
  __syncthreads();
  for (int i = threadIdx.y; i < 32; i += blockDim.y)
    if (c0 + i < cols && r0 + threadIdx.x < rows)
      y[image * plane + int64_t{c0 + i} * rows + r0 + threadIdx.x] = tile[threadIdx.x][i];
}

// The same when one side has at most 4 elements (an image's 3 channels): a thread per element of
// the long side moves the few bytes across; the 32 x 32 tiles would stay nearly empty.
__global__ void transposeFewKernel(const uint8_t* x, uint8_t* y, int32_t rows, int32_t cols) {
  const int64_t plane = int64_t{rows} * cols, image = blockIdx.y;
  const uint8_t* src = x + image * plane;
  uint8_t* dst = y + image * plane;
  const int32_t along = rows <= 4 ? cols : rows, across = rows <= 4 ? rows : cols;
  for (int32_t j = blockIdx.x * blockDim.x + threadIdx.x; j < along; j += gridDim.x * blockDim.x)
    for (int32_t r = 0; r < across; ++r) {
      if (rows <= 4)
        dst[int64_t{j} * rows + r] = src[int64_t{r} * cols + j];  // y[j][r] = x[r][j]
      else
        dst[int64_t{r} * rows + j] = src[int64_t{j} * cols + r];  // y[r][j] = x[j][r]
    }
}

}  // namespace

bool qconvNhwcFits(const QConvArgs& a) {
  const int64_t pixels = a.batch * a.outH * a.outW;
  return a.group == 1 && a.outChannels % 8 == 0 && a.outChannels > 0 && pixels > 0 &&
         pixels < (int64_t{1} << 31) - 256 && paddedK(a) < (int64_t{1} << 31) &&
         a.inH * a.inW * a.inChannels < (int64_t{1} << 31) && (a.outChannels + 63) / 64 <= 65535;
}

int64_t qconvNhwcWeightBytes(const QConvArgs& a) { return a.outChannels * paddedK(a); }

cudaError_t qconvNhwcWeights(const QConvArgs& a, int8_t* reordered, int32_t* wsum,
                             cudaStream_t stream) {
  if (a.outChannels == 0) return cudaSuccess;
  nhwcWeightsKernel<<<static_cast<unsigned>(a.outChannels), kHelperThreads, 0, stream>>>(
      a, paddedK(a), reordered, wsum);
  return cudaGetLastError();
}

cudaError_t qconvNhwcParams(const QConvArgs& a, const int32_t* wsum, float* scale, int32_t* bias,
                            cudaStream_t stream) {
  if (a.outChannels == 0) return cudaSuccess;
  const int64_t blocks = (a.outChannels + kHelperThreads - 1) / kHelperThreads;
  nhwcParamsKernel<<<static_cast<unsigned>(blocks), kHelperThreads, 0, stream>>>(a, wsum, scale,
                                                                                 bias);
  return cudaGetLastError();
}

cudaError_t qconvNhwc(const QConvArgs& a, const int8_t* w, const float* scale, const int32_t* bias,
                      cudaStream_t stream) {
  if (!qconvNhwcFits(a)) return cudaErrorInvalidValue;
  return a.inSigned ? launchNhwc<true>(a, w, scale, bias, stream)
                    : launchNhwc<false>(a, w, scale, bias, stream);
}

cudaError_t transpose8(const void* x, void* y, int64_t images, int64_t rows, int64_t cols,
                       cudaStream_t stream) {
  if (images == 0 || rows == 0 || cols == 0) return cudaSuccess;
  if (images > 65535 || rows >= (int64_t{1} << 31) || cols >= (int64_t{1} << 31))
    return cudaErrorInvalidValue;
  if (rows <= 4 || cols <= 4) {
    const int64_t along = rows <= 4 ? cols : rows;
    const int64_t blocks = (along + 255) / 256;
    transposeFewKernel<<<dim3(static_cast<unsigned>(blocks < 4096 ? blocks : 4096),
                              static_cast<unsigned>(images)),
                         256, 0, stream>>>(static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y),
                                           static_cast<int32_t>(rows), static_cast<int32_t>(cols));
    return cudaGetLastError();
  }
  const dim3 grid(static_cast<unsigned>((cols + 31) / 32), static_cast<unsigned>((rows + 31) / 32),
                  static_cast<unsigned>(images));
  if (grid.y > 65535) return cudaErrorInvalidConfiguration;
  transpose8Kernel<<<grid, dim3(32, 8), 0, stream>>>(
      static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y), static_cast<int32_t>(rows),
      static_cast<int32_t>(cols));
  return cudaGetLastError();
}

}  // namespace kiln::cuda
