// The cuda runner (see engine/runner.h): an engine's weights uploaded once per GPU and shared by
// its contexts there, each layer launched through the cuda op table (cuda_ops.h) in the
// precision cuda_precision.h gives it, optionally captured into CUDA graphs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/runner.h"

namespace kiln {

// Throws kUnsupported listing every layer without a cuda implementation in this build.
std::unique_ptr<Runner> makeCudaRunner(const std::shared_ptr<const EngineCore>& engine,
                                       Device& device, const RunnerOptions& options);

// "name (op: reason)" for each layer of `network` that cannot run on cuda; empty when all can.
std::vector<std::string> cudaUnsupportedLayers(const Network& network);

}  // namespace kiln
