// Every data movement op on every element size (1, 2, 4, 8 bytes), bit-exact. Each reference
// computes, per output element, the index of the input element it copies (-1 for padding); the
// check then compares raw bytes, so any mixed-up byte, stride or element size fails.
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kiln/error.h"
#include "kiln/kernels/eltwise.h"
#include "kiln/kernels/layout.h"

using kiln::kernels::PadMode;
using kiln::kernels::Shape;
using kiln::kernels::shapeSize;

namespace {

const size_t kSizes[] = {1, 2, 4, 8};

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

// Random bytes: every element distinct with overwhelming probability at 2+ bytes, and the bit
// patterns include NaNs with payloads and signalling NaNs, which a float copy could alter.
std::vector<uint8_t> randomBytes(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(gen());
  return v;
}

// Checks out[i] == x[src[i]] (or == pad when src[i] < 0) byte for byte.
bool checkBytes(const std::string& what, size_t es, const std::vector<uint8_t>& out,
                const std::vector<uint8_t>& x, const std::vector<int64_t>& src,
                const uint8_t* pad = nullptr) {
  if (out.size() != src.size() * es) {
    kiln_test::fail(__FILE__, __LINE__, what + ": size mismatch");
    return false;
  }
  const std::vector<uint8_t> zeros(es, 0);
  for (size_t i = 0; i < src.size(); ++i) {
    const uint8_t* want = src[i] < 0 ? (pad ? pad : zeros.data()) : &x[src[i] * es];
    if (std::memcmp(&out[i * es], want, es) != 0) {
      kiln_test::fail(__FILE__, __LINE__,
                      what + " elemSize " + std::to_string(es) + " at " + std::to_string(i));
      return false;
    }
  }
  return true;
}

}  // namespace

TEST(transpose_all_sizes) {
  const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
      {{3, 4}, {1, 0}}, {{2, 3, 5}, {2, 0, 1}}, {{2, 3, 4, 5}, {0, 2, 3, 1}}, {{7}, {0}}, {{}, {}}};
  for (size_t es : kSizes)
    for (const auto& [xs, perm] : cases) {
      const int64_t n = shapeSize(xs);
      auto x = randomBytes(n * es, static_cast<uint32_t>(es * 7 + xs.size()));
      Shape out(xs.size());
      for (size_t d = 0; d < xs.size(); ++d) out[d] = xs[perm[d]];
      std::vector<int64_t> src(n);
      for (int64_t i = 0; i < n; ++i) {
        const auto oi = unravel(i, out);
        std::vector<int64_t> ii(xs.size());
        for (size_t d = 0; d < xs.size(); ++d) ii[perm[d]] = oi[d];
        src[i] = ravel(ii, xs);
      }
      std::vector<uint8_t> y(n * es);
      kiln::kernels::transpose(x.data(), xs, perm, es, y.data());
      checkBytes("transpose rank " + std::to_string(xs.size()), es, y, x, src);
    }
  std::vector<uint8_t> v(12);
  CHECK_THROWS(kiln::kernels::transpose(v.data(), {3}, {0}, 3, v.data()), kiln::Error);
}

TEST(concat_split_all_sizes) {
  for (size_t es : kSizes)
    for (int64_t axis = 0; axis < 3; ++axis) {
      std::vector<Shape> shapes = {{2, 3, 4}, {2, 3, 4}, {2, 3, 4}};
      shapes[1][axis] = 1;
      shapes[2][axis] = 5;
      // The inputs are slices of one buffer, so src indices address a single array.
      std::vector<uint8_t> all;
      std::vector<int64_t> base;
      for (const Shape& s : shapes) {
        base.push_back(static_cast<int64_t>(all.size() / es));
        auto part = randomBytes(shapeSize(s) * es, static_cast<uint32_t>(all.size() + es));
        all.insert(all.end(), part.begin(), part.end());
      }
      std::vector<const void*> ptrs;
      for (size_t i = 0; i < shapes.size(); ++i) ptrs.push_back(&all[base[i] * es]);
      Shape out = shapes[0];
      out[axis] = shapes[0][axis] + 6;
      std::vector<int64_t> src(shapeSize(out));
      for (int64_t i = 0; i < static_cast<int64_t>(src.size()); ++i) {
        auto idx = unravel(i, out);
        size_t which = 0;
        while (idx[axis] >= shapes[which][axis]) idx[axis] -= shapes[which][axis], ++which;
        src[i] = base[which] + ravel(idx, shapes[which]);
      }
      std::vector<uint8_t> y(src.size() * es);
      kiln::kernels::concat(ptrs, shapes, axis, es, y.data());
      checkBytes("concat axis " + std::to_string(axis), es, y, all, src);

      std::vector<std::vector<uint8_t>> parts(3);
      std::vector<void*> outs;
      for (size_t i = 0; i < 3; ++i) {
        parts[i].resize(shapeSize(shapes[i]) * es);
        outs.push_back(parts[i].data());
      }
      kiln::kernels::split(y.data(), out, axis, {shapes[0][axis], 1, 5}, es, outs);
      for (size_t i = 0; i < 3; ++i)
        CHECK(std::memcmp(parts[i].data(), &all[base[i] * es], parts[i].size()) == 0);
    }
}

TEST(slice_all_sizes) {
  const Shape xs = {4, 5, 6};
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  for (size_t es : kSizes) {
    auto x = randomBytes(shapeSize(xs) * es, static_cast<uint32_t>(es));
    const auto spec =
        kiln::kernels::resolveSlice(xs, {1, -1, 0}, {3, kMin, 6}, {0, 1, 2}, {1, -2, 4});
    std::vector<int64_t> src(shapeSize(spec.outShape));
    for (int64_t i = 0; i < static_cast<int64_t>(src.size()); ++i) {
      auto idx = unravel(i, spec.outShape);
      for (size_t d = 0; d < xs.size(); ++d) idx[d] = spec.start[d] + idx[d] * spec.step[d];
      src[i] = ravel(idx, xs);
    }
    std::vector<uint8_t> y(src.size() * es);
    kiln::kernels::slice(x.data(), xs, spec, es, y.data());
    checkBytes("slice", es, y, x, src);
  }
}

TEST(gather_all_sizes_both_index_types) {
  const Shape xs = {4, 5, 3};
  const std::vector<int64_t> idx64 = {0, -1, 2, 1, 2, 0};
  const std::vector<int32_t> idx32(idx64.begin(), idx64.end());
  const Shape is = {2, 3};
  for (size_t es : kSizes)
    for (int64_t axis = 0; axis < 3; ++axis) {
      auto x = randomBytes(shapeSize(xs) * es, static_cast<uint32_t>(es + axis));
      Shape out;
      for (int64_t d = 0; d < axis; ++d) out.push_back(xs[d]);
      out.insert(out.end(), is.begin(), is.end());
      for (int64_t d = axis + 1; d < 3; ++d) out.push_back(xs[d]);
      std::vector<int64_t> src(shapeSize(out));
      for (int64_t i = 0; i < static_cast<int64_t>(src.size()); ++i) {
        const auto oi = unravel(i, out);
        std::vector<int64_t> ii;
        for (int64_t d = 0; d < axis; ++d) ii.push_back(oi[d]);
        const int64_t k = idx64[oi[axis] * 3 + oi[axis + 1]];
        ii.push_back(k < 0 ? k + xs[axis] : k);
        for (size_t d = axis + 2; d < oi.size(); ++d) ii.push_back(oi[d]);
        src[i] = ravel(ii, xs);
      }
      std::vector<uint8_t> y(src.size() * es, 0xAB), y32(src.size() * es, 0xCD);
      kiln::kernels::gather(x.data(), xs, axis, idx64.data(), is, es, y.data());
      kiln::kernels::gather(x.data(), xs, axis, idx32.data(), is, es, y32.data());
      checkBytes("gather int64 axis " + std::to_string(axis), es, y, x, src);
      checkBytes("gather int32 axis " + std::to_string(axis), es, y32, x, src);
    }
  const int32_t bad = -5;
  std::vector<uint8_t> x(60), y(60);
  CHECK_THROWS(kiln::kernels::gather(x.data(), xs, 0, &bad, {1}, 1, y.data()), kiln::Error);
}

TEST(pad_all_sizes_with_typed_constant) {
  const Shape xs = {2, 3, 4};
  const std::vector<int64_t> pads = {1, 0, 2, 0, 2, -1};
  Shape out(3);
  for (int d = 0; d < 3; ++d) out[d] = xs[d] + pads[d] + pads[d + 3];
  for (size_t es : kSizes)
    for (PadMode mode : {PadMode::kConstant, PadMode::kReflect, PadMode::kEdge, PadMode::kWrap}) {
      auto x = randomBytes(shapeSize(xs) * es, static_cast<uint32_t>(es * 3));
      // A constant with every byte different, so a pad written with the wrong width shows.
      std::vector<uint8_t> value(es);
      for (size_t b = 0; b < es; ++b) value[b] = static_cast<uint8_t>(0x11 * (b + 1));
      std::vector<int64_t> src(shapeSize(out));
      for (int64_t i = 0; i < static_cast<int64_t>(src.size()); ++i) {
        auto idx = unravel(i, out);
        bool isPad = false;
        for (int d = 0; d < 3; ++d) {
          int64_t s = idx[d] - pads[d];
          const int64_t n = xs[d];
          if (s < 0 || s >= n) {
            if (mode == PadMode::kConstant) isPad = true;
            if (mode == PadMode::kEdge) s = s < 0 ? 0 : n - 1;
            if (mode == PadMode::kWrap) s = ((s % n) + n) % n;
            if (mode == PadMode::kReflect)
              while (s < 0 || s >= n) s = s < 0 ? -s : 2 * (n - 1) - s;
          }
          idx[d] = s;
        }
        src[i] = isPad ? -1 : ravel(idx, xs);
      }
      std::vector<uint8_t> y(src.size() * es);
      kiln::kernels::pad(x.data(), xs, pads, mode, value.data(), es, y.data());
      checkBytes("pad mode " + std::to_string(static_cast<int>(mode)), es, y, x, src, value.data());
    }
}

TEST(tile_expand_where_all_sizes) {
  for (size_t es : kSizes) {
    const Shape xs = {2, 1, 3};
    auto x = randomBytes(shapeSize(xs) * es, static_cast<uint32_t>(es * 5));
    const Shape tiled = {6, 4, 3};
    std::vector<int64_t> src(shapeSize(tiled));
    for (int64_t i = 0; i < 72; ++i) {
      auto idx = unravel(i, tiled);
      src[i] = ravel({idx[0] % 2, 0, idx[2] % 3}, xs);
    }
    std::vector<uint8_t> y(src.size() * es);
    kiln::kernels::tile(x.data(), xs, {3, 4, 1}, es, y.data());
    checkBytes("tile", es, y, x, src);

    const Shape ex = {4, 2, 5, 3};
    std::vector<int64_t> esrc(shapeSize(ex));
    for (int64_t i = 0; i < static_cast<int64_t>(esrc.size()); ++i) {
      auto idx = unravel(i, ex);
      esrc[i] = ravel({idx[1], 0, idx[3]}, xs);
    }
    std::vector<uint8_t> ye(esrc.size() * es);
    kiln::kernels::expand(x.data(), xs, ex, es, ye.data());
    checkBytes("expand", es, ye, x, esrc);

    // where(cond [5,1], a [2,1,3] -> first half of buf, b [3] -> second half) into [2,5,3].
    const Shape cs = {5, 1}, as = {2, 1, 3}, bs = {3}, os = {2, 5, 3};
    auto buf = randomBytes((6 + 3) * es, static_cast<uint32_t>(es * 11));
    const std::vector<uint8_t> cond = {1, 0, 7, 0, 1};  // 7: any nonzero byte is true
    std::vector<int64_t> wsrc(shapeSize(os));
    for (int64_t i = 0; i < static_cast<int64_t>(wsrc.size()); ++i) {
      auto idx = unravel(i, os);
      wsrc[i] = cond[idx[1]] ? ravel({idx[0], 0, idx[2]}, as) : 6 + idx[2];
    }
    std::vector<uint8_t> yw(wsrc.size() * es);
    kiln::kernels::where(cond.data(), cs, buf.data(), as, &buf[6 * es], bs, os, es, yw.data());
    checkBytes("where", es, yw, buf, wsrc);

    // Same-shape operands take the contiguous loop.
    const std::vector<uint8_t> cond6 = {0, 1, 1, 0, 3, 0};
    std::vector<int64_t> csrc(6);
    for (int64_t i = 0; i < 6; ++i) csrc[i] = cond6[i] ? i : 6 + i % 3;
    std::vector<uint8_t> buf2(12 * es), yc(6 * es);
    std::memcpy(buf2.data(), buf.data(), 9 * es);
    std::memcpy(&buf2[9 * es], &buf[6 * es], 3 * es);  // second half = b repeated twice
    kiln::kernels::where(cond6.data(), {6}, buf2.data(), {6}, &buf2[6 * es], {6}, {6}, es,
                         yc.data());
    checkBytes("where same shapes", es, yc, buf2, csrc);
  }
}

TEST(depth_space_all_sizes) {
  const int64_t N = 2, C = 8, H = 2, W = 3, b = 2, Co = 2;
  const Shape xs = {N, C, H, W};
  for (size_t es : kSizes) {
    auto x = randomBytes(shapeSize(xs) * es, static_cast<uint32_t>(es * 13));
    for (bool crd : {false, true}) {
      std::vector<int64_t> src(shapeSize(xs));
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < Co; ++c)
          for (int64_t h = 0; h < H * b; ++h)
            for (int64_t w = 0; w < W * b; ++w) {
              const int64_t bh = h % b, bw = w % b;
              const int64_t srcC = crd ? c * b * b + bh * b + bw : (bh * b + bw) * Co + c;
              src[((n * Co + c) * H * b + h) * W * b + w] =
                  ((n * C + srcC) * H + h / b) * W + w / b;
            }
      std::vector<uint8_t> y(src.size() * es);
      kiln::kernels::depthToSpace(x.data(), xs, b, crd, es, y.data());
      checkBytes(crd ? "depthToSpace CRD" : "depthToSpace DCR", es, y, x, src);
      if (!crd) {
        // SpaceToDepth inverts DCR DepthToSpace exactly.
        std::vector<uint8_t> back(y.size());
        kiln::kernels::spaceToDepth(y.data(), {N, Co, H * b, W * b}, b, es, back.data());
        CHECK(back == x);
      }
    }
  }
  std::vector<uint8_t> v(48);
  CHECK_THROWS(kiln::kernels::spaceToDepth(v.data(), {1, 2, 3, 4}, 2, 2, v.data()), kiln::Error);
}
