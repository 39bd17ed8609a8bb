// Transpose, Concat, Split, Slice, Gather, Pad, Tile and DepthToSpace against index-by-index
// references; these kernels move data, so results must be bit-exact.
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "kernel_test_util.h"
#include "kiln/error.h"
#include "kiln/kernels/layout.h"

using kiln::kernels::PadMode;
using kiln::kernels::Shape;

namespace {
std::vector<int64_t> unravel(int64_t i, const Shape& s) {
  std::vector<int64_t> idx(s.size());
  for (size_t d = s.size(); d-- > 0;) idx[d] = i % s[d], i /= s[d];
  return idx;
}
int64_t ravel(const std::vector<int64_t>& idx, const Shape& s) {
  int64_t o = 0;
  for (size_t d = 0; d < s.size(); ++d) o = o * s[d] + idx[d];
  return o;
}
std::vector<float> iota(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0.0f);
  return v;
}
}  // namespace

TEST(transpose_perms) {
  const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
      {{5}, {0}},
      {{3, 4}, {1, 0}},
      {{2, 3, 4}, {2, 0, 1}},
      {{2, 3, 4}, {0, 2, 1}},
      {{1, 197, 3, 3, 64}, {2, 0, 3, 1, 4}},
      {{2, 3, 4, 5}, {0, 2, 3, 1}},
      {{2, 3, 4, 5}, {3, 2, 1, 0}},
      {{1, 1, 7}, {2, 1, 0}},
      {{3, 0, 2}, {2, 1, 0}}};
  for (const auto& [xs, perm] : cases) {
    auto x = iota(kiln::kernels::shapeSize(xs));
    Shape out(xs.size());
    for (size_t d = 0; d < xs.size(); ++d) out[d] = xs[perm[d]];
    std::vector<float> y(x.size()), want(x.size());
    for (int64_t i = 0; i < static_cast<int64_t>(x.size()); ++i) {
      const auto oi = unravel(i, out);
      std::vector<int64_t> ii(xs.size());
      for (size_t d = 0; d < xs.size(); ++d) ii[perm[d]] = oi[d];
      want[i] = x[ravel(ii, xs)];
    }
    kiln::kernels::transpose(x.data(), xs, perm, y.data());
    kt::expectEqual("transpose rank " + std::to_string(xs.size()), y, want);
  }
  std::vector<float> v(4);
  CHECK_THROWS(kiln::kernels::transpose(v.data(), {2, 2}, {0, 0}, v.data()), kiln::Error);
}

TEST(concat_split_roundtrip) {
  for (int64_t axis = 0; axis < 3; ++axis) {
    std::vector<Shape> shapes = {{2, 3, 4}, {2, 3, 4}, {2, 3, 4}};
    shapes[1][axis] = 1;
    shapes[2][axis] = 5;
    std::vector<std::vector<float>> ins;
    std::vector<const float*> ptrs;
    for (size_t i = 0; i < shapes.size(); ++i) {
      ins.push_back(
          kt::randomVector(kiln::kernels::shapeSize(shapes[i]), static_cast<uint32_t>(i)));
    }
    for (auto& v : ins) ptrs.push_back(v.data());
    Shape out = shapes[0];
    out[axis] = shapes[0][axis] + 1 + 5;
    std::vector<float> y(kiln::kernels::shapeSize(out)), want(y.size());
    for (int64_t i = 0; i < static_cast<int64_t>(y.size()); ++i) {
      auto idx = unravel(i, out);
      size_t which = 0;
      while (idx[axis] >= shapes[which][axis]) idx[axis] -= shapes[which][axis], ++which;
      want[i] = ins[which][ravel(idx, shapes[which])];
    }
    kiln::kernels::concat(ptrs, shapes, axis, y.data());
    kt::expectEqual("concat axis " + std::to_string(axis), y, want);
    std::vector<std::vector<float>> parts(3);
    std::vector<float*> outs;
    for (size_t i = 0; i < 3; ++i) parts[i].resize(ins[i].size()), outs.push_back(parts[i].data());
    kiln::kernels::split(y.data(), out, axis, {shapes[0][axis], 1, 5}, outs);
    for (size_t i = 0; i < 3; ++i)
      kt::expectEqual("split part " + std::to_string(i), parts[i], ins[i]);
  }
}

TEST(slice_steps_and_clamping) {
  const int64_t kMax = std::numeric_limits<int64_t>::max(),
                kMin = std::numeric_limits<int64_t>::min();
  struct C {
    std::vector<int64_t> starts, ends, axes, steps;
    Shape expect;
  };
  const Shape xs = {5, 6, 7};
  const std::vector<C> cases = {
      {{1}, {4}, {0}, {}, {3, 6, 7}},
      {{0, 1}, {kMax, -1}, {1, 2}, {2, 1}, {5, 3, 5}},
      {{-1}, {kMin}, {2}, {-1}, {5, 6, 7}},           // full reverse
      {{10}, {-10}, {1}, {-2}, {5, 3, 7}},            // clamped both ends, negative step
      {{4, 2}, {1, 5}, {-3, 1}, {-1, 1}, {3, 3, 7}},  // negative axis
      {{2}, {2}, {1}, {}, {5, 0, 7}},                 // empty
      {{-100}, {100}, {-1}, {3}, {5, 6, 3}},
  };
  auto x = iota(kiln::kernels::shapeSize(xs));
  for (const C& c : cases) {
    const auto spec = kiln::kernels::resolveSlice(xs, c.starts, c.ends, c.axes, c.steps);
    CHECK(spec.outShape == c.expect);
    std::vector<float> y(kiln::kernels::shapeSize(spec.outShape)), want(y.size());
    for (int64_t i = 0; i < static_cast<int64_t>(y.size()); ++i) {
      auto idx = unravel(i, spec.outShape);
      for (size_t d = 0; d < xs.size(); ++d) idx[d] = spec.start[d] + idx[d] * spec.step[d];
      want[i] = x[ravel(idx, xs)];
    }
    // Independent check of the clamped starts on the reversing case.
    kiln::kernels::slice(x.data(), xs, spec, y.data());
    kt::expectEqual("slice", y, want);
  }
  // x[:, :, ::-1] first row is 6, 5, ..., 0.
  const auto rev = kiln::kernels::resolveSlice(xs, {-1}, {kMin}, {2}, {-1});
  std::vector<float> y(kiln::kernels::shapeSize(rev.outShape));
  kiln::kernels::slice(x.data(), xs, rev, y.data());
  CHECK(y[0] == 6.0f && y[6] == 0.0f && y[7] == 13.0f);
  CHECK_THROWS(kiln::kernels::resolveSlice(xs, {0}, {1}, {0}, {0}), kiln::Error);
}

TEST(gather_axes) {
  const Shape xs = {4, 5, 3};
  auto x = iota(kiln::kernels::shapeSize(xs));
  for (int64_t axis = 0; axis < 3; ++axis) {
    const std::vector<int64_t> indices = {0, -1, 2, 1, 2, 0};
    const Shape is = {2, 3};
    Shape out;
    for (int64_t d = 0; d < axis; ++d) out.push_back(xs[d]);
    out.insert(out.end(), is.begin(), is.end());
    for (int64_t d = axis + 1; d < 3; ++d) out.push_back(xs[d]);
    std::vector<float> y(kiln::kernels::shapeSize(out)), want(y.size());
    for (int64_t i = 0; i < static_cast<int64_t>(y.size()); ++i) {
      const auto oi = unravel(i, out);
      std::vector<int64_t> ii;
      for (int64_t d = 0; d < axis; ++d) ii.push_back(oi[d]);
      int64_t k = indices[oi[axis] * 3 + oi[axis + 1]];
      ii.push_back(k < 0 ? k + xs[axis] : k);
      for (size_t d = axis + 2; d < oi.size(); ++d) ii.push_back(oi[d]);
      want[i] = x[ravel(ii, xs)];
    }
    kiln::kernels::gather(x.data(), xs, axis, indices.data(), is, y.data());
    kt::expectEqual("gather axis " + std::to_string(axis), y, want);
  }
  const int64_t bad = 4;
  std::vector<float> y(15);
  CHECK_THROWS(kiln::kernels::gather(x.data(), xs, 0, &bad, {1}, y.data()), kiln::Error);
}

TEST(pad_modes) {
  const Shape xs = {2, 3, 4};
  auto x = iota(24);
  const std::vector<std::vector<int64_t>> padSets = {
      {0, 1, 2, 0, 2, 1}, {1, 0, 3, 1, 1, 3}, {0, -1, 1, 0, 0, -2}, {0, 0, 0, 0, 0, 0}};
  for (PadMode mode : {PadMode::kConstant, PadMode::kReflect, PadMode::kEdge, PadMode::kWrap})
    for (const auto& pads : padSets) {
      Shape out(3);
      for (int d = 0; d < 3; ++d) out[d] = xs[d] + pads[d] + pads[d + 3];
      std::vector<float> y(kiln::kernels::shapeSize(out)), want(y.size());
      for (int64_t i = 0; i < static_cast<int64_t>(y.size()); ++i) {
        auto idx = unravel(i, out);
        bool isPad = false;
        for (int d = 0; d < 3; ++d) {
          int64_t s = idx[d] - pads[d];
          const int64_t n = xs[d];
          if (s < 0 || s >= n) {
            if (mode == PadMode::kConstant) isPad = true;
            if (mode == PadMode::kEdge) s = s < 0 ? 0 : n - 1;
            if (mode == PadMode::kWrap) s = ((s % n) + n) % n;
            if (mode == PadMode::kReflect) {
              while (s < 0 || s >= n) s = s < 0 ? -s : 2 * (n - 1) - s;
            }
          }
          idx[d] = s;
        }
        want[i] = isPad ? 2.5f : x[ravel(idx, xs)];
      }
      kiln::kernels::pad(x.data(), xs, pads, mode, 2.5f, y.data());
      kt::expectEqual("pad mode " + std::to_string(static_cast<int>(mode)), y, want);
    }
}

TEST(tile_and_depth_to_space) {
  const Shape xs = {2, 1, 3};
  auto x = iota(6);
  std::vector<float> y(2 * 3 * 1 * 4 * 3);
  kiln::kernels::tile(x.data(), xs, {3, 4, 1}, y.data());
  std::vector<float> want(y.size());
  const Shape out = {6, 4, 3};
  for (int64_t i = 0; i < 72; ++i) {
    auto idx = unravel(i, out);
    want[i] = x[ravel({idx[0] % 2, 0, idx[2] % 3}, xs)];
  }
  kt::expectEqual("tile", y, want);

  const int64_t N = 1, C = 8, H = 2, W = 3, b = 2, Co = 2;
  auto d = iota(N * C * H * W);
  for (bool crd : {false, true}) {
    std::vector<float> dy(d.size()), dw(d.size());
    for (int64_t c = 0; c < Co; ++c)
      for (int64_t h = 0; h < H * b; ++h)
        for (int64_t w = 0; w < W * b; ++w) {
          const int64_t bh = h % b, bw = w % b;
          const int64_t srcC = crd ? c * b * b + bh * b + bw : (bh * b + bw) * Co + c;
          dw[(c * H * b + h) * W * b + w] = d[(srcC * H + h / b) * W + w / b];
        }
    kiln::kernels::depthToSpace(d.data(), {N, C, H, W}, b, crd, dy.data());
    kt::expectEqual(crd ? "depthToSpace CRD" : "depthToSpace DCR", dy, dw);
  }
}
