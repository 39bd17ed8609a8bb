// The JS-visible native classes. Each converts arguments and forwards to the core.
#pragma once

#include <napi.h>

#include <memory>

#include "engine/engine_core.h"
#include "engine/runner.h"
#include "kiln/device.h"

namespace kiln::binding {

class DeviceBufferWrap : public Napi::ObjectWrap<DeviceBufferWrap> {
 public:
  static void init(Napi::Env env, Napi::Object exports);
  explicit DeviceBufferWrap(const Napi::CallbackInfo& info);
  // Throws DISPOSED after dispose().
  const std::shared_ptr<DeviceAllocation>& allocation(Napi::Env env) const;
  Device* device() const { return device_; }

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value ByteLength(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
  Device* device_ = nullptr;
  std::shared_ptr<DeviceAllocation> allocation_;
};

class HostBufferWrap : public Napi::ObjectWrap<HostBufferWrap> {
 public:
  static void init(Napi::Env env, Napi::Object exports);
  explicit HostBufferWrap(const Napi::CallbackInfo& info);
  const std::shared_ptr<HostAllocation>& allocation(Napi::Env env) const;

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value ArrayBuffer(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
  std::shared_ptr<HostAllocation> allocation_;
  Napi::Reference<Napi::ArrayBuffer> view_;
};

class EventWrap : public Napi::ObjectWrap<EventWrap> {
 public:
  static void init(Napi::Env env, Napi::Object exports);
  explicit EventWrap(const Napi::CallbackInfo& info);
  Event& event(Napi::Env env) const;
  Device* device() const { return device_; }

 private:
  Napi::Value Query(const Napi::CallbackInfo& info);
  Napi::Value Notify(const Napi::CallbackInfo& info);
  Napi::Value ElapsedSince(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Device* device_ = nullptr;
  std::unique_ptr<Event> event_;
};

class StreamWrap : public Napi::ObjectWrap<StreamWrap> {
 public:
  static void init(Napi::Env env, Napi::Object exports);
  explicit StreamWrap(const Napi::CallbackInfo& info);
  Stream& stream(Napi::Env env) const;
  Device* device() const { return device_; }

 private:
  Napi::Value Copy(const Napi::CallbackInfo& info);
  Napi::Value Memset(const Napi::CallbackInfo& info);
  Napi::Value Notify(const Napi::CallbackInfo& info);
  Napi::Value Record(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Device* device_ = nullptr;
  std::unique_ptr<Stream> stream_;
};

// A loaded engine: the immutable network, shared by its execution contexts.
class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static void init(Napi::Env env, Napi::Object exports);
  explicit EngineWrap(const Napi::CallbackInfo& info);
  std::shared_ptr<const EngineCore> core() const { return core_; }

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Serialize(const Napi::CallbackInfo& info);
  std::shared_ptr<const EngineCore> core_;
  std::vector<size_t> memory_;  // activation bytes per profile at its max shapes
};

class ContextWrap : public Napi::ObjectWrap<ContextWrap> {
 public:
  static void init(Napi::Env env, Napi::Object exports);
  explicit ContextWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value SetProfile(const Napi::CallbackInfo& info);
  Napi::Value SetInputShape(const Napi::CallbackInfo& info);
  Napi::Value SetInputValues(const Napi::CallbackInfo& info);
  Napi::Value OutputShapes(const Napi::CallbackInfo& info);
  Napi::Value Enqueue(const Napi::CallbackInfo& info);
  Napi::Value SetProfiling(const Napi::CallbackInfo& info);
  Napi::Value LayerTimes(const Napi::CallbackInfo& info);
  std::shared_ptr<ExecutionContext> context_;
  Device* device_ = nullptr;                 // the device the context runs on
  std::unique_ptr<Runner> runner_;           // how its layers run there
  std::shared_ptr<DeviceAllocation> arena_;  // grown on demand; queued work keeps old ones
};

void registerDevices(Napi::Env env, Napi::Object exports);

}  // namespace kiln::binding
