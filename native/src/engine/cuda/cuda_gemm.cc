// Gemm and MatMul on cuda through cuBLAS: float32 (no TF32), or half inputs with float32
// accumulation on tensor cores for FP16 layers (cuda_precision.h), writing half or, for the
// network's outputs, float32. Row-major tensors are handed to the column-major library as their
// transposes: Y^T = op(B)^T op(A)^T, so A and B swap places. A bias (Gemm's C, MatMul's fused
// third input) is broadcast into Y first and accumulated with beta; a fused activation runs in
// the epilogue kernel.
#include <map>

#include "engine/cuda/cuda_ops.h"
#include "engine/ops/fused_activation.h"
#include "kernels/cuda/cuda_kernels.h"

#ifdef KILN_WITH_CUBLAS
#include <cublas_v2.h>
#endif

namespace kiln::cuda {

#ifdef KILN_WITH_CUBLAS
namespace {

void checkBlas(const OpContext& ctx, cublasStatus_t status, const char* what) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  throw Error(ErrorCode::kDeviceError, "layer '" + ctx.layer.name + "' (" + ctx.layer.op +
                                           ") on cuda: " + what + ": cuBLAS status " +
                                           std::to_string(static_cast<int>(status)));
}

cudaDataType_t blasType(const OpContext& ctx, DataType t) {
  if (t == DataType::kFloat32) return CUDA_R_32F;
  if (t == DataType::kFloat16) return CUDA_R_16F;
  throw Error(ErrorCode::kUnsupported, "layer '" + ctx.layer.name + "' (" + ctx.layer.op +
                                           "): the cuda device runs it on float32 or float16");
}

// The cuBLAS types of A and B (the same), and of the output and bias (the same).
struct Types {
  cudaDataType_t in, out;
};

Types types(const OpContext& ctx) {
  const Types t{blasType(ctx, ctx.dtype(0)), blasType(ctx, ctx.outTypes[0])};
  bool ok = blasType(ctx, ctx.dtype(1)) == t.in && (t.in == CUDA_R_16F || t.out == CUDA_R_32F);
  if (ctx.has(2)) ok = ok && blasType(ctx, ctx.dtype(2)) == t.out;
  if (!ok) {
    throw Error(ErrorCode::kUnsupported, "layer '" + ctx.layer.name + "' (" + ctx.layer.op +
                                             "): mixed input types on the cuda device");
  }
  return t;
}

// Broadcasts `c` (input 2) into the output y; returns false when there is no such input.
bool expandBias(const OpContext& ctx, Launch& launch) {
  if (!ctx.has(2)) return false;
  const Dims& c = ctx.shape(2);
  const Dims& out = ctx.outShapes[0];
  ctx.require(c.size() <= out.size() && out.size() <= static_cast<size_t>(kMaxRank),
              "the bias does not broadcast to the output");
  BroadcastShape s;
  s.rank = static_cast<int>(out.size());
  int64_t stride = 1;
  const size_t offset = out.size() - c.size();
  for (int d = s.rank - 1; d >= 0; --d) {
    s.dims[d] = out[d];
    if (static_cast<size_t>(d) < offset) continue;
    const int64_t cd = c[d - offset];
    ctx.require(cd == out[d] || cd == 1, "the bias does not broadcast to the output");
    s.strideA[d] = cd == 1 ? 0 : stride;
    stride *= cd;
  }
  const int64_t count = shapeElements(out);
  const int bytes = ctx.outTypes[0] == DataType::kFloat16 ? 2 : 4;
  checkCuda(ctx, stridedCopy(ctx.in[2].data, ctx.out[0], bytes, s, count, launch.stream),
            "bias kernel");
  return true;
}

void epilogue(OpContext& ctx, Launch& launch) {
  const kernels::Activation act = fusedActivation(ctx);
  if (act.kind == kernels::ActivationKind::kNone) return;
  const int64_t count = shapeElements(ctx.outShapes[0]);
  if (ctx.outTypes[0] == DataType::kFloat16) {
    auto* y = static_cast<__half*>(ctx.out[0]);
    checkCuda(ctx, biasActivation<__half>(y, y, 1, 1, count, nullptr, nullptr, act, launch.stream),
              "activation kernel");
  } else {
    checkCuda(ctx,
              biasActivation<float>(ctx.outF32(0), ctx.outF32(0), 1, 1, count, nullptr, nullptr,
                                    act, launch.stream),
              "activation kernel");
  }
}

// The handle for one GEMM: FP32 means FP32 (pedantic math, no TF32); half inputs may use
// tensor cores (which accumulate their exact products in float32).
cublasHandle_t blas(Launch& launch, const Types& t) {
  auto h = static_cast<cublasHandle_t>(launch.libs->cublas);
  cublasSetMathMode(h, t.in == CUDA_R_16F ? CUBLAS_DEFAULT_MATH : CUBLAS_PEDANTIC_MATH);
  return h;
}

void runGemm(OpContext& ctx, Launch& launch) {
  const Types t = types(ctx);
  const Dims& a = ctx.shape(0);
  const Dims& b = ctx.shape(1);
  const bool ta = ctx.layer.attrInt("transA", 0) != 0;
  const bool tb = ctx.layer.attrInt("transB", 0) != 0;
  const int m = static_cast<int>(ta ? a[1] : a[0]);
  const int k = static_cast<int>(ta ? a[0] : a[1]);
  const int n = static_cast<int>(tb ? b[0] : b[1]);
  const float alpha = static_cast<float>(ctx.layer.attrFloat("alpha", 1.0));
  float beta = static_cast<float>(ctx.layer.attrFloat("beta", 1.0));
  if (beta == 0.0f || !expandBias(ctx, launch)) beta = 0.0f;
  checkBlas(ctx,
            cublasGemmEx(blas(launch, t), tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                         ta ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, ctx.in[1].data, t.in,
                         static_cast<int>(b[1]), ctx.in[0].data, t.in, static_cast<int>(a[1]),
                         &beta, ctx.out[0], t.out, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            "gemm");
  epilogue(ctx, launch);
}

// MatMul with numpy batching: B 2-D (one tall GEMM), or A and B with the same batch dims, or
// B's batch dims all 1 (B shared). Other broadcasts are refused.
void runMatMul(OpContext& ctx, Launch& launch) {
  const Types t = types(ctx);
  Dims a = ctx.shape(0), b = ctx.shape(1);
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  const int64_t m = a[a.size() - 2], k = a.back(), n = b.back();
  ctx.require(b[b.size() - 2] == k, "inner dimensions differ");
  const float one = 1.0f;
  const float beta = expandBias(ctx, launch) ? 1.0f : 0.0f;
  const int64_t batchA = shapeElements(a) / (m * k);
  const int64_t batchB = shapeElements(b) / (k * n);
  const bool sameBatch = a.size() == b.size() && std::equal(a.begin(), a.end() - 2, b.begin());
  const auto i = [](int64_t v) { return static_cast<int>(v); };
  if (batchB == 1) {
    // Every row of every matrix of A times the one B.
    checkBlas(ctx,
              cublasGemmEx(blas(launch, t), CUBLAS_OP_N, CUBLAS_OP_N, i(n), i(batchA * m), i(k),
                           &one, ctx.in[1].data, t.in, i(n), ctx.in[0].data, t.in, i(k), &beta,
                           ctx.out[0], t.out, i(n), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
              "gemm");
  } else if (sameBatch) {
    checkBlas(ctx,
              cublasGemmStridedBatchedEx(
                  blas(launch, t), CUBLAS_OP_N, CUBLAS_OP_N, i(n), i(m), i(k), &one, ctx.in[1].data,
                  t.in, i(n), k * n, ctx.in[0].data, t.in, i(k), m * k, &beta, ctx.out[0], t.out,
                  i(n), m * n, i(batchA), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
              "batched gemm");
  } else {
    throw Error(ErrorCode::kUnsupported,
                "layer '" + ctx.layer.name +
                    "' (MatMul): this batch broadcast does not run on the cuda device yet");
  }
  epilogue(ctx, launch);
}

}  // namespace

void registerGemmOps(std::map<std::string, CudaOp>& table) {
  table["Gemm"] = CudaOp{runGemm, nullptr, Half::kWeights, false, true};
  table["MatMul"] = CudaOp{runMatMul, nullptr, Half::kWeights, false, true};
}
#else
// Built without cuBLAS: Gemm and MatMul have no cuda implementation, and a cuda context says so.
void registerGemmOps(std::map<std::string, CudaOp>&) {}
#endif

}  // namespace kiln::cuda
