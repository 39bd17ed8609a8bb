// Per-layer timing for finding where an engine's time goes (like trtexec --dumpProfile):
// KILN_PROFILE_LAYERS=1 times every layer of every execute() and prints, when the process
// exits, each layer's mean time and share, then the totals per op type, to stderr.
#pragma once

#include <cstddef>
#include <string>

namespace kiln {

// True when KILN_PROFILE_LAYERS is set (read once).
bool layerProfilingEnabled();

// Adds one run of a layer. `engine` tells engines apart when a process runs several.
void recordLayerTime(const void* engine, size_t layer, const std::string& name,
                     const std::string& op, double seconds);

}  // namespace kiln
