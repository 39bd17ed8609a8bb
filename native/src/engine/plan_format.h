// The engine (plan) file: a versioned binary format owned by the native core.
//
//   "KILNPLAN" | u32 format version | str core version | str backend | u64 required CPU
//   features | u64 payload bytes | u64 FNV-1a checksum (header + payload) | payload
//
// The payload is the Network (tensors, layers, IO, profiles, weights), little-endian, every
// string and array prefixed by its length. Reading checks everything before trusting it.
// Version 2 adds each layer's tactic (a string after its attributes); version 1 plans, which
// have none, still load and their layers pick implementations by heuristic.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graph/network.h"

namespace kiln {

inline constexpr uint32_t kPlanFormatVersion = 2;
// The oldest version readPlan still reads.
inline constexpr uint32_t kPlanFormatOldestReadable = 1;

// Bits of the required-features field.
enum PlanFeature : uint64_t {
  kPlanNeedsAvx2 = 1u << 0,
  kPlanNeedsAvx512 = 1u << 1,
  kPlanNeedsAvx512Vnni = 1u << 2,
  kPlanNeedsF16c = 1u << 3,
};

struct PlanInfo {
  uint32_t formatVersion = kPlanFormatVersion;
  std::string coreVersion;
  std::string backend = "cpu";
  uint64_t requiredFeatures = 0;
};

// Writes info.formatVersion's layout (kPlanFormatVersion, or 1 without tactics).
std::vector<uint8_t> writePlan(const Network& network, const PlanInfo& info);

// Throws kInvalidPlan saying what is wrong: not a plan, another format version, another
// backend, CPU features this machine lacks, truncated, corrupted, or inconsistent contents.
Network readPlan(const uint8_t* data, size_t size, PlanInfo* info = nullptr);

// FNV-1a, 64-bit: detects accidental corruption (it is not a cryptographic signature).
uint64_t fnv1a64(const uint8_t* data, size_t size, uint64_t seed = 1469598103934665603ULL);

}  // namespace kiln
