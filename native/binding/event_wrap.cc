#include "completion.h"
#include "convert_args.h"
#include "errors.h"
#include "wraps.h"

namespace kiln::binding {

void EventWrap::init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(
      env, "Event",
      {InstanceMethod<&EventWrap::Query>("query"), InstanceMethod<&EventWrap::Notify>("notify"),
       InstanceMethod<&EventWrap::ElapsedSince>("elapsedSince"),
       InstanceMethod<&EventWrap::Dispose>("dispose")});
  env.GetInstanceData<AddonData>()->event = Napi::Persistent(ctor);
  exports.Set("Event", ctor);
}

// new Event(device: string)
EventWrap::EventWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EventWrap>(info) {
  device_ = &toDevice(info.Env(), info[0]);
  event_ = guarded(info.Env(), [&] { return device_->createEvent(); });
  info.This().As<Napi::Object>().TypeTag(&kEventTag);
}

Event& EventWrap::event(Napi::Env env) const {
  if (!event_)
    throwError(env, ErrorCode::kDisposed, "this Event has been disposed; create a new one");
  return *event_;
}

Napi::Value EventWrap::Query(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), event(info.Env()).query());
}

Napi::Value EventWrap::Notify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Event& e = event(env);
  if (!info[0].IsFunction())
    throwError(env, ErrorCode::kInvalidArgument, "notify expects a callback");
  auto done = jsCompletion(env, info[0].As<Napi::Function>(), "kiln.event.notify");
  e.onComplete([done]() mutable { done(Status::success()); });
  return env.Undefined();
}

Napi::Value EventWrap::ElapsedSince(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject() || !info[0].As<Napi::Object>().CheckTypeTag(&kEventTag)) {
    throwError(env, ErrorCode::kInvalidArgument, "elapsedSince expects an Event");
  }
  const Event& start = EventWrap::Unwrap(info[0].As<Napi::Object>())->event(env);
  const Event& end = event(env);
  return Napi::Number::New(env, guarded(env, [&] { return end.elapsedSince(start); }));
}

Napi::Value EventWrap::Dispose(const Napi::CallbackInfo& info) {
  event(info.Env());
  event_.reset();
  return info.Env().Undefined();
}

}  // namespace kiln::binding
