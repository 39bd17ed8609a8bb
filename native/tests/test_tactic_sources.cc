// Tactic sources: names, and a plan whose Conv runs conv.onednn. A core built with oneDNN loads
// and runs it (checked against a double-precision reference, batch sizes of a dynamic profile);
// a core built without it refuses the plan with a clear error instead of running something else.
#include <cmath>
#include <cstring>
#include <random>
#include <string>

#include "engine/engine_core.h"
#include "engine/plan_format.h"
#include "kiln/error.h"
#include "kiln_test.h"
#include "tactics/tactics.h"

using namespace kiln;

namespace {

std::vector<uint8_t> floatBytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// x [N, 3, 6, 6] -> Conv (4 filters 3x3, pad 1, bias, fused Relu) on conv.onednn -> y.
struct OnednnPlan {
  Network net;
  std::vector<float> w, b;
};

OnednnPlan makePlan() {
  OnednnPlan s;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 1);
  s.w.resize(4 * 3 * 9);
  s.b.resize(4);
  for (auto& v : s.w) v = u(rng);
  for (auto& v : s.b) v = u(rng);
  Network& n = s.net;
  n.tensors = {{"x", DataType::kFloat32, {-1, 3, 6, 6}, -1},
               {"w", DataType::kFloat32, {4, 3, 3, 3}, 0},
               {"b", DataType::kFloat32, {4}, 1},
               {"y", DataType::kFloat32, {-1, 4, 6, 6}, -1}};
  n.weights = {floatBytes(s.w), floatBytes(s.b)};
  AttrValue pads;
  pads.kind = AttrValue::Kind::kInts;
  pads.ints = {1, 1, 1, 1};
  AttrValue relu;
  relu.kind = AttrValue::Kind::kString;
  relu.s = "Relu";
  LayerDesc conv{"conv", "Conv", {0, 1, 2}, {3}, {{"pads", pads}, {"activation", relu}}, {}};
  conv.tactic = "conv.onednn";
  n.layers = {conv};
  n.inputs = {0};
  n.outputs = {3};
  n.profiles = {Profile{{ProfileDims{0, {1, 3, 6, 6}, {1, 3, 6, 6}, {3, 3, 6, 6}, {}, {}, {}}}}};
  return s;
}

}  // namespace

TEST(names_the_source_of_each_tactic) {
  CHECK_EQ(tacticSource("conv.onednn"), std::string("onednn"));
  CHECK_EQ(tacticSource("conv.gemm"), std::string("kiln"));
  CHECK_EQ(tacticSource("conv.winograd"), std::string("kiln"));
  const std::vector<std::string> built = builtTacticSources();
  CHECK_EQ(built.front(), std::string("kiln"));
#ifdef KILN_WITH_ONEDNN
  CHECK(built.size() == 2 && built[1] == "onednn");
#else
  CHECK(built.size() == 1);
#endif
}

TEST(a_plan_with_a_onednn_tactic_runs_only_where_onednn_is_built) {
  const OnednnPlan s = makePlan();
  const auto bytes = writePlan(s.net, PlanInfo{});
#ifdef KILN_WITH_ONEDNN
  auto engine = std::make_shared<EngineCore>(readPlan(bytes.data(), bytes.size()));
  CHECK_EQ(engine->network().layers[0].tactic, std::string("conv.onednn"));
  ExecutionContext ctx(engine);
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> u(-1, 1);
  for (int batch : {1, 3, 2}) {
    ctx.setInputShape(0, {batch, 3, 6, 6});
    auto plan = ctx.plan();
    std::vector<float> x(batch * 3 * 36), y(batch * 4 * 36, -1);
    for (auto& v : x) v = u(rng);
    std::vector<uint8_t> arena(plan->arenaBytes + 64);
    ctx.execute(*plan, {x.data()}, {y.data()}, arena.data());
    double worst = 0;
    for (int n = 0; n < batch; ++n)
      for (int m = 0; m < 4; ++m)
        for (int i = 0; i < 6; ++i)
          for (int j = 0; j < 6; ++j) {
            double acc = s.b[m];
            for (int c = 0; c < 3; ++c)
              for (int ki = 0; ki < 3; ++ki)
                for (int kj = 0; kj < 3; ++kj) {
                  const int yi = i + ki - 1, xj = j + kj - 1;
                  if (yi < 0 || yi >= 6 || xj < 0 || xj >= 6) continue;
                  acc += static_cast<double>(s.w[((m * 3 + c) * 3 + ki) * 3 + kj]) *
                         x[((n * 3 + c) * 6 + yi) * 6 + xj];
                }
            const double want = std::max(acc, 0.0);
            worst = std::max(worst, std::fabs(want - y[((n * 4 + m) * 6 + i) * 6 + j]));
          }
    CHECK(worst < 1e-5);
  }
#else
  bool threw = false;
  try {
    EngineCore engine(readPlan(bytes.data(), bytes.size()));
  } catch (const Error& e) {
    threw = true;
    CHECK(e.code() == ErrorCode::kUnsupported);
    const std::string m = e.what();
    CHECK(m.find("conv.onednn") != std::string::npos);
    CHECK(m.find("onednn tactic source") != std::string::npos);
    CHECK(m.find("rebuild the engine") != std::string::npos);
  }
  CHECK(threw);
#endif
}
