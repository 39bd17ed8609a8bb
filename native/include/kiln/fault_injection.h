// Test-only fault injection: makes the next N operations at a named point fail, so that error
// paths (a stream task failing, an allocation failing) are exercised by real tests.
#pragma once

#include <string>

namespace kiln {

// Points: "stream.task", "device.allocate".
void injectFault(const std::string& point, int count);

// Throws kiln::Error(kInternal / kOutOfMemory) when a fault is pending at `point`.
void maybeFail(const char* point);

}  // namespace kiln
