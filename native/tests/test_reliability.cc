// Engine-level reliability: kernel scratch is part of the memory plan (and bounds what kernels
// really ask), shapes that need more memory than the device fail before allocating, and the
// fuzzers' findings in plain form (a comparison given three inputs, pooling windows of 2^30).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/engine_core.h"
#include "kernels/conv_integer_reference.h"
#include "kiln/cpu_features.h"
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

AttrValue text(std::string v) {
  AttrValue a;
  a.kind = AttrValue::Kind::kString;
  a.s = std::move(v);
  return a;
}

// One input of a one-layer network: the network input (no bytes), a constant, or omitted.
struct Operand {
  DataType type = DataType::kFloat32;
  Dims shape;
  std::vector<uint8_t> bytes;
  bool omitted = false;
};

Operand input(DataType t, Dims shape) { return {t, std::move(shape), {}}; }
Operand constant(DataType t, Dims shape, std::vector<uint8_t> bytes) {
  return {t, std::move(shape), std::move(bytes)};
}
Operand omitted() { return {DataType::kFloat32, {}, {}, true}; }
Operand randomBytes(DataType t, Dims shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> b(static_cast<size_t>(shapeElements(shape)) * dataTypeSize(t));
  for (uint8_t& v : b) v = static_cast<uint8_t>(rng());
  return constant(t, std::move(shape), std::move(b));
}
Operand scalarFloat(float v) {
  std::vector<uint8_t> b(4);
  std::memcpy(b.data(), &v, 4);
  return constant(DataType::kFloat32, {}, b);
}

// y = op(operands...) with one output of type yType; the first operand is the network input.
Network layerOf(const std::string& op, const std::vector<Operand>& operands, DataType yType,
                std::map<std::string, AttrValue> attrs) {
  Network n;
  LayerDesc layer{"layer", op, {}, {}, std::move(attrs), {}};
  for (const Operand& o : operands) {
    if (o.omitted) {
      layer.inputs.push_back(-1);
      continue;
    }
    int32_t c = -1;
    if (!o.bytes.empty()) {
      c = static_cast<int32_t>(n.weights.size());
      n.weights.push_back(o.bytes);
    }
    layer.inputs.push_back(static_cast<int32_t>(n.tensors.size()));
    n.tensors.push_back({"t" + std::to_string(n.tensors.size()), o.type, o.shape, c});
  }
  const int32_t out = static_cast<int32_t>(n.tensors.size());
  n.tensors.push_back({"y", yType, {}, -1});
  layer.outputs = {out};
  n.layers = {layer};
  n.inputs = {0};
  n.outputs = {out};
  return n;
}

// Plans and runs `n` on random input bytes; returns the plan it ran with (and the input and
// output bytes when asked).
std::shared_ptr<const ShapePlan> run(const Network& n, std::vector<uint8_t>* inBytes = nullptr,
                                     std::vector<uint8_t>* outBytes = nullptr) {
  auto engine = std::make_shared<EngineCore>(n);
  ExecutionContext ctx(engine);
  auto plan = ctx.plan();
  const int32_t x = n.inputs[0], y = n.outputs[0];
  const std::vector<uint8_t> in =
      randomFloats(static_cast<size_t>(shapeElements(plan->shapes[x])), 7);
  std::vector<uint8_t> out(static_cast<size_t>(shapeElements(plan->shapes[y])) * 4);
  std::vector<uint8_t> arena(plan->arenaBytes + 64);
  ctx.execute(*plan, {in.data()}, {out.data()}, arena.data());
  if (inBytes) *inBytes = in;
  if (outBytes) *outBytes = out;
  return plan;
}

// Whether the plan's per-thread scratch covers, slot by slot, what the kernels asked of any
// thread since the last resetScratchHighWater (and is not zero when they asked for some).
bool scratchCovered(const char* name, const ShapePlan& plan) {
  const kernels::ScratchNeed asked = kernels::scratchHighWater();
  bool any = false, ok = true;
  for (size_t s = 0; s < kernels::kScratchSlots; ++s) {
    any = any || asked.floats[s] > 0;
    if (asked.floats[s] > plan.scratchPerThread.floats[s]) {
      std::fprintf(stderr, "%s: slot %zu asked %lld floats, planned %lld\n", name, s,
                   static_cast<long long>(asked.floats[s]),
                   static_cast<long long>(plan.scratchPerThread.floats[s]));
      ok = false;
    }
  }
  return ok && (!any || plan.scratchBytes > 0) &&
         plan.memoryBytes() == plan.arenaBytes + plan.scratchBytes;
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
    CHECK(scratchCovered(c.name, *plan));
  }
}

namespace {

// ConvInteger(x, w, x_zero_point, w_zero_point) with uint8 or int8 x and w, random constant
// weights and zero points (per output channel when perChannel).
struct IntegerConvCase {
  const char* name;
  Dims x, w;
  std::map<std::string, AttrValue> attrs;
  DataType xType, wType;
  bool perChannel;
};

Network convIntegerNet(const IntegerConvCase& c) {
  return layerOf("ConvInteger",
                 {input(c.xType, c.x), randomBytes(c.wType, c.w, 11), randomBytes(c.xType, {}, 12),
                  randomBytes(c.wType, c.perChannel ? Dims{c.w[0]} : Dims{}, 13)},
                 DataType::kInt32, c.attrs);
}

// The kernel parameters and reference output of a ConvInteger network that ran on `x`.
std::vector<int32_t> convIntegerReference(const Network& n, const ShapePlan& plan,
                                          const std::vector<uint8_t>& x) {
  const LayerDesc& l = n.layers[0];
  const Dims& xs = n.tensors[0].shape;
  const Dims& ws = n.tensors[1].shape;
  const Dims& ys = plan.shapes[n.outputs[0]];
  const size_t rank = xs.size() - 2;
  kernels::IntegerConvParams p;
  p.batch = xs[0];
  p.inChannels = xs[1];
  p.outChannels = ws[0];
  p.group = l.attrInt("group", 1);
  p.in.assign(xs.begin() + 2, xs.end());
  p.out.assign(ys.begin() + 2, ys.end());
  p.kernel.assign(ws.begin() + 2, ws.end());
  p.stride = l.attrInts("strides", std::vector<int64_t>(rank, 1));
  p.dilation = l.attrInts("dilations", std::vector<int64_t>(rank, 1));
  const std::vector<int64_t> pads = l.attrInts("pads", std::vector<int64_t>(2 * rank, 0));
  p.padBegin.assign(pads.begin(), pads.begin() + static_cast<int64_t>(rank));
  p.xSigned = n.tensors[0].dtype == DataType::kInt8;
  p.wSigned = n.tensors[1].dtype == DataType::kInt8;
  const auto asInt = [](uint8_t b, bool isSigned) {
    return isSigned ? int32_t{static_cast<int8_t>(b)} : int32_t{b};
  };
  p.xZeroPoint = asInt(n.weights[1][0], p.xSigned);
  p.wZeroPoints.clear();
  for (uint8_t b : n.weights[2]) p.wZeroPoints.push_back(asInt(b, p.wSigned));
  return kt::integerConvReference(p, x, n.weights[0]);
}

}  // namespace

TEST(conv_integer_matches_reference_and_its_scratch_bound) {
  const DataType u8 = DataType::kUInt8, s8 = DataType::kInt8;
  const std::vector<IntegerConvCase> cases = {
      {"1-D", {2, 3, 30}, {4, 3, 5}, {{"pads", ints({2, 1})}}, u8, u8, false},
      {"2-D per-channel",
       {1, 8, 15, 17},
       {12, 8, 3, 3},
       {{"pads", ints({1, 1, 1, 1})}},
       u8,
       s8,
       true},
      {"2-D groups strides dilations",
       {2, 6, 16, 14},
       {9, 2, 3, 2},
       {{"group", integer(3)},
        {"strides", ints({2, 1})},
        {"dilations", ints({1, 2})},
        {"pads", ints({0, 1, 2, 1})}},
       s8,
       s8,
       true},
      {"2-D SAME_UPPER",
       {1, 4, 9, 9},
       {5, 4, 4, 4},
       {{"auto_pad", text("SAME_UPPER")}},
       s8,
       u8,
       false},
      {"3-D",
       {1, 4, 6, 7, 5},
       {6, 2, 2, 3, 2},
       {{"group", integer(2)}, {"pads", ints({1, 0, 1, 0, 1, 1})}},
       u8,
       s8,
       true},
  };
  for (const IntegerConvCase& c : cases) {
    const Network n = convIntegerNet(c);
    kernels::resetScratchHighWater();
    std::vector<uint8_t> x, y;
    const auto plan = run(n, &x, &y);
    CHECK(scratchCovered(c.name, *plan));
    CHECK(plan->scratchBytes > 0);
    if (c.attrs.count("auto_pad")) continue;  // the reference takes explicit pads
    const std::vector<int32_t> want = convIntegerReference(n, *plan, x);
    CHECK(y.size() == want.size() * 4);
    CHECK(std::memcmp(y.data(), want.data(), y.size()) == 0);
  }
}

TEST(conv_integer_zero_points_must_fit_the_spec) {
  // A w_zero_point of 2 values for 4 output channels: read past its end before.
  const DataType u8 = DataType::kUInt8;
  for (const Dims& zp : {Dims{2}, Dims{5}}) {
    const Network n = layerOf("ConvInteger",
                              {input(u8, {1, 2, 5, 5}), randomBytes(u8, {4, 2, 3, 3}, 1), omitted(),
                               randomBytes(u8, zp, 2)},
                              DataType::kInt32, {});
    auto engine = std::make_shared<EngineCore>(n);
    ExecutionContext ctx(engine);
    CHECK_THROWS(ctx.plan(), Error);
  }
  // A per-channel x_zero_point (the spec has one for the tensor).
  const Network n =
      layerOf("ConvInteger",
              {input(u8, {1, 2, 5, 5}), randomBytes(u8, {4, 2, 3, 3}, 1), randomBytes(u8, {2}, 3)},
              DataType::kInt32, {});
  auto engine = std::make_shared<EngineCore>(n);
  ExecutionContext ctx(engine);
  CHECK_THROWS(ctx.plan(), Error);
}

TEST(qlinear_conv_and_lstm_scratch_is_planned) {
  // QLinearConv's packed paths (im2col, implicit stride phases, 1x1 in place, depthwise padded
  // or in place, grouped, int8 input) on every ISA tier, its exact fallback (3-D, a non-zero
  // weight zero point), and LSTM's projection, state and GEMM packing.
  const DataType u8 = DataType::kUInt8, s8 = DataType::kInt8, f32 = DataType::kFloat32;
  const auto qconv = [&](DataType xType, Dims x, Dims w, std::map<std::string, AttrValue> attrs,
                         bool zeroWeightZp = true) {
    std::vector<uint8_t> wzp(1, zeroWeightZp ? 0 : 3);
    return layerOf(
        "QLinearConv",
        {input(xType, x), scalarFloat(0.02f), randomBytes(xType, {}, 5), randomBytes(s8, w, 6),
         scalarFloat(0.01f), constant(s8, {}, wzp), scalarFloat(0.05f), randomBytes(u8, {}, 7)},
        u8, std::move(attrs));
  };
  struct Case {
    const char* name;
    Network net;
  };
  const std::vector<Case> cases = {
      {"qconv 3x3", qconv(u8, {1, 16, 20, 20}, {32, 16, 3, 3}, {{"pads", ints({1, 1, 1, 1})}})},
      {"qconv 3x3/2", qconv(u8, {2, 32, 17, 17}, {16, 32, 3, 3},
                            {{"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}})},
      {"qconv stem", qconv(u8, {1, 3, 32, 32}, {8, 3, 3, 3}, {{"strides", ints({2, 2})}})},
      {"qconv 1x1", qconv(u8, {1, 24, 10, 10}, {40, 24, 1, 1}, {})},
      {"qconv 1x1/2", qconv(u8, {1, 24, 10, 10}, {40, 24, 1, 1}, {{"strides", ints({2, 2})}})},
      {"qconv grouped", qconv(u8, {1, 8, 12, 12}, {8, 2, 3, 3}, {{"group", integer(4)}})},
      {"qconv depthwise", qconv(u8, {1, 16, 15, 15}, {16, 1, 3, 3},
                                {{"group", integer(16)}, {"pads", ints({1, 1, 1, 1})}})},
      {"qconv depthwise 5x5/2",
       qconv(u8, {1, 8, 19, 19}, {8, 1, 5, 5}, {{"group", integer(8)}, {"strides", ints({2, 2})}})},
      {"qconv int8 input", qconv(s8, {1, 16, 9, 9}, {8, 16, 3, 3}, {})},
      {"qconv 3-D", qconv(u8, {1, 4, 5, 6, 7}, {6, 4, 2, 2, 2}, {})},
      {"qconv weight zero point", qconv(u8, {1, 4, 9, 9}, {6, 4, 3, 3}, {}, false)},
      {"lstm", layerOf("LSTM",
                       {input(f32, {7, 3, 10}), randomBytes(f32, {1, 32, 10}, 8),
                        randomBytes(f32, {1, 32, 8}, 9)},
                       f32, {{"hidden_size", integer(8)}})},
      {"lstm bidirectional batch 1",
       layerOf("LSTM",
               {input(f32, {5, 1, 6}), randomBytes(f32, {2, 64, 6}, 8),
                randomBytes(f32, {2, 64, 16}, 9)},
               f32, {{"hidden_size", integer(16)}, {"direction", text("bidirectional")}})},
  };
  const CpuIsa best = activeIsa();
  for (CpuIsa isa : {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512}) {
    if (isa > best) continue;
    setActiveIsa(isa);
    for (const Case& c : cases) {
      kernels::resetScratchHighWater();
      const auto plan = run(c.net);
      CHECK(scratchCovered(c.name, *plan));
    }
  }
  setActiveIsa(best);
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

TEST(tfidf_scan_is_bounded_and_counts_skipped_ngrams) {
  // TfIdfVectorizer starts an n-gram at every token for every skip; tokens x (skip + 1) above
  // 2^28 is refused at planning (fuzz_plan: a scan that ran for minutes under the sanitizers).
  auto tfidf = [](const Dims& x, int64_t maxSkip) {
    Network n;
    n.tensors = {{"x", DataType::kInt32, x, -1}, {"y", DataType::kFloat32, {}, -1}};
    n.layers = {LayerDesc{"tfidf",
                          "TfIdfVectorizer",
                          {0},
                          {1},
                          {{"mode", text("TF")},
                           {"min_gram_length", integer(2)},
                           {"max_gram_length", integer(2)},
                           {"max_skip_count", integer(maxSkip)},
                           {"pool_int64s", ints({7, 1, 2, 3, 1, 1, 1})},
                           {"ngram_counts", ints({0, 1})},
                           {"ngram_indexes", ints({3, 0, 1, 2})}},
                          {}}};
    n.inputs = {0};
    n.outputs = {1};
    return n;
  };
  bool refused = false;
  try {
    ExecutionContext(std::make_shared<EngineCore>(tfidf({1 << 19, 1 << 10}, 1024))).plan();
  } catch (const Error& e) {
    refused = std::string(e.what()).find("exceeds the scan limit of 2^28") != std::string::npos;
  }
  CHECK(refused);

  // The pool: unigram 7 (column 3, below min_gram_length: never counted), bigrams (1, 2),
  // (3, 1), (1, 1) in columns 0-2. Over 1 2 3 1 1, adjacent pairs give (1, 2), (3, 1) and
  // (1, 1); with one token skipped, (3, 1) again (positions 2 and 4).
  ExecutionContext ctx(std::make_shared<EngineCore>(tfidf({5}, 1)));
  auto plan = ctx.plan();
  CHECK(plan->shapes[1] == Dims({4}));
  const int32_t x[5] = {1, 2, 3, 1, 1};
  float y[4] = {-1, -1, -1, -1};
  std::vector<uint8_t> arena(plan->arenaBytes + 64);
  ctx.execute(*plan, {x}, {y}, arena.data());
  CHECK(y[0] == 1 && y[1] == 2 && y[2] == 1 && y[3] == 0);
}

TEST(lrn_window_sums_match_a_direct_reference_and_huge_sizes_run_in_linear_time) {
  // LRN sums x^2 over a window of channels. The window now slides (fuzz_plan: a size of 2^40
  // over many channels summed each window afresh for hours); check it against direct sums in
  // double for odd, even and oversized windows, then run a window of 2^40 over 2^20 channels.
  auto lrn = [](const Dims& x, int64_t size) {
    AttrValue alpha, beta, bias;
    alpha.kind = beta.kind = bias.kind = AttrValue::Kind::kFloat;
    alpha.f = 0.3, beta.f = 0.75, bias.f = 2.0;
    return oneLayer("LRN", x, {}, x,
                    {{"size", integer(size)}, {"alpha", alpha}, {"beta", beta}, {"bias", bias}});
  };
  for (int64_t size : {1, 2, 3, 4, 13}) {
    const Dims dims{2, 7, 5};
    std::vector<uint8_t> inBytes, outBytes;
    run(lrn(dims, size), &inBytes, &outBytes);
    const auto* in = reinterpret_cast<const float*>(inBytes.data());
    const auto* out = reinterpret_cast<const float*>(outBytes.data());
    double worst = 0;
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t ch = 0; ch < 7; ++ch)
        for (int64_t s = 0; s < 5; ++s) {
          double sum = 0;
          for (int64_t k = std::max<int64_t>(0, ch - (size - 1) / 2);
               k <= std::min<int64_t>(6, ch + size - 1 - (size - 1) / 2); ++k)
            sum += double(in[(b * 7 + k) * 5 + s]) * in[(b * 7 + k) * 5 + s];
          const int64_t e = (b * 7 + ch) * 5 + s;
          const double want = in[e] / std::pow(2.0 + 0.3 / double(size) * sum, 0.75);
          worst = std::max(worst, std::abs(out[e] - want) / (1e-6 + std::abs(want)));
        }
    CHECK(worst < 1e-5);
  }
  const int64_t channels = int64_t{1} << 20;
  std::vector<uint8_t> inBytes, outBytes;
  run(lrn({1, channels, 1}, int64_t{1} << 40), &inBytes, &outBytes);
  const auto* in = reinterpret_cast<const float*>(inBytes.data());
  const auto* out = reinterpret_cast<const float*>(outBytes.data());
  // Every window holds every channel: alpha / size makes the sum's term vanish next to bias.
  double worst = 0;
  for (int64_t ch = 0; ch < channels; ++ch)
    worst = std::max(worst, std::abs(out[ch] - in[ch] / std::pow(2.0, 0.75)) /
                                (1e-6 + std::abs(in[ch]) / std::pow(2.0, 0.75)));
  CHECK(worst < 1e-5);
}

// The DFT of points x[j * stride] (real, or complex pairs) at bin k, summed directly in double.
std::pair<double, double> directDft(const float* x, int64_t stride, bool complex, int64_t points,
                                    int64_t n, int64_t k, bool inverse) {
  double re = 0, im = 0;
  const double pi = std::acos(-1.0);
  for (int64_t j = 0; j < std::min(points, n); ++j) {
    const double angle = (inverse ? 2 : -2) * pi * static_cast<double>((j * k) % n) / double(n);
    const double xr = x[j * stride], xi = complex ? x[j * stride + 1] : 0.0;
    re += xr * std::cos(angle) - xi * std::sin(angle);
    im += xr * std::sin(angle) + xi * std::cos(angle);
  }
  return inverse ? std::pair{re / double(n), im / double(n)} : std::pair{re, im};
}

TEST(dft_matches_direct_sums_at_any_length_and_long_signals_run_in_n_log_n) {
  // DFT runs radix-2 FFTs for powers of two and Bluestein's chirp z-transform otherwise (direct
  // sums took hours for a hostile length: fuzz_plan). Complex and real, forward and inverse,
  // dft_length shorter and longer than the signal (truncated / zero-padded), onesided.
  struct Case {
    int64_t points, length, comps;
    bool inverse, onesided;
  };
  for (const Case c :
       {Case{1, 1, 2, false, false}, Case{2, 2, 2, true, false}, Case{7, 7, 2, false, false},
        Case{16, 16, 2, true, false}, Case{100, 100, 2, false, false},
        Case{1000, 1000, 1, true, false}, Case{9, 12, 1, false, true},
        Case{40, 33, 2, false, false}, Case{64, 64, 1, false, true}}) {
    const int64_t le = c.length;
    std::vector<uint8_t> lengthBytes(8);
    std::memcpy(lengthBytes.data(), &le, 8);
    AttrValue inverse = integer(c.inverse ? 1 : 0), onesided = integer(c.onesided ? 1 : 0);
    Network n = layerOf("DFT",
                        {input(DataType::kFloat32, {2, c.points, c.comps}),
                         constant(DataType::kInt64, {}, lengthBytes)},
                        DataType::kFloat32, {{"inverse", inverse}, {"onesided", onesided}});
    std::vector<uint8_t> inBytes, outBytes;
    const auto plan = run(n, &inBytes, &outBytes);
    const int64_t bins = c.onesided ? c.length / 2 + 1 : c.length;
    CHECK(plan->shapes[n.outputs[0]] == Dims({2, bins, 2}));
    const auto* in = reinterpret_cast<const float*>(inBytes.data());
    const auto* out = reinterpret_cast<const float*>(outBytes.data());
    double worst = 0, largest = 0;
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t k = 0; k < bins; ++k) {
        const auto [re, im] = directDft(in + b * c.points * c.comps, c.comps, c.comps == 2,
                                        c.points, c.length, k, c.inverse);
        const float* y = out + (b * bins + k) * 2;
        worst = std::max({worst, std::abs(y[0] - re), std::abs(y[1] - im)});
        largest = std::max({largest, std::abs(re), std::abs(im)});
      }
    CHECK(worst <= 1e-6 * std::max(1.0, largest));
  }
  // 1,000,003 points (a prime: Bluestein over 2^21): a few bins against direct sums.
  const int64_t points = 1000003;
  std::vector<uint8_t> inBytes, outBytes;
  run(layerOf("DFT", {input(DataType::kFloat32, {1, points, 1})}, DataType::kFloat32, {}), &inBytes,
      &outBytes);
  const auto* in = reinterpret_cast<const float*>(inBytes.data());
  const auto* out = reinterpret_cast<const float*>(outBytes.data());
  for (int64_t k : {int64_t{0}, int64_t{1}, int64_t{777}, points / 2, points - 1}) {
    const auto [re, im] = directDft(in, 1, false, points, points, k, false);
    CHECK(std::abs(out[2 * k] - re) < 1e-6 * 600 && std::abs(out[2 * k + 1] - im) < 1e-6 * 600);
  }
}
