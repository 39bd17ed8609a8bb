#include "kiln/fault_injection.h"

#include <map>
#include <mutex>

#include "kiln/error.h"

namespace kiln {
namespace {
std::mutex gMutex;
std::map<std::string, int> gPending;
}  // namespace

void injectFault(const std::string& point, int count) {
  std::lock_guard<std::mutex> lock(gMutex);
  if (count <= 0) {
    gPending.erase(point);
  } else {
    gPending[point] = count;
  }
}

void maybeFail(const char* point) {
  {
    std::lock_guard<std::mutex> lock(gMutex);
    if (gPending.empty()) return;
    auto it = gPending.find(point);
    if (it == gPending.end()) return;
    if (--it->second == 0) gPending.erase(it);
  }
  const std::string where(point);
  if (where == "device.allocate") {
    throw Error(ErrorCode::kOutOfMemory, std::string("injected fault at ") + point);
  }
  throw Error(ErrorCode::kInternal, std::string("injected fault at ") + point);
}

}  // namespace kiln
