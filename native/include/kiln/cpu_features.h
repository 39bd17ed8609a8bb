// What this CPU can do, read once with CPUID; kernels are chosen from it at run time.
#pragma once

#include <string>

namespace kiln {

// Instruction-set tiers that kernels are compiled for, lowest first.
enum class CpuIsa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

struct CpuFeatures {
  std::string vendor;
  std::string model;
  int logicalCores = 1;
  bool sse41 = false;
  bool avx = false;
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;
  bool avx512fp16 = false;
  bool avxvnni = false;
};

// Detected once; the OS must also have enabled the register state (XGETBV) for AVX/AVX-512.
const CpuFeatures& cpuFeatures();

// The highest tier this CPU supports, lowered by KILN_CPU_ISA=scalar|avx2|avx512 if set
// (used to test every code path on one machine).
CpuIsa activeIsa();
const char* isaName(CpuIsa isa);

// Overrides the tier for this process (tests); returns the previous one. Clamped to what the
// CPU supports.
CpuIsa setActiveIsa(CpuIsa isa);

}  // namespace kiln
