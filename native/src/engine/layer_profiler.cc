#include "engine/layer_profiler.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace kiln {

namespace {

struct LayerStats {
  std::string name, op;
  double seconds = 0;
  long runs = 0;
};

// One table per engine, printed from the destructor of a function-local static at exit.
class Profile {
 public:
  ~Profile() {
    for (auto& [engine, layers] : engines_) print(layers);
  }

  void add(const void* engine, size_t layer, const std::string& name, const std::string& op,
           double seconds) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& layers = engines_[engine];
    if (layers.size() <= layer) layers.resize(layer + 1);
    LayerStats& s = layers[layer];
    if (s.runs == 0) s.name = name, s.op = op;
    s.seconds += seconds;
    ++s.runs;
  }

 private:
  static void print(const std::vector<LayerStats>& layers) {
    long runs = 0;
    double total = 0;
    for (const LayerStats& s : layers) runs = std::max(runs, s.runs), total += s.seconds;
    if (runs == 0 || total <= 0) return;
    std::vector<const LayerStats*> order;
    for (const LayerStats& s : layers)
      if (s.runs > 0) order.push_back(&s);
    std::stable_sort(order.begin(), order.end(), [](const LayerStats* a, const LayerStats* b) {
      return a->seconds > b->seconds;
    });
    std::fprintf(stderr, "[kiln profile] %zu layers, %ld runs, %.3f ms per run\n", order.size(),
                 runs, 1e3 * total / runs);
    std::fprintf(stderr, "[kiln profile] %10s %6s  %-16s %s\n", "ms/run", "%", "op", "layer");
    for (const LayerStats* s : order)
      std::fprintf(stderr, "[kiln profile] %10.4f %6.2f  %-16s %s\n", 1e3 * s->seconds / s->runs,
                   100 * s->seconds / total, s->op.c_str(), s->name.c_str());
    std::map<std::string, std::pair<double, int>> byOp;
    for (const LayerStats* s : order) {
      byOp[s->op].first += s->seconds;
      byOp[s->op].second += 1;
    }
    std::vector<std::pair<std::string, std::pair<double, int>>> ops(byOp.begin(), byOp.end());
    std::sort(ops.begin(), ops.end(),
              [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
    std::fprintf(stderr, "[kiln profile] per op type: %10s %6s %7s  %s\n", "ms/run", "%", "layers",
                 "op");
    for (const auto& [op, v] : ops)
      std::fprintf(stderr, "[kiln profile]              %10.4f %6.2f %7d  %s\n",
                   1e3 * v.first / runs, 100 * v.first / total, v.second, op.c_str());
  }

  std::mutex mutex_;
  std::map<const void*, std::vector<LayerStats>> engines_;
};

Profile& profile() {
  static Profile p;
  return p;
}

}  // namespace

bool layerProfilingEnabled() {
  static const bool enabled = [] {
    const char* env = std::getenv("KILN_PROFILE_LAYERS");
    return env != nullptr && *env != '\0' && *env != '0';
  }();
  return enabled;
}

void recordLayerTime(const void* engine, size_t layer, const std::string& name,
                     const std::string& op, double seconds) {
  profile().add(engine, layer, name, op, seconds);
}

}  // namespace kiln
