// NonZero and TopK.
#include "kiln/kernels/indexing.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "kiln/error.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

namespace {

void invalid(const char* op, const std::string& msg) {
  throw Error(ErrorCode::kInvalidArgument, std::string(op) + ": " + msg);
}

// Nonzero tests on the bit patterns: floats ignore the sign bit (so -0.0 is zero and NaN is
// not), integers and bool compare the whole element with 0.
template <typename T>
bool nonZeroAt(const void* x, int64_t i, T signMask) {
  T v;
  std::memcpy(&v, static_cast<const char*>(x) + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
  return (v & static_cast<T>(~signMask)) != 0;
}

// Calls f(i) for each nonzero element i of x in order.
template <typename F>
void forEachNonZero(const void* x, DataType type, int64_t n, F f) {
  switch (type) {
    case DataType::kFloat32:
      for (int64_t i = 0; i < n; ++i)
        if (nonZeroAt<uint32_t>(x, i, 0x80000000u)) f(i);
      return;
    case DataType::kFloat16:
    case DataType::kBFloat16:
      for (int64_t i = 0; i < n; ++i)
        if (nonZeroAt<uint16_t>(x, i, 0x8000u)) f(i);
      return;
    case DataType::kInt32:
      for (int64_t i = 0; i < n; ++i)
        if (nonZeroAt<uint32_t>(x, i, 0)) f(i);
      return;
    case DataType::kInt64:
      for (int64_t i = 0; i < n; ++i)
        if (nonZeroAt<uint64_t>(x, i, 0)) f(i);
      return;
    case DataType::kUInt8:
    case DataType::kInt8:
    case DataType::kBool:
      for (int64_t i = 0; i < n; ++i)
        if (nonZeroAt<uint8_t>(x, i, 0)) f(i);
      return;
  }
  invalid("nonZero", "unknown data type");
}

// Total order used by TopK: NaN above every number, NaNs equal to each other.
template <typename T>
inline bool greaterThan(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a)) return !std::isnan(b);
    if (std::isnan(b)) return false;
  }
  return a > b;
}

template <typename T>
void topKImpl(const T* x, const Shape& xs, int64_t axis, int64_t k, bool largest, T* values,
              int64_t* indices) {
  const int64_t rank = static_cast<int64_t>(xs.size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) invalid("topK", "axis out of range");
  const int64_t dim = xs[axis];
  if (k < 0 || k > dim)
    invalid("topK", "k = " + std::to_string(k) + " outside [0, " + std::to_string(dim) + "]");
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= xs[d];
  for (int64_t d = axis + 1; d < rank; ++d) inner *= xs[d];
  if (k == 0 || outer * inner == 0) return;
  globalThreadPool().parallelFor(
      static_cast<size_t>(outer * inner),
      static_cast<size_t>(std::max<int64_t>(1, 16384 / std::max<int64_t>(dim, 1))),
      [&](size_t b, size_t e) {
        std::vector<int64_t> order(static_cast<size_t>(dim));
        for (size_t s = b; s < e; ++s) {
          const int64_t o = static_cast<int64_t>(s) / inner, i = static_cast<int64_t>(s) % inner;
          const T* src = x + o * dim * inner + i;
          std::iota(order.begin(), order.end(), int64_t{0});
          // Ties go to the lower index, which makes the order total and the result unique.
          auto before = [&](int64_t p, int64_t q) {
            const T a = src[p * inner], c = src[q * inner];
            if (largest) {
              if (greaterThan(a, c)) return true;
              if (greaterThan(c, a)) return false;
            } else {
              if (greaterThan(c, a)) return true;
              if (greaterThan(a, c)) return false;
            }
            return p < q;
          };
          if (k * 4 >= dim)
            std::sort(order.begin(), order.end(), before);
          else
            std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
          T* vo = values + o * k * inner + i;
          int64_t* io = indices + o * k * inner + i;
          for (int64_t j = 0; j < k; ++j) {
            vo[j * inner] = src[order[j] * inner];
            io[j * inner] = order[j];
          }
        }
      });
}

}  // namespace

int64_t countNonZero(const void* x, DataType type, const Shape& xs) {
  const int64_t n = shapeSize(xs);
  if (n > 0 && !x) invalid("nonZero", "null input");
  int64_t count = 0;
  forEachNonZero(x, type, n, [&](int64_t) { ++count; });
  return count;
}

void nonZero(const void* x, DataType type, const Shape& xs, int64_t count, int64_t* y) {
  const Shape shape = xs.empty() ? Shape{1} : xs;
  const size_t rank = shape.size();
  const int64_t n = shapeSize(shape);
  if (n > 0 && !x) invalid("nonZero", "null input");
  int64_t at = 0;
  std::vector<int64_t> idx(rank);
  forEachNonZero(x, type, n, [&](int64_t i) {
    if (at >= count) invalid("nonZero", "more nonzero elements than count");
    int64_t r = i;
    for (size_t d = rank; d-- > 0;) idx[d] = r % shape[d], r /= shape[d];
    for (size_t d = 0; d < rank; ++d) y[static_cast<int64_t>(d) * count + at] = idx[d];
    ++at;
  });
  if (at != count) invalid("nonZero", "fewer nonzero elements than count");
}

void topK(const float* x, const Shape& xs, int64_t axis, int64_t k, bool largest, float* values,
          int64_t* indices) {
  topKImpl(x, xs, axis, k, largest, values, indices);
}

void topK(const int64_t* x, const Shape& xs, int64_t axis, int64_t k, bool largest, int64_t* values,
          int64_t* indices) {
  topKImpl(x, xs, axis, k, largest, values, indices);
}

}  // namespace kiln::kernels
