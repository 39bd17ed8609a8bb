#include "network_convert.h"

#include <cstring>

#include "convert_args.h"
#include "errors.h"
#include "tactics/tactics.h"

namespace kiln::binding {
namespace {

Napi::Array arrayField(Napi::Env env, const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsArray())
    throwError(env, ErrorCode::kInvalidArgument,
               std::string("network description: '") + key + "' must be an array");
  return v.As<Napi::Array>();
}

int64_t intValue(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsNumber())
    throwError(env, ErrorCode::kInvalidArgument,
               std::string("network description: ") + what + " must be a number");
  return v.As<Napi::Number>().Int64Value();
}

std::vector<int64_t> int64s(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsArray())
    throwError(env, ErrorCode::kInvalidArgument,
               std::string("network description: ") + what + " must be an array");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) out[i] = intValue(env, a.Get(i), what);
  return out;
}

std::vector<int32_t> int32s(Napi::Env env, const Napi::Value& v, const char* what) {
  std::vector<int32_t> out;
  for (int64_t x : int64s(env, v, what)) out.push_back(static_cast<int32_t>(x));
  return out;
}

AttrValue attrFromJs(Napi::Env env, const Napi::Value& v) {
  if (!v.IsObject())
    throwError(env, ErrorCode::kInvalidArgument,
               "network description: an attribute must be {kind, value}");
  Napi::Object o = v.As<Napi::Object>();
  const std::string kind = toString(env, o.Get("kind"), "attribute kind");
  Napi::Value value = o.Get("value");
  AttrValue a;
  if (kind == "i") {
    a.kind = AttrValue::Kind::kInt;
    a.i = intValue(env, value, "attribute");
  } else if (kind == "f") {
    a.kind = AttrValue::Kind::kFloat;
    if (!value.IsNumber())
      throwError(env, ErrorCode::kInvalidArgument,
                 "network description: a float attribute must be a number");
    a.f = value.As<Napi::Number>().DoubleValue();
  } else if (kind == "is") {
    a.kind = AttrValue::Kind::kInts;
    a.ints = int64s(env, value, "attribute");
  } else if (kind == "fs") {
    a.kind = AttrValue::Kind::kFloats;
    if (!value.IsArray())
      throwError(env, ErrorCode::kInvalidArgument, "network description: floats must be an array");
    Napi::Array arr = value.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); ++i)
      a.floats.push_back(arr.Get(i).As<Napi::Number>().DoubleValue());
  } else if (kind == "s") {
    a.kind = AttrValue::Kind::kString;
    a.s = toString(env, value, "attribute");
  } else {
    throwError(env, ErrorCode::kInvalidArgument,
               "network description: unknown attribute kind '" + kind + "'");
  }
  return a;
}

Napi::Value attrToJs(Napi::Env env, const AttrValue& a) {
  switch (a.kind) {
    case AttrValue::Kind::kInt:
      return Napi::Number::New(env, static_cast<double>(a.i));
    case AttrValue::Kind::kFloat:
      return Napi::Number::New(env, a.f);
    case AttrValue::Kind::kString:
      return Napi::String::New(env, a.s);
    case AttrValue::Kind::kInts: {
      Napi::Array arr = Napi::Array::New(env, a.ints.size());
      for (size_t i = 0; i < a.ints.size(); ++i)
        arr.Set(static_cast<uint32_t>(i), static_cast<double>(a.ints[i]));
      return arr;
    }
    case AttrValue::Kind::kFloats: {
      Napi::Array arr = Napi::Array::New(env, a.floats.size());
      for (size_t i = 0; i < a.floats.size(); ++i) arr.Set(static_cast<uint32_t>(i), a.floats[i]);
      return arr;
    }
  }
  return env.Undefined();
}

Napi::Array dimsToJs(Napi::Env env, const Dims& d) {
  Napi::Array arr = Napi::Array::New(env, d.size());
  for (size_t i = 0; i < d.size(); ++i)
    arr.Set(static_cast<uint32_t>(i), static_cast<double>(d[i]));
  return arr;
}

}  // namespace

Network networkFromJs(Napi::Env env, const Napi::Object& desc) {
  Network n;
  Napi::Array tensors = arrayField(env, desc, "tensors");
  for (uint32_t i = 0; i < tensors.Length(); ++i) {
    Napi::Object t = tensors.Get(i).As<Napi::Object>();
    TensorDesc d;
    d.name = toString(env, t.Get("name"), "tensor name");
    const int64_t dtype = intValue(env, t.Get("dtype"), "tensor dtype");
    if (!isValidDataType(static_cast<int32_t>(dtype))) {
      throwError(
          env, ErrorCode::kInvalidArgument,
          "tensor '" + d.name + "' has an unsupported data type code " + std::to_string(dtype));
    }
    d.dtype = static_cast<DataType>(dtype);
    d.shape = int64s(env, t.Get("shape"), "tensor shape");
    d.constant = static_cast<int32_t>(intValue(env, t.Get("constant"), "tensor constant"));
    n.tensors.push_back(std::move(d));
  }
  Napi::Array layers = arrayField(env, desc, "layers");
  for (uint32_t i = 0; i < layers.Length(); ++i) {
    Napi::Object l = layers.Get(i).As<Napi::Object>();
    LayerDesc d;
    d.name = toString(env, l.Get("name"), "layer name");
    d.op = toString(env, l.Get("op"), "layer op");
    d.inputs = int32s(env, l.Get("inputs"), "layer inputs");
    d.outputs = int32s(env, l.Get("outputs"), "layer outputs");
    Napi::Value guards = l.Get("guards");
    if (guards.IsArray()) {
      Napi::Array ga = guards.As<Napi::Array>();
      for (uint32_t g = 0; g < ga.Length(); ++g) {
        const std::vector<int64_t> pair = int64s(env, ga.Get(g), "layer guard");
        if (pair.size() != 2)
          throwError(env, ErrorCode::kInvalidArgument,
                     "network description: a guard is [tensor, value]");
        d.guards.emplace_back(static_cast<int32_t>(pair[0]), pair[1] != 0);
      }
    }
    Napi::Value attrs = l.Get("attrs");
    if (attrs.IsObject()) {
      Napi::Object ao = attrs.As<Napi::Object>();
      Napi::Array keys = ao.GetPropertyNames();
      for (uint32_t k = 0; k < keys.Length(); ++k) {
        const std::string key = keys.Get(k).As<Napi::String>().Utf8Value();
        d.attrs[key] = attrFromJs(env, ao.Get(key));
      }
    }
    n.layers.push_back(std::move(d));
  }
  n.inputs = int32s(env, desc.Get("inputs"), "inputs");
  n.outputs = int32s(env, desc.Get("outputs"), "outputs");
  Napi::Array profiles = arrayField(env, desc, "profiles");
  for (uint32_t i = 0; i < profiles.Length(); ++i) {
    Profile p;
    Napi::Array inputs = arrayField(env, profiles.Get(i).As<Napi::Object>(), "inputs");
    for (uint32_t k = 0; k < inputs.Length(); ++k) {
      Napi::Object pi = inputs.Get(k).As<Napi::Object>();
      ProfileDims d;
      d.tensor = static_cast<int32_t>(intValue(env, pi.Get("tensor"), "profile tensor"));
      d.min = int64s(env, pi.Get("min"), "profile min");
      d.opt = int64s(env, pi.Get("opt"), "profile opt");
      d.max = int64s(env, pi.Get("max"), "profile max");
      if (pi.Get("minValues").IsArray()) {
        d.minValues = int64s(env, pi.Get("minValues"), "profile min values");
        d.optValues = int64s(env, pi.Get("optValues"), "profile opt values");
        d.maxValues = int64s(env, pi.Get("maxValues"), "profile max values");
      }
      p.inputs.push_back(std::move(d));
    }
    n.profiles.push_back(std::move(p));
  }
  Napi::Array weights = arrayField(env, desc, "weights");
  for (uint32_t i = 0; i < weights.Length(); ++i) {
    const Region r = toRegion(env, weights.Get(i), "weights");
    n.weights.emplace_back(r.data, r.data + r.size);
  }
  return n;
}

Napi::Object networkToJs(Napi::Env env, const Network& n) {
  const auto tensorInfo = [&](int32_t t) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", n.tensors[t].name);
    o.Set("dtype", static_cast<int32_t>(n.tensors[t].dtype));
    o.Set("shape", dimsToJs(env, n.tensors[t].shape));
    return o;
  };
  Napi::Object out = Napi::Object::New(env);
  Napi::Array inputs = Napi::Array::New(env, n.inputs.size());
  for (size_t i = 0; i < n.inputs.size(); ++i)
    inputs.Set(static_cast<uint32_t>(i), tensorInfo(n.inputs[i]));
  Napi::Array outputs = Napi::Array::New(env, n.outputs.size());
  for (size_t i = 0; i < n.outputs.size(); ++i)
    outputs.Set(static_cast<uint32_t>(i), tensorInfo(n.outputs[i]));
  Napi::Array profiles = Napi::Array::New(env, n.profiles.size());
  for (size_t p = 0; p < n.profiles.size(); ++p) {
    Napi::Array entries = Napi::Array::New(env, n.profiles[p].inputs.size());
    for (size_t k = 0; k < n.profiles[p].inputs.size(); ++k) {
      const ProfileDims& d = n.profiles[p].inputs[k];
      Napi::Object e = Napi::Object::New(env);
      e.Set("name", n.tensors[d.tensor].name);
      e.Set("min", dimsToJs(env, d.min));
      e.Set("opt", dimsToJs(env, d.opt));
      e.Set("max", dimsToJs(env, d.max));
      if (!d.minValues.empty()) {
        e.Set("minValues", dimsToJs(env, d.minValues));
        e.Set("optValues", dimsToJs(env, d.optValues));
        e.Set("maxValues", dimsToJs(env, d.maxValues));
      }
      entries.Set(static_cast<uint32_t>(k), e);
    }
    profiles.Set(static_cast<uint32_t>(p), entries);
  }
  Napi::Array layers = Napi::Array::New(env, n.layers.size());
  for (size_t i = 0; i < n.layers.size(); ++i) {
    const LayerDesc& l = n.layers[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", l.name);
    o.Set("op", l.op);
    Napi::Array ins = Napi::Array::New(env);
    for (int32_t t : l.inputs)
      ins.Set(ins.Length(),
              t >= 0 ? Napi::Value(Napi::String::New(env, n.tensors[t].name)) : env.Null());
    Napi::Array outs = Napi::Array::New(env);
    for (int32_t t : l.outputs) outs.Set(outs.Length(), n.tensors[t].name);
    Napi::Array inTypes = Napi::Array::New(env);
    for (int32_t t : l.inputs)
      inTypes.Set(inTypes.Length(), t >= 0 ? Napi::Value(Napi::Number::New(
                                                 env, static_cast<int32_t>(n.tensors[t].dtype)))
                                           : env.Null());
    Napi::Array outTypes = Napi::Array::New(env);
    for (int32_t t : l.outputs)
      outTypes.Set(outTypes.Length(), static_cast<int32_t>(n.tensors[t].dtype));
    o.Set("inputs", ins);
    o.Set("outputs", outs);
    o.Set("inputDtypes", inTypes);
    o.Set("outputDtypes", outTypes);
    Napi::Object attrs = Napi::Object::New(env);
    for (const auto& [key, value] : l.attrs) attrs.Set(key, attrToJs(env, value));
    o.Set("attrs", attrs);
    if (!l.tactic.empty()) {
      o.Set("tactic", l.tactic);
      o.Set("tacticSource", tacticSource(l.tactic));
    }
    if (!l.guards.empty()) {
      Napi::Array guards = Napi::Array::New(env);
      for (const auto& [tensor, value] : l.guards) {
        Napi::Object g = Napi::Object::New(env);
        g.Set("tensor", n.tensors[tensor].name);
        g.Set("value", value);
        guards.Set(guards.Length(), g);
      }
      o.Set("guards", guards);
    }
    layers.Set(static_cast<uint32_t>(i), o);
  }
  out.Set("inputs", inputs);
  out.Set("outputs", outputs);
  out.Set("profiles", profiles);
  out.Set("layers", layers);
  return out;
}

}  // namespace kiln::binding
