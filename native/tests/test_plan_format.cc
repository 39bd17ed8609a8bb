#include <algorithm>
#include <cstring>
#include <random>

#include "engine/plan_format.h"
#include "kiln/error.h"
#include "kiln_test.h"

using namespace kiln;

static Network sampleNetwork() {
  Network n;
  n.tensors = {{"x", DataType::kFloat32, {-1, 4}, -1},
               {"w", DataType::kFloat32, {4, 2}, 0},
               {"y", DataType::kFloat32, {-1, 2}, -1}};
  n.weights = {std::vector<uint8_t>(32, 1)};
  LayerDesc mm;
  mm.name = "mm";
  mm.op = "MatMul";
  mm.inputs = {0, 1};
  mm.outputs = {2};
  AttrValue a;
  a.kind = AttrValue::Kind::kInts;
  a.ints = {1, -2};
  mm.attrs["perm"] = a;
  AttrValue s;
  s.kind = AttrValue::Kind::kString;
  s.s = "NOTSET";
  mm.attrs["auto_pad"] = s;
  n.layers = {mm};
  n.inputs = {0};
  n.outputs = {2};
  n.profiles = {Profile{{ProfileDims{0, {1, 4}, {4, 4}, {8, 4}, {}, {}, {}}}}};
  return n;
}

static ErrorCode codeOf(const std::vector<uint8_t>& bytes, std::string* message = nullptr) {
  try {
    readPlan(bytes.data(), bytes.size());
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.code();
  }
  return ErrorCode::kInternal;  // "no error": never expected below
}

TEST(round_trips_everything) {
  const Network n = sampleNetwork();
  const auto bytes = writePlan(n, PlanInfo{});
  PlanInfo info;
  const Network back = readPlan(bytes.data(), bytes.size(), &info);
  CHECK_EQ(info.backend, std::string("cpu"));
  CHECK_EQ(back.tensors.size(), 3u);
  CHECK_EQ(back.tensors[0].shape[0], -1);
  CHECK_EQ(back.layers[0].attrInts("perm")[1], -2);
  CHECK_EQ(back.layers[0].attrString("auto_pad", ""), std::string("NOTSET"));
  CHECK_EQ(back.profiles[0].inputs[0].max[0], 8);
  CHECK(back.weights[0] == n.weights[0]);
  CHECK(writePlan(back, info) == bytes);  // deterministic
}

TEST(layer_tactics_round_trip_and_version_1_plans_still_load) {
  Network n = sampleNetwork();
  n.layers[0].tactic = "matmul.test";
  const auto bytes = writePlan(n, PlanInfo{});
  CHECK_EQ(readPlan(bytes.data(), bytes.size()).layers[0].tactic, std::string("matmul.test"));
  // A version 1 file (written before tactics existed) loads with no tactics.
  PlanInfo v1;
  v1.formatVersion = 1;
  const auto old = writePlan(n, v1);
  CHECK(old.size() < bytes.size());
  PlanInfo info;
  const Network back = readPlan(old.data(), old.size(), &info);
  CHECK_EQ(info.formatVersion, 1u);
  CHECK(back.layers[0].tactic.empty());
  CHECK_EQ(back.layers[0].attrInts("perm")[1], -2);
}

TEST(every_truncation_is_refused_cleanly) {
  const auto bytes = writePlan(sampleNetwork(), PlanInfo{});
  int wrong = 0;
  for (size_t len = 0; len < bytes.size(); ++len) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + len);
    if (codeOf(cut) != ErrorCode::kInvalidPlan) ++wrong;
  }
  CHECK_EQ(wrong, 0);
}

TEST(altered_bytes_fail_the_checksum) {
  const auto bytes = writePlan(sampleNetwork(), PlanInfo{});
  std::mt19937 rng(1);
  int wrong = 0;
  for (int i = 0; i < 500; ++i) {
    auto bad = bytes;
    const size_t at = 8 + rng() % (bad.size() - 8);
    bad[at] ^= static_cast<uint8_t>(1 + rng() % 255);
    if (codeOf(bad) != ErrorCode::kInvalidPlan) ++wrong;
  }
  CHECK_EQ(wrong, 0);
  auto tail = bytes;
  tail[tail.size() - 1] ^= 0x40;
  std::string message;
  codeOf(tail, &message);
  CHECK(message.find("checksum") != std::string::npos);
}

TEST(refuses_other_versions_backends_and_features) {
  std::string message;
  PlanInfo v3;
  v3.formatVersion = 3;
  CHECK(codeOf(writePlan(sampleNetwork(), v3), &message) == ErrorCode::kInvalidPlan);
  CHECK(message.find("format version 3") != std::string::npos);
  PlanInfo v0;
  v0.formatVersion = 0;
  CHECK(codeOf(writePlan(sampleNetwork(), v0), &message) == ErrorCode::kInvalidPlan);
  PlanInfo cuda;
  cuda.backend = "cuda";
  codeOf(writePlan(sampleNetwork(), cuda), &message);
  CHECK(message.find("'cuda' backend") != std::string::npos);
  PlanInfo future;
  future.requiredFeatures = 1ULL << 40;
  codeOf(writePlan(sampleNetwork(), future), &message);
  CHECK(message.find("CPU features") != std::string::npos);
  std::vector<uint8_t> junk(100, 7);
  codeOf(junk, &message);
  CHECK(message.find("not a kiln engine") != std::string::npos);
}

// A well-formed file (valid checksum) whose counts claim far more than it holds must fail
// before anything is allocated for them.
TEST(absurd_counts_fail_before_allocating) {
  Network n = sampleNetwork();
  auto bytes = writePlan(n, PlanInfo{});
  // The payload starts right after the header; its first field is the tensor count.
  size_t payload = 8 + 4;
  uint32_t len;
  std::memcpy(&len, bytes.data() + payload, 4);
  payload += 4 + len;  // core version
  std::memcpy(&len, bytes.data() + payload, 4);
  payload += 4 + len + 8 + 8 + 8;  // backend, features, size, checksum
  const uint32_t huge = 0x7fffffff;
  std::memcpy(bytes.data() + payload, &huge, 4);
  const uint64_t sum =
      fnv1a64(bytes.data(), payload - 8, fnv1a64(bytes.data() + payload, bytes.size() - payload));
  std::memcpy(bytes.data() + payload - 8, &sum, 8);
  std::string message;
  CHECK(codeOf(bytes, &message) == ErrorCode::kInvalidPlan);
  CHECK(message.find("more than it holds") != std::string::npos);
}

TEST(validation_catches_inconsistent_networks) {
  Network n = sampleNetwork();
  n.layers[0].inputs = {2, 1};  // reads its own output
  CHECK_THROWS(n.validate(false), Error);
  n = sampleNetwork();
  n.weights[0].resize(31);
  CHECK_THROWS(n.validate(false), Error);
  n = sampleNetwork();
  n.profiles[0].inputs[0].min = {9, 4};  // min > opt
  CHECK_THROWS(n.validate(false), Error);
  n = sampleNetwork();
  n.outputs = {};
  CHECK_THROWS(n.validate(false), Error);
}

TEST(the_plan_is_laid_out_as_documented) {
  // magic | u32 version | str core version | str backend | u64 features | u64 payload bytes |
  // u64 FNV-1a (header, seeded with the payload's) | payload: written once, in place.
  const auto bytes = writePlan(sampleNetwork(), PlanInfo{});
  size_t at = 8 + 4;
  uint32_t len;
  std::memcpy(&len, bytes.data() + at, 4);
  at += 4 + len;
  std::memcpy(&len, bytes.data() + at, 4);
  at += 4 + len + 8;
  uint64_t payload, sum;
  std::memcpy(&payload, bytes.data() + at, 8);
  const size_t header = at + 8;
  std::memcpy(&sum, bytes.data() + header, 8);
  CHECK_EQ(payload, bytes.size() - header - 8);
  CHECK_EQ(sum, fnv1a64(bytes.data(), header, fnv1a64(bytes.data() + header + 8, payload)));
  // The weights are the payload's last bytes.
  CHECK(std::all_of(bytes.end() - 32, bytes.end(), [](uint8_t b) { return b == 1; }));
}
