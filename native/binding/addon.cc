// The addon's entry point: registers the native classes and functions that @kiln/core wraps.
#include <napi.h>

#include "errors.h"
#include "wraps.h"

namespace kiln::binding {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  registerErrors(env, exports);
  registerDevices(env, exports);
  StreamWrap::init(env, exports);
  EventWrap::init(env, exports);
  EngineWrap::init(env, exports);
  ContextWrap::init(env, exports);
  return exports;
}

}  // namespace kiln::binding

// The registration macro needs an unqualified function name.
static Napi::Object InitKiln(Napi::Env env, Napi::Object exports) {
  return kiln::binding::Init(env, exports);
}

NODE_API_MODULE(kiln, InitKiln)
