#include "kiln/cpu_features.h"
#include "kiln_test.h"

using namespace kiln;

TEST(detects_consistent_features) {
  const CpuFeatures& f = cpuFeatures();
  CHECK(!f.vendor.empty());
  CHECK(f.logicalCores >= 1);
  // Implications that hold on every real CPU; a decoding bug usually breaks one.
  if (f.avx2) CHECK(f.avx);
  if (f.avx512f) CHECK(f.avx2);
  if (f.avx512vnni) CHECK(f.avx512f);
  if (f.avx512fp16) CHECK(f.avx512bw);
}

TEST(isa_override_is_clamped) {
  const CpuIsa original = activeIsa();
  setActiveIsa(CpuIsa::kScalar);
  CHECK(activeIsa() == CpuIsa::kScalar);
  setActiveIsa(CpuIsa::kAvx512);
  const CpuFeatures& f = cpuFeatures();
  if (!f.avx512f) CHECK(activeIsa() != CpuIsa::kAvx512);
  setActiveIsa(original);
  CHECK(std::string(isaName(CpuIsa::kAvx2)) == "avx2");
}
