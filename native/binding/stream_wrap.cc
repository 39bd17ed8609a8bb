#include "completion.h"
#include "convert_args.h"
#include "errors.h"
#include "wraps.h"

namespace kiln::binding {

void StreamWrap::init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(
      env, "Stream",
      {InstanceMethod<&StreamWrap::Copy>("copy"), InstanceMethod<&StreamWrap::Memset>("memset"),
       InstanceMethod<&StreamWrap::Notify>("notify"), InstanceMethod<&StreamWrap::Record>("record"),
       InstanceMethod<&StreamWrap::Dispose>("dispose")});
  env.GetInstanceData<AddonData>()->stream = Napi::Persistent(ctor);
  exports.Set("Stream", ctor);
}

// new Stream(device: string)
StreamWrap::StreamWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<StreamWrap>(info) {
  device_ = &toDevice(info.Env(), info[0]);
  stream_ = guarded(info.Env(), [&] { return device_->createStream(); });
}

Stream& StreamWrap::stream(Napi::Env env) const {
  if (!stream_)
    throwError(env, ErrorCode::kDisposed, "this Stream has been disposed; create a new one");
  return *stream_;
}

namespace {
// Checks [offset, offset + bytes) against a region without overflowing.
void checkRange(Napi::Env env, const Region& r, size_t offset, size_t bytes, const char* name) {
  if (offset > r.size || bytes > r.size - offset) {
    throwError(env, ErrorCode::kInvalidArgument,
               std::string(name) + " range [" + std::to_string(offset) + ", +" +
                   std::to_string(bytes) + ") is outside its " + std::to_string(r.size) + " bytes");
  }
}
}  // namespace

// copy(dst, dstOffset, src, srcOffset, bytes)
Napi::Value StreamWrap::Copy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Stream& s = stream(env);
  const Region dst = toRegion(env, info[0], "dst");
  const size_t dstOffset = toSize(env, info[1], "dstOffset");
  const Region src = toRegion(env, info[2], "src");
  const size_t srcOffset = toSize(env, info[3], "srcOffset");
  const size_t bytes = toSize(env, info[4], "bytes");
  checkRange(env, dst, dstOffset, bytes, "dst");
  checkRange(env, src, srcOffset, bytes, "src");
  for (const Region* r : {&dst, &src}) {
    if (r->device != nullptr && r->device != device_) {
      throwError(env, ErrorCode::kInvalidArgument,
                 "a buffer on " + r->device->info().name + " cannot be used on a stream of " +
                     device_->info().name);
    }
  }
  guarded(env, [&] {
    s.copy(dst.data + dstOffset, src.data + srcOffset, bytes);
    if (dst.owner) s.keepAlive(dst.owner);
    if (src.owner) s.keepAlive(src.owner);
  });
  return env.Undefined();
}

// memset(dst, offset, value, bytes)
Napi::Value StreamWrap::Memset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Stream& s = stream(env);
  const Region dst = toRegion(env, info[0], "dst");
  const size_t offset = toSize(env, info[1], "offset");
  const size_t value = toSize(env, info[2], "value");
  const size_t bytes = toSize(env, info[3], "bytes");
  checkRange(env, dst, offset, bytes, "dst");
  if (value > 255)
    throwError(env, ErrorCode::kInvalidArgument, "memset value must be a byte (0..255)");
  if (dst.device != nullptr && dst.device != device_) {
    throwError(env, ErrorCode::kInvalidArgument,
               "the buffer is on another device than this stream");
  }
  guarded(env, [&] {
    s.memset(dst.data + offset, static_cast<int>(value), bytes);
    if (dst.owner) s.keepAlive(dst.owner);
  });
  return env.Undefined();
}

// notify(cb): cb(error | null) once all work enqueued so far has finished.
Napi::Value StreamWrap::Notify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Stream& s = stream(env);
  if (!info[0].IsFunction())
    throwError(env, ErrorCode::kInvalidArgument, "notify expects a callback");
  auto done = jsCompletion(env, info[0].As<Napi::Function>(), "kiln.stream.notify");
  guarded(env, [&] { s.notify(std::move(done)); });
  return env.Undefined();
}

Napi::Value StreamWrap::Record(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Stream& s = stream(env);
  if (!info[0].IsObject() || !info[0].As<Napi::Object>().CheckTypeTag(&kEventTag)) {
    throwError(env, ErrorCode::kInvalidArgument, "record expects an Event");
  }
  EventWrap* ev = EventWrap::Unwrap(info[0].As<Napi::Object>());
  if (ev->device() != device_)
    throwError(env, ErrorCode::kInvalidArgument, "the event belongs to another device");
  guarded(env, [&] { s.record(ev->event(env)); });
  return env.Undefined();
}

Napi::Value StreamWrap::Dispose(const Napi::CallbackInfo& info) {
  stream(info.Env());
  stream_.reset();  // queued work still runs to completion
  return info.Env().Undefined();
}

}  // namespace kiln::binding
