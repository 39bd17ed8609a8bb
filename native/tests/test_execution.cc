#include <cmath>
#include <cstring>
#include <random>

#include "engine/build.h"
#include "engine/engine_core.h"
#include "engine/plan_format.h"
#include "kiln/error.h"
#include "kiln_test.h"

using namespace kiln;

namespace {

std::vector<uint8_t> floatBytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

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

// x[N,1,5,5] -> Conv(2 filters 3x3, pad 1) -> Relu -> GlobalAveragePool -> Flatten -> Gemm(3) ->
// Softmax
struct Sample {
  Network net;
  std::vector<float> w, b, fw, fb;
};

Sample makeSample() {
  Sample s;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1, 1);
  s.w.resize(2 * 9);
  s.b = {0.1f, -0.2f};
  s.fw.resize(3 * 2);
  s.fb = {0.0f, 0.5f, -0.5f};
  for (auto& v : s.w) v = u(rng);
  for (auto& v : s.fw) v = u(rng);
  Network& n = s.net;
  n.tensors = {{"x", DataType::kFloat32, {-1, 1, 5, 5}, -1},
               {"w", DataType::kFloat32, {2, 1, 3, 3}, 0},
               {"b", DataType::kFloat32, {2}, 1},
               {"c", DataType::kFloat32, {-1, 2, 5, 5}, -1},
               {"r", DataType::kFloat32, {-1, 2, 5, 5}, -1},
               {"g", DataType::kFloat32, {-1, 2, 1, 1}, -1},
               {"f", DataType::kFloat32, {-1, 2}, -1},
               {"fw", DataType::kFloat32, {3, 2}, 2},
               {"fb", DataType::kFloat32, {3}, 3},
               {"z", DataType::kFloat32, {-1, 3}, -1},
               {"y", DataType::kFloat32, {-1, 3}, -1}};
  n.weights = {floatBytes(s.w), floatBytes(s.b), floatBytes(s.fw), floatBytes(s.fb)};
  LayerDesc conv{"conv", "Conv", {0, 1, 2}, {3}, {{"pads", ints({1, 1, 1, 1})}}, {}};
  LayerDesc relu{"relu", "Relu", {3}, {4}, {}, {}};
  LayerDesc gap{"gap", "GlobalAveragePool", {4}, {5}, {}, {}};
  LayerDesc flat{"flat", "Flatten", {5}, {6}, {}, {}};
  LayerDesc gemm{"fc", "Gemm", {6, 7, 8}, {9}, {{"transB", integer(1)}}, {}};
  LayerDesc soft{"soft", "Softmax", {9}, {10}, {}, {}};
  n.layers = {conv, relu, gap, flat, gemm, soft};
  n.inputs = {0};
  n.outputs = {10};
  n.profiles = {Profile{{ProfileDims{0, {1, 1, 5, 5}, {2, 1, 5, 5}, {4, 1, 5, 5}, {}, {}, {}}}}};
  return s;
}

std::vector<double> reference(const Sample& s, const std::vector<float>& x, int batch) {
  std::vector<double> out;
  for (int nb = 0; nb < batch; ++nb) {
    double pooled[2] = {0, 0};
    for (int m = 0; m < 2; ++m) {
      for (int i = 0; i < 5; ++i) {
        for (int j = 0; j < 5; ++j) {
          double acc = s.b[m];
          for (int ki = 0; ki < 3; ++ki) {
            for (int kj = 0; kj < 3; ++kj) {
              const int yi = i + ki - 1, xj = j + kj - 1;
              if (yi < 0 || yi >= 5 || xj < 0 || xj >= 5) continue;
              acc += static_cast<double>(s.w[m * 9 + ki * 3 + kj]) * x[nb * 25 + yi * 5 + xj];
            }
          }
          pooled[m] += std::max(acc, 0.0) / 25.0;
        }
      }
    }
    double z[3], mx = -1e300, sum = 0;
    for (int o = 0; o < 3; ++o) {
      z[o] = s.fb[o] + s.fw[o * 2] * pooled[0] + s.fw[o * 2 + 1] * pooled[1];
      mx = std::max(mx, z[o]);
    }
    for (double& v : z) sum += (v = std::exp(v - mx));
    for (double v : z) out.push_back(v / sum);
  }
  return out;
}

}  // namespace

TEST(runs_a_small_cnn_at_several_batch_sizes) {
  const Sample s = makeSample();
  // Through a plan file, as an engine is loaded.
  const auto bytes = writePlan(s.net, PlanInfo{});
  auto engine = std::make_shared<EngineCore>(readPlan(bytes.data(), bytes.size()));
  ExecutionContext ctx(engine);
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-2, 2);
  for (int batch : {1, 3, 4}) {
    ctx.setInputShape(0, {batch, 1, 5, 5});
    auto plan = ctx.plan();
    CHECK(plan->shapes[10] == (Dims{batch, 3}));
    std::vector<float> x(batch * 25), y(batch * 3, -1);
    for (auto& v : x) v = u(rng);
    std::vector<uint8_t> arena(plan->arenaBytes + 64);
    ctx.execute(*plan, {x.data()}, {y.data()}, arena.data());
    const auto want = reference(s, x, batch);
    double worst = 0;
    for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::fabs(want[i] - y[i]));
    CHECK(worst < 1e-5);
  }
}

TEST(reuses_activation_memory) {
  const Sample s = makeSample();
  auto engine = std::make_shared<EngineCore>(s.net);
  ExecutionContext ctx(engine);
  ctx.setInputShape(0, {4, 1, 5, 5});
  auto plan = ctx.plan();
  // c and r (800 floats each at batch 4) cannot share; g and f can reuse c's bytes.
  size_t sum = 0;
  for (int t : {3, 4, 5, 6, 9}) sum += shapeElements(plan->shapes[t]) * 4;
  CHECK(plan->arenaBytes < sum);
}

TEST(checks_shapes_against_the_profile) {
  auto engine = std::make_shared<EngineCore>(makeSample().net);
  ExecutionContext ctx(engine);
  bool ok = false;
  try {
    ctx.plan();
  } catch (const Error& e) {
    ok = e.code() == ErrorCode::kInvalidState &&
         std::string(e.what()).find("'x'") != std::string::npos;
  }
  CHECK(ok);
  ok = false;
  try {
    ctx.setInputShape(0, {5, 1, 5, 5});
  } catch (const Error& e) {
    ok = std::string(e.what()) == "input 'x' dim 0 = 5 is outside profile 0's range [1, 4]";
  }
  CHECK(ok);
  CHECK_THROWS(ctx.setInputShape(0, {2, 1, 6, 5}), Error);  // fixed dim
  CHECK_THROWS(ctx.setInputShape(0, {2, 1, 5}), Error);     // rank
}

TEST(unsupported_ops_are_listed_together) {
  Network n = makeSample().net;
  n.layers[1].op = "Frobnicate";
  n.layers[2].op = "Quux";
  bool ok = false;
  try {
    EngineCore engine(n);
  } catch (const Error& e) {
    const std::string m = e.what();
    ok = e.code() == ErrorCode::kUnsupported && m.find("relu (Frobnicate)") != std::string::npos &&
         m.find("gap (Quux)") != std::string::npos;
  }
  CHECK(ok);
}

TEST(bad_attributes_are_model_errors) {
  Network n = makeSample().net;
  n.layers[0].attrs["pads"] = ints({1, 1});
  auto engine = std::make_shared<EngineCore>(n);
  ExecutionContext ctx(engine);
  ctx.setInputShape(0, {1, 1, 5, 5});
  bool ok = false;
  try {
    ctx.plan();
  } catch (const Error& e) {
    ok = e.code() == ErrorCode::kInvalidModel &&
         std::string(e.what()).find("layer 'conv' (Conv)") != std::string::npos;
  }
  CHECK(ok);
}

// y = If(c, Relu(x), Neg(x)) with the branches flattened under guards on c, a bool input.
static Network ifNetwork() {
  Network n;
  n.tensors = {{"c", DataType::kBool, {}, -1},
               {"x", DataType::kFloat32, {3}, -1},
               {"a", DataType::kFloat32, {}, -1},
               {"b", DataType::kFloat32, {}, -1},
               {"y", DataType::kFloat32, {}, -1}};
  LayerDesc relu{"relu", "Relu", {1}, {2}, {}, {{0, true}}};
  LayerDesc neg{"neg", "Neg", {1}, {3}, {}, {{0, false}}};
  LayerDesc pick{"if", "If", {0, 2, 3}, {4}, {}, {}};
  n.layers = {relu, neg, pick};
  n.inputs = {0, 1};
  n.outputs = {4};
  return n;
}

TEST(guarded_branches_follow_the_condition_values) {
  auto engine = std::make_shared<EngineCore>(ifNetwork());
  ExecutionContext ctx(engine);
  bool ok = false;
  try {
    ctx.plan();  // the condition's value is unknown
  } catch (const Error& e) {
    ok = e.code() == ErrorCode::kUnsupported &&
         std::string(e.what()).find("setInputValues") != std::string::npos;
  }
  CHECK(ok);
  const std::vector<float> x = {-1.5f, 0.0f, 2.0f};
  for (uint8_t c : {1, 0}) {
    ctx.setInputValues(0, &c, 1);
    auto plan = ctx.plan();
    CHECK_EQ(plan->active[0], static_cast<char>(c));
    CHECK_EQ(plan->active[1], static_cast<char>(!c));
    CHECK_EQ(plan->arenaBytes, 64u);  // only the taken branch's result lives in the arena
    std::vector<float> y(3, 9.0f);
    std::vector<uint8_t> arena(plan->arenaBytes);
    ctx.execute(*plan, {&c, x.data()}, {y.data()}, arena.data());
    CHECK(y == (c ? std::vector<float>{0.0f, 0.0f, 2.0f} : std::vector<float>{1.5f, -0.0f, -2.0f}));
  }
  uint8_t two[2] = {1, 1};
  CHECK_THROWS(ctx.setInputValues(0, two, 2), Error);  // a scalar holds one byte
}

TEST(guards_survive_the_plan_file) {
  const Network n = ifNetwork();
  const auto bytes = writePlan(n, PlanInfo{});
  const Network back = readPlan(bytes.data(), bytes.size());
  CHECK(back.layers[0].guards == n.layers[0].guards);
  CHECK(back.layers[1].guards == n.layers[1].guards);
  Network bad = ifNetwork();
  bad.layers[0].guards = {{1, true}};  // a float tensor cannot be a condition
  CHECK_THROWS(bad.validate(false), Error);
}

TEST(a_build_reports_the_memory_its_plan_loads_with_and_a_cache_hit_times_nothing) {
  const Sample s = makeSample();
  TuneOptions timed;
  timed.level = 1;
  const BuildResult first = buildEngine(std::make_shared<Network>(s.net), timed);
  auto loaded = std::make_shared<const EngineCore>(readPlan(first.plan.data(), first.plan.size()));
  CHECK(first.memory == profileMemory(loaded));
  CHECK_EQ(first.memory.size(), 1u);
  CHECK(first.memory[0] > 0);

  TuneOptions cached = timed;
  cached.timingCache = first.tactics.timingCache;
  const BuildResult again = buildEngine(std::make_shared<Network>(s.net), cached);
  CHECK(again.plan == first.plan);
  CHECK(again.memory == first.memory);
  CHECK_EQ(again.tactics.timingMs, 0.0);
  for (const TunedLayer& l : again.tactics.layers) CHECK(l.source != "timed");

  // A profile whose max shape cannot run fails the build.
  Network bad = s.net;
  bad.profiles[0].inputs[0].max = {4, 1, 5};
  bool failed = false;
  try {
    buildEngine(std::make_shared<Network>(bad), timed);
  } catch (const Error&) {
    failed = true;
  }
  CHECK(failed);
}
