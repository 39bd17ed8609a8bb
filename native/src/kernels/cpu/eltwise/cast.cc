// Cast: one templated loop per (source, destination) pair; float16/bfloat16 go through a small
// float32 block so the bulk (F16C/AVX-512) converters of kiln/dtype.h do the bit work.
#include "kiln/kernels/cast.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "kiln/error.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

namespace {

constexpr size_t kBlock = 512;  // floats staged per half/bf16 conversion

// Truncate toward zero and clamp into D's range; the range test runs in double, where every
// bound (+-2^63, +-2^31, 255, ...) is exact.
template <typename D>
inline D saturate(double v) {
  if (v != v) return 0;
  const double hi = std::ldexp(1.0, std::numeric_limits<D>::digits);  // max + 1
  const double lo = std::is_signed_v<D> ? -hi : 0.0;
  const double t = std::trunc(v);
  if (t >= hi) return std::numeric_limits<D>::max();
  if (t < lo) return std::numeric_limits<D>::min();
  return static_cast<D>(t);
}

template <typename S, typename D, bool ToBool>
inline D convertOne(S v) {
  if constexpr (ToBool) {
    return static_cast<D>(v != 0);
  } else if constexpr (std::is_floating_point_v<D>) {
    return static_cast<D>(v);
  } else if constexpr (std::is_floating_point_v<S>) {
    return saturate<D>(static_cast<double>(v));
  } else {
    // GCC (and C++20) define narrowing integer conversion as modulo 2^bits.
    return static_cast<D>(v);
  }
}

// Destination kinds: a plain C++ type, bool bytes, or a 16-bit float format.
enum class Dst { kPlain, kBool, kHalf, kBFloat16 };

template <typename S, typename D, Dst K>
void castBlock(const S* src, void* dstV, size_t n) {
  if constexpr (K == Dst::kPlain) {
    D* dst = static_cast<D*>(dstV);
    for (size_t i = 0; i < n; ++i) dst[i] = convertOne<S, D, false>(src[i]);
  } else if constexpr (K == Dst::kBool) {
    uint8_t* dst = static_cast<uint8_t*>(dstV);
    for (size_t i = 0; i < n; ++i) dst[i] = convertOne<S, uint8_t, true>(src[i]);
  } else {
    uint16_t* dst = static_cast<uint16_t*>(dstV);
    float tmp[kBlock];
    for (size_t b = 0; b < n; b += kBlock) {
      const size_t m = std::min(kBlock, n - b);
      for (size_t i = 0; i < m; ++i) tmp[i] = static_cast<float>(src[b + i]);
      if constexpr (K == Dst::kHalf)
        convertFloatToHalf(tmp, dst + b, m);
      else
        convertFloatToBFloat16(tmp, dst + b, m);
    }
  }
}

// Source S (already decoded: float for half/bf16, 0/1 for bool) to the destination type.
template <typename S>
void castFromTyped(const S* src, DataType to, void* dst, size_t n) {
  switch (to) {
    case DataType::kFloat32:
      return castBlock<S, float, Dst::kPlain>(src, dst, n);
    case DataType::kUInt8:
      return castBlock<S, uint8_t, Dst::kPlain>(src, dst, n);
    case DataType::kInt8:
      return castBlock<S, int8_t, Dst::kPlain>(src, dst, n);
    case DataType::kInt32:
      return castBlock<S, int32_t, Dst::kPlain>(src, dst, n);
    case DataType::kInt64:
      return castBlock<S, int64_t, Dst::kPlain>(src, dst, n);
    case DataType::kBool:
      return castBlock<S, uint8_t, Dst::kBool>(src, dst, n);
    case DataType::kFloat16:
      return castBlock<S, float, Dst::kHalf>(src, dst, n);
    case DataType::kBFloat16:
      return castBlock<S, float, Dst::kBFloat16>(src, dst, n);
  }
}

// Casts elements [0, n) of x (typed `from`) to y; called per thread chunk.
void castRange(const void* x, DataType from, void* y, DataType to, size_t n) {
  switch (from) {
    case DataType::kFloat32:
      return castFromTyped(static_cast<const float*>(x), to, y, n);
    case DataType::kUInt8:
      return castFromTyped(static_cast<const uint8_t*>(x), to, y, n);
    case DataType::kInt8:
      return castFromTyped(static_cast<const int8_t*>(x), to, y, n);
    case DataType::kInt32:
      return castFromTyped(static_cast<const int32_t*>(x), to, y, n);
    case DataType::kInt64:
      return castFromTyped(static_cast<const int64_t*>(x), to, y, n);
    case DataType::kBool: {
      const uint8_t* s = static_cast<const uint8_t*>(x);
      uint8_t tmp[kBlock];
      const size_t es = dataTypeSize(to);
      for (size_t b = 0; b < n; b += kBlock) {
        const size_t m = std::min(kBlock, n - b);
        for (size_t i = 0; i < m; ++i) tmp[i] = s[b + i] != 0;
        castFromTyped(tmp, to, static_cast<char*>(y) + b * es, m);
      }
      return;
    }
    case DataType::kFloat16:
    case DataType::kBFloat16: {
      const uint16_t* s = static_cast<const uint16_t*>(x);
      float tmp[kBlock];
      const size_t es = dataTypeSize(to);
      for (size_t b = 0; b < n; b += kBlock) {
        const size_t m = std::min(kBlock, n - b);
        if (from == DataType::kFloat16)
          convertHalfToFloat(s + b, tmp, m);
        else
          convertBFloat16ToFloat(s + b, tmp, m);
        castFromTyped(tmp, to, static_cast<char*>(y) + b * es, m);
      }
      return;
    }
  }
}

}  // namespace

void cast(const void* x, DataType from, void* y, DataType to, size_t n) {
  if (!isValidDataType(static_cast<int32_t>(from)) || !isValidDataType(static_cast<int32_t>(to)))
    throw Error(ErrorCode::kInvalidArgument, "cast: unknown data type");
  if (n == 0) return;
  if (!x || !y) throw Error(ErrorCode::kInvalidArgument, "cast: null pointer");
  const size_t inSize = dataTypeSize(from), outSize = dataTypeSize(to);
  if (x == y && inSize != outSize)
    throw Error(ErrorCode::kInvalidArgument, std::string("cast: in place from ") +
                                                 dataTypeName(from) + " to " + dataTypeName(to) +
                                                 " needs equal element sizes");
  if (from == to && from != DataType::kBool) {
    if (x != y) std::memcpy(y, x, n * inSize);
    return;
  }
  // Chunks are whole staging blocks so the half/bool paths never split a block across threads.
  globalThreadPool().parallelFor((n + kBlock - 1) / kBlock, 16, [&](size_t b, size_t e) {
    const size_t i0 = b * kBlock, i1 = std::min(n, e * kBlock);
    castRange(static_cast<const char*>(x) + i0 * inSize, from, static_cast<char*>(y) + i0 * outSize,
              to, i1 - i0);
  });
}

}  // namespace kiln::kernels
