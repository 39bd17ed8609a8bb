// Iteration over a broadcast of up to three operands into a dense output: dims are aligned to
// the output rank, broadcast dims get stride 0, and adjacent dims that stay contiguous for
// every operand are merged so the innermost loop is as long as possible.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "kiln/error.h"
#include "kiln/kernels/shape.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

constexpr int kMaxBroadcastOperands = 3;

struct BroadcastPlan {
  std::vector<int64_t> dims;                                        // merged output dims
  std::vector<std::array<int64_t, kMaxBroadcastOperands>> strides;  // per dim, per operand
  int operands = 0;
};

// Builds the plan for inputs broadcast into `out` (each must be broadcastable to it).
inline BroadcastPlan planBroadcast(const Shape& out, const std::vector<const Shape*>& ins) {
  const size_t rank = out.size();
  BroadcastPlan plan;
  plan.operands = static_cast<int>(ins.size());
  std::vector<std::array<int64_t, kMaxBroadcastOperands>> st(
      rank, std::array<int64_t, kMaxBroadcastOperands>{0, 0, 0});
  for (size_t o = 0; o < ins.size(); ++o) {
    const Shape& s = *ins[o];
    if (s.size() > rank)
      throw Error(ErrorCode::kInvalidArgument, "broadcast: input rank exceeds output rank");
    int64_t stride = 1;
    for (size_t i = 0; i < s.size(); ++i) {
      const size_t d = s.size() - 1 - i, od = rank - 1 - i;
      if (s[d] != out[od] && s[d] != 1)
        throw Error(ErrorCode::kInvalidArgument, "broadcast: dim " + std::to_string(s[d]) +
                                                     " cannot broadcast to " +
                                                     std::to_string(out[od]));
      st[od][o] = s[d] == 1 ? 0 : stride;
      stride *= s[d];
    }
  }
  // Merge dim i into the previous kept dim when every operand steps through both uniformly.
  for (size_t i = 0; i < rank; ++i) {
    if (out[i] == 1) continue;
    if (!plan.dims.empty()) {
      bool merge = true;
      for (int o = 0; o < plan.operands; ++o) {
        if (plan.strides.back()[o] != st[i][o] * out[i]) merge = false;
      }
      if (merge) {
        plan.dims.back() *= out[i];
        plan.strides.back() = st[i];
        continue;
      }
    }
    plan.dims.push_back(out[i]);
    plan.strides.push_back(st[i]);
  }
  if (plan.dims.empty()) {
    plan.dims.push_back(1);
    plan.strides.push_back({0, 0, 0});
  }
  return plan;
}

// Calls f(outOffset, inOffsets, innerLength, innerStrides) for every innermost row, rows split
// across the global pool.
template <typename F>
void runBroadcast(const BroadcastPlan& plan, F f) {
  const size_t rank = plan.dims.size();
  const int64_t inner = plan.dims.back();
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < rank; ++i) rows *= plan.dims[i];
  const std::array<int64_t, kMaxBroadcastOperands> innerStride = plan.strides.back();
  const size_t grain =
      static_cast<size_t>(std::max<int64_t>(1, 16384 / std::max<int64_t>(inner, 1)));
  globalThreadPool().parallelFor(static_cast<size_t>(rows), grain, [&](size_t b, size_t e) {
    // Decompose the first row index into a multi-index, then step it like an odometer.
    std::vector<int64_t> idx(rank, 0);
    std::array<int64_t, kMaxBroadcastOperands> off{0, 0, 0};
    int64_t r = static_cast<int64_t>(b);
    for (size_t d = rank - 1; d-- > 0;) {
      idx[d] = r % plan.dims[d];
      r /= plan.dims[d];
      for (int o = 0; o < plan.operands; ++o) off[o] += idx[d] * plan.strides[d][o];
    }
    for (size_t row = b; row < e; ++row) {
      f(static_cast<int64_t>(row) * inner, off, inner, innerStride);
      for (size_t d = rank - 1; d-- > 0;) {
        for (int o = 0; o < plan.operands; ++o) off[o] += plan.strides[d][o];
        if (++idx[d] < plan.dims[d]) break;
        for (int o = 0; o < plan.operands; ++o) off[o] -= plan.strides[d][o] * plan.dims[d];
        idx[d] = 0;
      }
    }
  });
}

}  // namespace kiln::kernels
