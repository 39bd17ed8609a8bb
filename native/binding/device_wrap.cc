#include <cstring>

#include "convert_args.h"
#include "errors.h"
#include "kiln/cpu_features.h"
#include "kiln/dtype.h"
#include "kiln/fault_injection.h"
#include "kiln/thread_pool.h"
#include "kiln/version.h"
#include "tactics/tactics.h"
#include "wraps.h"

namespace kiln::binding {

// ---- DeviceBuffer -------------------------------------------------------------------------

void DeviceBufferWrap::init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "DeviceBuffer",
                                    {InstanceMethod<&DeviceBufferWrap::Dispose>("dispose"),
                                     InstanceAccessor<&DeviceBufferWrap::ByteLength>("byteLength"),
                                     InstanceAccessor<&DeviceBufferWrap::Disposed>("disposed")});
  env.GetInstanceData<AddonData>()->deviceBuffer = Napi::Persistent(ctor);
  exports.Set("DeviceBuffer", ctor);
}

// new DeviceBuffer(device: string, bytes: number)
DeviceBufferWrap::DeviceBufferWrap(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<DeviceBufferWrap>(info) {
  Napi::Env env = info.Env();
  device_ = &toDevice(env, info[0]);
  const size_t bytes = toSize(env, info[1], "bytes");
  allocation_ = guarded(env, [&] { return device_->allocate(bytes); });
  info.This().As<Napi::Object>().TypeTag(&kDeviceBufferTag);
}

const std::shared_ptr<DeviceAllocation>& DeviceBufferWrap::allocation(Napi::Env env) const {
  if (!allocation_)
    throwError(env, ErrorCode::kDisposed,
               "this DeviceBuffer has been disposed; allocate a new one");
  return allocation_;
}

Napi::Value DeviceBufferWrap::Dispose(const Napi::CallbackInfo& info) {
  allocation(info.Env());
  allocation_.reset();  // queued work that uses the memory still holds it until done
  return info.Env().Undefined();
}

Napi::Value DeviceBufferWrap::ByteLength(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(allocation(info.Env())->size()));
}

Napi::Value DeviceBufferWrap::Disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !allocation_);
}

// ---- HostBuffer ---------------------------------------------------------------------------

void HostBufferWrap::init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "HostBuffer",
                                    {InstanceMethod<&HostBufferWrap::Dispose>("dispose"),
                                     InstanceAccessor<&HostBufferWrap::ArrayBuffer>("arrayBuffer"),
                                     InstanceAccessor<&HostBufferWrap::Disposed>("disposed")});
  env.GetInstanceData<AddonData>()->hostBuffer = Napi::Persistent(ctor);
  exports.Set("HostBuffer", ctor);
}

// new HostBuffer(device: string, bytes: number): host memory the device copies fastest.
HostBufferWrap::HostBufferWrap(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<HostBufferWrap>(info) {
  Napi::Env env = info.Env();
  Device& device = toDevice(env, info[0]);
  const size_t bytes = toSize(env, info[1], "bytes");
  allocation_ = guarded(env, [&] { return device.allocateHost(bytes); });
  // The ArrayBuffer co-owns the memory: it stays valid until both it is collected and the
  // wrapper is disposed; dispose() detaches it so JS can no longer reach the memory.
  auto* owner = new std::shared_ptr<HostAllocation>(allocation_);
  auto ab = Napi::ArrayBuffer::New(
      env, allocation_->data(), bytes,
      [](Napi::Env, void*, std::shared_ptr<HostAllocation>* hint) { delete hint; }, owner);
  view_ = Napi::Persistent(ab);
  info.This().As<Napi::Object>().TypeTag(&kHostBufferTag);
}

const std::shared_ptr<HostAllocation>& HostBufferWrap::allocation(Napi::Env env) const {
  if (!allocation_)
    throwError(env, ErrorCode::kDisposed, "this HostBuffer has been disposed; allocate a new one");
  return allocation_;
}

Napi::Value HostBufferWrap::Dispose(const Napi::CallbackInfo& info) {
  allocation(info.Env());
  Napi::ArrayBuffer ab = view_.Value();
  if (!ab.IsDetached()) ab.Detach();
  view_.Reset();
  allocation_.reset();
  return info.Env().Undefined();
}

Napi::Value HostBufferWrap::ArrayBuffer(const Napi::CallbackInfo& info) {
  allocation(info.Env());
  return view_.Value();
}

Napi::Value HostBufferWrap::Disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !allocation_);
}

// ---- free functions -----------------------------------------------------------------------

namespace {

Napi::Value Devices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& all = devices();
  Napi::Array out = Napi::Array::New(env, all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    const DeviceInfo& d = all[i]->info();
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", d.name);
    o.Set("kind", d.kind == DeviceKind::kCpu ? "cpu" : "cuda");
    o.Set("index", d.index);
    o.Set("description", d.description);
    o.Set("totalMemory", static_cast<double>(d.totalMemory));
    if (d.kind == DeviceKind::kCuda) {
      o.Set("computeCapability",
            std::to_string(d.computeMajor) + "." + std::to_string(d.computeMinor));
    }
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

Napi::Value Features(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CpuFeatures& f = cpuFeatures();
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("vendor", f.vendor);
  cpu.Set("model", f.model);
  cpu.Set("logicalCores", f.logicalCores);
  cpu.Set("sse41", f.sse41);
  cpu.Set("avx", f.avx);
  cpu.Set("avx2", f.avx2);
  cpu.Set("fma", f.fma);
  cpu.Set("f16c", f.f16c);
  cpu.Set("avx512f", f.avx512f);
  cpu.Set("avx512bw", f.avx512bw);
  cpu.Set("avx512vl", f.avx512vl);
  cpu.Set("avx512dq", f.avx512dq);
  cpu.Set("avx512vnni", f.avx512vnni);
  cpu.Set("avx512bf16", f.avx512bf16);
  cpu.Set("avx512fp16", f.avx512fp16);
  cpu.Set("avxVnni", f.avxvnni);
  cpu.Set("isa", isaName(activeIsa()));
  Napi::Object out = Napi::Object::New(env);
  out.Set("cpu", cpu);
  out.Set("cudaBuilt", cudaBuilt());
  Napi::Array sources = Napi::Array::New(env);
  for (const std::string& s : builtTacticSources()) sources.Set(sources.Length(), s);
  out.Set("tacticSources", sources);
  out.Set("coreVersion", kCoreVersion);
  return out;
}

// convert(src, srcType, dst, dstType): float32 <-> float16 / bfloat16, element counts equal.
Napi::Value Convert(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Region src = toRegion(env, info[0], "src");
  const auto srcType = static_cast<DataType>(toSize(env, info[1], "srcType"));
  const Region dst = toRegion(env, info[2], "dst");
  const auto dstType = static_cast<DataType>(toSize(env, info[3], "dstType"));
  if (src.device != nullptr || dst.device != nullptr) {
    throwError(env, ErrorCode::kInvalidArgument, "convert works on host memory only");
  }
  const bool known = isValidDataType(static_cast<int32_t>(srcType)) &&
                     isValidDataType(static_cast<int32_t>(dstType));
  if (!known) throwError(env, ErrorCode::kInvalidArgument, "unknown data type code");
  const size_t count = src.size / dataTypeSize(srcType);
  if (src.size % dataTypeSize(srcType) != 0 || dst.size != count * dataTypeSize(dstType)) {
    throwError(env, ErrorCode::kInvalidArgument,
               "convert: source and destination element counts differ");
  }
  auto* s16 = reinterpret_cast<const uint16_t*>(src.data);
  auto* d16 = reinterpret_cast<uint16_t*>(dst.data);
  auto* s32 = reinterpret_cast<const float*>(src.data);
  auto* d32 = reinterpret_cast<float*>(dst.data);
  using T = DataType;
  if (srcType == T::kFloat32 && dstType == T::kFloat16)
    convertFloatToHalf(s32, d16, count);
  else if (srcType == T::kFloat16 && dstType == T::kFloat32)
    convertHalfToFloat(s16, d32, count);
  else if (srcType == T::kFloat32 && dstType == T::kBFloat16)
    convertFloatToBFloat16(s32, d16, count);
  else if (srcType == T::kBFloat16 && dstType == T::kFloat32)
    convertBFloat16ToFloat(s16, d32, count);
  else {
    throwError(env, ErrorCode::kUnsupported,
               std::string("no native conversion from ") + dataTypeName(srcType) + " to " +
                   dataTypeName(dstType));
  }
  return env.Undefined();
}

Napi::Value ThreadCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), globalThreadPool().size());
}

Napi::Value InjectFault(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  injectFault(toString(env, info[0], "point"), static_cast<int>(toSize(env, info[1], "count")));
  return env.Undefined();
}

}  // namespace

void registerDevices(Napi::Env env, Napi::Object exports) {
  DeviceBufferWrap::init(env, exports);
  HostBufferWrap::init(env, exports);
  exports.Set("devices", Napi::Function::New(env, Devices));
  exports.Set("features", Napi::Function::New(env, Features));
  exports.Set("convert", Napi::Function::New(env, Convert));
  exports.Set("threadCount", Napi::Function::New(env, ThreadCount));
  exports.Set("injectFault", Napi::Function::New(env, InjectFault));
}

}  // namespace kiln::binding
