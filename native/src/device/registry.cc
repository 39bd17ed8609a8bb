#include <string>
#include <vector>

#include "cpu/cpu_device.h"
#include "kiln/device.h"

namespace kiln {

#ifdef KILN_WITH_CUDA
// Defined in cuda/; appends one Device per visible GPU (none when no driver or GPU is present).
void appendCudaDevices(std::vector<Device*>& out);
#endif

const std::vector<Device*>& devices() {
  static const std::vector<Device*> all = [] {
    std::vector<Device*> list{&cpuDevice()};
#ifdef KILN_WITH_CUDA
    appendCudaDevices(list);
#endif
    return list;
  }();
  return all;
}

Device& deviceByName(const std::string& name) {
  std::string known;
  for (Device* d : devices()) {
    if (d->info().name == name) return *d;
    known += (known.empty() ? "" : ", ") + d->info().name;
  }
  throw Error(ErrorCode::kNotFound, "no device named '" + name + "'; this process has: " + known +
                                        (cudaBuilt() ? "" : " (kiln was built without CUDA)"));
}

bool cudaBuilt() {
#ifdef KILN_WITH_CUDA
  return true;
#else
  return false;
#endif
}

}  // namespace kiln
