#include "kiln/cpu_features.h"

#include <cpuid.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace kiln {
namespace {

struct Regs {
  unsigned a = 0, b = 0, c = 0, d = 0;
};

Regs cpuid(unsigned leaf, unsigned subleaf) {
  Regs r;
  __cpuid_count(leaf, subleaf, r.a, r.b, r.c, r.d);
  return r;
}

unsigned long long xgetbv0() {
  unsigned eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}

bool bit(unsigned value, int index) { return (value >> index) & 1u; }

CpuFeatures detect() {
  CpuFeatures f;
  f.logicalCores = static_cast<int>(std::thread::hardware_concurrency());
  if (f.logicalCores < 1) f.logicalCores = 1;

  const Regs r0 = cpuid(0, 0);
  char vendor[13] = {};
  std::memcpy(vendor + 0, &r0.b, 4);
  std::memcpy(vendor + 4, &r0.d, 4);
  std::memcpy(vendor + 8, &r0.c, 4);
  f.vendor = vendor;

  const Regs ext = cpuid(0x80000000u, 0);
  if (ext.a >= 0x80000004u) {
    char brand[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      const Regs r = cpuid(0x80000002u + i, 0);
      std::memcpy(brand + 16 * i + 0, &r.a, 4);
      std::memcpy(brand + 16 * i + 4, &r.b, 4);
      std::memcpy(brand + 16 * i + 8, &r.c, 4);
      std::memcpy(brand + 16 * i + 12, &r.d, 4);
    }
    std::string model(brand);
    const auto first = model.find_first_not_of(' ');
    const auto last = model.find_last_not_of(' ');
    f.model = first == std::string::npos ? "" : model.substr(first, last - first + 1);
  }

  const unsigned maxLeaf = r0.a;
  if (maxLeaf < 1) return f;
  const Regs r1 = cpuid(1, 0);
  f.sse41 = bit(r1.c, 19);
  const bool osxsave = bit(r1.c, 27);
  // The OS must save the wider registers on context switches, or using them corrupts state.
  const unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
  const bool osAvx = (xcr0 & 0x6) == 0x6;
  const bool osAvx512 = osAvx && (xcr0 & 0xe0) == 0xe0;
  f.avx = bit(r1.c, 28) && osAvx;
  f.fma = bit(r1.c, 12) && osAvx;
  f.f16c = bit(r1.c, 29) && osAvx;
  if (maxLeaf < 7) return f;
  const Regs r7 = cpuid(7, 0);
  f.avx2 = bit(r7.b, 5) && osAvx;
  f.avx512f = bit(r7.b, 16) && osAvx512;
  f.avx512dq = bit(r7.b, 17) && osAvx512;
  f.avx512bw = bit(r7.b, 30) && osAvx512;
  f.avx512vl = bit(r7.b, 31) && osAvx512;
  f.avx512vnni = bit(r7.c, 11) && osAvx512;
  f.avx512fp16 = bit(r7.d, 23) && osAvx512;
  const Regs r71 = cpuid(7, 1);
  f.avxvnni = bit(r71.a, 4) && osAvx;
  f.avx512bf16 = bit(r71.a, 5) && osAvx512;
  return f;
}

CpuIsa supportedIsa() {
  const CpuFeatures& f = cpuFeatures();
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.fma) return CpuIsa::kAvx512;
  if (f.avx2 && f.fma && f.f16c) return CpuIsa::kAvx2;
  return CpuIsa::kScalar;
}

CpuIsa initialIsa() {
  CpuIsa isa = supportedIsa();
  if (const char* env = std::getenv("KILN_CPU_ISA")) {
    const std::string wanted(env);
    CpuIsa cap = isa;
    if (wanted == "scalar") cap = CpuIsa::kScalar;
    if (wanted == "avx2") cap = CpuIsa::kAvx2;
    if (wanted == "avx512") cap = CpuIsa::kAvx512;
    if (cap < isa) isa = cap;
  }
  return isa;
}

std::atomic<int>& isaSlot() {
  static std::atomic<int> slot{static_cast<int>(initialIsa())};
  return slot;
}

}  // namespace

const CpuFeatures& cpuFeatures() {
  static const CpuFeatures features = detect();
  return features;
}

CpuIsa activeIsa() { return static_cast<CpuIsa>(isaSlot().load(std::memory_order_relaxed)); }

CpuIsa setActiveIsa(CpuIsa isa) {
  const CpuIsa supported = supportedIsa();
  if (isa > supported) isa = supported;
  return static_cast<CpuIsa>(isaSlot().exchange(static_cast<int>(isa)));
}

const char* isaName(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kScalar:
      return "scalar";
    case CpuIsa::kAvx2:
      return "avx2";
    case CpuIsa::kAvx512:
      return "avx512";
  }
  return "scalar";
}

}  // namespace kiln
