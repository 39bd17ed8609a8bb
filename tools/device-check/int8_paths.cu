// On the GPU machine (run-on-gpu.sh int8 builds and runs it): the three ways cuda_int8.cc can
// run a QLinearConv of one group, on resnet50's convolution shapes at batch 64 with random
// data: the dp4a implicit GEMM (which cuda-int8.mjs holds to the cpu's bytes), and the
// tensor-core path (int8 im2col, cuBLAS int8 GEMM, requantization) with the int32 sums by
// output channel or by pixel. Checks that both tensor-core layouts write the dp4a kernel's
// bytes exactly and prints the time of each piece (CUDA events, mean of 4 runs after 2).
// Exit status 1 when any output differs or a call fails.
#include <cublas_v2.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "kernels/cuda/cuda_kernels.h"

using kiln::cuda::QConvArgs;

namespace {

struct Shape {
  int c, h, m, k, s, p, count;  // in channels, in size, out channels, kernel, stride, pad, uses
};

// resnet50's convolutions (and its fully connected layer as a 1x1 on 1x1 images).
const Shape kShapes[] = {
    {3, 224, 64, 7, 2, 3, 1},    {64, 56, 64, 1, 1, 0, 1},    {256, 56, 64, 1, 1, 0, 2},
    {64, 56, 64, 3, 1, 1, 3},    {64, 56, 256, 1, 1, 0, 4},   {256, 56, 128, 1, 1, 0, 1},
    {128, 56, 128, 3, 2, 1, 1},  {128, 28, 512, 1, 1, 0, 4},  {256, 56, 512, 1, 2, 0, 1},
    {512, 28, 128, 1, 1, 0, 3},  {128, 28, 128, 3, 1, 1, 3},  {512, 28, 256, 1, 1, 0, 1},
    {256, 28, 256, 3, 2, 1, 1},  {256, 14, 1024, 1, 1, 0, 6}, {512, 28, 1024, 1, 2, 0, 1},
    {1024, 14, 256, 1, 1, 0, 5}, {256, 14, 256, 3, 1, 1, 5},  {1024, 14, 512, 1, 1, 0, 1},
    {512, 14, 512, 3, 2, 1, 1},  {512, 7, 2048, 1, 1, 0, 3},  {1024, 14, 2048, 1, 2, 0, 1},
    {2048, 7, 512, 1, 1, 0, 2},  {512, 7, 512, 3, 1, 1, 2},   {2048, 1, 1000, 1, 1, 0, 1}};

__global__ void fillKernel(uint8_t* p, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n;
       i += size_t{gridDim.x} * blockDim.x) {
    uint32_t v = static_cast<uint32_t>(i) * 2654435761u ^ seed;
    v ^= v >> 15;
    v *= 2246822519u;
    p[i] = static_cast<uint8_t>(v >> 13);
  }
}

bool ok(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return true;
  std::printf("FAIL %s: %s\n", what, cudaGetErrorString(e));
  return false;
}

bool ok(cublasStatus_t e, const char* what) {
  if (e == CUBLAS_STATUS_SUCCESS) return true;
  std::printf("FAIL %s: cuBLAS status %d\n", what, static_cast<int>(e));
  return false;
}

}  // namespace

int main() {
  cublasHandle_t blas;
  cudaStream_t st;
  if (!ok(cublasCreate(&blas), "cublasCreate") || !ok(cudaStreamCreate(&st), "stream")) return 1;
  cublasSetStream(blas, st);
  const size_t cap = size_t{3} << 30;
  char* buf = nullptr;
  float* params = nullptr;
  if (!ok(cudaMalloc(&buf, cap), "malloc") || !ok(cudaMalloc(&params, 64), "malloc")) return 1;
  cudaEvent_t ev[5];
  for (auto& e : ev) cudaEventCreate(&e);
  double total[4] = {};
  int failures = 0;
  std::printf(
      "layer (C H M k s) x uses: us per layer: dp4a | weight sums, im2col | GEMM + requant "
      "by channel | by pixel\n");
  for (const Shape& s : kShapes) {
    const int64_t batch = 64, out = (s.h + 2 * s.p - s.k) / s.s + 1, ncols = batch * out * out;
    const int64_t k = int64_t{s.c} * s.k * s.k, kPad = (k + 15) / 16 * 16;
    // x_scale 1, w_scale spreading the sums over ~40 steps, y_scale 1; zero points 3 and 100.
    const float host[3] = {1.0f, 40.0f / (5476.0f * std::sqrt(static_cast<float>(k))), 1.0f};
    const uint8_t zeros[2] = {3, 100};
    cudaMemcpy(params, host, sizeof host, cudaMemcpyHostToDevice);
    cudaMemcpy(params + 4, zeros, 2, cudaMemcpyHostToDevice);
    char* p = buf;
    auto take = [&](int64_t bytes) {
      char* r = p;
      p += (bytes + 255) / 256 * 256;
      return r;
    };
    QConvArgs a;
    a.batch = batch, a.inChannels = s.c, a.inH = a.inW = s.h, a.outChannels = s.m;
    a.outH = a.outW = out, a.kernelH = a.kernelW = s.k, a.strideH = a.strideW = s.s;
    a.padTop = a.padLeft = s.p;
    a.inScale = params, a.wScale = params + 1, a.outScale = params + 2;
    a.inZeroPoint = params + 4, a.outZeroPoint = reinterpret_cast<uint8_t*>(params + 4) + 1;
    a.relu = true;
    const int64_t xBytes = batch * s.c * s.h * s.h, yBytes = ncols * s.m;
    a.x = take(xBytes);
    a.w = take(s.m * k);
    uint8_t* y[3];  // dp4a, by channel, by pixel
    for (auto& o : y) o = reinterpret_cast<uint8_t*>(take(yBytes));
    auto* cols = reinterpret_cast<int8_t*>(take(ncols * kPad));
    auto* padded = reinterpret_cast<int8_t*>(take(s.m * kPad));
    auto* wsum = reinterpret_cast<int32_t*>(take(4 * s.m));
    auto* sums = reinterpret_cast<int32_t*>(take(4 * ncols * s.m));
    if (p > buf + cap) return std::printf("FAIL scratch too small\n"), 1;
    fillKernel<<<1024, 256, 0, st>>>(static_cast<uint8_t*>(const_cast<void*>(a.x)), xBytes, 1);
    fillKernel<<<1024, 256, 0, st>>>(static_cast<uint8_t*>(const_cast<void*>(a.w)), s.m * k, 2);
    const int32_t one = 1, zero = 0;
    const int kk = static_cast<int>(kPad), nc = static_cast<int>(ncols);
    float t[4] = {};  // dp4a, weight sums + im2col, GEMM + requant by channel, by pixel
    for (int rep = 0; rep < 6; ++rep) {
      bool good = ok(cudaEventRecord(ev[0], st), "event");
      a.y = y[0];
      good = good && ok(kiln::cuda::qconv2d(a, st), "dp4a");
      cudaEventRecord(ev[1], st);
      good = good && ok(kiln::cuda::qconvWeightSums(a, kPad, padded, wsum, st), "weight sums") &&
             ok(kiln::cuda::qconvIm2col(a, kPad, cols, st), "im2col");
      cudaEventRecord(ev[2], st);
      a.y = y[1];
      good = good &&
             ok(cublasGemmEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, nc, s.m, kk, &one, cols, CUDA_R_8I, kk,
                             padded, CUDA_R_8I, kk, &zero, sums, CUDA_R_32I, nc, CUBLAS_COMPUTE_32I,
                             CUBLAS_GEMM_DEFAULT),
                "GEMM by channel") &&
             ok(kiln::cuda::qconvRequantize(a, sums, wsum, false, st), "requantize by channel");
      cudaEventRecord(ev[3], st);
      a.y = y[2];
      good = good &&
             ok(cublasGemmEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, s.m, nc, kk, &one, padded, CUDA_R_8I,
                             kk, cols, CUDA_R_8I, kk, &zero, sums, CUDA_R_32I, s.m,
                             CUBLAS_COMPUTE_32I, CUBLAS_GEMM_DEFAULT),
                "GEMM by pixel") &&
             ok(kiln::cuda::qconvRequantize(a, sums, wsum, true, st), "requantize by pixel");
      cudaEventRecord(ev[4], st);
      if (!good || !ok(cudaStreamSynchronize(st), "run")) return 1;
      for (int i = 0; rep >= 2 && i < 4; ++i) {
        float ms = 0;
        cudaEventElapsedTime(&ms, ev[i], ev[i + 1]);
        t[i] += ms * 1000 / 4;
      }
    }
    std::vector<uint8_t> host0(yBytes), host1(yBytes);
    cudaMemcpy(host0.data(), y[0], yBytes, cudaMemcpyDeviceToHost);
    int distinct[256] = {};
    for (uint8_t v : host0) distinct[v] = 1;
    int values = 0;
    for (int v : distinct) values += v;
    const char* verdict = values < 8 ? "FAIL (too few distinct values)" : "ok";
    for (int i = 1; i < 3; ++i) {
      cudaMemcpy(host1.data(), y[i], yBytes, cudaMemcpyDeviceToHost);
      if (std::memcmp(host0.data(), host1.data(), yBytes) != 0) verdict = "FAIL (bytes differ)";
    }
    if (verdict[0] == 'F') ++failures;
    std::printf("%s %4d %3d %4d %d %d x%d: %8.0f | %6.0f | %6.0f | %6.0f  (%d values)\n", verdict,
                s.c, s.h, s.m, s.k, s.s, s.count, t[0], t[1], t[2], t[3], values);
    for (int i = 0; i < 4; ++i) total[i] += t[i] * s.count;
  }
  std::printf(
      "resnet50 total (us): dp4a %.0f, weight sums + im2col %.0f, by channel %.0f, by "
      "pixel %.0f\n",
      total[0], total[1], total[2], total[3]);
  std::printf("%s\n", failures ? "int8_paths: FAILED" : "int8_paths: all outputs equal");
  return failures ? 1 : 0;
}
