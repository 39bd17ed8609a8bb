// Transpose, Slice, Pad, Tile and DepthToSpace as index-map copies; Concat, Split and Gather as
// block copies. Offsets are counted in elements and scaled by elemSize only at the copy.
#include "kiln/kernels/layout.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "kernels/cpu/layout/index_map_copy.h"
#include "kiln/error.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

namespace {
void invalid(const char* op, const std::string& msg) {
  throw Error(ErrorCode::kInvalidArgument, std::string(op) + ": " + msg);
}

std::vector<int64_t> stridesOf(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t d = s.size(); d-- > 1;) st[d - 1] = st[d] * s[d];
  return st;
}

// Copies `outer` blocks of `block` elements (spaced srcStride) into blocks spaced dstStride.
void copyBlocks(const void* srcV, int64_t srcStride, void* dstV, int64_t dstStride, int64_t outer,
                int64_t block, size_t es) {
  const char* src = static_cast<const char*>(srcV);
  char* dst = static_cast<char*>(dstV);
  const size_t bytes = es * static_cast<size_t>(block);
  globalThreadPool().parallelFor(
      static_cast<size_t>(outer),
      static_cast<size_t>(std::max<int64_t>(1, 65536 / std::max<int64_t>(bytes, 1))),
      [&](size_t b, size_t e) {
        for (size_t o = b; o < e; ++o)
          std::memcpy(dst + o * dstStride * es, src + o * srcStride * es, bytes);
      });
}

// Gather for either index type: indices are validated first, so the copy loop cannot fault.
template <typename I>
void gatherImpl(const void* xV, const Shape& xs, int64_t axis, const I* indices, const Shape& is,
                size_t es, void* yV) {
  checkElemSize("gather", es);
  const int64_t rank = static_cast<int64_t>(xs.size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) invalid("gather", "axis out of range");
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= xs[d];
  for (int64_t d = axis + 1; d < rank; ++d) inner *= xs[d];
  const int64_t dim = xs[axis], count = shapeSize(is);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t v = static_cast<int64_t>(indices[i]);
    if (v < -dim || v >= dim)
      invalid("gather",
              "index " + std::to_string(v) + " out of range for dim " + std::to_string(dim));
  }
  const char* x = static_cast<const char*>(xV);
  char* y = static_cast<char*>(yV);
  const size_t rowBytes = es * static_cast<size_t>(inner);
  if (rowBytes == 0) return;  // empty rows: nothing to copy, and memcpy must not see a null x
  globalThreadPool().parallelFor(
      static_cast<size_t>(outer * count),
      static_cast<size_t>(std::max<int64_t>(1, 32768 / std::max<int64_t>(rowBytes, 1))),
      [&](size_t b, size_t e) {
        for (size_t t = b; t < e; ++t) {
          const int64_t o = static_cast<int64_t>(t) / count, i = static_cast<int64_t>(t) % count;
          const int64_t v = static_cast<int64_t>(indices[i]);
          const int64_t idx = v < 0 ? v + dim : v;
          std::memcpy(y + t * rowBytes, x + static_cast<size_t>(o * dim + idx) * rowBytes,
                      rowBytes);
        }
      });
}
// An empty tensor: a copy into it writes nothing.
bool hasZeroDim(const Shape& s) { return std::find(s.begin(), s.end(), 0) != s.end(); }

}  // namespace

void transpose(const void* x, const Shape& xs, const std::vector<int64_t>& perm, size_t es,
               void* y) {
  checkElemSize("transpose", es);
  if (perm.size() != xs.size()) invalid("transpose", "perm length differs from rank");
  std::vector<bool> seen(xs.size(), false);
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(xs.size()) || seen[p])
      invalid("transpose", "perm is not a permutation");
    seen[p] = true;
  }
  if (hasZeroDim(xs)) return;  // nothing to move (and a huge dim beside a 0 needs no table)
  const auto st = stridesOf(xs);
  Shape out(xs.size());
  std::vector<std::vector<int64_t>> tables(xs.size());
  for (size_t d = 0; d < xs.size(); ++d) {
    out[d] = xs[perm[d]];
    tables[d].resize(static_cast<size_t>(out[d]));
    for (int64_t i = 0; i < out[d]; ++i) tables[d][i] = i * st[perm[d]];
  }
  indexMapCopy(x, out, tables, nullptr, es, y);
}

void concat(const std::vector<const void*>& inputs, const std::vector<Shape>& shapes, int64_t axis,
            size_t es, void* y) {
  checkElemSize("concat", es);
  if (inputs.empty() || inputs.size() != shapes.size())
    invalid("concat", "need matching inputs and shapes");
  const Shape& s0 = shapes[0];
  if (axis < 0 || axis >= static_cast<int64_t>(s0.size())) invalid("concat", "axis out of range");
  int64_t total = 0;
  for (const Shape& s : shapes) {
    if (s.size() != s0.size()) invalid("concat", "ranks differ");
    for (size_t d = 0; d < s.size(); ++d)
      if (static_cast<int64_t>(d) != axis && s[d] != s0[d])
        invalid("concat", "non-axis dims differ");
    total += s[axis];
  }
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= s0[d];
  for (size_t d = axis + 1; d < s0.size(); ++d) inner *= s0[d];
  int64_t at = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int64_t block = shapes[i][axis] * inner;
    if (block > 0)
      copyBlocks(inputs[i], block, static_cast<char*>(y) + at * es, total * inner, outer, block,
                 es);
    at += block;
  }
}

void split(const void* x, const Shape& xs, int64_t axis, const std::vector<int64_t>& sizes,
           size_t es, const std::vector<void*>& outputs) {
  checkElemSize("split", es);
  if (axis < 0 || axis >= static_cast<int64_t>(xs.size())) invalid("split", "axis out of range");
  if (sizes.size() != outputs.size()) invalid("split", "sizes and outputs differ in count");
  int64_t sum = 0;
  for (int64_t s : sizes) {
    if (s < 0) invalid("split", "negative size");
    sum += s;
  }
  if (sum != xs[axis]) invalid("split", "sizes do not add up to the axis length");
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= xs[d];
  for (size_t d = axis + 1; d < xs.size(); ++d) inner *= xs[d];
  int64_t at = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    const int64_t block = sizes[i] * inner;
    if (block > 0)
      copyBlocks(static_cast<const char*>(x) + at * es, xs[axis] * inner, outputs[i], block, outer,
                 block, es);
    at += block;
  }
}

SliceSpec resolveSlice(const Shape& xs, const std::vector<int64_t>& starts,
                       const std::vector<int64_t>& ends, const std::vector<int64_t>& axesIn,
                       const std::vector<int64_t>& stepsIn) {
  const int64_t rank = static_cast<int64_t>(xs.size());
  if (starts.size() != ends.size()) invalid("slice", "starts and ends differ in length");
  if (!axesIn.empty() && axesIn.size() != starts.size())
    invalid("slice", "axes length differs from starts");
  if (!stepsIn.empty() && stepsIn.size() != starts.size())
    invalid("slice", "steps length differs from starts");
  SliceSpec spec;
  spec.start.assign(xs.size(), 0);
  spec.step.assign(xs.size(), 1);
  spec.outShape = xs;
  std::vector<bool> used(xs.size(), false);
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t axis = axesIn.empty() ? static_cast<int64_t>(i) : axesIn[i];
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank || used[axis]) invalid("slice", "bad or repeated axis");
    used[axis] = true;
    const int64_t dim = xs[axis];
    const int64_t step = stepsIn.empty() ? 1 : stepsIn[i];
    if (step == 0) invalid("slice", "step must not be 0");
    int64_t s = starts[i], e = ends[i];
    // Clamp as the ONNX spec does: to [0, dim] for positive steps, [-1, dim - 1] for negative.
    // Far-negative values (INT64_MIN means "before the start") become -1 without overflowing.
    if (s < 0) s = s < -dim ? -1 : s + dim;
    if (e < 0) e = e < -dim ? -1 : e + dim;
    if (step > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
    } else {
      s = std::clamp<int64_t>(s, -1, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
    }
    int64_t count = step > 0 ? (e - s + step - 1) / step : (s - e + (-step) - 1) / (-step);
    count = std::max<int64_t>(0, count);
    spec.start[axis] = s;
    spec.step[axis] = step;
    spec.outShape[axis] = count;
  }
  return spec;
}

void slice(const void* x, const Shape& xs, const SliceSpec& spec, size_t es, void* y) {
  checkElemSize("slice", es);
  if (spec.outShape.size() != xs.size()) invalid("slice", "spec rank differs from input rank");
  if (hasZeroDim(spec.outShape)) return;
  const auto st = stridesOf(xs);
  std::vector<std::vector<int64_t>> tables(xs.size());
  for (size_t d = 0; d < xs.size(); ++d) {
    tables[d].resize(static_cast<size_t>(spec.outShape[d]));
    for (int64_t i = 0; i < spec.outShape[d]; ++i) {
      const int64_t src = spec.start[d] + i * spec.step[d];
      if (src < 0 || src >= xs[d]) invalid("slice", "spec reaches outside the input");
      tables[d][i] = src * st[d];
    }
  }
  indexMapCopy(x, spec.outShape, tables, nullptr, es, y);
}

void gather(const void* x, const Shape& xs, int64_t axis, const int64_t* indices, const Shape& is,
            size_t es, void* y) {
  gatherImpl(x, xs, axis, indices, is, es, y);
}

void gather(const void* x, const Shape& xs, int64_t axis, const int32_t* indices, const Shape& is,
            size_t es, void* y) {
  gatherImpl(x, xs, axis, indices, is, es, y);
}

void pad(const void* x, const Shape& xs, const std::vector<int64_t>& pads, PadMode mode,
         const void* value, size_t es, void* y) {
  checkElemSize("pad", es);
  const size_t rank = xs.size();
  if (pads.size() != 2 * rank) invalid("pad", "pads must have 2 * rank values");
  const auto st = stridesOf(xs);
  Shape out(rank);
  for (size_t d = 0; d < rank; ++d) {
    out[d] = xs[d] + pads[d] + pads[d + rank];
    if (out[d] < 0) invalid("pad", "negative pads remove more than the dim");
  }
  if (hasZeroDim(out)) return;
  std::vector<std::vector<int64_t>> tables(rank);
  for (size_t d = 0; d < rank; ++d) {
    const int64_t dim = xs[d], before = pads[d];
    if (mode != PadMode::kConstant && dim == 0 && out[d] > 0)
      invalid("pad", "cannot reflect/edge/wrap an empty dim");
    if (mode == PadMode::kReflect && dim == 1 && out[d] > dim)
      invalid("pad", "reflect needs a dim of at least 2");
    tables[d].resize(static_cast<size_t>(out[d]));
    for (int64_t i = 0; i < out[d]; ++i) {
      int64_t src = i - before;
      if (src < 0 || src >= dim) {
        switch (mode) {
          case PadMode::kConstant:
            src = -1;
            break;
          case PadMode::kEdge:
            src = std::clamp<int64_t>(src, 0, dim - 1);
            break;
          case PadMode::kWrap:
            src = ((src % dim) + dim) % dim;
            break;
          case PadMode::kReflect: {
            // Reflect without repeating the edge: period 2 * (dim - 1).
            const int64_t period = 2 * (dim - 1);
            int64_t m = ((src % period) + period) % period;
            src = m < dim ? m : period - m;
            break;
          }
        }
      }
      tables[d][i] = src < 0 ? -1 : src * st[d];
    }
  }
  // Any -1 entry marks the whole element as padding; indexMapCopy fills those with value.
  indexMapCopy(x, out, tables, value, es, y);
}

void tile(const void* x, const Shape& xs, const std::vector<int64_t>& repeats, size_t es, void* y) {
  checkElemSize("tile", es);
  if (repeats.size() != xs.size()) invalid("tile", "repeats length differs from rank");
  const auto st = stridesOf(xs);
  Shape out(xs.size());
  std::vector<std::vector<int64_t>> tables(xs.size());
  for (size_t d = 0; d < xs.size(); ++d) {
    if (repeats[d] < 0) invalid("tile", "negative repeat");
    out[d] = xs[d] * repeats[d];
  }
  if (hasZeroDim(out)) return;
  for (size_t d = 0; d < xs.size(); ++d) {
    tables[d].resize(static_cast<size_t>(out[d]));
    for (int64_t i = 0; i < out[d]; ++i) tables[d][i] = (i % xs[d]) * st[d];
  }
  indexMapCopy(x, out, tables, nullptr, es, y);
}

void depthToSpace(const void* x, const Shape& xs, int64_t b, bool crd, size_t es, void* y) {
  if (xs.size() != 4 || b <= 0 || xs[1] % (b * b) != 0)
    invalid("depthToSpace", "needs [N, C, H, W] with C divisible by b^2");
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], Co = C / (b * b);
  // DCR: view [N, b, b, Co, H, W] -> [N, Co, H, b, W, b]; CRD: view [N, Co, b, b, H, W] -> same.
  const Shape view = crd ? Shape{N, Co, b, b, H, W} : Shape{N, b, b, Co, H, W};
  const std::vector<int64_t> perm =
      crd ? std::vector<int64_t>{0, 1, 4, 2, 5, 3} : std::vector<int64_t>{0, 3, 4, 1, 5, 2};
  transpose(x, view, perm, es, y);
}

void spaceToDepth(const void* x, const Shape& xs, int64_t b, size_t es, void* y) {
  if (xs.size() != 4 || b <= 0 || xs[2] % b != 0 || xs[3] % b != 0)
    invalid("spaceToDepth", "needs [N, C, H, W] with H and W divisible by the blocksize");
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3];
  // View [N, C, H/b, b, W/b, b] -> [N, b, b, C, H/b, W/b] (the inverse of DCR DepthToSpace).
  transpose(x, Shape{N, C, H / b, b, W / b, b}, {0, 3, 5, 1, 2, 4}, es, y);
}

void concat(const std::vector<const float*>& inputs, const std::vector<Shape>& shapes, int64_t axis,
            float* y) {
  concat(std::vector<const void*>(inputs.begin(), inputs.end()), shapes, axis, sizeof(float), y);
}

void split(const float* x, const Shape& xs, int64_t axis, const std::vector<int64_t>& sizes,
           const std::vector<float*>& outputs) {
  split(x, xs, axis, sizes, sizeof(float), std::vector<void*>(outputs.begin(), outputs.end()));
}

}  // namespace kiln::kernels
