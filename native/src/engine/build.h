// Building an engine: from a network description to plan bytes, the way TensorRT's
// buildSerializedNetwork does it, with the facts the builder reports beside the bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "graph/network.h"
#include "tactics/tactics.h"

namespace kiln {

class EngineCore;

struct BuildResult {
  std::vector<uint8_t> plan;
  TuneResult tactics;
  // Per profile: activation and kernel scratch bytes at its largest shapes, with the tactics
  // the plan records (what an engine loaded from the plan reports as its device memory size).
  std::vector<size_t> memory;
};

// Checks every profile's min/opt/max shapes (and shape values) through the network, chooses
// each layer's tactic (timed, or from options.timingCache), and writes the plan. The weights
// are packed once, for the chosen tactics only; with a timing cache hit for every layer nothing
// is timed and no candidate is packed.
BuildResult buildEngine(std::shared_ptr<Network> network, const TuneOptions& options);

// Checks that every profile's shapes infer through the whole network and returns the memory
// each profile needs at its largest (see BuildResult::memory).
std::vector<size_t> profileMemory(const std::shared_ptr<const EngineCore>& core);

}  // namespace kiln
