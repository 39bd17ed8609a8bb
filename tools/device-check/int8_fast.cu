// On the GPU machine: issue 12's probe for a fast INT8 convolution, on resnet50's convolution
// shapes at batch 64 with random data (like int8_paths.cu). Per shape it times
//   old:   the engine's tensor-core path (int8 im2col, cuBLAS int8 GEMM, requantization),
//   nhwc:  qconv_nhwc.cu (NHWC implicit GEMM on mma.sync with the requantization in registers),
//   dnn8:  cuDNN's graph API on int8 NHWC x and w, int32 compute, then + bias, * per-channel
//          scale, Relu, int8 y (a fused requantizing convolution, if cuDNN has an engine),
//   dnnU8: the same with uint8 x (zero point 0) and uint8 y (+ zero point 100, Relu from 100),
//   fp16:  cuDNN's graph API on half NHWC x and w, + bias, Relu (what FP16 engines run),
// and checks nhwc's bytes against the dp4a kernel (qconv2d, the engine's bit-exact reference)
// and dnn8's against qconv2d on the same signed data, counting the values that differ and by how
// many steps. CUDA events, mean of 10 runs after 2; graph candidates: the heuristics' first 4.
// nhwc also runs on signed data (x and y int8, zero points 0) against qconv2d; the stem (C = 3)
// takes its byte-gathering variant. Usage: int8_fast [skip-fp16]. Exit status 1 when nhwc
// differs from the reference anywhere.
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cudnn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/cuda/cuda_kernels.h"

using kiln::cuda::QConvArgs;

namespace {

struct Shape {
  int c, h, m, k, s, p, count;  // in channels, in size, out channels, kernel, stride, pad, uses
};

const Shape kShapes[] = {
    {3, 224, 64, 7, 2, 3, 1},    {64, 56, 64, 1, 1, 0, 1},    {256, 56, 64, 1, 1, 0, 2},
    {64, 56, 64, 3, 1, 1, 3},    {64, 56, 256, 1, 1, 0, 4},   {256, 56, 128, 1, 1, 0, 1},
    {128, 56, 128, 3, 2, 1, 1},  {128, 28, 512, 1, 1, 0, 4},  {256, 56, 512, 1, 2, 0, 1},
    {512, 28, 128, 1, 1, 0, 3},  {128, 28, 128, 3, 1, 1, 3},  {512, 28, 256, 1, 1, 0, 1},
    {256, 28, 256, 3, 2, 1, 1},  {256, 14, 1024, 1, 1, 0, 6}, {512, 28, 1024, 1, 2, 0, 1},
    {1024, 14, 256, 1, 1, 0, 5}, {256, 14, 256, 3, 1, 1, 5},  {1024, 14, 512, 1, 1, 0, 1},
    {512, 14, 512, 3, 2, 1, 1},  {512, 7, 2048, 1, 1, 0, 3},  {1024, 14, 2048, 1, 2, 0, 1},
    {2048, 7, 512, 1, 1, 0, 2},  {512, 7, 512, 3, 1, 1, 2},   {2048, 1, 1000, 1, 1, 0, 1}};

constexpr int kBatch = 64, kCandidates = 4, kRuns = 10;
constexpr float kYZero = 100.0f;  // the uint8 cuDNN graph's output zero point

__global__ void fillKernel(uint8_t* p, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n;
       i += size_t{gridDim.x} * blockDim.x) {
    uint32_t v = static_cast<uint32_t>(i) * 2654435761u ^ seed;
    v ^= v >> 15;
    v *= 2246822519u;
    p[i] = static_cast<uint8_t>(v >> 13);
  }
}

__global__ void toHalfKernel(const uint8_t* x, __half* y, size_t n) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n;
       i += size_t{gridDim.x} * blockDim.x)
    y[i] = __float2half((static_cast<int>(x[i]) - 128) / 64.0f);
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

// ---- cuDNN's graph API, as cuda_conv_graph.cc builds it, with the data types as parameters.
struct Dnn {
  std::vector<cudnnBackendDescriptor_t> all;
  bool failed = false;
  cudnnStatus_t last = CUDNN_STATUS_SUCCESS;
  ~Dnn() {
    for (auto it = all.rbegin(); it != all.rend(); ++it) cudnnBackendDestroyDescriptor(*it);
  }
  void check(cudnnStatus_t s) {
    if (s != CUDNN_STATUS_SUCCESS && !failed) failed = true, last = s;
  }
  cudnnBackendDescriptor_t make(cudnnBackendDescriptorType_t t) {
    cudnnBackendDescriptor_t d = nullptr;
    check(cudnnBackendCreateDescriptor(t, &d));
    if (d) all.push_back(d);
    return d;
  }
  template <typename T>
  void set(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t n, cudnnBackendAttributeType_t t,
           const T* v, int64_t count = 1) {
    if (!failed) check(cudnnBackendSetAttribute(d, n, t, count, v));
  }
  void setDesc(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t n,
               cudnnBackendDescriptor_t v) {
    set(d, n, CUDNN_TYPE_BACKEND_DESCRIPTOR, &v);
  }
  void finalize(cudnnBackendDescriptor_t d) {
    if (!failed) check(cudnnBackendFinalize(d));
  }
  // dims [n, c, h, w] stored NHWC
  cudnnBackendDescriptor_t tensor(int64_t uid, cudnnDataType_t type, int64_t n, int64_t c,
                                  int64_t h, int64_t w, bool isVirtual) {
    auto d = make(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
    const int64_t dims[4] = {n, c, h, w}, strides[4] = {c * h * w, 1, w * c, c};
    const int64_t alignment = 16;
    set(d, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, &type);
    set(d, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, dims, 4);
    set(d, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, strides, 4);
    set(d, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, &uid);
    set(d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, &alignment);
    set(d, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, &isVirtual);
    finalize(d);
    return d;
  }
  cudnnBackendDescriptor_t pointwise(cudnnPointwiseMode_t mode, cudnnBackendDescriptor_t x,
                                     cudnnBackendDescriptor_t b, cudnnBackendDescriptor_t y,
                                     double reluFloor = 0) {
    auto pw = make(CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
    const cudnnDataType_t prec = CUDNN_DATA_FLOAT;
    set(pw, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, &mode);
    set(pw, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, &prec);
    if (mode == CUDNN_POINTWISE_RELU_FWD && reluFloor != 0)
      set(pw, CUDNN_ATTR_POINTWISE_RELU_LOWER_CLIP, CUDNN_TYPE_DOUBLE, &reluFloor);
    finalize(pw);
    auto op = make(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
    setDesc(op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, pw);
    setDesc(op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x);
    if (b) setDesc(op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, b);
    setDesc(op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y);
    finalize(op);
    return op;
  }
};

enum Uid : int64_t { kX = 1, kW, kBias, kScale, kY, kZero, kVirtual = 100 };

struct GraphKind {
  const char* name;
  cudnnDataType_t x, w, y, compute, accumulator;
  bool scale;            // 8-bit: * per-channel scale after the bias
  bool zero = false;     // then + the output zero point (a [1,1,1,1] float tensor)
  double reluFloor = 0;  // Relu's lower clip (the output zero point)
};

struct GraphResult {
  int configs = -1, finalized = 0, ran = 0;
  float ms = -1;
  double buildSeconds = 0;
  cudnnStatus_t status = CUDNN_STATUS_SUCCESS;
};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
// Builds conv -> + bias -> (* scale) -> relu -> y, times the first kCandidates engine
// configurations and leaves the fastest one's output in y.
GraphResult timeGraph(cudnnHandle_t handle, cudaStream_t st, const GraphKind& kind, const Shape& s,
                      int out, void* x, void* w, void* bias, void* scale, void* y, void* workspace,
                      size_t workspaceBytes, cudaEvent_t* ev, void* zero = nullptr) {
  const auto started = std::chrono::steady_clock::now();
  GraphResult r;
  Dnn d;
  auto tx = d.tensor(kX, kind.x, kBatch, s.c, s.h, s.h, false);
  auto tw = d.tensor(kW, kind.w, s.m, s.c, s.k, s.k, false);
  auto ty = d.tensor(kY, kind.y, kBatch, s.m, out, out, false);
  const cudnnDataType_t paramType = kind.x == CUDNN_DATA_HALF ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
  auto tb = d.tensor(kBias, paramType, 1, s.m, 1, 1, false);
  auto ts = kind.scale ? d.tensor(kScale, CUDNN_DATA_FLOAT, 1, s.m, 1, 1, false) : nullptr;
  int64_t nextVirtual = kVirtual;
  auto acc = d.tensor(nextVirtual++, kind.accumulator, kBatch, s.m, out, out, true);
  auto conv = d.make(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  const int64_t spatial = 2, one[2] = {1, 1}, stride[2] = {s.s, s.s}, pad[2] = {s.p, s.p};
  d.set(conv, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, &kind.compute);
  d.set(conv, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, &mode);
  d.set(conv, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, &spatial);
  d.set(conv, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, one, 2);
  d.set(conv, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, stride, 2);
  d.set(conv, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, pad, 2);
  d.set(conv, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, pad, 2);
  d.finalize(conv);
  std::vector<cudnnBackendDescriptor_t> ops;
  auto convOp = d.make(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR);
  const float alpha = 1.0f, beta = 0.0f;
  d.setDesc(convOp, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, tx);
  d.setDesc(convOp, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, tw);
  d.setDesc(convOp, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, acc);
  d.setDesc(convOp, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, conv);
  d.set(convOp, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, &alpha);
  d.set(convOp, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, &beta);
  d.finalize(convOp);
  ops.push_back(convOp);
  auto mid = d.tensor(nextVirtual++, CUDNN_DATA_FLOAT, kBatch, s.m, out, out, true);
  ops.push_back(d.pointwise(CUDNN_POINTWISE_ADD, acc, tb, mid));
  if (ts) {
    auto scaled = d.tensor(nextVirtual++, CUDNN_DATA_FLOAT, kBatch, s.m, out, out, true);
    ops.push_back(d.pointwise(CUDNN_POINTWISE_MUL, mid, ts, scaled));
    mid = scaled;
  }
  if (kind.zero) {
    auto shifted = d.tensor(nextVirtual++, CUDNN_DATA_FLOAT, kBatch, s.m, out, out, true);
    ops.push_back(d.pointwise(CUDNN_POINTWISE_ADD, mid,
                              d.tensor(kZero, CUDNN_DATA_FLOAT, 1, 1, 1, 1, false), shifted));
    mid = shifted;
  }
  ops.push_back(d.pointwise(CUDNN_POINTWISE_RELU_FWD, mid, nullptr, ty, kind.reluFloor));
  auto graph = d.make(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  d.set(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, ops.data(),
        static_cast<int64_t>(ops.size()));
  d.set(graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, &handle);
  d.finalize(graph);
  auto heur = d.make(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
  const cudnnBackendHeurMode_t hm = CUDNN_HEUR_MODE_A;
  d.setDesc(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph);
  d.set(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, &hm);
  d.finalize(heur);
  int64_t count = 0;
  if (!d.failed)
    d.check(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                     CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, nullptr));
  if (d.failed) {
    r.status = d.last;
    return r;
  }
  std::vector<cudnnBackendDescriptor_t> configs;
  for (int64_t i = 0; i < count; ++i) configs.push_back(d.make(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR));
  int64_t got = 0;
  d.check(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                   CUDNN_TYPE_BACKEND_DESCRIPTOR, count, &got, configs.data()));
  r.configs = static_cast<int>(got);
  cudnnBackendDescriptor_t bestPlan = nullptr;
  void* ptrs[6] = {x, w, y, bias, scale, zero};
  int64_t uids[6] = {kX, kW, kY, kBias, kScale, kZero};
  const int64_t nptr = kind.zero ? 6 : kind.scale ? 5 : 4;
  for (int64_t i = 0; i < got && i < kCandidates; ++i) {
    cudnnBackendDescriptor_t plan = nullptr;
    if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &plan) !=
        CUDNN_STATUS_SUCCESS)
      continue;
    d.all.push_back(plan);
    cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle);
    cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG,
                             CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &configs[i]);
    const cudnnStatus_t fin = cudnnBackendFinalize(plan);
    if (fin != CUDNN_STATUS_SUCCESS) {
      r.status = fin;
      continue;
    }
    int64_t wsBytes = 0, n = 0;
    cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1,
                             &n, &wsBytes);
    if (static_cast<size_t>(wsBytes) > workspaceBytes) continue;
    ++r.finalized;
    cudnnBackendDescriptor_t pack = nullptr;
    cudnnBackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &pack);
    cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, nptr,
                             uids);
    cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, nptr,
                             ptrs);
    cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1,
                             &workspace);
    cudnnStatus_t st2 = cudnnBackendFinalize(pack);
    for (int rep = 0; rep < 2 && st2 == CUDNN_STATUS_SUCCESS; ++rep)
      st2 = cudnnBackendExecute(handle, plan, pack);
    float ms = -1;
    if (st2 == CUDNN_STATUS_SUCCESS) {
      cudaEventRecord(ev[0], st);
      for (int rep = 0; rep < kRuns && st2 == CUDNN_STATUS_SUCCESS; ++rep)
        st2 = cudnnBackendExecute(handle, plan, pack);
      cudaEventRecord(ev[1], st);
      if (st2 == CUDNN_STATUS_SUCCESS && cudaEventSynchronize(ev[1]) == cudaSuccess) {
        cudaEventElapsedTime(&ms, ev[0], ev[1]);
        ms /= kRuns;
      }
    }
    cudaGetLastError();
    if (st2 != CUDNN_STATUS_SUCCESS) r.status = st2;
    if (ms > 0) {
      ++r.ran;
      if (r.ms < 0 || ms < r.ms) r.ms = ms, bestPlan = plan;
    }
    cudnnBackendDestroyDescriptor(pack);
  }
  if (bestPlan) {  // leave the fastest plan's output in y
    cudnnBackendDescriptor_t pack = nullptr;
    cudnnBackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &pack);
    cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, nptr,
                             uids);
    cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, nptr,
                             ptrs);
    cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1,
                             &workspace);
    cudnnBackendFinalize(pack);
    cudnnBackendExecute(handle, bestPlan, pack);
    cudaStreamSynchronize(st);
    cudnnBackendDestroyDescriptor(pack);
  }
  r.buildSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return r;
}
#pragma GCC diagnostic pop

// Values of a (NCHW) and b (NHWC, transposed to NCHW into `scratch` first) that differ, and the
// largest difference in steps; isSigned reads bytes as int8.
struct Diff {
  size_t count = 0;
  int most = 0;
};
Diff compare(const uint8_t* refNchw, const uint8_t* nhwc, uint8_t* scratch, int channels,
             int64_t plane, size_t bytes, bool isSigned, cudaStream_t st) {
  kiln::cuda::transpose8(nhwc, scratch, kBatch, plane, channels, st);
  std::vector<uint8_t> a(bytes), b(bytes);
  cudaMemcpyAsync(a.data(), refNchw, bytes, cudaMemcpyDeviceToHost, st);
  cudaMemcpyAsync(b.data(), scratch, bytes, cudaMemcpyDeviceToHost, st);
  cudaStreamSynchronize(st);
  Diff d;
  for (size_t i = 0; i < bytes; ++i) {
    if (a[i] == b[i]) continue;
    ++d.count;
    const int va = isSigned ? static_cast<int8_t>(a[i]) : a[i];
    const int vb = isSigned ? static_cast<int8_t>(b[i]) : b[i];
    d.most = std::max(d.most, std::abs(va - vb));
  }
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  const bool fp16 = !(argc > 1 && std::strcmp(argv[1], "skip-fp16") == 0);
  cublasHandle_t blas;
  cudnnHandle_t dnn;
  cudaStream_t st;
  if (!ok(cublasCreate(&blas), "cublasCreate") || !ok(cudaStreamCreate(&st), "stream")) return 1;
  if (cudnnCreate(&dnn) != CUDNN_STATUS_SUCCESS) return std::printf("FAIL cudnnCreate\n"), 1;
  cublasSetStream(blas, st);
  cudnnSetStream(dnn, st);
  std::printf("cuDNN %zu, cuBLAS handle ok\n", cudnnGetVersion());
  const size_t cap = size_t{6} << 30, wsCap = size_t{512} << 20;
  char* buf = nullptr;
  void* workspace = nullptr;
  float* params = nullptr;
  if (!ok(cudaMalloc(&buf, cap), "malloc") || !ok(cudaMalloc(&params, 64), "malloc") ||
      !ok(cudaMalloc(&workspace, wsCap), "malloc"))
    return 1;
  cudaEvent_t ev[4];
  for (auto& e : ev) cudaEventCreate(&e);
  double total[4] = {};  // old, nhwc (old where it does not fit), dnn8, fp16
  bool dnn8Complete = true, fp16Complete = true;
  int failures = 0;
  const auto started = std::chrono::steady_clock::now();
  std::printf(
      "C H M k s x uses: us per layer: old | nhwc | dnn8 (configs/finalized/ran, build s) | fp16 | "
      "nhwc vs dp4a: values differ | dnn8 vs dp4a: differ (max steps)\n");
  for (const Shape& s : kShapes) {
    const int64_t out = (s.h + 2 * s.p - s.k) / s.s + 1, plane = out * out, ncols = kBatch * plane;
    const int64_t k = int64_t{s.c} * s.k * s.k, kPad = (k + 15) / 16 * 16;
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
    const int64_t xBytes = int64_t{kBatch} * s.c * s.h * s.h, yBytes = ncols * s.m;
    auto* xNhwc = reinterpret_cast<uint8_t*>(take(xBytes));
    auto* xNchw = reinterpret_cast<uint8_t*>(take(xBytes));
    auto* w = reinterpret_cast<int8_t*>(take(s.m * k));
    QConvArgs geometry;
    geometry.inChannels = s.c, geometry.outChannels = s.m,
    geometry.kernelH = geometry.kernelW = s.k;
    auto* wKrsc = reinterpret_cast<int8_t*>(take(kiln::cuda::qconvNhwcWeightBytes(geometry)));
    auto* bias = reinterpret_cast<int32_t*>(take(4 * s.m));
    auto* wsum = reinterpret_cast<int32_t*>(take(4 * s.m));
    auto* chScale = reinterpret_cast<float*>(take(4 * s.m));
    auto* chBias = reinterpret_cast<int32_t*>(take(4 * s.m));
    auto* fBias = reinterpret_cast<float*>(take(4 * s.m));
    auto* padded = reinterpret_cast<int8_t*>(take(s.m * kPad));
    auto* wsumOld = reinterpret_cast<int32_t*>(take(4 * s.m));
    auto* cols = reinterpret_cast<int8_t*>(take(ncols * kPad));
    auto* sums = reinterpret_cast<int32_t*>(take(4 * ncols * s.m));
    uint8_t* y[5];  // dp4a reference, old, nhwc, transposed scratch, dnn8
    for (auto& o : y) o = reinterpret_cast<uint8_t*>(take(yBytes));
    auto* xHalf = reinterpret_cast<__half*>(take(2 * xBytes));
    auto* wHalf = reinterpret_cast<__half*>(take(2 * s.m * k));
    auto* bHalf = reinterpret_cast<__half*>(take(2 * s.m));
    auto* yHalf = reinterpret_cast<__half*>(take(2 * yBytes));
    if (p > buf + cap) return std::printf("FAIL scratch too small\n"), 1;
    fillKernel<<<1024, 256, 0, st>>>(xNhwc, xBytes, 1);
    fillKernel<<<1024, 256, 0, st>>>(reinterpret_cast<uint8_t*>(w), s.m * k, 2);
    fillKernel<<<64, 256, 0, st>>>(reinterpret_cast<uint8_t*>(bias), 4 * s.m, 3);
    kiln::cuda::transpose8(xNhwc, xNchw, kBatch, int64_t{s.h} * s.h, s.c, st);
    // Biases within +-2^13 (the fill is random bytes): shifts of a few steps.
    std::vector<int32_t> hb(s.m);
    cudaMemcpy(hb.data(), bias, 4 * s.m, cudaMemcpyDeviceToHost);
    std::vector<float> hf(s.m);
    for (int i = 0; i < s.m; ++i) hb[i] = (hb[i] % 16384) - 8192, hf[i] = static_cast<float>(hb[i]);
    cudaMemcpy(bias, hb.data(), 4 * s.m, cudaMemcpyHostToDevice);
    cudaMemcpy(fBias, hf.data(), 4 * s.m, cudaMemcpyHostToDevice);

    QConvArgs a;
    a.batch = kBatch, a.inChannels = s.c, a.inH = a.inW = s.h, a.outChannels = s.m;
    a.outH = a.outW = out, a.kernelH = a.kernelW = s.k, a.strideH = a.strideW = s.s;
    a.padTop = a.padLeft = s.p;
    a.inScale = params, a.wScale = params + 1, a.outScale = params + 2;
    a.inZeroPoint = params + 4, a.outZeroPoint = reinterpret_cast<uint8_t*>(params + 4) + 1;
    a.relu = true, a.bias = bias, a.w = w;
    // The reference: dp4a on NCHW.
    a.x = xNchw, a.y = y[0];
    bool good = ok(kiln::cuda::qconv2d(a, st), "dp4a");
    // Old path and nhwc, timed.
    const int32_t one = 1, zero = 0;
    const int kk = static_cast<int>(kPad), nc = static_cast<int>(ncols);
    good = good && ok(kiln::cuda::qconvWeightSums(a, kPad, padded, wsumOld, st), "weight sums");
    QConvArgs n = a;
    n.x = xNhwc, n.y = y[2];
    const bool fits = kiln::cuda::qconvNhwcFits(n);
    good = good && ok(kiln::cuda::qconvNhwcWeights(a, wKrsc, wsum, st), "nhwc weights") &&
           ok(kiln::cuda::qconvNhwcParams(n, wsum, chScale, chBias, st), "nhwc params");
    float t[2] = {};
    for (int rep = 0; good && rep < kRuns + 2; ++rep) {
      cudaEventRecord(ev[0], st);
      a.x = xNchw, a.y = y[1];
      good = good && ok(kiln::cuda::qconvIm2col(a, kPad, cols, st), "im2col") &&
             ok(cublasGemmEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, nc, s.m, kk, &one, cols, CUDA_R_8I, kk,
                             padded, CUDA_R_8I, kk, &zero, sums, CUDA_R_32I, nc, CUBLAS_COMPUTE_32I,
                             CUBLAS_GEMM_DEFAULT),
                "GEMM") &&
             ok(kiln::cuda::qconvRequantize(a, sums, wsumOld, false, st), "requantize");
      cudaEventRecord(ev[1], st);
      if (fits) good = good && ok(kiln::cuda::qconvNhwc(n, wKrsc, chScale, chBias, st), "nhwc");
      cudaEventRecord(ev[2], st);
      if (!good || !ok(cudaStreamSynchronize(st), "run")) return 1;
      for (int i = 0; rep >= 2 && i < 2; ++i) {
        float ms = 0;
        cudaEventElapsedTime(&ms, ev[i], ev[i + 1]);
        t[i] += ms * 1000 / kRuns;
      }
    }
    if (!good) return 1;
    Diff nd;
    if (fits) nd = compare(y[0], y[2], y[3], s.m, plane, yBytes, false, st);
    if (fits && nd.count > 0) ++failures;

    // cuDNN int8: signed x with zero point 0 (cuDNN pads with zeros), y int8 with zero point 0.
    QConvArgs sa = a;
    sa.x = xNchw, sa.y = y[0], sa.inSigned = true, sa.outSigned = true;
    sa.inZeroPoint = nullptr, sa.outZeroPoint = nullptr;
    good = ok(kiln::cuda::qconv2d(sa, st), "dp4a signed");
    good = good && ok(kiln::cuda::qconvNhwcParams(sa, wsum, chScale, chBias, st), "params");
    // nhwc on the same signed data (mma .s8.s8).
    QConvArgs sn = sa;
    sn.x = xNhwc, sn.y = y[2];
    good = good && ok(kiln::cuda::qconvNhwc(sn, wKrsc, chScale, chBias, st), "nhwc signed");
    if (!good || !ok(cudaStreamSynchronize(st), "run")) return 1;
    const Diff sd = compare(y[0], y[2], y[3], s.m, plane, yBytes, true, st);
    if (sd.count > 0) ++failures;
    GraphResult g8, gu;
    Diff dd, du;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (elapsed < 120 && s.c % 64 == 0) {  // (the stem's weights are padded for nhwc)
      const GraphKind int8Kind{"int8",
                               CUDNN_DATA_INT8,
                               CUDNN_DATA_INT8,
                               CUDNN_DATA_INT8,
                               CUDNN_DATA_INT32,
                               CUDNN_DATA_FLOAT,
                               true};
      g8 = timeGraph(dnn, st, int8Kind, s, static_cast<int>(out), xNhwc, wKrsc, fBias, chScale,
                     y[4], workspace, wsCap, ev);
      if (g8.configs == 0 || (g8.configs < 0 && g8.status != CUDNN_STATUS_SUCCESS)) {
        // Retry with an int32 accumulator tensor.
        const GraphKind k32{"int8/i32",
                            CUDNN_DATA_INT8,
                            CUDNN_DATA_INT8,
                            CUDNN_DATA_INT8,
                            CUDNN_DATA_INT32,
                            CUDNN_DATA_INT32,
                            true};
        g8 = timeGraph(dnn, st, k32, s, static_cast<int>(out), xNhwc, wKrsc, fBias, chScale, y[4],
                       workspace, wsCap, ev);
      }
      if (g8.ms > 0) dd = compare(y[0], y[4], y[3], s.m, plane, yBytes, true, st);
      // uint8 x (zero point 0: cuDNN's zero padding is exact) and uint8 y with zero point 100:
      // + 100 and Relu clipped at 100 before cuDNN's conversion.
      QConvArgs ua = a;
      ua.x = xNchw, ua.y = y[0], ua.inZeroPoint = nullptr;
      good = ok(kiln::cuda::qconv2d(ua, st), "dp4a unsigned") &&
             ok(kiln::cuda::qconvNhwcParams(ua, wsum, chScale, chBias, st), "params") &&
             ok(cudaMemcpyAsync(params + 8, &kYZero, 4, cudaMemcpyHostToDevice, st), "zero");
      if (!good || !ok(cudaStreamSynchronize(st), "run")) return 1;
      GraphKind u8Kind{"uint8",
                       CUDNN_DATA_UINT8,
                       CUDNN_DATA_INT8,
                       CUDNN_DATA_UINT8,
                       CUDNN_DATA_INT32,
                       CUDNN_DATA_FLOAT,
                       true,
                       true,
                       kYZero};
      gu = timeGraph(dnn, st, u8Kind, s, static_cast<int>(out), xNhwc, wKrsc, fBias, chScale, y[4],
                     workspace, wsCap, ev, params + 8);
      if (gu.ms > 0) du = compare(y[0], y[4], y[3], s.m, plane, yBytes, false, st);
    }
    GraphResult g16;
    const double elapsed2 =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (fp16 && elapsed2 < 240) {
      toHalfKernel<<<1024, 256, 0, st>>>(xNhwc, xHalf, xBytes);
      toHalfKernel<<<1024, 256, 0, st>>>(reinterpret_cast<const uint8_t*>(wKrsc), wHalf, s.m * k);
      toHalfKernel<<<64, 256, 0, st>>>(reinterpret_cast<const uint8_t*>(bias), bHalf, s.m);
      const GraphKind halfKind{"fp16",
                               CUDNN_DATA_HALF,
                               CUDNN_DATA_HALF,
                               CUDNN_DATA_HALF,
                               CUDNN_DATA_FLOAT,
                               CUDNN_DATA_FLOAT,
                               false};
      if (s.c % 8 == 0)
        g16 = timeGraph(dnn, st, halfKind, s, static_cast<int>(out), xHalf, wHalf, bHalf, nullptr,
                        yHalf, workspace, wsCap, ev);
    }
    const float nhwcUs = fits ? t[1] : t[0];
    total[0] += t[0] * s.count;
    total[1] += nhwcUs * s.count;
    if (g8.ms > 0)
      total[2] += g8.ms * 1000 * s.count;
    else
      dnn8Complete = false;
    if (g16.ms > 0)
      total[3] += g16.ms * 1000 * s.count;
    else
      fp16Complete = false;
    std::printf(
        "%4d %3d %4d %d %d x%d: %6.0f | %6.0f%s | %6.0f (%d/%d/%d, %.1f s, status %d) | %6.0f "
        "(%d/%d/%d, %.1f s) | %zu, signed %zu | %zu (%d) | dnnU8 %6.0f (%d/%d/%d): %zu (%d)\n",
        s.c, s.h, s.m, s.k, s.s, s.count, t[0], fits ? t[1] : -1.0f, fits ? "" : " (n/a)",
        g8.ms * 1000, g8.configs, g8.finalized, g8.ran, g8.buildSeconds,
        static_cast<int>(g8.status), g16.ms * 1000, g16.configs, g16.finalized, g16.ran,
        g16.buildSeconds, nd.count, sd.count, dd.count, dd.most, gu.ms * 1000, gu.configs,
        gu.finalized, gu.ran, du.count, du.most);
    std::fflush(stdout);
  }
  std::printf(
      "resnet50 convs + fc, us per batch of 64: old %.0f, nhwc %.0f (old where n/a), dnn8 %.0f%s, "
      "fp16 %.0f%s\n",
      total[0], total[1], total[2], dnn8Complete ? "" : " (incomplete)", total[3],
      fp16Complete ? "" : " (incomplete)");
  // The engine's other 8-bit layers at resnet50's sizes: QLinearAdd (16-byte words, and the
  // byte kernel it falls back to on unaligned data), the stem's NHWC MaxPool, the input's
  // QuantizeLinear and NCHW -> NHWC transpose, us each.
  {
    float* f = reinterpret_cast<float*>(buf);
    auto* a8 = reinterpret_cast<uint8_t*>(buf) + (size_t{1} << 30);
    auto* b8 = a8 + (size_t{1} << 27);
    auto* c8 = b8 + (size_t{1} << 27);
    kiln::cuda::QAddArgs add;
    add.aScale = params, add.bScale = params + 2, add.cScale = params;
    add.aZero = params + 4, add.bZero = params + 4, add.cZero = params + 4, add.relu = true;
    const auto timeUs = [&](const char* what, auto&& body) {
      body();
      cudaEventRecord(ev[0], st);
      for (int i = 0; i < kRuns; ++i) body();
      cudaEventRecord(ev[1], st);
      float ms = 0;
      if (ok(cudaEventSynchronize(ev[1]), what)) cudaEventElapsedTime(&ms, ev[0], ev[1]);
      return ms * 1000 / kRuns;
    };
    double adds[2] = {};
    const struct {
      int64_t n;
      int uses;
    } addShapes[] = {{int64_t{kBatch} * 256 * 56 * 56, 3},
                     {int64_t{kBatch} * 512 * 28 * 28, 4},
                     {int64_t{kBatch} * 1024 * 14 * 14, 6},
                     {int64_t{kBatch} * 2048 * 7 * 7, 3}};
    for (const auto& sh : addShapes) {
      adds[0] +=
          sh.uses * timeUs("add", [&] { kiln::cuda::qlinearAdd(a8, b8, sh.n, add, c8, st); });
      adds[1] += sh.uses * timeUs("add bytes", [&] {
                   kiln::cuda::qlinearAdd(a8 + 1, b8 + 1, sh.n, add, c8 + 1, st);
                 });
    }
    kiln::cuda::Pool2dParams pool;
    pool.batch = kBatch, pool.channels = 64, pool.inH = pool.inW = 112, pool.outH = pool.outW = 56;
    pool.kernelH = pool.kernelW = 3, pool.strideH = pool.strideW = 2, pool.padTop = 1;
    pool.padLeft = pool.padBottom = pool.padRight = 1, pool.nhwc = true;
    const float poolUs = timeUs("pool", [&] { kiln::cuda::maxPool2d8(pool, a8, false, c8, st); });
    kiln::cuda::QuantAxis q;
    q.scale = params;
    const int64_t image = int64_t{kBatch} * 3 * 224 * 224;
    const float quantUs =
        timeUs("quantize", [&] { kiln::cuda::quantizeLinear(f, image, q, false, a8, st); });
    const float transposeUs =
        timeUs("transpose", [&] { kiln::cuda::transpose8(a8, b8, kBatch, 3, 224 * 224, st); });
    std::printf(
        "other layers, us per batch: 16 QLinearAdds %.0f (byte kernel %.0f), stem MaxPool NHWC "
        "%.0f, input QuantizeLinear %.0f, its NCHW -> NHWC transpose %.0f\n",
        adds[0], adds[1], poolUs, quantUs, transposeUs);
  }
  std::printf("%s\n", failures ? "int8_fast: nhwc DIFFERS" : "int8_fast: nhwc equal to dp4a");
  return failures ? 1 : 0;
}
