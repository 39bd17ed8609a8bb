// Range, fill (ConstantOfShape) and OneHot.
#include "kiln/kernels/generate.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "kiln/error.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

namespace {

void invalid(const char* op, const std::string& msg) {
  throw Error(ErrorCode::kInvalidArgument, std::string(op) + ": " + msg);
}

// ceil((limit - start) / delta) without overflow: the distance is taken as an unsigned
// magnitude, which always fits even for INT64_MIN .. INT64_MAX.
template <typename T>
int64_t intRangeLength(T start, T limit, T delta) {
  using U = std::make_unsigned_t<T>;
  if (delta == 0) invalid("range", "delta must not be 0");
  if (delta > 0 ? limit <= start : limit >= start) return 0;
  const U dist = delta > 0 ? static_cast<U>(static_cast<U>(limit) - static_cast<U>(start))
                           : static_cast<U>(static_cast<U>(start) - static_cast<U>(limit));
  const U step = delta > 0 ? static_cast<U>(delta) : static_cast<U>(U{0} - static_cast<U>(delta));
  const U count = dist / step + (dist % step != 0 ? 1 : 0);
  if (count > static_cast<U>(std::numeric_limits<int64_t>::max()))
    invalid("range", "too many elements");
  return static_cast<int64_t>(count);
}

template <typename T>
void intRange(T start, T delta, int64_t n, T* y) {
  using U = std::make_unsigned_t<T>;
  if (n < 0) invalid("range", "negative length");
  if (n > 0 && !y) invalid("range", "null output");
  for (int64_t i = 0; i < n; ++i)
    y[i] = static_cast<T>(static_cast<U>(start) + static_cast<U>(i) * static_cast<U>(delta));
}

template <typename T>
void fillTyped(T* y, int64_t n, T v) {
  globalThreadPool().parallelFor(static_cast<size_t>(n), 65536,
                                 [&](size_t b, size_t e) { std::fill(y + b, y + e, v); });
}

template <typename T>
void oneHotTyped(const int64_t* indices, int64_t outer, int64_t depth, int64_t inner, T off, T on,
                 T* y) {
  fillTyped(y, outer * depth * inner, off);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      int64_t v = indices[o * inner + i];
      if (v < 0) v += depth;
      if (v < 0 || v >= depth) continue;  // out of range: the whole row stays off
      y[(o * depth + v) * inner + i] = on;
    }
  }
}

template <typename T>
void oneHotDispatch(const int64_t* indices, int64_t outer, int64_t depth, int64_t inner,
                    const void* off, const void* on, void* y) {
  T offV{}, onV{};
  if (off) std::memcpy(&offV, off, sizeof(T));
  if (on) std::memcpy(&onV, on, sizeof(T));
  oneHotTyped(indices, outer, depth, inner, offV, onV, static_cast<T*>(y));
}

}  // namespace

int64_t rangeLength(float start, float limit, float delta) {
  if (delta == 0) invalid("range", "delta must not be 0");
  if (!std::isfinite(start) || !std::isfinite(limit) || !std::isfinite(delta))
    invalid("range", "start, limit and delta must be finite");
  const double count = std::ceil((static_cast<double>(limit) - static_cast<double>(start)) / delta);
  if (count >= 9.2e18) invalid("range", "too many elements");
  return count > 0 ? static_cast<int64_t>(count) : 0;
}

int64_t rangeLength(int32_t start, int32_t limit, int32_t delta) {
  return intRangeLength(start, limit, delta);
}

int64_t rangeLength(int64_t start, int64_t limit, int64_t delta) {
  return intRangeLength(start, limit, delta);
}

void range(float start, float delta, int64_t n, float* y) {
  if (n < 0) invalid("range", "negative length");
  if (n > 0 && !y) invalid("range", "null output");
  for (int64_t i = 0; i < n; ++i)
    y[i] = static_cast<float>(static_cast<double>(start) +
                              static_cast<double>(i) * static_cast<double>(delta));
}

void range(int32_t start, int32_t delta, int64_t n, int32_t* y) { intRange(start, delta, n, y); }

void range(int64_t start, int64_t delta, int64_t n, int64_t* y) { intRange(start, delta, n, y); }

void fill(void* y, int64_t n, const void* value, size_t es) {
  if (n < 0) invalid("fill", "negative count");
  if (n == 0) return;
  if (!y) invalid("fill", "null output");
  uint64_t v = 0;
  switch (es) {
    case 1:
    case 2:
    case 4:
    case 8:
      if (value) std::memcpy(&v, value, es);
      break;
    default:
      invalid("fill", "element size " + std::to_string(es) + " is not 1, 2, 4 or 8 bytes");
  }
  // memcpy of the low bytes keeps the value's byte pattern on this little-endian target.
  switch (es) {
    case 1:
      return fillTyped(static_cast<uint8_t*>(y), n, static_cast<uint8_t>(v));
    case 2:
      return fillTyped(static_cast<uint16_t*>(y), n, static_cast<uint16_t>(v));
    case 4:
      return fillTyped(static_cast<uint32_t*>(y), n, static_cast<uint32_t>(v));
    default:
      return fillTyped(static_cast<uint64_t*>(y), n, v);
  }
}

void oneHot(const int64_t* indices, const Shape& is, int64_t depth, int64_t axis, const void* off,
            const void* on, size_t es, void* y) {
  const int64_t rank = static_cast<int64_t>(is.size());
  if (axis < 0) axis += rank + 1;
  if (axis < 0 || axis > rank) invalid("oneHot", "axis out of range");
  if (depth <= 0) invalid("oneHot", "depth must be positive");
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= is[d];
  for (int64_t d = axis; d < rank; ++d) inner *= is[d];
  if (outer * inner == 0) return;
  switch (es) {
    case 1:
      return oneHotDispatch<uint8_t>(indices, outer, depth, inner, off, on, y);
    case 2:
      return oneHotDispatch<uint16_t>(indices, outer, depth, inner, off, on, y);
    case 4:
      return oneHotDispatch<uint32_t>(indices, outer, depth, inner, off, on, y);
    case 8:
      return oneHotDispatch<uint64_t>(indices, outer, depth, inner, off, on, y);
    default:
      invalid("oneHot", "element size " + std::to_string(es) + " is not 1, 2, 4 or 8 bytes");
  }
}

}  // namespace kiln::kernels
