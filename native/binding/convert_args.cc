#include "convert_args.h"

#include <cmath>

#include "errors.h"
#include "wraps.h"

namespace kiln::binding {

const napi_type_tag kDeviceBufferTag = {0x6b696c6e64657662ULL, 0x7566666572000001ULL};
const napi_type_tag kHostBufferTag = {0x6b696c6e686f7374ULL, 0x7566666572000002ULL};
const napi_type_tag kEventTag = {0x6b696c6e6576656eULL, 0x7400000000000003ULL};

size_t toSize(Napi::Env env, const Napi::Value& value, const char* name) {
  if (!value.IsNumber())
    throwError(env, ErrorCode::kInvalidArgument, std::string(name) + " must be a number");
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != std::floor(d) || d > 9007199254740991.0) {
    throwError(env, ErrorCode::kInvalidArgument,
               std::string(name) + " must be a non-negative integer");
  }
  return static_cast<size_t>(d);
}

std::string toString(Napi::Env env, const Napi::Value& value, const char* name) {
  if (!value.IsString())
    throwError(env, ErrorCode::kInvalidArgument, std::string(name) + " must be a string");
  return value.As<Napi::String>().Utf8Value();
}

Device& toDevice(Napi::Env env, const Napi::Value& value) {
  const std::string name = toString(env, value, "device");
  return guarded(env, [&]() -> Device& { return deviceByName(name); });
}

Region toRegion(Napi::Env env, const Napi::Value& value, const char* name) {
  Region r;
  if (value.IsTypedArray()) {
    auto ta = value.As<Napi::TypedArray>();
    r.data = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    r.size = ta.ByteLength();
    return r;
  }
  if (value.IsDataView()) {
    auto dv = value.As<Napi::DataView>();
    r.data = static_cast<uint8_t*>(dv.ArrayBuffer().Data()) + dv.ByteOffset();
    r.size = dv.ByteLength();
    return r;
  }
  if (value.IsArrayBuffer()) {
    auto ab = value.As<Napi::ArrayBuffer>();
    r.data = static_cast<uint8_t*>(ab.Data());
    r.size = ab.ByteLength();
    return r;
  }
  if (value.IsObject()) {
    auto obj = value.As<Napi::Object>();
    if (obj.CheckTypeTag(&kDeviceBufferTag)) {
      auto* wrap = DeviceBufferWrap::Unwrap(obj);
      const auto& alloc = wrap->allocation(env);
      r.data = static_cast<uint8_t*>(alloc->data());
      r.size = alloc->size();
      r.device = wrap->device();
      r.owner = alloc;
      return r;
    }
    if (obj.CheckTypeTag(&kHostBufferTag)) {
      const auto& alloc = HostBufferWrap::Unwrap(obj)->allocation(env);
      r.data = static_cast<uint8_t*>(alloc->data());
      r.size = alloc->size();
      r.owner = alloc;
      return r;
    }
  }
  throwError(env, ErrorCode::kInvalidArgument,
             std::string(name) +
                 " must be a DeviceBuffer, HostBuffer, TypedArray, DataView or ArrayBuffer");
}

}  // namespace kiln::binding
