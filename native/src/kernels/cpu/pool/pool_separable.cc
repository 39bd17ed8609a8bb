// Pooling in time linear in the input and output sizes, whatever the window: a window far
// larger than its input (legal ONNX, which onnxruntime runs too) costs no more than a small one.
//
// A box window reduces axis by axis (max of maxes, and the mean of means since every line of a
// box has the same tap count), so each pass is a 1-D pooling of lines. Along one line the taps
// of a window that lie inside the input are a contiguous run of one residue class modulo the
// dilation. Each class is cut into blocks of `kernel` taps (or the whole class when it is
// shorter); a run of at most `kernel` taps either spans two neighbouring blocks (a suffix of one
// plus a prefix of the next) or touches its block's first or last tap, because a run shorter
// than the kernel is cut off by an end of the input. So one prefix and one suffix reduction per
// block answer every window with one combine (van Herk / Gil-Werman), and no window ever visits
// its padding.
#include <algorithm>
#include <limits>
#include <numeric>
#include <vector>

#include "kernels/cpu/common/no_coverage.h"
#include "kiln/error.h"
#include "kiln/kernels/pool.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

namespace {

int64_t ceilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

// Taps of window `o` along `a`: [kLo, kHi) lie inside the input, [0, padded) inside the padded
// input (taps past the trailing pad only exist for ceil_mode windows and count for neither).
struct AxisTaps {
  int64_t first = 0;  // input position of tap kLo
  int64_t inside = 0;
  int64_t padded = 0;
};

AxisTaps axisTaps(const PoolAxis& a, int64_t o) {
  const int64_t w0 = o * a.stride - a.padBegin;
  const int64_t kLo = w0 >= 0 ? 0 : ceilDiv(-w0, a.dilation);
  const int64_t kHi = std::min(a.kernel, std::max<int64_t>(0, ceilDiv(a.in - w0, a.dilation)));
  AxisTaps t;
  t.first = w0 + kLo * a.dilation;
  t.inside = std::max<int64_t>(0, kHi - kLo);
  t.padded = std::min(a.kernel, std::max<int64_t>(0, ceilDiv(a.in + a.padEnd - w0, a.dilation)));
  return t;
}

// A running value: max (NaN wins, as max in onnxruntime does), the max with the flat input
// index of its first occurrence, or a sum.
template <typename T>
struct MaxOp {
  using V = T;
  static V load(T x, int64_t) { return x; }
  static V combine(V a, V b) { return (b > a || b != b) ? b : a; }
  static V empty() {
    return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                : std::numeric_limits<T>::lowest();
  }
  static V finish(V v, int64_t) { return v; }
};

struct ArgMax {
  float v;
  int64_t i;
};
struct ArgMaxOp {
  using V = ArgMax;
  static V load(float x, int64_t i) { return {x, i}; }
  // A tie keeps the lower flat index, which makes the first maximum in row-major order win
  // whatever order the axes are pooled in.
  static V combine(V a, V b) {
    const bool bNan = b.v != b.v, aNan = a.v != a.v;
    if (bNan != aNan) return bNan ? b : a;
    if (b.v > a.v) return b;
    if (a.v > b.v) return a;
    return b.i < a.i ? b : a;
  }
  static V empty() { return {-std::numeric_limits<float>::infinity(), -1}; }
  static V finish(V v, int64_t) { return v; }
};

struct MeanOp {
  using V = double;
  static V load(double x, int64_t) { return x; }
  static V combine(V a, V b) { return a + b; }
  static V empty() { return 0.0; }
  static V finish(V sum, int64_t count) {
    return count > 0 ? sum / static_cast<double>(count) : 0.0;
  }
};

// One pass: pools every line along axis `a` of `src` (dims `dims`, row-major) into `dst`, whose
// dims are the same but a.out along the axis. pre/suf hold a.in values each.
template <typename Op>
KILN_NO_COVERAGE void poolAxis(const PoolAxis& a, bool countIncludePad,
                               const std::vector<int64_t>& dims, size_t axis,
                               const typename Op::V* src, typename Op::V* dst, typename Op::V* pre,
                               typename Op::V* suf, const std::vector<AxisTaps>& taps) {
  using V = typename Op::V;
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < axis; ++d) outer *= dims[d];
  for (size_t d = axis + 1; d < dims.size(); ++d) inner *= dims[d];
  const int64_t n = a.in, step = a.dilation;
  for (int64_t ob = 0; ob < outer; ++ob) {
    for (int64_t j = 0; j < inner; ++j) {
      const V* line = src + ob * n * inner + j;
      V* out = dst + ob * a.out * inner + j;
      // Block of position i: class r = i % step, index q = i / step in the class, whose length
      // is len(r); blocks of b(r) = min(kernel, len(r)) class entries.
      const auto classLen = [&](int64_t r) { return (n - r + step - 1) / step; };
      for (int64_t i = 0; i < n; ++i) {
        const int64_t r = i % step, q = i / step, b = std::min(a.kernel, classLen(r));
        const V v = line[i * inner];
        pre[i] = q % b == 0 ? v : Op::combine(pre[i - step], v);
      }
      for (int64_t i = n - 1; i >= 0; --i) {
        const int64_t r = i % step, q = i / step, len = classLen(r);
        const int64_t b = std::min(a.kernel, len);
        const V v = line[i * inner];
        const bool blockEnd = q % b == b - 1 || q == len - 1;
        suf[i] = blockEnd ? v : Op::combine(v, suf[i + step]);
      }
      for (int64_t o = 0; o < a.out; ++o) {
        const AxisTaps& t = taps[static_cast<size_t>(o)];
        V v = Op::empty();
        if (t.inside > 0) {
          const int64_t first = t.first, last = first + (t.inside - 1) * step;
          const int64_t r = first % step, len = classLen(r);
          const int64_t b = std::min(a.kernel, len);
          const int64_t qa = first / step, qb = last / step;
          if (qa / b != qb / b)
            v = Op::combine(suf[first], pre[last]);
          else if (qa % b == 0)
            v = pre[last];
          else if (qb % b == b - 1 || qb == len - 1)
            v = suf[first];
          else
            throw Error(ErrorCode::kInternal, "pool: a window fits no block");
        }
        out[o * inner] = Op::finish(v, countIncludePad ? t.padded : t.inside);
      }
    }
  }
}

// The order the axes are pooled in: the ones that shrink the data most first, so the
// intermediate results stay as small as possible (ascending out / in minimizes every partial
// product). Sets the largest intermediate and the longest line, in elements.
std::vector<size_t> passOrder(const std::vector<PoolAxis>& axes, int64_t* most, int64_t* line) {
  // An empty axis (possible when only the scratch is asked for) sorts first and empties the rest.
  const auto ratio = [&](size_t d) {
    return axes[d].in > 0 ? static_cast<double>(axes[d].out) / static_cast<double>(axes[d].in)
                          : 0.0;
  };
  std::vector<size_t> order(axes.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t p, size_t q) { return ratio(p) < ratio(q); });
  std::vector<int64_t> dims(axes.size());
  for (size_t d = 0; d < axes.size(); ++d) dims[d] = axes[d].in;
  const auto elements = [&] {
    int64_t n = 1;
    for (int64_t v : dims) n *= std::max<int64_t>(v, 0);
    return n;
  };
  *most = elements();
  *line = 1;
  for (const PoolAxis& a : axes) *line = std::max(*line, a.in);
  for (size_t d : order) {
    dims[d] = axes[d].out;
    *most = std::max(*most, elements());
  }
  return order;
}

// Pools every plane through all axes in passOrder.
template <typename Op, typename T, typename Y, typename Store>
void poolPlanes(const std::vector<PoolAxis>& axes, bool countIncludePad, int64_t planes, const T* x,
                Y* y, Store store) {
  using V = typename Op::V;
  const size_t rank = axes.size();
  int64_t most = 1, line = 1, inSize = 1, outSize = 1;
  const std::vector<size_t> order = passOrder(axes, &most, &line);
  std::vector<std::vector<AxisTaps>> taps(rank);
  for (size_t d = 0; d < rank; ++d) {
    for (int64_t o = 0; o < axes[d].out; ++o) taps[d].push_back(axisTaps(axes[d], o));
    inSize *= axes[d].in;
    outSize *= axes[d].out;
  }
  globalThreadPool().parallelFor(static_cast<size_t>(planes), 1, [&](size_t pb, size_t pe) {
    std::vector<V> bufA(static_cast<size_t>(most)), bufB(static_cast<size_t>(most));
    std::vector<V> pre(static_cast<size_t>(line)), suf(static_cast<size_t>(line));
    for (int64_t p = static_cast<int64_t>(pb); p < static_cast<int64_t>(pe); ++p) {
      const T* in = x + p * inSize;
      for (int64_t i = 0; i < inSize; ++i) bufA[static_cast<size_t>(i)] = Op::load(in[i], i);
      std::vector<int64_t> dims(rank);
      for (size_t d = 0; d < rank; ++d) dims[d] = axes[d].in;
      V* cur = bufA.data();
      V* next = bufB.data();
      for (size_t d : order) {
        poolAxis<Op>(axes[d], countIncludePad, dims, d, cur, next, pre.data(), suf.data(), taps[d]);
        dims[d] = axes[d].out;
        std::swap(cur, next);
      }
      for (int64_t i = 0; i < outSize; ++i) store(p, i, cur[i], y + p * outSize + i);
    }
  });
}

void checkAxes(const std::vector<PoolAxis>& axes) {
  for (const PoolAxis& a : axes) {
    if (a.in <= 0 || a.out <= 0 || a.kernel <= 0 || a.stride <= 0 || a.dilation <= 0 ||
        a.padBegin < 0 || a.padEnd < 0)
      throw Error(ErrorCode::kInvalidArgument,
                  "pool: sizes, kernels, strides and dilations must be positive, pads >= 0");
  }
}

}  // namespace

bool poolWindowIsWide(const std::vector<PoolAxis>& axes) {
  int64_t taps = 1;
  for (const PoolAxis& a : axes) {
    if (a.kernel > kPoolDirectMaxTaps) return true;
    taps *= a.kernel;
    if (taps > kPoolDirectMaxTaps) return true;
  }
  return false;
}

void poolSeparable(PoolKind kind, bool countIncludePad, int64_t planes,
                   const std::vector<PoolAxis>& axes, const float* x, float* y) {
  checkAxes(axes);
  if (kind == PoolKind::kMax)
    return poolPlanes<MaxOp<float>>(axes, false, planes, x, y,
                                    [](int64_t, int64_t, float v, float* out) { *out = v; });
  poolPlanes<MeanOp>(axes, countIncludePad, planes, x, y,
                     [](int64_t, int64_t, double v, float* out) { *out = static_cast<float>(v); });
}

template <typename T>
void maxPoolSeparable(int64_t planes, const std::vector<PoolAxis>& axes, const T* x, T* y) {
  checkAxes(axes);
  poolPlanes<MaxOp<T>>(axes, false, planes, x, y, [](int64_t, int64_t, T v, T* out) { *out = v; });
}
template void maxPoolSeparable(int64_t, const std::vector<PoolAxis>&, const uint8_t*, uint8_t*);
template void maxPoolSeparable(int64_t, const std::vector<PoolAxis>&, const int8_t*, int8_t*);

void maxPoolWithIndices(int64_t planes, const std::vector<PoolAxis>& axes, bool columnMajor,
                        const float* x, float* y, int64_t* indices) {
  checkAxes(axes);
  int64_t inSize = 1, outSize = 1;
  for (const PoolAxis& a : axes) inSize *= a.in, outSize *= a.out;
  poolPlanes<ArgMaxOp>(axes, false, planes, x, y, [&](int64_t p, int64_t o, ArgMax v, float* out) {
    *out = v.v;
    int64_t index = v.i < 0 ? 0 : v.i;
    if (columnMajor && v.i >= 0) {
      // Renumber the row-major spatial offset with the first spatial dim fastest.
      int64_t rest = v.i, column = 0, stride = 1;
      std::vector<int64_t> coords(axes.size());
      for (size_t d = axes.size(); d-- > 0;) {
        coords[d] = rest % axes[d].in;
        rest /= axes[d].in;
      }
      for (size_t d = 0; d < axes.size(); ++d) {
        column += coords[d] * stride;
        stride *= axes[d].in;
      }
      index = column;
    }
    indices[p * outSize + o] = p * inSize + index;
  });
}

size_t poolSeparableScratchBytes(const std::vector<PoolAxis>& axes, bool withIndices, bool mean) {
  int64_t most = 1, line = 1;
  passOrder(axes, &most, &line);
  const size_t value = withIndices ? sizeof(ArgMax) : mean ? sizeof(double) : sizeof(float);
  return static_cast<size_t>(2 * most + 2 * line) * value;
}

}  // namespace kiln::kernels
