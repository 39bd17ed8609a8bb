#include "completion.h"

#include "errors.h"

namespace kiln::binding {

std::function<void(const Status&)> jsCompletion(Napi::Env env, Napi::Function callback,
                                                const char* name) {
  auto tsfn = Napi::ThreadSafeFunction::New(env, callback, name, 0, 1);
  return [tsfn](const Status& status) mutable {
    auto* copy = new Status(status);
    const napi_status queued =
        tsfn.BlockingCall(copy, [](Napi::Env env, Napi::Function cb, Status* s) {
          Napi::Value arg = s->ok ? env.Null() : makeError(env, *s);
          delete s;
          cb.Call({arg});
        });
    if (queued != napi_ok) delete copy;  // the environment is shutting down
    tsfn.Release();
  };
}

}  // namespace kiln::binding
