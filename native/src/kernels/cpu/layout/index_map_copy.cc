#include "kernels/cpu/layout/index_map_copy.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "kiln/error.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

namespace {

// Elements are moved as unsigned integers of their size: a plain copy that never normalizes
// NaN payloads or signalling bits, so every dtype round-trips bit for bit.
template <typename T>
void copyTyped(const T* x, const Shape& outShape, const std::vector<std::vector<int64_t>>& tables,
               T padValue, T* y) {
  const int64_t total = shapeSize(outShape);
  if (total == 0) return;
  if (outShape.empty()) {
    y[0] = x[0];
    return;
  }
  const size_t rank = outShape.size();
  const int64_t inner = outShape.back();
  const std::vector<int64_t>& last = tables.back();
  // A contiguous, unpadded last dim copies rows with memcpy.
  bool contiguous = last[0] >= 0;
  for (int64_t i = 1; i < inner && contiguous; ++i) contiguous = last[i] == last[0] + i;
  const int64_t rows = total / inner;
  globalThreadPool().parallelFor(
      static_cast<size_t>(rows), static_cast<size_t>(std::max<int64_t>(1, 8192 / inner)),
      [&](size_t b, size_t e) {
        std::vector<int64_t> idx(rank, 0);
        int64_t r = static_cast<int64_t>(b);
        for (size_t d = rank - 1; d-- > 0;) idx[d] = r % outShape[d], r /= outShape[d];
        for (size_t row = b; row < e; ++row) {
          int64_t base = 0;
          bool padded = false;
          for (size_t d = 0; d + 1 < rank; ++d) {
            const int64_t t = tables[d][idx[d]];
            if (t < 0) padded = true;
            base += t;
          }
          T* out = y + static_cast<int64_t>(row) * inner;
          if (padded) {
            std::fill(out, out + inner, padValue);
          } else if (contiguous) {
            std::memcpy(out, x + base + last[0], sizeof(T) * static_cast<size_t>(inner));
          } else {
            for (int64_t i = 0; i < inner; ++i) out[i] = last[i] < 0 ? padValue : x[base + last[i]];
          }
          for (size_t d = rank - 1; d-- > 0;) {
            if (++idx[d] < outShape[d]) break;
            idx[d] = 0;
          }
        }
      });
}

template <typename T>
void dispatch(const void* x, const Shape& outShape, const std::vector<std::vector<int64_t>>& tables,
              const void* padValue, void* y) {
  T pv{};
  if (padValue) std::memcpy(&pv, padValue, sizeof(T));
  copyTyped(static_cast<const T*>(x), outShape, tables, pv, static_cast<T*>(y));
}

}  // namespace

void checkElemSize(const char* op, size_t elemSize) {
  if (elemSize != 1 && elemSize != 2 && elemSize != 4 && elemSize != 8)
    throw Error(ErrorCode::kInvalidArgument, std::string(op) + ": element size " +
                                                 std::to_string(elemSize) +
                                                 " is not 1, 2, 4 or 8 bytes");
}

void indexMapCopy(const void* x, const Shape& outShape,
                  const std::vector<std::vector<int64_t>>& tables, const void* padValue,
                  size_t elemSize, void* y) {
  switch (elemSize) {
    case 1:
      return dispatch<uint8_t>(x, outShape, tables, padValue, y);
    case 2:
      return dispatch<uint16_t>(x, outShape, tables, padValue, y);
    case 4:
      return dispatch<uint32_t>(x, outShape, tables, padValue, y);
    case 8:
      return dispatch<uint64_t>(x, outShape, tables, padValue, y);
    default:
      checkElemSize("indexMapCopy", elemSize);
  }
}

}  // namespace kiln::kernels
