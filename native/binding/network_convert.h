// JS network descriptions (built by @kiln/builder) -> kiln::Network, and back for inspection.
#pragma once

#include <napi.h>

#include "graph/network.h"

namespace kiln::binding {

// desc: { tensors: [{name, dtype, shape, constant}], layers: [{name, op, inputs, outputs,
// attrs: {key: {kind: 'i'|'f'|'is'|'fs'|'s', value}}}], inputs, outputs,
// profiles: [{inputs: [{tensor, min, opt, max}]}], weights: [ArrayBufferView] }
Network networkFromJs(Napi::Env env, const Napi::Object& desc);

// A JSON-friendly listing of the engine: IO, profiles and layers (TensorRT's inspector spirit).
Napi::Object networkToJs(Napi::Env env, const Network& network);

}  // namespace kiln::binding
