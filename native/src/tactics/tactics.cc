#include "tactics/tactics.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>

#include "engine/engine_core.h"
#include "engine/plan_format.h"
#include "kiln/cpu_features.h"
#include "kiln/error.h"
#include "kiln/thread_pool.h"
#include "kiln/version.h"

namespace kiln {
namespace {

// ---- Timing cache file ----
//   "KILNTCAC" | u32 version | str cpu id | u32 entries | (str key, str tactic, f64 ms)* |
//   u64 FNV-1a of everything before it
constexpr char kCacheMagic[8] = {'K', 'I', 'L', 'N', 'T', 'C', 'A', 'C'};
constexpr uint32_t kCacheVersion = 1;

struct CacheEntry {
  std::string tactic;
  double ms = 0;
};
using TimingCache = std::map<std::string, CacheEntry>;

void putU32(std::vector<uint8_t>& out, uint32_t v) {
  const auto* b = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), b, b + 4);
}
void putStr(std::vector<uint8_t>& out, const std::string& s) {
  putU32(out, static_cast<uint32_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

std::vector<uint8_t> writeCache(const TimingCache& cache) {
  std::vector<uint8_t> out(kCacheMagic, kCacheMagic + sizeof kCacheMagic);
  putU32(out, kCacheVersion);
  putStr(out, timingCacheCpuId());
  putU32(out, static_cast<uint32_t>(cache.size()));
  for (const auto& [key, e] : cache) {
    putStr(out, key);
    putStr(out, e.tactic);
    const auto* b = reinterpret_cast<const uint8_t*>(&e.ms);
    out.insert(out.end(), b, b + 8);
  }
  const uint64_t sum = fnv1a64(out.data(), out.size());
  const auto* b = reinterpret_cast<const uint8_t*>(&sum);
  out.insert(out.end(), b, b + 8);
  return out;
}

// Reads a cache; an unusable one yields an empty cache and a warning saying why.
TimingCache readCache(const std::vector<uint8_t>& bytes, std::vector<std::string>* warnings) {
  TimingCache cache;
  if (bytes.empty()) return cache;
  size_t at = 0;
  const auto fail = [&](const std::string& why) {
    warnings->push_back("the timing cache is not used (" + why + "); every layer is timed again");
    return TimingCache{};
  };
  const auto need = [&](size_t n) { return n <= bytes.size() - 8 - at; };
  const auto u32 = [&](uint32_t* v) {
    if (!need(4)) return false;
    std::memcpy(v, bytes.data() + at, 4);
    at += 4;
    return true;
  };
  const auto str = [&](std::string* s) {
    uint32_t n;
    if (!u32(&n) || !need(n)) return false;
    s->assign(reinterpret_cast<const char*>(bytes.data()) + at, n);
    at += n;
    return true;
  };
  if (bytes.size() < sizeof kCacheMagic + 8 ||
      std::memcmp(bytes.data(), kCacheMagic, sizeof kCacheMagic) != 0)
    return fail("it is not a kiln timing cache");
  uint64_t sum;
  std::memcpy(&sum, bytes.data() + bytes.size() - 8, 8);
  if (fnv1a64(bytes.data(), bytes.size() - 8) != sum)
    return fail("it is corrupt: its checksum does not match");
  at = sizeof kCacheMagic;
  uint32_t version = 0, count = 0;
  std::string cpu;
  if (!u32(&version) || version != kCacheVersion)
    return fail("it has format version " + std::to_string(version) + ", this core reads " +
                std::to_string(kCacheVersion));
  if (!str(&cpu) || !u32(&count)) return fail("it is truncated");
  if (cpu != timingCacheCpuId())
    return fail("it was made on another machine or configuration: '" + cpu + "', this is '" +
                timingCacheCpuId() + "'");
  for (uint32_t i = 0; i < count; ++i) {
    std::string key;
    CacheEntry e;
    if (!str(&key) || !str(&e.tactic) || !need(8)) return fail("it is truncated");
    std::memcpy(&e.ms, bytes.data() + at, 8);
    at += 8;
    cache[key] = e;
  }
  if (at != bytes.size() - 8) return fail("it has unexpected trailing bytes");
  return cache;
}

// ---- Layer signatures ----

std::string attrText(const AttrValue& a) {
  std::string s;
  switch (a.kind) {
    case AttrValue::Kind::kInt:
      return std::to_string(a.i);
    case AttrValue::Kind::kFloat:
      return std::to_string(a.f);
    case AttrValue::Kind::kInts:
      for (int64_t v : a.ints) s += std::to_string(v) + ",";
      return "[" + s + "]";
    case AttrValue::Kind::kFloats:
      for (double v : a.floats) s += std::to_string(v) + ",";
      return "[" + s + "]";
    case AttrValue::Kind::kString:
      return "'" + a.s + "'";
  }
  return s;
}

// Everything the timing of a layer depends on: op, each input's type, shape and constness,
// and the attributes (fused activation included).
std::string signature(const LayerDesc& layer, const OpContext& ctx, const Network& n) {
  std::string key = layer.op + "(";
  for (size_t i = 0; i < ctx.in.size(); ++i) {
    const InputView& v = ctx.in[i];
    if (!v.present) {
      key += "-;";
      continue;
    }
    key += std::string(dataTypeName(v.dtype)) + formatDims(*v.shape);
    if (n.tensors[layer.inputs[i]].constant >= 0) key += "c";
    key += ";";
  }
  key += ")";
  for (const auto& [name, value] : layer.attrs) key += " " + name + "=" + attrText(value);
  return key;
}

// ---- Timing ----

// Inputs and outputs of one layer at the tuning shapes: constants as stored, computed tensors
// filled with values in [-1, 1) (the kernels' speed does not depend on them).
struct LayerBuffers {
  std::vector<std::vector<float>> storage;
};

// One layer at the tuning shapes. Without `buffers`, only shapes and constants: enough to list
// and look up tactics; the activation buffers exist only for layers that are timed.
OpContext makeContext(const LayerDesc& layer, const EngineCore& core, const ShapePlan& plan,
                      LayerBuffers* buffers) {
  const Network& n = core.network();
  OpContext ctx(layer);
  uint32_t seed = 1;
  for (int32_t t : layer.inputs) {
    InputView v;
    if (t >= 0 && (core.producer(t) < 0 || plan.active[core.producer(t)])) {
      v.present = true;
      v.shape = &plan.shapes[t];
      v.dtype = plan.types[t];
      if (n.tensors[t].constant >= 0) {
        v.data = n.weights[n.tensors[t].constant].data();
      } else if (buffers != nullptr) {
        const size_t bytes = static_cast<size_t>(shapeBytes(plan.shapes[t], plan.types[t]));
        std::vector<float> data((bytes + 3) / 4 + 1);
        for (float& x : data) {
          seed = seed * 1664525u + 1013904223u;
          x = static_cast<float>(seed >> 8) / static_cast<float>(1u << 23) - 1.0f;
        }
        buffers->storage.push_back(std::move(data));
        v.data = buffers->storage.back().data();
      }
    }
    ctx.in.push_back(v);
  }
  for (int32_t t : layer.outputs) {
    ctx.outShapes.push_back(plan.shapes[t]);
    ctx.outTypes.push_back(plan.types[t]);
    if (buffers == nullptr) continue;
    const size_t bytes = static_cast<size_t>(shapeBytes(plan.shapes[t], plan.types[t]));
    buffers->storage.emplace_back((bytes + 3) / 4 + 1);
    ctx.out.push_back(buffers->storage.back().data());
  }
  return ctx;
}

// Median milliseconds of `runs` calls after one warm-up, stopping early past ~0.5 s.
double timeRuns(const OpImpl& op, OpContext& ctx, int runs) {
  op.run(ctx);
  std::vector<double> ms;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    op.run(ctx);
    const auto t1 = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    if (std::chrono::duration<double>(t1 - start).count() > 0.5 && ms.size() >= 3) break;
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// Sets the inputs to the first profile's opt shapes (and shape values).
void useOptShapes(ExecutionContext& ctx, const Network& n) {
  if (n.profiles.empty()) return;
  for (const ProfileDims& d : n.profiles[0].inputs)
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      if (n.inputs[i] != d.tensor) continue;
      ctx.setInputShape(i, d.opt);
      if (d.optValues.empty()) continue;
      const DataType type = n.tensors[d.tensor].dtype;
      std::vector<uint8_t> bytes(d.optValues.size() * dataTypeSize(type));
      for (size_t k = 0; k < d.optValues.size(); ++k) {
        const int64_t v = d.optValues[k];
        if (type == DataType::kInt64)
          std::memcpy(bytes.data() + 8 * k, &v, 8);
        else if (type == DataType::kInt32) {
          const int32_t v32 = static_cast<int32_t>(v);
          std::memcpy(bytes.data() + 4 * k, &v32, 4);
        } else {
          bytes[k] = v != 0;
        }
      }
      ctx.setInputValues(i, bytes.data(), bytes.size());
    }
}

// The tactics of optional sources; every other tactic is kiln's own.
constexpr std::pair<const char*, const char*> kOptionalTactics[] = {{"conv.onednn", "onednn"}};

// The candidates from `sources` (all when empty), or kiln's own when none of those applies.
std::vector<std::string> allowedTactics(const std::vector<std::string>& candidates,
                                        const std::vector<std::string>& sources) {
  if (sources.empty()) return candidates;
  std::vector<std::string> kept, own;
  for (const std::string& c : candidates) {
    const std::string source = tacticSource(c);
    if (std::find(sources.begin(), sources.end(), source) != sources.end()) kept.push_back(c);
    if (source == "kiln") own.push_back(c);
  }
  return kept.empty() ? own : kept;
}

}  // namespace

std::string tacticSource(const std::string& tactic) {
  for (const auto& [name, source] : kOptionalTactics)
    if (tactic == name) return source;
  return "kiln";
}

std::vector<std::string> builtTacticSources() {
#ifdef KILN_WITH_ONEDNN
  return {"kiln", "onednn"};
#else
  return {"kiln"};
#endif
}

void requireTacticBuilt(const LayerDesc& layer) {
  const std::string source = tacticSource(layer.tactic);
  const std::vector<std::string> built = builtTacticSources();
  if (std::find(built.begin(), built.end(), source) == built.end())
    throw Error(ErrorCode::kUnsupported,
                "layer '" + layer.name + "' runs tactic " + layer.tactic + " from the " + source +
                    " tactic source, which this kiln core was built without: rebuild the engine "
                    "here (or build the core with " +
                    source + ")");
}

std::string timingCacheCpuId() {
  const CpuFeatures& f = cpuFeatures();
  // The core version too: its kernels, and so their timings, change between versions. The
  // tactic sources: a cache made without oneDNN never timed its tactics.
  std::string sources = " sources=kiln";
  for (const std::string& s : builtTacticSources())
    if (s != "kiln") sources += "+" + s;
  return std::string("kiln ") + kCoreVersion + " " + isaName(activeIsa()) +
         " avx512vnni=" + (f.avx512vnni ? "1" : "0") + " " + f.vendor + " " + f.model +
         " threads=" + std::to_string(globalThreadPool().size()) + sources;
}

TuneResult tuneNetwork(const EngineCore& core, Network* network, const TuneOptions& options) {
  if (options.level < 0 || options.level > 5)
    throw Error(ErrorCode::kInvalidArgument, "the optimization level must be 0..5");
  const std::vector<std::string> built = builtTacticSources();
  for (const std::string& s : options.sources)
    if (std::find(built.begin(), built.end(), s) == built.end())
      throw Error(ErrorCode::kInvalidArgument,
                  "tactic source '" + s + "' is not built into this kiln core");
  TuneResult result;
  TimingCache cache = readCache(options.timingCache, &result.warnings);
  const Network& n = core.network();
  auto self = std::shared_ptr<const EngineCore>(&core, [](const EngineCore*) {});
  ExecutionContext shapes(self);
  useOptShapes(shapes, n);
  const std::shared_ptr<const ShapePlan> plan = shapes.plan();
  const int runs = 2 + 2 * options.level;
  // core's layers are network's in order, less the FP16-weight Casts it folded away.
  size_t original = 0;
  for (size_t li = 0; li < n.layers.size(); ++li) {
    while (original < network->layers.size() && network->layers[original].name != n.layers[li].name)
      ++original;
    if (original == network->layers.size())
      throw Error(ErrorCode::kInternal, "tactics: the engine's layers do not match the network");
    const OpImpl& op = core.op(li);
    if (op.tactics == nullptr || !plan->active[li]) continue;
    const LayerDesc& layer = n.layers[li];
    const OpContext ctx = makeContext(layer, core, *plan, nullptr);
    const std::vector<std::string> candidates = allowedTactics(op.tactics(ctx), options.sources);
    if (candidates.empty()) continue;
    TunedLayer tuned{layer.name, layer.op, candidates[0], "", "heuristic", {}};
    if (candidates.size() == 1) {
      tuned.source = "only";
    } else if (options.level > 0) {
      std::string key = signature(layer, ctx, n);
      for (const std::string& s : options.sources) key += " source=" + s;  // a restricted choice
      const auto hit = cache.find(key);
      if (hit != cache.end() &&
          std::find(candidates.begin(), candidates.end(), hit->second.tactic) != candidates.end()) {
        tuned.tactic = hit->second.tactic;
        tuned.source = "cache";
      } else {
        const auto timingStart = std::chrono::steady_clock::now();
        LayerBuffers buffers;
        const OpContext data = makeContext(layer, core, *plan, &buffers);
        double best = 0;
        for (const std::string& c : candidates) {
          LayerDesc trial = layer;
          trial.tactic = c;
          const std::shared_ptr<const void> prepared = op.prepare ? op.prepare(trial, n) : nullptr;
          // A context on the trial layer, so the op sees the tactic in ctx.layer too.
          OpContext trialCtx(trial);
          trialCtx.in = data.in;
          trialCtx.outShapes = data.outShapes;
          trialCtx.outTypes = data.outTypes;
          trialCtx.out = data.out;
          trialCtx.prepared = prepared.get();
          const double ms = timeRuns(op, trialCtx, runs);
          tuned.candidateMs.emplace_back(c, ms);
          if (tuned.candidateMs.size() == 1 || ms < best) {
            best = ms;
            tuned.tactic = c;
          }
        }
        tuned.source = "timed";
        cache[key] = CacheEntry{tuned.tactic, best};
        result.timingMs += std::chrono::duration<double, std::milli>(
                               std::chrono::steady_clock::now() - timingStart)
                               .count();
      }
    }
    tuned.tacticSource = tacticSource(tuned.tactic);
    network->layers[original].tactic = tuned.tactic;
    result.layers.push_back(std::move(tuned));
  }
  result.timingCache = writeCache(cache);
  return result;
}

}  // namespace kiln
