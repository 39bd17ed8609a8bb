#include "engine/layer_times.h"

namespace kiln {

void LayerTimes::enable(bool on, size_t layers) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (on) {
    totals_.seconds.assign(layers, 0.0);
    totals_.runs = 0;
  }
  enabled_.store(on, std::memory_order_relaxed);
}

void LayerTimes::add(const std::vector<double>& seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  // A run that started before profiling was switched off or reset has nothing to add to.
  if (!enabled() || seconds.size() != totals_.seconds.size()) return;
  for (size_t i = 0; i < seconds.size(); ++i) totals_.seconds[i] += seconds[i];
  totals_.runs += 1;
}

LayerTimes::Totals LayerTimes::totals() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return totals_;
}

}  // namespace kiln
