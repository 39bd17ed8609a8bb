// Turning kiln::Error / kiln::Status into the JS KilnError class that @kiln/core registers.
#pragma once

#include <napi.h>

#include "kiln/error.h"

namespace kiln::binding {

// Per-environment data: the KilnError constructor handed over by @kiln/core at load time.
struct AddonData {
  Napi::FunctionReference kilnError;
  Napi::FunctionReference deviceBuffer;
  Napi::FunctionReference hostBuffer;
  Napi::FunctionReference stream;
  Napi::FunctionReference event;
  Napi::FunctionReference engine;
};

Napi::Value makeError(Napi::Env env, ErrorCode code, const std::string& message);
Napi::Value makeError(Napi::Env env, const Status& status);
[[noreturn]] void throwError(Napi::Env env, ErrorCode code, const std::string& message);

// Runs `body`, rethrowing kiln::Error (and any std::exception) as a JS KilnError.
template <typename F>
auto guarded(Napi::Env env, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Error& e) {
    throwError(env, e.code(), e.what());
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throwError(env, ErrorCode::kOutOfMemory, "out of host memory");
  } catch (const std::exception& e) {
    throwError(env, ErrorCode::kInternal, e.what());
  }
}

void registerErrors(Napi::Env env, Napi::Object exports);

}  // namespace kiln::binding
