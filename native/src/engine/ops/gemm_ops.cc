// Gemm (with a fused activation from the builder) and MatMul (numpy batching).
#include "engine/ops/fused_activation.h"
#include "engine/ops/register.h"
#include "kiln/cpu_features.h"
#include "kiln/kernels/eltwise.h"
#include "kiln/kernels/gemm.h"
#include "kiln/kernels/matmul.h"

namespace kiln {
namespace {

// A constant right-hand operand (the weights of Gemm and of MatMul as a Linear layer) packed
// once at engine load into the GEMM's panel layout, for the ISA tier active then.
struct PackedB {
  std::vector<uint8_t> blob;
  CpuIsa isa;
  int64_t k, n;
};

// Packs input 1 when it is a constant 2-D float32 tensor (transB: stored N x K).
std::shared_ptr<const void> packConstantB(const LayerDesc& layer, const Network& network,
                                          bool transB) {
  if (layer.inputs.size() < 2 || layer.inputs[1] < 0) return nullptr;
  const TensorDesc& b = network.tensors[layer.inputs[1]];
  if (b.constant < 0 || b.dtype != DataType::kFloat32 || b.shape.size() != 2) return nullptr;
  auto packed = std::make_shared<PackedB>();
  packed->k = transB ? b.shape[1] : b.shape[0];
  packed->n = transB ? b.shape[0] : b.shape[1];
  if (packed->k <= 0 || packed->n <= 0) return nullptr;
  packed->blob =
      kernels::packGemmB(packed->k, packed->n, transB,
                         reinterpret_cast<const float*>(network.weights[b.constant].data()));
  packed->isa = activeIsa();
  return packed;
}

// The packed operand when it applies to this run (same tier, same dims), else null.
const PackedB* usablePackedB(const OpContext& ctx, int64_t k, int64_t n) {
  const auto* packed = static_cast<const PackedB*>(ctx.prepared);
  if (packed == nullptr || packed->isa != activeIsa() || packed->k != k || packed->n != n)
    return nullptr;
  return packed;
}

std::shared_ptr<const void> prepareGemm(const LayerDesc& layer, const Network& network) {
  return packConstantB(layer, network, layer.attrInt("transB", 0) != 0);
}

std::shared_ptr<const void> prepareMatMul(const LayerDesc& layer, const Network& network) {
  return packConstantB(layer, network, false);
}

void inferGemm(OpContext& ctx) {
  ctx.requireFloatInputs({0, 1, 2});
  ctx.outTypes[0] = DataType::kFloat32;  // what the kernel writes, whatever the plan declares
  const Dims& a = ctx.shape(0);
  const Dims& b = ctx.shape(1);
  ctx.require(a.size() == 2 && b.size() == 2, "Gemm takes 2-D inputs");
  const bool ta = ctx.layer.attrInt("transA", 0) != 0;
  const bool tb = ctx.layer.attrInt("transB", 0) != 0;
  const int64_t k = ta ? a[0] : a[1];
  ctx.require(k == (tb ? b[1] : b[0]),
              "inner dimensions differ: " + formatDims(a) + " and " + formatDims(b));
  ctx.outShapes[0] = {ta ? a[1] : a[0], tb ? b[0] : b[1]};
  if (ctx.has(2))
    kernels::broadcastShapes(ctx.shape(2), ctx.outShapes[0]);  // throws if C does not broadcast
}

void runGemm(OpContext& ctx) {
  const Dims& a = ctx.shape(0);
  const Dims& b = ctx.shape(1);
  kernels::GemmParams p;
  p.transA = ctx.layer.attrInt("transA", 0) != 0;
  p.transB = ctx.layer.attrInt("transB", 0) != 0;
  p.m = p.transA ? a[1] : a[0];
  p.k = p.transA ? a[0] : a[1];
  p.n = p.transB ? b[0] : b[1];
  p.lda = a[1];
  p.ldb = b[1];
  p.ldc = p.n;
  p.alpha = static_cast<float>(ctx.layer.attrFloat("alpha", 1.0));
  const float beta = static_cast<float>(ctx.layer.attrFloat("beta", 1.0));
  float* y = ctx.outF32(0);
  if (ctx.has(2) && beta != 0.0f) {
    const Dims& c = ctx.shape(2);
    const int64_t cn = shapeElements(c);
    if (beta == 1.0f && (cn == p.n && (c.size() <= 1 || c[0] == 1))) {
      p.bias = ctx.f32(2);  // the common case: a per-column bias, folded into the epilogue
      p.biasKind = kernels::BiasKind::kPerCol;
    } else {
      // General C: broadcast it into Y, which the GEMM then accumulates into with beta.
      kernels::expand(ctx.f32(2), c, kernels::Shape{p.m, p.n}, y);
      p.beta = beta;
    }
  }
  p.activation = fusedActivation(ctx);
  if (const PackedB* packed = usablePackedB(ctx, p.k, p.n)) {
    kernels::sgemmPackedB(p, ctx.f32(0), packed->blob.data(), packed->blob.size(), y);
    return;
  }
  kernels::sgemm(p, ctx.f32(0), ctx.f32(1), y);
}

void inferMatMul(OpContext& ctx) {
  ctx.requireFloatInputs({0, 1, 2});
  ctx.outTypes[0] = DataType::kFloat32;  // what the kernel writes, whatever the plan declares
  ctx.outShapes[0] = kernels::matmulOutputShape(ctx.shape(0), ctx.shape(1));
  if (ctx.has(2)) {
    // The builder's fused bias: one value per output column.
    const Dims& out = ctx.outShapes[0];
    ctx.require(
        ctx.shape(2).size() == 1 && !out.empty() && ctx.shape(2)[0] == out.back(),
        "a MatMul bias must be [N], one value per output column; got " + formatDims(ctx.shape(2)));
  }
}

void runMatMul(OpContext& ctx) {
  // A third input is a bias fused by the builder (MatMul + Add).
  const Dims& a = ctx.shape(0);
  const Dims& b = ctx.shape(1);
  if (b.size() == 2 && a.size() >= 2) {
    if (const PackedB* packed = usablePackedB(ctx, b[0], b[1])) {
      // Every row of every matrix of A times the one packed B: a single tall GEMM.
      kernels::GemmParams p;
      p.m = shapeElements(a) / a.back();
      p.k = b[0];
      p.n = b[1];
      p.bias = ctx.has(2) ? ctx.f32(2) : nullptr;
      p.biasKind = p.bias ? kernels::BiasKind::kPerCol : kernels::BiasKind::kNone;
      p.activation = fusedActivation(ctx);
      kernels::sgemmPackedB(p, ctx.f32(0), packed->blob.data(), packed->blob.size(), ctx.outF32(0));
      return;
    }
  }
  kernels::matmul(ctx.f32(0), ctx.shape(0), ctx.f32(1), ctx.shape(1), ctx.outF32(0),
                  ctx.has(2) ? ctx.f32(2) : nullptr, fusedActivation(ctx));
}

// Bounds both GEMM paths: every row of A (of all its matrices) at once, B packed unless the
// engine packed it when it loaded.
void scratchGemm(const OpContext& ctx, kernels::ScratchNeed* need) {
  const Dims& a = ctx.shape(0);
  const Dims& b = ctx.shape(1);
  const bool gemm = ctx.layer.op == "Gemm";
  const int64_t k =
      gemm ? (ctx.layer.attrInt("transA", 0) != 0 ? a[0] : a[1]) : (a.empty() ? 1 : a.back());
  const int64_t n =
      gemm ? (ctx.layer.attrInt("transB", 0) != 0 ? b[0] : b[1]) : (b.size() < 2 ? 1 : b.back());
  const int64_t m = k > 0 ? shapeElements(a) / k : 0;
  kernels::gemmScratch(m, n, k, false, usablePackedB(ctx, k, n) != nullptr, need);
}

}  // namespace

void registerGemmOps(OpTable& table) {
  table["Gemm"] = OpImpl{inferGemm, runGemm, true, prepareGemm, scratchGemm};
  table["MatMul"] = OpImpl{inferMatMul, runMatMul, true, prepareMatMul, scratchGemm};
}

}  // namespace kiln
