#pragma once
// Per-layer wall time of one execution context, summed over runs while enabled: what TensorRT's
// IProfiler reports and trtexec --exportProfile writes. Runs happen on stream workers while
// JavaScript reads, so the totals sit behind a mutex; the timing itself is local to a run.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

namespace kiln {

class LayerTimes {
 public:
  // Turns timing on (zeroed totals for `layers` layers) or off (the totals stay readable).
  void enable(bool on, size_t layers);
  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }
  // Adds one run's seconds per layer (0 for layers a guard skipped).
  void add(const std::vector<double>& seconds);

  struct Totals {
    std::vector<double> seconds;
    uint64_t runs = 0;
  };
  Totals totals() const;

 private:
  std::atomic<bool> enabled_{false};
  mutable std::mutex mutex_;
  Totals totals_;
};

}  // namespace kiln
