// Tactic selection (TensorRT's auto-tuning): for each layer whose op offers several
// implementations, time them at the first profile's opt shapes and record the fastest in the
// plan (LayerDesc::tactic), which the op's prepare() then honours when the engine loads.
// Timings are kept in a timing cache keyed by the layer's signature (op, input shapes and
// types, attributes) within a cache made for one CPU (ISA tier, features, model, threads) and
// core version, so a rebuild of the same model skips the timing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

class EngineCore;
struct LayerDesc;
struct Network;

// Tactic sources, as TensorRT has them: where a tactic's implementation comes from. "kiln" (the
// project's own kernels) is always built; "onednn" when the core was built with oneDNN.
std::string tacticSource(const std::string& tactic);
// The sources this core was built with, "kiln" first.
std::vector<std::string> builtTacticSources();
// Throws kUnsupported when layer.tactic needs a source this core was built without (a plan
// built elsewhere): the engine must be rebuilt here.
void requireTacticBuilt(const LayerDesc& layer);

struct TuneOptions {
  // 0: heuristic only (no timing); 1..5: every candidate is timed, over more runs as it rises.
  int level = 3;
  std::vector<uint8_t> timingCache;  // a previous result's timingCache, or empty
  // The tactic sources candidates come from (TensorRT's setTacticSources); empty: every built
  // one. A layer none of them can run keeps kiln's own tactics, so the engine stays complete.
  std::vector<std::string> sources;
};

struct TunedLayer {
  std::string name, op, tactic;
  std::string tacticSource;  // tacticSource(tactic)
  // "timed", "cache" (a timing cache entry), "heuristic" (level 0) or "only" (one candidate).
  std::string source;
  std::vector<std::pair<std::string, double>> candidateMs;  // filled when timed
};

struct TuneResult {
  std::vector<uint8_t> timingCache;   // the loaded entries plus this build's timings
  std::vector<TunedLayer> layers;     // the layers that have tactics, in execution order
  std::vector<std::string> warnings;  // a timing cache that could not be used, and why
  double timingMs = 0;                // spent timing candidates (what the cache saves)
};

// Chooses the tactic of every layer of core's network that has a choice and records it in
// network->layers (network is what core was made from, as it will be written to the plan).
// core needs no prepared ops (EngineCore without prepare): a candidate is prepared (its weights
// packed) only where a layer is timed. A bad timing cache only adds a warning (and is replaced).
TuneResult tuneNetwork(const EngineCore& core, Network* network, const TuneOptions& options);

// The identity of this machine a timing cache is valid for.
std::string timingCacheCpuId();

}  // namespace kiln
