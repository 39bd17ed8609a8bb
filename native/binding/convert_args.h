// Reading arguments: sizes, offsets, device names and memory regions (wrapped buffers or
// TypedArrays). Validation with friendly messages happens in TypeScript; these checks only keep
// the core safe from a caller that bypassed it.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>

#include "kiln/device.h"

namespace kiln::binding {

size_t toSize(Napi::Env env, const Napi::Value& value, const char* name);
std::string toString(Napi::Env env, const Napi::Value& value, const char* name);
Device& toDevice(Napi::Env env, const Napi::Value& value);

// Type tags tell our wrapped objects apart from each other and from foreign objects.
extern const napi_type_tag kDeviceBufferTag;
extern const napi_type_tag kHostBufferTag;
extern const napi_type_tag kEventTag;

struct Region {
  uint8_t* data = nullptr;
  size_t size = 0;
  Device* device = nullptr;           // null for host memory
  std::shared_ptr<const void> owner;  // null for JS-owned memory (TypeScript retains it)
};

// A DeviceBuffer, HostBuffer, TypedArray, DataView or ArrayBuffer.
Region toRegion(Napi::Env env, const Napi::Value& value, const char* name);

}  // namespace kiln::binding
