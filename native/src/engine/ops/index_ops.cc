// Element-level indexing on any element type: GatherElements, ScatterElements (and the older
// Scatter), GatherND, ScatterND, and the masks Trilu and EyeLike.
#include <algorithm>
#include <cstring>
#include <string>

#include "engine/op.h"
#include "engine/ops/register.h"

namespace kiln {
namespace {

// Element k of an int32 or int64 tensor.
int64_t indexAt(const OpContext& ctx, size_t input, int64_t k) {
  if (ctx.dtype(input) == DataType::kInt32)
    return static_cast<const int32_t*>(ctx.in[input].data)[k];
  return static_cast<const int64_t*>(ctx.in[input].data)[k];
}

void requireIndices(const OpContext& ctx, size_t input) {
  const DataType t = ctx.dtype(input);
  ctx.require(t == DataType::kInt32 || t == DataType::kInt64, "indices must be int32 or int64");
}

// Row-major strides of a shape.
std::vector<int64_t> stridesOf(const Dims& d) {
  std::vector<int64_t> s(d.size(), 1);
  for (size_t i = d.size(); i-- > 1;) s[i - 1] = s[i] * d[i];
  return s;
}

// A negative index counts from the end; out of range fails naming the op.
int64_t checkedIndex(const OpContext& ctx, int64_t index, int64_t dim) {
  if (index < 0) index += dim;
  if (index < 0 || index >= dim)
    ctx.fail("index " + std::to_string(index) + " is out of range for a dim of " +
             std::to_string(dim));
  return index;
}

void inferGatherElements(OpContext& ctx) {
  requireIndices(ctx, 1);
  ctx.require(ctx.shape(0).size() == ctx.shape(1).size(), "data and indices need one rank");
  const int64_t axis =
      normalizeAxis(ctx, ctx.layer.attrInt("axis", 0), static_cast<int64_t>(ctx.shape(0).size()));
  // Off the axis, an index's position is its coordinate in data: it must lie inside.
  for (size_t d = 0; d < ctx.shape(0).size(); ++d) {
    if (static_cast<int64_t>(d) != axis)
      ctx.require(ctx.shape(1)[d] <= ctx.shape(0)[d],
                  "indices must not be larger than data off the axis");
  }
  ctx.outShapes[0] = ctx.shape(1);
  ctx.outTypes[0] = ctx.dtype(0);
}

void runGatherElements(OpContext& ctx) {
  const Dims& data = ctx.shape(0);
  const Dims& idx = ctx.shape(1);
  const int64_t rank = static_cast<int64_t>(data.size());
  const int64_t axis = normalizeAxis(ctx, ctx.layer.attrInt("axis", 0), rank);
  const size_t es = dataTypeSize(ctx.dtype(0));
  const std::vector<int64_t> ds = stridesOf(data);
  const auto* src = static_cast<const uint8_t*>(ctx.in[0].data);
  auto* dst = static_cast<uint8_t*>(ctx.out[0]);
  const int64_t n = shapeElements(idx);
  std::vector<int64_t> pos(static_cast<size_t>(rank), 0);
  for (int64_t k = 0; k < n; ++k) {
    int64_t offset = 0;
    for (int64_t d = 0; d < rank; ++d) {
      const int64_t i = d == axis ? checkedIndex(ctx, indexAt(ctx, 1, k), data[d]) : pos[d];
      offset += i * ds[d];
    }
    std::memcpy(dst + k * es, src + offset * es, es);
    for (int64_t d = rank - 1; d >= 0 && ++pos[d] == idx[d]; --d) pos[d] = 0;
  }
}

// Combines `update` into `target` per ScatterElements/ScatterND's `reduction`.
template <typename T>
void combine(T* target, const T* update, const std::string& reduction) {
  if (reduction == "add")
    *target = static_cast<T>(*target + *update);
  else if (reduction == "mul")
    *target = static_cast<T>(*target * *update);
  else if (reduction == "max")
    *target = std::max(*target, *update);
  else if (reduction == "min")
    *target = std::min(*target, *update);
  else
    *target = *update;
}

void combineAny(const OpContext& ctx, void* target, const void* update,
                const std::string& reduction) {
  switch (ctx.dtype(0)) {
    case DataType::kFloat32:
      combine(static_cast<float*>(target), static_cast<const float*>(update), reduction);
      break;
    case DataType::kInt32:
      combine(static_cast<int32_t*>(target), static_cast<const int32_t*>(update), reduction);
      break;
    case DataType::kInt64:
      combine(static_cast<int64_t*>(target), static_cast<const int64_t*>(update), reduction);
      break;
    case DataType::kInt8:
      combine(static_cast<int8_t*>(target), static_cast<const int8_t*>(update), reduction);
      break;
    default:
      combine(static_cast<uint8_t*>(target), static_cast<const uint8_t*>(update), reduction);
  }
}

void checkReduction(OpContext& ctx) {
  const std::string r = ctx.layer.attrString("reduction", "none");
  ctx.require(r == "none" || r == "add" || r == "mul" || r == "max" || r == "min",
              "unknown reduction '" + r + "'");
  const DataType t = ctx.dtype(0);
  ctx.require(r == "none" || t == DataType::kFloat32 || t == DataType::kInt32 ||
                  t == DataType::kInt64 || t == DataType::kInt8 || t == DataType::kUInt8,
              std::string("reduction on ") + dataTypeName(t) + " is not supported");
}

void inferScatterElements(OpContext& ctx) {
  requireIndices(ctx, 1);
  checkReduction(ctx);
  ctx.require(ctx.shape(1) == ctx.shape(2), "indices and updates need one shape");
  ctx.require(ctx.dtype(2) == ctx.dtype(0), "updates must have the type of data");
  ctx.require(ctx.shape(0).size() == ctx.shape(1).size(), "data and indices need one rank");
  const int64_t axis =
      normalizeAxis(ctx, ctx.layer.attrInt("axis", 0), static_cast<int64_t>(ctx.shape(0).size()));
  // Off the axis, an index's position is its coordinate in data: it must lie inside.
  for (size_t d = 0; d < ctx.shape(0).size(); ++d) {
    if (static_cast<int64_t>(d) != axis)
      ctx.require(ctx.shape(1)[d] <= ctx.shape(0)[d],
                  "indices must not be larger than data off the axis");
  }
  ctx.outShapes[0] = ctx.shape(0);
  ctx.outTypes[0] = ctx.dtype(0);
}

void runScatterElements(OpContext& ctx) {
  const Dims& data = ctx.shape(0);
  const Dims& idx = ctx.shape(1);
  const int64_t rank = static_cast<int64_t>(data.size());
  const int64_t axis = normalizeAxis(ctx, ctx.layer.attrInt("axis", 0), rank);
  const std::string reduction = ctx.layer.attrString("reduction", "none");
  const size_t es = dataTypeSize(ctx.dtype(0));
  const std::vector<int64_t> ds = stridesOf(data);
  auto* dst = static_cast<uint8_t*>(ctx.out[0]);
  const auto* upd = static_cast<const uint8_t*>(ctx.in[2].data);
  std::memcpy(dst, ctx.in[0].data, static_cast<size_t>(shapeElements(data)) * es);
  const int64_t n = shapeElements(idx);
  std::vector<int64_t> pos(static_cast<size_t>(rank), 0);
  for (int64_t k = 0; k < n; ++k) {
    int64_t offset = 0;
    for (int64_t d = 0; d < rank; ++d) {
      const int64_t i = d == axis ? checkedIndex(ctx, indexAt(ctx, 1, k), data[d]) : pos[d];
      offset += i * ds[d];
    }
    combineAny(ctx, dst + offset * es, upd + k * es, reduction);
    for (int64_t d = rank - 1; d >= 0 && ++pos[d] == idx[d]; --d) pos[d] = 0;
  }
}

int64_t batchDims(const OpContext& ctx) { return ctx.layer.attrInt("batch_dims", 0); }

void inferGatherND(OpContext& ctx) {
  requireIndices(ctx, 1);
  const Dims& data = ctx.shape(0);
  const Dims& idx = ctx.shape(1);
  const int64_t b = batchDims(ctx);
  ctx.require(!idx.empty() && b >= 0 && b < static_cast<int64_t>(std::min(data.size(), idx.size())),
              "batch_dims must be smaller than both ranks");
  const int64_t last = idx.back();
  ctx.require(last >= 1 && b + last <= static_cast<int64_t>(data.size()),
              "indices' last dim must be in 1..rank(data) - batch_dims");
  for (int64_t d = 0; d < b; ++d) ctx.require(data[d] == idx[d], "batch dims must match");
  Dims out(idx.begin(), idx.end() - 1);
  out.insert(out.end(), data.begin() + b + last, data.end());
  ctx.outShapes[0] = out;
  ctx.outTypes[0] = ctx.dtype(0);
}

void runGatherND(OpContext& ctx) {
  const Dims& data = ctx.shape(0);
  const Dims& idx = ctx.shape(1);
  const int64_t b = batchDims(ctx);
  const int64_t last = idx.back();
  const size_t es = dataTypeSize(ctx.dtype(0));
  const std::vector<int64_t> ds = stridesOf(data);
  const int64_t batches = shapeElements(Dims(idx.begin(), idx.begin() + b));
  const int64_t perBatch = shapeElements(Dims(idx.begin() + b, idx.end() - 1));
  const int64_t slice = shapeElements(Dims(data.begin() + b + last, data.end()));
  const int64_t batchStride = b > 0 ? ds[b - 1] : 0;
  const auto* src = static_cast<const uint8_t*>(ctx.in[0].data);
  auto* dst = static_cast<uint8_t*>(ctx.out[0]);
  for (int64_t batch = 0; batch < batches; ++batch) {
    for (int64_t j = 0; j < perBatch; ++j) {
      const int64_t row = batch * perBatch + j;
      int64_t offset = batch * batchStride;
      for (int64_t d = 0; d < last; ++d)
        offset += checkedIndex(ctx, indexAt(ctx, 1, row * last + d), data[b + d]) * ds[b + d];
      if (slice > 0)  // memcpy must not see the null data of an empty input
        std::memcpy(dst + row * slice * static_cast<int64_t>(es), src + offset * es,
                    static_cast<size_t>(slice) * es);
    }
  }
}

void inferScatterND(OpContext& ctx) {
  requireIndices(ctx, 1);
  checkReduction(ctx);
  const Dims& data = ctx.shape(0);
  const Dims& idx = ctx.shape(1);
  ctx.require(!idx.empty() && idx.back() >= 1 && idx.back() <= static_cast<int64_t>(data.size()),
              "indices' last dim must be in 1..rank(data)");
  Dims upd(idx.begin(), idx.end() - 1);
  upd.insert(upd.end(), data.begin() + idx.back(), data.end());
  ctx.require(ctx.shape(2) == upd, "updates have the wrong shape");
  ctx.require(ctx.dtype(2) == ctx.dtype(0), "updates must have the type of data");
  ctx.outShapes[0] = data;
  ctx.outTypes[0] = ctx.dtype(0);
}

void runScatterND(OpContext& ctx) {
  const Dims& data = ctx.shape(0);
  const Dims& idx = ctx.shape(1);
  const int64_t last = idx.back();
  const std::string reduction = ctx.layer.attrString("reduction", "none");
  const size_t es = dataTypeSize(ctx.dtype(0));
  const std::vector<int64_t> ds = stridesOf(data);
  const int64_t rows = shapeElements(Dims(idx.begin(), idx.end() - 1));
  const int64_t slice = shapeElements(Dims(data.begin() + last, data.end()));
  auto* dst = static_cast<uint8_t*>(ctx.out[0]);
  const auto* upd = static_cast<const uint8_t*>(ctx.in[2].data);
  std::memcpy(dst, ctx.in[0].data, static_cast<size_t>(shapeElements(data)) * es);
  for (int64_t row = 0; row < rows; ++row) {
    int64_t offset = 0;
    for (int64_t d = 0; d < last; ++d)
      offset += checkedIndex(ctx, indexAt(ctx, 1, row * last + d), data[d]) * ds[d];
    for (int64_t e = 0; e < slice; ++e)
      combineAny(ctx, dst + (offset + e) * es, upd + (row * slice + e) * es, reduction);
  }
}

void inferTrilu(OpContext& ctx) {
  ctx.require(ctx.shape(0).size() >= 2, "input must have rank >= 2");
  if (ctx.has(1)) {
    requireIndices(ctx, 1);
    ctx.require(shapeElements(ctx.shape(1)) == 1, "k must hold one value");
  }
  ctx.outShapes[0] = ctx.shape(0);
  ctx.outTypes[0] = ctx.dtype(0);
}

// Keeps the upper (j - i >= k) or lower (j - i <= k) triangle of each matrix, zeroing the rest.
void runTrilu(OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  const int64_t rows = x[x.size() - 2];
  const int64_t cols = x.back();
  const int64_t k = ctx.has(1) ? indexAt(ctx, 1, 0) : 0;
  const bool upper = ctx.layer.attrInt("upper", 1) != 0;
  const size_t es = dataTypeSize(ctx.dtype(0));
  const int64_t matrices = rows * cols == 0 ? 0 : shapeElements(x) / (rows * cols);
  const auto* src = static_cast<const uint8_t*>(ctx.in[0].data);
  auto* dst = static_cast<uint8_t*>(ctx.out[0]);
  for (int64_t m = 0; m < matrices; ++m) {
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) {
        const int64_t e = (m * rows + i) * cols + j;
        const bool keep = upper ? j - i >= k : j - i <= k;
        if (keep)
          std::memcpy(dst + e * es, src + e * es, es);
        else
          std::memset(dst + e * es, 0, es);
      }
    }
  }
}

void inferEyeLike(OpContext& ctx) {
  ctx.require(ctx.shape(0).size() == 2, "input must be a matrix");
  ctx.outShapes[0] = ctx.shape(0);
  const int64_t dtype = ctx.layer.attrInt("dtype", static_cast<int64_t>(ctx.dtype(0)));
  ctx.require(isValidDataType(static_cast<int32_t>(dtype)),
              "dtype " + std::to_string(dtype) + " is not supported");
  ctx.outTypes[0] = static_cast<DataType>(dtype);
}

void writeOne(DataType t, void* p) {
  switch (t) {
    case DataType::kFloat32:
      *static_cast<float*>(p) = 1.0f;
      break;
    case DataType::kInt32:
      *static_cast<int32_t*>(p) = 1;
      break;
    case DataType::kInt64:
      *static_cast<int64_t*>(p) = 1;
      break;
    case DataType::kFloat16:
      *static_cast<uint16_t*>(p) = 0x3C00;
      break;
    case DataType::kBFloat16:
      *static_cast<uint16_t*>(p) = 0x3F80;
      break;
    default:
      *static_cast<uint8_t*>(p) = 1;
  }
}

void runEyeLike(OpContext& ctx) {
  const Dims& x = ctx.outShapes[0];
  const DataType t = ctx.outTypes[0];
  const size_t es = dataTypeSize(t);
  const int64_t k = ctx.layer.attrInt("k", 0);
  auto* dst = static_cast<uint8_t*>(ctx.out[0]);
  std::memset(dst, 0, static_cast<size_t>(shapeElements(x)) * es);
  for (int64_t i = 0; i < x[0]; ++i) {
    const int64_t j = i + k;
    if (j >= 0 && j < x[1]) writeOne(t, dst + (i * x[1] + j) * static_cast<int64_t>(es));
  }
}

}  // namespace

void registerIndexOps(OpTable& table) {
  table["GatherElements"] = OpImpl{inferGatherElements, runGatherElements};
  table["ScatterElements"] = OpImpl{inferScatterElements, runScatterElements};
  table["Scatter"] = OpImpl{inferScatterElements, runScatterElements};
  table["GatherND"] = OpImpl{inferGatherND, runGatherND};
  table["ScatterND"] = OpImpl{inferScatterND, runScatterND};
  table["Trilu"] = OpImpl{inferTrilu, runTrilu};
  // EyeLike reads only its input's shape.
  table["EyeLike"] = OpImpl{inferEyeLike, runEyeLike, false};
}

}  // namespace kiln
