// Engines: building plan bytes off the event loop, loading them, and execution contexts that
// enqueue inference on a stream.
#include <cstring>
#include <memory>

#include "completion.h"
#include "convert_args.h"
#include "engine/build.h"
#include "engine/engine_core.h"
#include "engine/plan_format.h"
#include "engine/runner.h"
#include "errors.h"
#include "kiln/thread_pool.h"
#include "kiln/version.h"
#include "network_convert.h"
#include "tactics/tactics.h"
#include "wraps.h"

namespace kiln::binding {
namespace {

struct BuildOutcome {
  Status status;
  BuildResult result;
};

// The plan bytes handed to JS as they are: the Buffer owns them (no copy of the weights).
Napi::Buffer<uint8_t> planToJs(Napi::Env env, std::vector<uint8_t>&& plan) {
  auto* owned = new std::vector<uint8_t>(std::move(plan));
  return Napi::Buffer<uint8_t>::New(
      env, owned->data(), owned->size(),
      [](Napi::Env, uint8_t*, std::vector<uint8_t>* bytes) { delete bytes; }, owned);
}

// The build's result for JS: {plan, timingCache, layers, warnings, timingMs, deviceMemorySize}
// (see NativeBuildResult).
Napi::Object buildResultToJs(Napi::Env env, BuildOutcome& o) {
  const TuneResult& r = o.result.tactics;
  Napi::Object out = Napi::Object::New(env);
  out.Set("plan", planToJs(env, std::move(o.result.plan)));
  out.Set("timingCache",
          Napi::Buffer<uint8_t>::Copy(env, r.timingCache.data(), r.timingCache.size()));
  Napi::Array layers = Napi::Array::New(env, r.layers.size());
  for (size_t i = 0; i < r.layers.size(); ++i) {
    const TunedLayer& l = r.layers[i];
    Napi::Object layer = Napi::Object::New(env);
    layer.Set("name", l.name);
    layer.Set("op", l.op);
    layer.Set("tactic", l.tactic);
    layer.Set("source", l.source);
    layer.Set("tacticSource", l.tacticSource);
    Napi::Array times = Napi::Array::New(env, l.candidateMs.size());
    for (size_t k = 0; k < l.candidateMs.size(); ++k) {
      Napi::Object t = Napi::Object::New(env);
      t.Set("tactic", l.candidateMs[k].first);
      t.Set("ms", l.candidateMs[k].second);
      times.Set(static_cast<uint32_t>(k), t);
    }
    layer.Set("timings", times);
    layers.Set(static_cast<uint32_t>(i), layer);
  }
  out.Set("layers", layers);
  Napi::Array warnings = Napi::Array::New(env, r.warnings.size());
  for (size_t i = 0; i < r.warnings.size(); ++i)
    warnings.Set(static_cast<uint32_t>(i), r.warnings[i]);
  out.Set("warnings", warnings);
  out.Set("timingMs", r.timingMs);
  Napi::Array memory = Napi::Array::New(env, o.result.memory.size());
  for (size_t i = 0; i < o.result.memory.size(); ++i)
    memory.Set(static_cast<uint32_t>(i), static_cast<double>(o.result.memory[i]));
  out.Set("deviceMemorySize", memory);
  return out;
}

// buildPlan(desc, done(err, Uint8Array)) and buildTunedPlan(desc, level, timingCache | null,
// tacticSources (string[], empty: all), done(err, result)): buildEngine (engine/build.h) off the
// event loop; buildPlan chooses tactics by heuristic alone, as level 0.
Napi::Value StartBuild(const Napi::CallbackInfo& info, bool tuned) {
  Napi::Env env = info.Env();
  const size_t doneArg = tuned ? 4 : 1;
  if (!info[0].IsObject() || !info[doneArg].IsFunction())
    throwError(env, ErrorCode::kInvalidArgument,
               tuned ? "buildTunedPlan(desc, level, timingCache, tacticSources, done)"
                     : "buildPlan(desc, done)");
  auto network = std::make_shared<Network>(networkFromJs(env, info[0].As<Napi::Object>()));
  TuneOptions options;
  options.level = tuned ? static_cast<int>(toSize(env, info[1], "level")) : 0;
  if (tuned && !info[2].IsNull() && !info[2].IsUndefined()) {
    const Region cache = toRegion(env, info[2], "timingCache");
    options.timingCache.assign(cache.data, cache.data + cache.size);
  }
  if (tuned) {
    if (!info[3].IsArray()) throwError(env, ErrorCode::kInvalidArgument, "tacticSources: array");
    const Napi::Array sources = info[3].As<Napi::Array>();
    for (uint32_t i = 0; i < sources.Length(); ++i)
      options.sources.push_back(toString(env, sources.Get(i), "tacticSources"));
  }
  auto tsfn = Napi::ThreadSafeFunction::New(env, info[doneArg].As<Napi::Function>(),
                                            "kiln.buildPlan", 0, 1);
  globalThreadPool().submit([network, options, tsfn, tuned]() mutable {
    auto* outcome = new BuildOutcome();
    try {
      outcome->result = buildEngine(std::move(network), options);
    } catch (const Error& e) {
      outcome->status = Status::failure(e.code(), e.what());
    } catch (const std::bad_alloc&) {
      outcome->status =
          Status::failure(ErrorCode::kOutOfMemory, "out of host memory while building the engine");
    } catch (const std::exception& e) {
      outcome->status = Status::failure(ErrorCode::kInternal, e.what());
    }
    const auto deliver = tuned ? [](Napi::Env env, Napi::Function cb, BuildOutcome* o) {
      std::unique_ptr<BuildOutcome> owned(o);
      if (!o->status.ok) return void(cb.Call({makeError(env, o->status)}));
      cb.Call({env.Null(), buildResultToJs(env, *o)});
    }
                               : [](Napi::Env env, Napi::Function cb, BuildOutcome* o) {
      std::unique_ptr<BuildOutcome> owned(o);
      if (!o->status.ok) return void(cb.Call({makeError(env, o->status)}));
      cb.Call({env.Null(), planToJs(env, std::move(o->result.plan))});
    };
    const napi_status queued = tsfn.BlockingCall(outcome, deliver);
    if (queued != napi_ok) delete outcome;
    tsfn.Release();
  });
  return env.Undefined();
}

Napi::Value BuildPlan(const Napi::CallbackInfo& info) { return StartBuild(info, false); }
Napi::Value BuildTunedPlan(const Napi::CallbackInfo& info) { return StartBuild(info, true); }

Napi::Value SupportedOps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<std::string> ops = supportedOps();
  Napi::Array out = Napi::Array::New(env, ops.size());
  for (size_t i = 0; i < ops.size(); ++i) out.Set(static_cast<uint32_t>(i), ops[i]);
  return out;
}

}  // namespace

// ---- Engine -------------------------------------------------------------------------------

void EngineWrap::init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "Engine",
                                    {InstanceMethod<&EngineWrap::Info>("info"),
                                     InstanceMethod<&EngineWrap::Serialize>("serialize")});
  env.GetInstanceData<AddonData>()->engine = Napi::Persistent(ctor);
  exports.Set("Engine", ctor);
  exports.Set("buildPlan", Napi::Function::New(env, BuildPlan));
  exports.Set("buildTunedPlan", Napi::Function::New(env, BuildTunedPlan));
  exports.Set("supportedOps", Napi::Function::New(env, SupportedOps));
}

// new Engine(planBytes)
EngineWrap::EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
  Napi::Env env = info.Env();
  const Region r = toRegion(env, info[0], "plan");
  core_ =
      guarded(env, [&] { return std::make_shared<const EngineCore>(readPlan(r.data, r.size)); });
  memory_ = guarded(env, [&] { return profileMemory(core_); });
}

Napi::Value EngineWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = networkToJs(env, core_->network());
  Napi::Array memory = Napi::Array::New(env, memory_.size());
  for (size_t i = 0; i < memory_.size(); ++i)
    memory.Set(static_cast<uint32_t>(i), static_cast<double>(memory_[i]));
  out.Set("deviceMemorySize", memory);
  out.Set("coreVersion", kCoreVersion);
  return out;
}

Napi::Value EngineWrap::Serialize(const Napi::CallbackInfo& info) {
  return planToJs(info.Env(), writePlan(core_->network(), PlanInfo{}));
}

// ---- ExecutionContext ---------------------------------------------------------------------

void ContextWrap::init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "ExecutionContext",
                                    {InstanceMethod<&ContextWrap::SetProfile>("setProfile"),
                                     InstanceMethod<&ContextWrap::SetInputShape>("setInputShape"),
                                     InstanceMethod<&ContextWrap::SetInputValues>("setInputValues"),
                                     InstanceMethod<&ContextWrap::OutputShapes>("outputShapes"),
                                     InstanceMethod<&ContextWrap::Enqueue>("enqueue"),
                                     InstanceMethod<&ContextWrap::SetProfiling>("setProfiling"),
                                     InstanceMethod<&ContextWrap::LayerTimes>("layerTimes")});
  exports.Set("ExecutionContext", ctor);
}

// new ExecutionContext(engine, deviceName, { cudaGraph }): fails listing the layers the device
// cannot run.
ContextWrap::ContextWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ContextWrap>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject() ||
      !info[0].As<Napi::Object>().InstanceOf(env.GetInstanceData<AddonData>()->engine.Value())) {
    throwError(env, ErrorCode::kInvalidArgument, "ExecutionContext expects an Engine");
  }
  if (!info[1].IsString())
    throwError(env, ErrorCode::kInvalidArgument, "ExecutionContext expects a device name");
  auto core = EngineWrap::Unwrap(info[0].As<Napi::Object>())->core();
  device_ = guarded(env, [&] { return &deviceByName(info[1].As<Napi::String>().Utf8Value()); });
  RunnerOptions options;
  if (info[2].IsObject())
    options.cudaGraph = info[2].As<Napi::Object>().Get("cudaGraph").ToBoolean();
  runner_ = guarded(env, [&] { return makeRunner(core, *device_, options); });
  context_ = std::make_shared<ExecutionContext>(core);
}

Napi::Value ContextWrap::SetProfile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const size_t index = toSize(env, info[0], "profile");
  guarded(env, [&] { context_->setProfile(static_cast<int>(index)); });
  return env.Undefined();
}

// setInputShape(inputIndex, dims)
Napi::Value ContextWrap::SetInputShape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const size_t input = toSize(env, info[0], "input");
  if (!info[1].IsArray()) throwError(env, ErrorCode::kInvalidArgument, "shape must be an array");
  Napi::Array a = info[1].As<Napi::Array>();
  Dims dims(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i)
    dims[i] = static_cast<int64_t>(toSize(env, a.Get(i), "dim"));
  guarded(env, [&] { context_->setInputShape(input, dims); });
  return env.Undefined();
}

// setInputValues(inputIndex, typedArray): host values that shapes or conditions depend on.
Napi::Value ContextWrap::SetInputValues(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const size_t input = toSize(env, info[0], "input");
  const Region r = toRegion(env, info[1], "values");
  if (r.device != nullptr)
    throwError(env, ErrorCode::kInvalidArgument, "input values must be host memory");
  guarded(env, [&] { context_->setInputValues(input, r.data, r.size); });
  return env.Undefined();
}

// setProfiling(on): per-layer timing of this context's runs, zeroed.
Napi::Value ContextWrap::SetProfiling(const Napi::CallbackInfo& info) {
  context_->setProfiling(info[0].ToBoolean());
  return info.Env().Undefined();
}

// layerTimes() -> { runs, seconds: Float64Array (one per layer) }
Napi::Value ContextWrap::LayerTimes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const kiln::LayerTimes::Totals totals = context_->layerTimes();
  Napi::Float64Array seconds = Napi::Float64Array::New(env, totals.seconds.size());
  std::copy(totals.seconds.begin(), totals.seconds.end(), seconds.Data());
  Napi::Object out = Napi::Object::New(env);
  out.Set("runs", static_cast<double>(totals.runs));
  out.Set("seconds", seconds);
  return out;
}

// The output shapes for the current input shapes (inferring them if needed).
Napi::Value ContextWrap::OutputShapes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto plan = guarded(env, [&] { return context_->plan(); });
  const Network& n = context_->engine().network();
  Napi::Array out = Napi::Array::New(env, n.outputs.size());
  for (size_t i = 0; i < n.outputs.size(); ++i) {
    const Dims& d = plan->shapes[n.outputs[i]];
    Napi::Array dims = Napi::Array::New(env, d.size());
    for (size_t k = 0; k < d.size(); ++k)
      dims.Set(static_cast<uint32_t>(k), static_cast<double>(d[k]));
    out.Set(static_cast<uint32_t>(i), dims);
  }
  return out;
}

// enqueue(stream, inputs: DeviceBuffer[], outputs: DeviceBuffer[]): returns at once.
Napi::Value ContextWrap::Enqueue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonData* data = env.GetInstanceData<AddonData>();
  if (!info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(data->stream.Value())) {
    throwError(env, ErrorCode::kInvalidArgument, "enqueue expects a Stream");
  }
  Stream& stream = StreamWrap::Unwrap(info[0].As<Napi::Object>())->stream(env);
  Device* device = device_;
  if (StreamWrap::Unwrap(info[0].As<Napi::Object>())->device() != device) {
    throwError(env, ErrorCode::kInvalidArgument,
               "this context runs on " + device->info().name + ": enqueue it on a stream there");
  }
  auto plan = guarded(env, [&] { return context_->plan(); });
  const Network& n = context_->engine().network();
  const auto regions = [&](const Napi::Value& v, const std::vector<int32_t>& tensors,
                           const char* what) {
    if (!v.IsArray() || v.As<Napi::Array>().Length() != tensors.size()) {
      throwError(env, ErrorCode::kInvalidArgument,
                 std::string(what) + " must be an array of " + std::to_string(tensors.size()) +
                     " DeviceBuffers");
    }
    std::vector<Region> out;
    for (size_t i = 0; i < tensors.size(); ++i) {
      Region r = toRegion(env, v.As<Napi::Array>().Get(static_cast<uint32_t>(i)), what);
      const TensorDesc& t = n.tensors[tensors[i]];
      const size_t need = guarded(env, [&] {
        return static_cast<size_t>(shapeBytes(plan->shapes[tensors[i]], plan->types[tensors[i]]));
      });
      if (r.device != device)
        throwError(env, ErrorCode::kInvalidArgument,
                   "'" + t.name + "' must be bound to a DeviceBuffer on " + device->info().name);
      if (r.size < need) {
        throwError(env, ErrorCode::kInvalidArgument,
                   "the buffer bound to '" + t.name + "' has " + std::to_string(r.size) +
                       " bytes but its shape " + formatDims(plan->shapes[tensors[i]]) + " needs " +
                       std::to_string(need));
      }
      out.push_back(r);
    }
    return out;
  };
  const std::vector<Region> ins = regions(info[1], n.inputs, "inputs");
  const std::vector<Region> outs = regions(info[2], n.outputs, "outputs");
  guarded(env, [&] { checkMemoryFits(*plan, device->info().totalMemory); });
  if (!arena_ || arena_->size() < plan->arenaBytes) {
    arena_ = guarded(env, [&] { return device->allocate(plan->arenaBytes); });
  }
  EnqueueArgs args{plan, {}, {}, arena_, {}};
  for (const Region& r : ins) args.inputs.push_back(r.data), args.owners.push_back(r.owner);
  for (const Region& r : outs) args.outputs.push_back(r.data), args.owners.push_back(r.owner);
  guarded(env, [&] { runner_->enqueue(context_, stream, std::move(args)); });
  return env.Undefined();
}

}  // namespace kiln::binding
