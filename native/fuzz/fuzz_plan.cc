// libFuzzer target: engine (plan) files. Each input is read twice: as it is, which checks the
// header and the checksum, and with its checksum and payload size recomputed, so that mutations
// of the payload reach the payload reader instead of stopping at the checksum. A plan that
// loads is then run as an engine (shape inference at every profile, execution when small).
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/plan_format.h"
#include "exercise.h"

namespace {

// Header: magic(8) | u32 version | str core | str backend | u64 features | u64 size | u64 sum.
// Returns false when the input is too short to hold one.
bool fixChecksum(std::vector<uint8_t>& b) {
  size_t at = 8 + 4;
  for (int s = 0; s < 2; ++s) {
    uint32_t len;
    if (b.size() < at + 4) return false;
    std::memcpy(&len, b.data() + at, 4);
    if (b.size() - at - 4 < len) return false;
    at += 4 + len;
  }
  at += 8;  // features
  if (b.size() < at + 16) return false;
  const uint64_t payload = b.size() - at - 16;
  std::memcpy(b.data() + at, &payload, 8);
  const uint64_t sum = kiln::fnv1a64(b.data(), at + 8, kiln::fnv1a64(b.data() + at + 16, payload));
  std::memcpy(b.data() + at + 8, &sum, 8);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    kiln::readPlan(data, size);
  } catch (const kiln::Error&) {
  }
  std::vector<uint8_t> fixed(data, data + size);
  if (!fixChecksum(fixed)) return 0;
  kiln::Network network;
  try {
    network = kiln::readPlan(fixed.data(), fixed.size());
  } catch (const kiln::Error&) {
    return 0;
  }
  // Input data: a fixed pattern in which int32 values are 0..2 and int64 ones small or huge,
  // so index inputs are in range at times and out of range at others.
  kiln::fuzz::exerciseNetwork(std::move(network), [](size_t i) {
    return static_cast<uint8_t>(i % 4 == 0 ? (i / 4) % 3 : 0);
  });
  return 0;
}
