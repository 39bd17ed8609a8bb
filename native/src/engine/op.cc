#include "engine/op.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "engine/ops/register.h"

namespace kiln {
namespace {
const OpTable& registry() {
  static const OpTable ops = [] {
    OpTable t;
    registerConvOps(t);
    registerGemmOps(t);
    registerPoolOps(t);
    registerNormOps(t);
    registerEltwiseOps(t);
    registerReshapeOps(t);
    registerLayoutOps(t);
    registerReduceResizeOps(t);
    registerControlOps(t);
    registerChainOps(t);
    registerMathOps(t);
    registerIndexOps(t);
    registerLossOps(t);
    registerNormalizeOps(t);
    registerQuantizeOps(t);
    registerQLinearOps(t);
    registerMiscOps(t);
    registerGridSampleOps(t);
    registerRoiAlignOps(t);
    registerSignalOps(t);
    return t;
  }();
  return ops;
}
}  // namespace

const OpImpl* findOp(const std::string& name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : &it->second;
}

std::vector<std::string> supportedOps() {
  std::vector<std::string> names;
  for (const auto& [name, impl] : registry()) names.push_back(name);
  return names;
}

const Dims& OpContext::shape(size_t i) const {
  if (!has(i)) fail("input " + std::to_string(i) + " is required");
  return *in[i].shape;
}

const float* OpContext::f32(size_t i) const {
  if (!has(i)) fail("input " + std::to_string(i) + " is required");
  return static_cast<const float*>(in[i].data);
}

float* OpContext::outF32(size_t i) const { return static_cast<float*>(out.at(i)); }

std::vector<int64_t> OpContext::ints(size_t i) const {
  if (!has(i)) fail("input " + std::to_string(i) + " is required");
  const InputView& v = in[i];
  if (v.data == nullptr) {
    throw Error(ErrorCode::kUnsupported,
                "layer '" + layer.name + "' (" + layer.op + "): input " + std::to_string(i) +
                    " must be known when shapes are computed (a constant, or computed "
                    "from shapes), but it depends on input data");
  }
  const int64_t n = shapeElements(*v.shape);
  std::vector<int64_t> values(static_cast<size_t>(n));
  if (v.dtype == DataType::kInt64) {
    if (n > 0) std::memcpy(values.data(), v.data, static_cast<size_t>(n) * 8);  // never null
  } else if (v.dtype == DataType::kInt32) {
    const auto* p = static_cast<const int32_t*>(v.data);
    for (int64_t k = 0; k < n; ++k) values[k] = p[k];
  } else {
    fail("input " + std::to_string(i) + " must be int32 or int64, not " + dataTypeName(v.dtype));
  }
  return values;
}

std::vector<float> OpContext::floats(size_t i) const {
  if (!has(i)) fail("input " + std::to_string(i) + " is required");
  const InputView& v = in[i];
  if (v.data == nullptr) {
    // Like ints(): a limitation (shapes from input data), not a broken model.
    throw Error(ErrorCode::kUnsupported, "layer '" + layer.name + "' (" + layer.op + "): input " +
                                             std::to_string(i) +
                                             " must be known when shapes are computed");
  }
  require(v.dtype == DataType::kFloat32, "input " + std::to_string(i) + " must be float32");
  const auto* p = static_cast<const float*>(v.data);
  return std::vector<float>(p, p + shapeElements(*v.shape));
}

void OpContext::fail(const std::string& message) const {
  throw Error(ErrorCode::kInvalidModel,
              "layer '" + layer.name + "' (" + layer.op + "): " + message);
}

void OpContext::requireFloatInputs(std::initializer_list<size_t> which) const {
  for (size_t i : which) {
    if (has(i) && in[i].dtype != DataType::kFloat32) {
      throw Error(ErrorCode::kUnsupported, "layer '" + layer.name + "' (" + layer.op + "): input " +
                                               std::to_string(i) + " is " +
                                               dataTypeName(in[i].dtype) +
                                               "; this op runs on float32 only for now");
    }
  }
}

int64_t normalizeAxis(const OpContext& ctx, int64_t axis, int64_t rank) {
  const int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= std::max<int64_t>(rank, 1)) {
    ctx.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  }
  return a;
}

}  // namespace kiln
