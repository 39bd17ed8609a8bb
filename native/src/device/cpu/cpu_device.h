#pragma once

#include "kiln/device.h"

namespace kiln {
// The always-present host device: aligned allocations, streams run by the core's workers.
Device& cpuDevice();
}  // namespace kiln
