// Delivering a completion from a worker thread to a JS callback (cb(error | null)).
#pragma once

#include <napi.h>

#include <functional>

#include "kiln/error.h"

namespace kiln::binding {

// Returns a function that, called once from any thread, invokes `callback` on the JS thread.
// The pending call keeps Node's event loop alive until it has been delivered.
std::function<void(const Status&)> jsCompletion(Napi::Env env, Napi::Function callback,
                                                const char* name);

}  // namespace kiln::binding
