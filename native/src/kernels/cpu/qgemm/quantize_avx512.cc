// AVX-512 bodies of the per-tensor quantize kernels, 16 elements at a time, with the same
// operations (IEEE divide, round half to even, fma) as the portable loops.
#include <immintrin.h>

#include <algorithm>

#include "kernels/cpu/qgemm/quantize_internal.h"

namespace kiln::kernels::qgemm {
namespace {

constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

inline __m512 load8(const uint8_t* p, bool isSigned) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm512_cvtepi32_ps(isSigned ? _mm512_cvtepi8_epi32(bytes) : _mm512_cvtepu8_epi32(bytes));
}

// Clamps rounded floats to [max(lo, type min), type max] and stores 16 bytes.
inline void store8(uint8_t* p, __m512 v, bool isSigned, float lo = -1e9f) {
  v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(std::max(lo, isSigned ? -128.0f : 0.0f))),
                    _mm512_set1_ps(isSigned ? 127.0f : 255.0f));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(v)));
}

}  // namespace

int64_t quantizeLinearAvx512(const float* x, int64_t n, float scale, int32_t zeroPoint,
                             bool outSigned, void* y) {
  const __m512 s = _mm512_set1_ps(scale), z = _mm512_set1_ps(static_cast<float>(zeroPoint));
  auto* out = static_cast<uint8_t*>(y);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 q = _mm512_roundscale_ps(_mm512_div_ps(_mm512_loadu_ps(x + i), s), kRound);
    store8(out + i, _mm512_add_ps(q, z), outSigned);
  }
  return i;
}

int64_t dequantizeLinearAvx512(const void* x, bool inSigned, int64_t n, float scale,
                               int32_t zeroPoint, float* y) {
  const auto* in = static_cast<const uint8_t*>(x);
  const __m512 s = _mm512_set1_ps(scale), z = _mm512_set1_ps(static_cast<float>(zeroPoint));
  int64_t i = 0;
  // (x - zp) is exact in float, so subtracting after the conversion matches the integer order.
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_sub_ps(load8(in + i, inSigned), z), s));
  return i;
}

int64_t qlinearAddAvx512(const void* a, const void* b, int64_t n, const QAddParams& p, void* c) {
  const __m512 ra = _mm512_set1_ps(p.aScale / p.cScale), rb = _mm512_set1_ps(p.bScale / p.cScale);
  const __m512 za = _mm512_set1_ps(static_cast<float>(p.aZero));
  const __m512 zb = _mm512_set1_ps(static_cast<float>(p.bZero));
  const __m512 zc = _mm512_set1_ps(static_cast<float>(p.cZero));
  const auto* pa = static_cast<const uint8_t*>(a);
  const auto* pb = static_cast<const uint8_t*>(b);
  auto* pc = static_cast<uint8_t*>(c);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 va = _mm512_sub_ps(load8(pa + i, p.isSigned), za);
    const __m512 vb = _mm512_mul_ps(_mm512_sub_ps(load8(pb + i, p.isSigned), zb), rb);
    const __m512 v = _mm512_roundscale_ps(_mm512_fmadd_ps(va, ra, vb), kRound);
    store8(pc + i, _mm512_add_ps(v, zc), p.isSigned, p.relu ? static_cast<float>(p.cZero) : -1e9f);
  }
  return i;
}

}  // namespace kiln::kernels::qgemm
