// CumSum: a running row of `inner` partial sums walked along the axis, so the inner loop is a
// contiguous, vectorizable add.
#include <algorithm>
#include <string>
#include <type_traits>

#include "kiln/error.h"
#include "kiln/kernels/reduce.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

namespace {

template <typename T>
inline T addWrap(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return a + b;
  }
}

template <typename T>
void cumsumImpl(const T* x, const Shape& xs, int64_t axis, bool exclusive, bool reverse, T* y) {
  const int64_t rank = static_cast<int64_t>(xs.size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank)
    throw Error(ErrorCode::kInvalidArgument, "cumsum: axis out of range");
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= xs[d];
  for (int64_t d = axis + 1; d < rank; ++d) inner *= xs[d];
  const int64_t dim = xs[axis];
  if (outer * inner * dim == 0) return;
  globalThreadPool().parallelFor(
      static_cast<size_t>(outer),
      static_cast<size_t>(std::max<int64_t>(1, 16384 / std::max<int64_t>(dim * inner, 1))),
      [&](size_t b, size_t e) {
        for (size_t o = b; o < e; ++o) {
          const T* xo = x + static_cast<int64_t>(o) * dim * inner;
          T* yo = y + static_cast<int64_t>(o) * dim * inner;
          // Position j along the axis in walk order; `prev` is the output row written before.
          for (int64_t j = 0; j < dim; ++j) {
            const int64_t at = reverse ? dim - 1 - j : j;
            const int64_t before = reverse ? at + 1 : at - 1;
            T* row = yo + at * inner;
            if (exclusive) {
              if (j == 0) {
                std::fill(row, row + inner, T{0});
              } else {
                const T* prev = yo + before * inner;
                const T* xin = xo + before * inner;
                for (int64_t i = 0; i < inner; ++i) row[i] = addWrap(prev[i], xin[i]);
              }
            } else {
              const T* xin = xo + at * inner;
              if (j == 0) {
                std::copy(xin, xin + inner, row);
              } else {
                const T* prev = yo + before * inner;
                for (int64_t i = 0; i < inner; ++i) row[i] = addWrap(prev[i], xin[i]);
              }
            }
          }
        }
      });
}

}  // namespace

void cumsum(const float* x, const Shape& xs, int64_t axis, bool exclusive, bool reverse, float* y) {
  cumsumImpl(x, xs, axis, exclusive, reverse, y);
}

void cumsum(const int32_t* x, const Shape& xs, int64_t axis, bool exclusive, bool reverse,
            int32_t* y) {
  cumsumImpl(x, xs, axis, exclusive, reverse, y);
}

void cumsum(const int64_t* x, const Shape& xs, int64_t axis, bool exclusive, bool reverse,
            int64_t* y) {
  cumsumImpl(x, xs, axis, exclusive, reverse, y);
}

}  // namespace kiln::kernels
