// The 1-D transforms of Winograd F(4, 3) (Lavin & Gray, 2015; points 0, +-1, +-2, infinity),
// written once for any value type with + - and scalar *: float for the generic path, __m512 for
// the AVX-512 one (16 tiles per vector). The 2-D transforms apply them along rows, then columns.
#pragma once

namespace kiln::kernels::winograd {

// Output tile edge, input tile edge, and the number of elementwise GEMMs (tile positions).
constexpr int kTile = 4;
constexpr int kAlpha = 6;
constexpr int kPositions = kAlpha * kAlpha;

// o = B^T d for one column of 6 input values (strides let it run on rows and on columns).
template <typename V>
inline void inputTransform6(const V* d, int ds, V* o, int os) {
  const V d0 = d[0], d1 = d[ds], d2 = d[2 * ds], d3 = d[3 * ds], d4 = d[4 * ds], d5 = d[5 * ds];
  const V a = d4 - 4.0f * d2;  // shared by rows 1 and 2
  const V b = d3 - 4.0f * d1;
  const V c = d4 - d2;  // shared by rows 3 and 4
  const V e = 2.0f * (d3 - d1);
  o[0] = 4.0f * d0 - 5.0f * d2 + d4;
  o[os] = a + b;
  o[2 * os] = a - b;
  o[3 * os] = c + e;
  o[4 * os] = c - e;
  o[5 * os] = 4.0f * d1 - 5.0f * d3 + d5;
}

// o = A^T m: 4 outputs from 6 values of one column.
template <typename V>
inline void outputTransform6(const V* m, int ms, V* o, int os) {
  const V s12 = m[ms] + m[2 * ms], d12 = m[ms] - m[2 * ms];
  const V s34 = m[3 * ms] + m[4 * ms], d34 = m[3 * ms] - m[4 * ms];
  o[0] = m[0] + s12 + s34;
  o[os] = d12 + 2.0f * d34;
  o[2 * os] = s12 + 4.0f * s34;
  o[3 * os] = d12 + 8.0f * d34 + m[5 * ms];
}

// v = B^T d B for a 6 x 6 tile d (row-major), through a 6 x 6 temporary.
template <typename V>
inline void inputTile(const V* d, V* v) {
  V t[kPositions];
  for (int col = 0; col < kAlpha; ++col) inputTransform6(d + col, kAlpha, t + col, kAlpha);
  for (int row = 0; row < kAlpha; ++row) inputTransform6(t + row * kAlpha, 1, v + row * kAlpha, 1);
}

// o = A^T m A: the 4 x 4 output tile (row-major) from the 6 x 6 GEMM results m.
template <typename V>
inline void outputTile(const V* m, V* o) {
  V t[kTile * kAlpha];
  for (int col = 0; col < kAlpha; ++col) outputTransform6(m + col, kAlpha, t + col, kAlpha);
  for (int row = 0; row < kTile; ++row) outputTransform6(t + row * kAlpha, 1, o + row * kTile, 1);
}

}  // namespace kiln::kernels::winograd
