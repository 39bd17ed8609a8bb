// libFuzzer target: the shape code of every op. Each input describes a one-layer network: an
// op from the registry, inputs that are network inputs (static or dynamic, within a profile)
// or constants with fuzzed values (shapes, axes, slice bounds, indices), outputs, attributes
// under the names ops read, and the input data. The network is loaded, its shapes inferred
// (broadcasting, slice resolution, reshape, padding arithmetic...) and, when small, it runs.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "engine/op.h"
#include "exercise.h"

using kiln::AttrValue;
using kiln::DataType;
using kiln::Dims;

namespace {

constexpr DataType kTypes[] = {DataType::kFloat32, DataType::kInt64,   DataType::kInt32,
                               DataType::kBool,    DataType::kUInt8,   DataType::kInt8,
                               DataType::kFloat16, DataType::kBFloat16};

// Attribute names the ops read (grep attrInt/attrInts/attrFloat/attrString in engine/ops).
constexpr const char* kIntAttrs[] = {"axis",
                                     "group",
                                     "blocksize",
                                     "ceil_mode",
                                     "transA",
                                     "transB",
                                     "keepdims",
                                     "to",
                                     "k",
                                     "largest",
                                     "batch_dims",
                                     "allowzero",
                                     "start",
                                     "end",
                                     "upper",
                                     "storage_order",
                                     "count_include_pad",
                                     "noop_with_empty_axes",
                                     "select_last_index",
                                     "exclude_outside",
                                     "align_corners",
                                     "hidden_size",
                                     "dtype",
                                     "size",
                                     "block_size",
                                     "time_axis",
                                     "batch_axis",
                                     "onesided",
                                     "inverse",
                                     "periodic",
                                     "output_datatype",
                                     "layout",
                                     "fmod"};
constexpr const char* kIntsAttrs[] = {
    "pads", "strides", "kernel_shape", "dilations",    "axes",           "perm",       "starts",
    "ends", "steps",   "split",        "output_shape", "output_padding", "pool_int64s"};
constexpr const char* kFloatAttrs[] = {
    "epsilon", "alpha", "beta",          "value",    "min",           "max",
    "bias",    "clip",  "spatial_scale", "momentum", "cubic_coeff_a", "extrapolation_value"};
constexpr const char* kStringAttrs[] = {
    "mode",         "auto_pad",     "reduction",   "direction", "coordinate_transformation_mode",
    "nearest_mode", "padding_mode", "approximate", "activation"};
constexpr const char* kModes[] = {"",           "NOTSET",        "SAME_UPPER",    "SAME_LOWER",
                                  "VALID",      "nearest",       "linear",        "cubic",
                                  "constant",   "reflect",       "edge",          "DCR",
                                  "CRD",        "add",           "mul",           "none",
                                  "forward",    "reverse",       "bidirectional", "asymmetric",
                                  "half_pixel", "align_corners", "floor",         "tanh",
                                  "bilinear",   "zeros",         "border",        "Relu"};

template <typename T, size_t N>
const T& pick(FuzzedDataProvider& in, const T (&options)[N]) {
  return options[in.ConsumeIntegralInRange<size_t>(0, N - 1)];
}

// Mostly small values, sometimes the edges that overflow arithmetic.
int64_t anInt(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 7)) {
    case 0:
      return in.ConsumeIntegral<int64_t>();
    case 1:
      return -in.ConsumeIntegralInRange<int64_t>(0, 8);
    default:
      return in.ConsumeIntegralInRange<int64_t>(0, 8);
  }
}

Dims aShape(FuzzedDataProvider& in, bool allowHuge) {
  Dims d(in.ConsumeIntegralInRange<size_t>(0, 5));
  for (auto& v : d) {
    v = in.ConsumeIntegralInRange<int64_t>(0, 6);
    if (allowHuge && in.ConsumeIntegralInRange(0, 15) == 0) v = in.ConsumeIntegral<int64_t>();
  }
  return d;
}

AttrValue anAttr(FuzzedDataProvider& in, const char** name) {
  AttrValue a;
  switch (in.ConsumeIntegralInRange(0, 3)) {
    case 0:
      *name = pick(in, kIntAttrs);
      a.kind = AttrValue::Kind::kInt;
      a.i = anInt(in);
      break;
    case 1:
      *name = pick(in, kIntsAttrs);
      a.kind = AttrValue::Kind::kInts;
      a.ints.resize(in.ConsumeIntegralInRange<size_t>(0, 8));
      for (auto& v : a.ints) v = anInt(in);
      break;
    case 2:
      *name = pick(in, kFloatAttrs);
      a.kind = AttrValue::Kind::kFloat;
      a.f = in.ConsumeFloatingPoint<double>();
      break;
    default:
      *name = pick(in, kStringAttrs);
      a.kind = AttrValue::Kind::kString;
      a.s = pick(in, kModes);
      break;
  }
  return a;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<std::string> ops = kiln::supportedOps();
  FuzzedDataProvider in(data, size);
  kiln::Network n;
  kiln::LayerDesc layer;
  layer.name = "layer";
  layer.op = ops[in.ConsumeIntegralInRange<size_t>(0, ops.size() - 1)];
  kiln::Profile profile;
  const size_t inputs = in.ConsumeIntegralInRange<size_t>(0, 5);
  for (size_t i = 0; i < inputs; ++i) {
    const int32_t index = static_cast<int32_t>(n.tensors.size());
    const int kind = in.ConsumeIntegralInRange(0, 3);
    if (kind == 3) {  // an omitted optional input
      layer.inputs.push_back(-1);
      continue;
    }
    kiln::TensorDesc t;
    t.name = "in" + std::to_string(i);
    t.dtype = pick(in, kTypes);
    if (kind == 0) {  // a constant: its values steer shapes (Reshape, Slice, Expand, Pad...)
      if (in.ConsumeBool()) t.dtype = DataType::kInt64;
      t.shape = aShape(in, false);
      int64_t elements = 1;
      for (int64_t d : t.shape) elements *= d;
      if (elements > 64)
        t.shape = {in.ConsumeIntegralInRange<int64_t>(0, 8)}, elements = t.shape[0];
      std::vector<uint8_t> w(static_cast<size_t>(elements) * kiln::dataTypeSize(t.dtype));
      if (t.dtype == DataType::kInt64) {
        for (size_t k = 0; k < w.size(); k += 8) {
          const int64_t v = anInt(in);
          std::memcpy(&w[k], &v, 8);
        }
      } else {
        for (auto& b : w) b = in.ConsumeIntegral<uint8_t>();
        if (t.dtype == DataType::kBool)
          for (auto& b : w) b &= 1;
      }
      t.constant = static_cast<int32_t>(n.weights.size());
      n.weights.push_back(std::move(w));
    } else {  // a network input, static (kind 1) or dynamic within a profile (kind 2)
      t.shape = aShape(in, true);
      if (kind == 2 && !t.shape.empty()) {
        kiln::ProfileDims range{index, t.shape, t.shape, t.shape, {}, {}, {}};
        const size_t k = in.ConsumeIntegralInRange<size_t>(0, t.shape.size() - 1);
        range.min[k] = 0;
        range.opt[k] = std::max<int64_t>(t.shape[k], 0);
        range.max[k] = std::max<int64_t>(t.shape[k], in.ConsumeIntegralInRange<int64_t>(0, 9));
        t.shape[k] = -1;
        profile.inputs.push_back(range);
      }
      n.inputs.push_back(index);
    }
    layer.inputs.push_back(index);
    n.tensors.push_back(t);
  }
  const size_t outputs = in.ConsumeIntegralInRange<size_t>(1, 3);
  for (size_t o = 0; o < outputs; ++o) {
    layer.outputs.push_back(static_cast<int32_t>(n.tensors.size()));
    n.outputs.push_back(static_cast<int32_t>(n.tensors.size()));
    n.tensors.push_back({"out" + std::to_string(o), pick(in, kTypes), {}, -1});
  }
  const size_t attrs = in.ConsumeIntegralInRange<size_t>(0, 6);
  for (size_t a = 0; a < attrs; ++a) {
    const char* name = nullptr;
    AttrValue value = anAttr(in, &name);
    layer.attrs[name] = value;
  }
  n.layers.push_back(layer);
  if (!profile.inputs.empty()) n.profiles.push_back(profile);
  // What is left of the input is the tensors' data.
  const std::vector<uint8_t> rest = in.ConsumeRemainingBytes<uint8_t>();
  kiln::fuzz::exerciseNetwork(std::move(n), [&rest](size_t i) {
    return rest.empty() ? uint8_t{0} : rest[i % rest.size()];
  });
  return 0;
}
