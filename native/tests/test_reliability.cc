// Engine-level reliability: kernel scratch is part of the memory plan (and bounds what kernels
// really ask), shapes that need more memory than the device fail before allocating, and the
// fuzzers' findings in plain form (a comparison given three inputs, pooling windows of 2^30).
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/engine_core.h"
#include "kiln/error.h"
#include "kiln/kernels/scratch.h"
#include "kiln/thread_pool.h"
#include "kiln_test.h"

using namespace kiln;

namespace {

AttrValue ints(std::vector<int64_t> v) {
  AttrValue a;
  a.kind = AttrValue::Kind::kInts;
  a.ints = std::move(v);
  return a;
}

AttrValue integer(int64_t v) {
  AttrValue a;
  a.i = v;
  return a;
}

std::vector<uint8_t> randomFloats(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(n);
  for (float& f : v) f = u(rng);
  std::vector<uint8_t> b(n * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// y = op(x, w) for a weight tensor of `wShape` (none when empty): one layer, static shapes.
Network oneLayer(const std::string& op, const Dims& x, const Dims& w, const Dims& y,
                 std::map<std::string, AttrValue> attrs) {
  Network n;
  n.tensors.push_back({"x", DataType::kFloat32, x, -1});
  LayerDesc layer{"layer", op, {0}, {}, std::move(attrs), {}};
  if (!w.empty()) {
    n.weights.push_back(randomFloats(static_cast<size_t>(shapeElements(w)), 3));
    n.tensors.push_back({"w", DataType::kFloat32, w, 0});
    layer.inputs.push_back(1);
  }
  const int32_t out = static_cast<int32_t>(n.tensors.size());
  n.tensors.push_back({"y", DataType::kFloat32, y, -1});
  layer.outputs = {out};
  n.layers = {layer};
  n.inputs = {0};
  n.outputs = {out};
  return n;
}

// Plans and runs `n` on random inputs; returns the plan it ran with.
std::shared_ptr<const ShapePlan> run(const Network& n) {
  auto engine = std::make_shared<EngineCore>(n);
  ExecutionContext ctx(engine);
  auto plan = ctx.plan();
  const int32_t x = n.inputs[0], y = n.outputs[0];
  const std::vector<uint8_t> in =
      randomFloats(static_cast<size_t>(shapeElements(plan->shapes[x])), 7);
  std::vector<float> out(static_cast<size_t>(shapeElements(plan->shapes[y])));
  std::vector<uint8_t> arena(plan->arenaBytes + 64);
  ctx.execute(*plan, {in.data()}, {out.data()}, arena.data());
  return plan;
}

}  // namespace

TEST(planned_scratch_bounds_what_kernels_ask) {
  // Each case: the scratch the plan counts for one thread, slot by slot, is at least what the
  // kernels asked of any thread while running it (im2col, pointwise, grouped and depthwise
  // and Winograd convolutions, ConvTranspose, Gemm, batched MatMul).
  struct Case {
    const char* name;
    Network net;
  };
  const std::vector<Case> cases = {
      {"conv 3x3", oneLayer("Conv", {2, 8, 30, 30}, {16, 8, 3, 3}, {2, 16, 30, 30},
                            {{"pads", ints({1, 1, 1, 1})}})},
      // 32+ channels and 16+ tiles: the heuristic packs these for Winograd (one block split
      // over the threads, then whole blocks per thread).
      {"winograd", oneLayer("Conv", {1, 32, 20, 20}, {32, 32, 3, 3}, {1, 32, 20, 20},
                            {{"pads", ints({1, 1, 1, 1})}})},
      {"winograd blocks", oneLayer("Conv", {1, 64, 96, 96}, {64, 64, 3, 3}, {1, 64, 96, 96},
                                   {{"pads", ints({1, 1, 1, 1})}})},
      {"stem 3x3/2", oneLayer("Conv", {1, 3, 64, 64}, {16, 3, 3, 3}, {1, 16, 32, 32},
                              {{"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}})},
      {"conv 7x7 wide", oneLayer("Conv", {1, 3, 96, 96}, {8, 3, 7, 7}, {1, 8, 90, 90}, {})},
      {"conv 1x1", oneLayer("Conv", {1, 32, 20, 20}, {24, 32, 1, 1}, {1, 24, 20, 20}, {})},
      {"grouped",
       oneLayer("Conv", {1, 8, 12, 12}, {8, 2, 3, 3}, {1, 8, 10, 10}, {{"group", integer(4)}})},
      {"depthwise", oneLayer("Conv", {1, 8, 17, 17}, {8, 1, 3, 3}, {1, 8, 17, 17},
                             {{"group", integer(8)}, {"pads", ints({1, 1, 1, 1})}})},
      {"conv transpose", oneLayer("ConvTranspose", {1, 4, 9, 9}, {4, 6, 3, 3}, {1, 6, 19, 19},
                                  {{"strides", ints({2, 2})}})},
      {"conv transpose 2x2/2", oneLayer("ConvTranspose", {1, 16, 40, 40}, {16, 8, 2, 2},
                                        {1, 8, 80, 80}, {{"strides", ints({2, 2})}})},
      {"gemm", oneLayer("Gemm", {37, 50}, {50, 29}, {37, 29}, {})},
      {"matmul", oneLayer("MatMul", {3, 17, 40}, {40, 23}, {3, 17, 23}, {})},
  };
  for (const Case& c : cases) {
    kernels::resetScratchHighWater();
    const auto plan = run(c.net);
    const kernels::ScratchNeed asked = kernels::scratchHighWater();
    bool any = false;
    for (size_t s = 0; s < kernels::kScratchSlots; ++s) {
      any = any || asked.floats[s] > 0;
      if (asked.floats[s] > plan->scratchPerThread.floats[s]) {
        std::fprintf(stderr, "%s: slot %zu asked %lld floats, planned %lld\n", c.name, s,
                     static_cast<long long>(asked.floats[s]),
                     static_cast<long long>(plan->scratchPerThread.floats[s]));
        CHECK(false);
      }
    }
    // Only a case whose kernels used no scratch may plan none.
    CHECK(!any || plan->scratchBytes > 0);
    CHECK(plan->memoryBytes() == plan->arenaBytes + plan->scratchBytes);
  }
}

TEST(scratch_larger_than_the_device_fails_before_allocating) {
  // One output channel over 4096 input channels with a 25 x 25 kernel: 10 MB of weights and
  // tiny tensors, but every thread lowers 2.56 M-row im2col columns (the fuzz_plan finding that
  // asked the allocator for 2.8 GB).
  Network n = oneLayer("Conv", {1, 4096, 40, 40}, {1, 4096, 25, 25}, {1, 1, 16, 16}, {});
  auto engine = std::make_shared<EngineCore>(n);
  ExecutionContext ctx(engine);
  auto plan = ctx.plan();
  const size_t threads = static_cast<size_t>(globalThreadPool().size()) + 1;
  CHECK(plan->scratchBytes >= threads * size_t{4096 * 625 * 256} * sizeof(float));
  bool ok = false;
  try {
    checkMemoryFits(*plan, uint64_t{1} << 30);
  } catch (const Error& e) {
    const std::string m = e.what();
    ok = e.code() == ErrorCode::kOutOfMemory && m.find("kernel scratch") != std::string::npos &&
         m.find(std::to_string(plan->scratchBytes)) != std::string::npos;
  }
  CHECK(ok);
  checkMemoryFits(*plan, plan->memoryBytes());  // exactly enough passes
}

TEST(comparison_takes_exactly_two_inputs) {
  // A third input used to widen the inferred output ([0, 3] here) past the [1, 3] the kernel
  // writes from the first two: a heap overflow (fuzz_shapes).
  Network n;
  n.tensors = {{"a", DataType::kInt32, {1, 3}, -1},
               {"b", DataType::kInt32, {1, 3}, -1},
               {"c", DataType::kInt32, {0, 3}, -1},
               {"y", DataType::kBool, {}, -1}};
  n.layers = {LayerDesc{"less", "Less", {0, 1, 2}, {3}, {}, {}}};
  n.inputs = {0, 1, 2};
  n.outputs = {3};
  auto engine = std::make_shared<EngineCore>(n);
  ExecutionContext ctx(engine);
  bool ok = false;
  try {
    ctx.plan();
  } catch (const Error& e) {
    ok = e.code() == ErrorCode::kInvalidModel &&
         std::string(e.what()).find("expects two inputs") != std::string::npos;
  }
  CHECK(ok);
}

TEST(pooling_windows_of_2_to_the_30_run_at_the_cost_of_their_input) {
  // MaxPool / AveragePool (2-D, and 3-D through the N-D path) with kernels of 2^30 and pads just
  // below: onnxruntime accepts them; the direct loops would visit 2^60 taps per window.
  const int64_t k = int64_t{1} << 30;
  for (const char* op : {"MaxPool", "AveragePool"}) {
    Network n2 = oneLayer(op, {1, 2, 3, 5}, {}, {1, 2, 2, 2},
                          {{"kernel_shape", ints({k, k})},
                           {"strides", ints({k, k})},
                           {"pads", ints({k - 1, k - 1, k - 1, k - 1})}});
    const auto p2 = run(n2);
    CHECK(p2->shapes[1] == Dims({1, 2, 2, 2}));
    Network n3 = oneLayer(op, {1, 1, 2, 3, 4}, {}, {1, 1, 2, 2, 2},
                          {{"kernel_shape", ints({k, k, k})},
                           {"strides", ints({k, k, k})},
                           {"pads", ints({k - 1, k - 1, k - 1, k - 1, k - 1, k - 1})}});
    const auto p3 = run(n3);
    CHECK(p3->shapes[1] == Dims({1, 1, 2, 2, 2}));
    CHECK(p3->scratchPerThread.transientBytes > 0);
  }
}

TEST(pool_scratch_of_an_empty_input) {
  // A wide window over an input with a 0 dim still has a one-row output (pads 1 + 1 around a
  // kernel of 2): planning its scratch divided by the empty dim (fuzz_plan, UBSan). Planning
  // succeeds; running is refused by the kernel.
  Network n = oneLayer("MaxPool", {1, 1, 0, 4}, {}, {1, 1, 1, 73},
                       {{"kernel_shape", ints({2, 70})}, {"pads", ints({1, 69, 1, 69})}});
  auto engine = std::make_shared<EngineCore>(n);
  ExecutionContext ctx(engine);
  auto plan = ctx.plan();
  CHECK(plan->shapes[1] == Dims({1, 1, 1, 73}));
  std::vector<float> out(73);
  std::vector<uint8_t> arena(plan->arenaBytes + 64);
  CHECK_THROWS(ctx.execute(*plan, {nullptr}, {out.data()}, arena.data()), Error);
}
