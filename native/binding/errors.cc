#include "errors.h"

namespace kiln::binding {

Napi::Value makeError(Napi::Env env, ErrorCode code, const std::string& message) {
  auto* data = env.GetInstanceData<AddonData>();
  if (data != nullptr && !data->kilnError.IsEmpty()) {
    return data->kilnError.New(
        {Napi::String::New(env, errorCodeName(code)), Napi::String::New(env, message)});
  }
  Napi::Error plain = Napi::Error::New(env, message);
  plain.Set("code", Napi::String::New(env, errorCodeName(code)));
  return plain.Value();
}

Napi::Value makeError(Napi::Env env, const Status& status) {
  return makeError(env, status.code, status.message);
}

void throwError(Napi::Env env, ErrorCode code, const std::string& message) {
  throw Napi::Error(env, makeError(env, code, message));
}

namespace {
Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction())
    throw Napi::TypeError::New(info.Env(), "setErrorClass expects a constructor");
  info.Env().GetInstanceData<AddonData>()->kilnError =
      Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}
}  // namespace

void registerErrors(Napi::Env env, Napi::Object exports) {
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass));
}

}  // namespace kiln::binding
