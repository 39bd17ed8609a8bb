#pragma once

namespace kiln {
// The core's version, recorded in plan files. Bumped with @kiln/core's version.
inline constexpr const char* kCoreVersion = "0.1.0";
}  // namespace kiln
