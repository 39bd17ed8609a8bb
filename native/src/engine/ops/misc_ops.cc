// Ops of their own kind: TopK, OneHot, ReverseSequence, CastLike, Det, BitShift,
// TfIdfVectorizer (integer tokens), and the window functions HannWindow, HammingWindow and
// BlackmanWindow.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "engine/op.h"
#include "engine/ops/register.h"
#include "kiln/kernels/cast.h"
#include "kiln/kernels/eltwise.h"
#include "kiln/kernels/generate.h"
#include "kiln/kernels/indexing.h"

namespace kiln {
namespace {

int64_t scalarInt(const OpContext& ctx, size_t input, const std::string& what) {
  const std::vector<int64_t> v = ctx.ints(input);
  ctx.require(v.size() == 1, what + " must hold one value");
  return v[0];
}

void inferTopK(OpContext& ctx) {
  const DataType t = ctx.dtype(0);
  ctx.require(t == DataType::kFloat32 || t == DataType::kInt64,
              std::string("TopK on ") + dataTypeName(t) + " is not supported");
  Dims y = ctx.shape(0);
  const int64_t axis =
      normalizeAxis(ctx, ctx.layer.attrInt("axis", -1), static_cast<int64_t>(y.size()));
  const int64_t k = scalarInt(ctx, 1, "K");
  ctx.require(k >= 0 && k <= y[axis], "K must be in 0..dim");
  y[axis] = k;
  ctx.outShapes[0] = y;
  ctx.outTypes[0] = t;
  if (ctx.outShapes.size() > 1) {
    ctx.outShapes[1] = y;
    ctx.outTypes[1] = DataType::kInt64;
  }
}

void runTopK(OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  const int64_t axis =
      normalizeAxis(ctx, ctx.layer.attrInt("axis", -1), static_cast<int64_t>(x.size()));
  const int64_t k = scalarInt(ctx, 1, "K");
  const bool largest = ctx.layer.attrInt("largest", 1) != 0;
  std::vector<int64_t> scratch;
  int64_t* indices = nullptr;
  if (ctx.out.size() > 1 && ctx.out[1]) {
    indices = static_cast<int64_t*>(ctx.out[1]);
  } else {
    scratch.resize(static_cast<size_t>(shapeElements(ctx.outShapes[0])));
    indices = scratch.data();
  }
  if (ctx.dtype(0) == DataType::kFloat32)
    kernels::topK(ctx.f32(0), x, axis, k, largest, ctx.outF32(0), indices);
  else
    kernels::topK(static_cast<const int64_t*>(ctx.in[0].data), x, axis, k, largest,
                  static_cast<int64_t*>(ctx.out[0]), indices);
}

// OneHot's depth may be any numeric scalar; it must be known while shapes are computed.
int64_t oneHotDepth(const OpContext& ctx) {
  const DataType t = ctx.dtype(1);
  if (t == DataType::kInt32 || t == DataType::kInt64) return scalarInt(ctx, 1, "depth");
  if (ctx.in[1].data == nullptr)
    throw Error(ErrorCode::kUnsupported,
                "layer '" + ctx.layer.name + "' (OneHot): a non-integer depth must be a constant");
  ctx.require(shapeElements(ctx.shape(1)) == 1, "depth must hold one value");
  float depth = 0;
  kernels::cast(ctx.in[1].data, t, &depth, DataType::kFloat32, 1);
  // Outside this range (or NaN) the conversion to int64 would be undefined.
  ctx.require(depth >= 1 && depth <= 9.0e18f, "depth must be positive");
  return static_cast<int64_t>(depth);
}

void inferOneHot(OpContext& ctx) {
  const int64_t depth = oneHotDepth(ctx);
  ctx.require(depth >= 1, "depth must be positive");
  ctx.require(shapeElements(ctx.shape(2)) == 2, "values must be [off, on]");
  Dims y = ctx.shape(0);
  const int64_t rank = static_cast<int64_t>(y.size());
  int64_t axis = ctx.layer.attrInt("axis", -1);
  if (axis < 0) axis += rank + 1;
  ctx.require(axis >= 0 && axis <= rank, "axis is out of range");
  y.insert(y.begin() + axis, depth);
  ctx.outShapes[0] = y;
  ctx.outTypes[0] = ctx.dtype(2);
}

void runOneHot(OpContext& ctx) {
  const Dims& idx = ctx.shape(0);
  const size_t n = static_cast<size_t>(shapeElements(idx));
  std::vector<int64_t> indices(n);
  kernels::cast(ctx.in[0].data, ctx.dtype(0), indices.data(), DataType::kInt64, n);
  const size_t es = dataTypeSize(ctx.dtype(2));
  const auto* values = static_cast<const uint8_t*>(ctx.in[2].data);
  const int64_t rank = static_cast<int64_t>(idx.size());
  int64_t axis = ctx.layer.attrInt("axis", -1);
  if (axis < 0) axis += rank + 1;
  kernels::oneHot(indices.data(), idx, oneHotDepth(ctx), axis, values, values + es, es, ctx.out[0]);
}

void inferReverseSequence(OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  ctx.require(x.size() >= 2, "input must have rank >= 2");
  const int64_t timeAxis = ctx.layer.attrInt("time_axis", 0);
  const int64_t batchAxis = ctx.layer.attrInt("batch_axis", 1);
  ctx.require((timeAxis == 0 && batchAxis == 1) || (timeAxis == 1 && batchAxis == 0),
              "time_axis and batch_axis must be 0 and 1");
  ctx.require(ctx.shape(1) == Dims{x[batchAxis]}, "sequence_lens must be [batch]");
  ctx.outShapes[0] = x;
  ctx.outTypes[0] = ctx.dtype(0);
}

void runReverseSequence(OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  const bool timeFirst = ctx.layer.attrInt("time_axis", 0) == 0;
  const int64_t steps = timeFirst ? x[0] : x[1];
  const int64_t batch = timeFirst ? x[1] : x[0];
  const int64_t inner = shapeElements(Dims(x.begin() + 2, x.end()));
  const size_t bytes = static_cast<size_t>(inner) * dataTypeSize(ctx.dtype(0));
  std::vector<int64_t> lens(static_cast<size_t>(batch));
  kernels::cast(ctx.in[1].data, ctx.dtype(1), lens.data(), DataType::kInt64, lens.size());
  const auto* src = static_cast<const uint8_t*>(ctx.in[0].data);
  auto* dst = static_cast<uint8_t*>(ctx.out[0]);
  const auto at = [&](int64_t t, int64_t b) {
    return static_cast<size_t>(timeFirst ? t * batch + b : b * steps + t) * bytes;
  };
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t len = std::min(std::max<int64_t>(lens[b], 0), steps);
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t from = t < len ? len - 1 - t : t;
      std::memcpy(dst + at(t, b), src + at(from, b), bytes);
    }
  }
}

void inferCastLike(OpContext& ctx) {
  ctx.outShapes[0] = ctx.shape(0);
  ctx.outTypes[0] = ctx.dtype(1);
}

void runCastLike(OpContext& ctx) {
  kernels::cast(ctx.in[0].data, ctx.dtype(0), ctx.out[0], ctx.dtype(1),
                static_cast<size_t>(shapeElements(ctx.shape(0))));
}

void inferDet(OpContext& ctx) {
  ctx.requireFloatInputs({0});
  ctx.outTypes[0] = DataType::kFloat32;  // what the kernel writes, whatever the plan declares
  const Dims& x = ctx.shape(0);
  ctx.require(x.size() >= 2 && x[x.size() - 1] == x[x.size() - 2], "input must be [..., M, M]");
  ctx.outShapes[0] = Dims(x.begin(), x.end() - 2);
}

// Determinants by LU decomposition with partial pivoting, in double.
void runDet(OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  const int64_t m = x.back();
  const int64_t count = shapeElements(ctx.outShapes[0]);
  const float* src = ctx.f32(0);
  float* dst = ctx.outF32(0);
  std::vector<double> a(static_cast<size_t>(m * m));
  for (int64_t b = 0; b < count; ++b) {
    std::copy(src + b * m * m, src + (b + 1) * m * m, a.begin());
    double det = 1;
    for (int64_t c = 0; c < m && det != 0; ++c) {
      int64_t pivot = c;
      for (int64_t r = c + 1; r < m; ++r)
        if (std::fabs(a[r * m + c]) > std::fabs(a[pivot * m + c])) pivot = r;
      if (a[pivot * m + c] == 0) {
        det = 0;
        break;
      }
      if (pivot != c) {
        for (int64_t j = 0; j < m; ++j) std::swap(a[c * m + j], a[pivot * m + j]);
        det = -det;
      }
      det *= a[c * m + c];
      for (int64_t r = c + 1; r < m; ++r) {
        const double f = a[r * m + c] / a[c * m + c];
        for (int64_t j = c; j < m; ++j) a[r * m + j] -= f * a[c * m + j];
      }
    }
    dst[b] = static_cast<float>(det);
  }
}

void inferWindow(OpContext& ctx) {
  const int64_t size = scalarInt(ctx, 0, "size");
  ctx.require(size >= 0, "size must not be negative");
  const int64_t dtype = ctx.layer.attrInt("output_datatype", 1);
  ctx.require(isValidDataType(static_cast<int32_t>(dtype)),
              "output_datatype " + std::to_string(dtype) + " is not supported");
  ctx.outShapes[0] = Dims{size};
  ctx.outTypes[0] = static_cast<DataType>(dtype);
}

// Cosine-sum windows: w[n] = a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N), N = size when
// periodic, else size - 1.
void runWindow(OpContext& ctx) {
  const int64_t size = scalarInt(ctx, 0, "size");
  double a0 = 0.5, a1 = 0.5, a2 = 0;
  if (ctx.layer.op == "HammingWindow") {
    a0 = 25.0 / 46.0;
    a1 = 1.0 - a0;
  } else if (ctx.layer.op == "BlackmanWindow") {
    a0 = 0.42, a2 = 0.08;
  }
  const bool periodic = ctx.layer.attrInt("periodic", 1) != 0;
  const double denom = static_cast<double>(periodic ? size : size - 1);
  const double pi = std::acos(-1.0);
  std::vector<float> w(static_cast<size_t>(size));
  for (int64_t i = 0; i < size; ++i) {
    const double t = denom > 0 ? 2 * pi * static_cast<double>(i) / denom : 0;
    w[i] = static_cast<float>(a0 - a1 * std::cos(t) + a2 * std::cos(2 * t));
  }
  kernels::cast(w.data(), DataType::kFloat32, ctx.out[0], ctx.outTypes[0], w.size());
}

void inferBitShift(OpContext& ctx) {
  const DataType t = ctx.dtype(0);
  ctx.require(ctx.dtype(1) == t, "X and Y must share one type");
  ctx.require(t == DataType::kUInt8 || t == DataType::kInt32 || t == DataType::kInt64,
              std::string("BitShift on ") + dataTypeName(t) + " is not supported");
  const std::string direction = ctx.layer.attrString("direction", "");
  ctx.require(direction == "LEFT" || direction == "RIGHT", "direction must be LEFT or RIGHT");
  ctx.outShapes[0] = kernels::broadcastShapes(ctx.shape(0), ctx.shape(1));
  ctx.outTypes[0] = t;
}

// Shifts in int64 (uint8 values widened, so a right shift brings in zeros) and narrows back,
// dropping the bits shifted past the type's width like unsigned arithmetic does.
void runBitShift(OpContext& ctx) {
  const DataType t = ctx.dtype(0);
  const size_t na = static_cast<size_t>(shapeElements(ctx.shape(0)));
  const size_t nb = static_cast<size_t>(shapeElements(ctx.shape(1)));
  const size_t ny = static_cast<size_t>(shapeElements(ctx.outShapes[0]));
  std::vector<int64_t> a(na), b(nb), y(ny);
  kernels::cast(ctx.in[0].data, t, a.data(), DataType::kInt64, na);
  kernels::cast(ctx.in[1].data, t, b.data(), DataType::kInt64, nb);
  const auto op = ctx.layer.attrString("direction", "") == "LEFT" ? kernels::BinaryOp::kShiftLeft
                                                                  : kernels::BinaryOp::kShiftRight;
  kernels::binary(op, a.data(), ctx.shape(0), b.data(), ctx.shape(1), y.data());
  kernels::cast(y.data(), DataType::kInt64, ctx.out[0], t, ny);
}

// TfIdfVectorizer over int32/int64 tokens: counts the pool's n-grams (min..max_gram_length
// items, max_skip_count skipped between items) per row, then weighs them (TF, IDF or TFIDF).
// The pool is a trie, so the scan walks one edge per token with no allocation (a scan that
// built a vector per start position took minutes on hostile sizes under the sanitizers).
struct NgramPool {
  std::map<std::pair<int32_t, int64_t>, int32_t> edges;  // (node, token) -> child node
  std::vector<int64_t> column{-1};                       // node -> output column, -1 if none
  int64_t columns = 0;

  int32_t child(int32_t node, int64_t token) const {
    const auto it = edges.find({node, token});
    return it == edges.end() ? -1 : it->second;
  }
};

NgramPool ngramPool(const OpContext& ctx) {
  const std::vector<int64_t> pool = ctx.layer.attrInts("pool_int64s");
  const std::vector<int64_t> counts = ctx.layer.attrInts("ngram_counts");
  const std::vector<int64_t> indexes = ctx.layer.attrInts("ngram_indexes");
  const int64_t minN = ctx.layer.attrInt("min_gram_length", 1);
  const int64_t maxN = ctx.layer.attrInt("max_gram_length", 1);
  ctx.require(!indexes.empty(), "ngram_indexes must not be empty");
  NgramPool p;
  p.columns = *std::max_element(indexes.begin(), indexes.end()) + 1;
  for (int64_t v : indexes)  // output columns: a negative one would count before the row
    ctx.require(v >= 0 && v < (int64_t{1} << 31), "ngram_indexes must be in [0, 2^31)");
  size_t gram = 0;  // position in pool order, which ngram_indexes follows
  for (size_t i = 0; i < counts.size(); ++i) {
    const int64_t size = static_cast<int64_t>(i) + 1;
    const int64_t begin = counts[i];
    const int64_t end = i + 1 < counts.size() ? counts[i + 1] : static_cast<int64_t>(pool.size());
    ctx.require(begin >= 0 && begin <= end && end <= static_cast<int64_t>(pool.size()),
                "ngram_counts do not fit the pool");
    for (int64_t at = begin; at + size <= end; at += size, ++gram) {
      if (size < minN || size > maxN) continue;
      ctx.require(gram < indexes.size(), "ngram_indexes has too few entries");
      int32_t node = 0;
      for (int64_t k = at; k < at + size; ++k) {
        const auto [it, added] = p.edges.try_emplace({node, pool[static_cast<size_t>(k)]},
                                                     static_cast<int32_t>(p.column.size()));
        if (added) p.column.push_back(-1);
        node = it->second;
      }
      p.column[static_cast<size_t>(node)] = indexes[gram];
    }
  }
  return p;
}

void inferTfIdf(OpContext& ctx) {
  const DataType t = ctx.dtype(0);
  ctx.require(t == DataType::kInt32 || t == DataType::kInt64, "tokens must be int32 or int64");
  const Dims& x = ctx.shape(0);
  ctx.require(x.size() <= 2, "input must be [C] or [B, C]");
  const std::string mode = ctx.layer.attrString("mode", "TF");
  ctx.require(mode == "TF" || mode == "IDF" || mode == "TFIDF", "unknown mode '" + mode + "'");
  // Resource limits: the scan costs tokens x skips x gram lengths.
  const int64_t minN = ctx.layer.attrInt("min_gram_length", 1);
  const int64_t maxN = ctx.layer.attrInt("max_gram_length", 1);
  const int64_t maxSkip = ctx.layer.attrInt("max_skip_count", 0);
  ctx.require(minN >= 1 && minN <= maxN && maxN <= 64,
              "gram lengths must satisfy 1 <= min <= max <= 64");
  ctx.require(maxSkip >= 0 && maxSkip <= 1024, "max_skip_count must be in [0, 1024]");
  // The scan starts an n-gram at every token for every skip: 2^28 starts run in about a second.
  const int64_t tokens = shapeElements(x);
  ctx.require(tokens <= (int64_t{1} << 28) / (maxSkip + 1),
              "tokens x (max_skip_count + 1) = " + std::to_string(tokens) + " x " +
                  std::to_string(maxSkip + 1) + " exceeds the scan limit of 2^28");
  const int64_t columns = ngramPool(ctx).columns;
  ctx.outShapes[0] = x.size() == 2 ? Dims{x[0], columns} : Dims{columns};
  ctx.outTypes[0] = DataType::kFloat32;
}

void runTfIdf(OpContext& ctx) {
  const NgramPool pool = ngramPool(ctx);
  const Dims& x = ctx.shape(0);
  const int64_t rows = x.size() == 2 ? x[0] : 1;
  const int64_t width = x.empty() ? 1 : x.back();
  const int64_t minN = ctx.layer.attrInt("min_gram_length", 1);
  const int64_t maxN = ctx.layer.attrInt("max_gram_length", 1);
  const int64_t maxSkip = ctx.layer.attrInt("max_skip_count", 0);
  std::vector<int64_t> tokens(static_cast<size_t>(rows * width));
  kernels::cast(ctx.in[0].data, ctx.dtype(0), tokens.data(), DataType::kInt64, tokens.size());
  std::vector<int64_t> counts(static_cast<size_t>(rows * pool.columns), 0);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t* row = tokens.data() + r * width;
    int64_t smallest = minN;
    for (int64_t step = 1; step <= maxSkip + 1; ++step) {
      for (int64_t start = 0; start + step * (smallest - 1) < width; ++start) {
        int32_t node = 0;
        for (int64_t at = start, n = 1; at < width && n <= maxN; at += step, ++n) {
          node = pool.child(node, row[at]);
          if (node < 0) break;
          const int64_t col = pool.column[static_cast<size_t>(node)];
          if (n >= smallest && col >= 0) ++counts[static_cast<size_t>(r * pool.columns + col)];
        }
      }
      // Unigrams do not depend on the skip: count them on the first pass only.
      if (smallest == 1 && ++smallest > maxN) break;
    }
  }
  const std::string mode = ctx.layer.attrString("mode", "TF");
  const std::vector<double> weights = ctx.layer.attrs.count("weights")
                                          ? ctx.layer.attrs.at("weights").floats
                                          : std::vector<double>{};
  float* y = ctx.outF32(0);
  for (size_t i = 0; i < counts.size(); ++i) {
    const auto col = static_cast<size_t>(static_cast<int64_t>(i) % pool.columns);
    const double w = col < weights.size() ? weights[col] : 1.0;
    const double f = static_cast<double>(counts[i]);
    // Without weights w = 1: IDF marks presence, TFIDF is TF.
    double v = f;
    if (mode == "IDF")
      v = f > 0 ? w : 0.0;
    else if (mode == "TFIDF")
      v = w * f;
    y[i] = static_cast<float>(v);
  }
}

}  // namespace

void registerMiscOps(OpTable& table) {
  table["TopK"] = OpImpl{inferTopK, runTopK};
  table["OneHot"] = OpImpl{inferOneHot, runOneHot};
  table["ReverseSequence"] = OpImpl{inferReverseSequence, runReverseSequence};
  table["CastLike"] = OpImpl{inferCastLike, runCastLike};
  table["Det"] = OpImpl{inferDet, runDet};
  table["HannWindow"] = OpImpl{inferWindow, runWindow};
  table["HammingWindow"] = OpImpl{inferWindow, runWindow};
  table["BlackmanWindow"] = OpImpl{inferWindow, runWindow};
  table["BitShift"] = OpImpl{inferBitShift, runBitShift};
  table["TfIdfVectorizer"] = OpImpl{inferTfIdf, runTfIdf};
}

}  // namespace kiln
