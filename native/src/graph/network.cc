#include "graph/network.h"

#include <limits>

#include "kiln/error.h"

namespace kiln {

int64_t LayerDesc::attrInt(const std::string& key, int64_t fallback) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return fallback;
  if (it->second.kind != AttrValue::Kind::kInt) {
    throw Error(ErrorCode::kInvalidModel,
                "layer '" + name + "': attribute '" + key + "' must be an int");
  }
  return it->second.i;
}

double LayerDesc::attrFloat(const std::string& key, double fallback) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return fallback;
  if (it->second.kind == AttrValue::Kind::kInt) return static_cast<double>(it->second.i);
  if (it->second.kind != AttrValue::Kind::kFloat) {
    throw Error(ErrorCode::kInvalidModel,
                "layer '" + name + "': attribute '" + key + "' must be a float");
  }
  return it->second.f;
}

std::vector<int64_t> LayerDesc::attrInts(const std::string& key,
                                         std::vector<int64_t> fallback) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return fallback;
  if (it->second.kind != AttrValue::Kind::kInts) {
    throw Error(ErrorCode::kInvalidModel,
                "layer '" + name + "': attribute '" + key + "' must be a list of ints");
  }
  return it->second.ints;
}

std::string LayerDesc::attrString(const std::string& key, const std::string& fallback) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return fallback;
  if (it->second.kind != AttrValue::Kind::kString) {
    throw Error(ErrorCode::kInvalidModel,
                "layer '" + name + "': attribute '" + key + "' must be a string");
  }
  return it->second.s;
}

int64_t shapeElements(const Dims& dims) {
  // The product of the non-zero dims must fit too: an empty tensor of dims [0, 2^62, 2^62]
  // would overflow the strides kernels compute. No dim above 2^48 can belong to real memory.
  constexpr int64_t kMaxDim = int64_t{1} << 48;
  int64_t nonZero = 1;
  bool empty = false;
  for (int64_t d : dims) {
    if (d < 0)
      throw Error(ErrorCode::kInvalidArgument, "shape " + formatDims(dims) + " is not fully known");
    if (d > kMaxDim || (d != 0 && nonZero > std::numeric_limits<int64_t>::max() / d)) {
      throw Error(ErrorCode::kInvalidArgument,
                  "shape " + formatDims(dims) + " overflows 64-bit element counts");
    }
    if (d == 0)
      empty = true;
    else
      nonZero *= d;
  }
  return empty ? 0 : nonZero;
}

int64_t shapeBytes(const Dims& dims, DataType type) {
  constexpr int64_t kMaxTensorBytes = int64_t{1} << 48;
  const int64_t elements = shapeElements(dims);
  const int64_t size = static_cast<int64_t>(dataTypeSize(type));
  if (size > 0 && elements > kMaxTensorBytes / size) {
    throw Error(ErrorCode::kOutOfMemory, std::string("a ") + dataTypeName(type) +
                                             " tensor of shape " + formatDims(dims) +
                                             " would need more than 2^48 bytes of memory");
  }
  return elements * size;
}

std::string formatDims(const Dims& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "x" : "") + std::to_string(dims[i]);
  return s + "]";
}

void Network::validate(bool fromPlan) const {
  const ErrorCode code = fromPlan ? ErrorCode::kInvalidPlan : ErrorCode::kInvalidModel;
  const auto fail = [&](const std::string& msg) { throw Error(code, msg); };
  const int32_t count = static_cast<int32_t>(tensors.size());
  std::vector<char> ready(tensors.size(), 0);
  for (int32_t i = 0; i < count; ++i) {
    const TensorDesc& t = tensors[i];
    for (int64_t d : t.shape) {
      if (d < -1) fail("tensor '" + t.name + "' has a dim below -1");
    }
    if (!isValidDataType(static_cast<int32_t>(t.dtype)))
      fail("tensor '" + t.name + "' has an unknown data type");
    if (t.constant >= 0) {
      for (int64_t d : t.shape) {
        if (d < 0) fail("constant tensor '" + t.name + "' has a dynamic dim");
      }
      if (t.constant >= static_cast<int32_t>(weights.size()))
        fail("tensor '" + t.name + "' points at missing weights");
      const int64_t expect = shapeBytes(t.shape, t.dtype);
      if (static_cast<int64_t>(weights[t.constant].size()) != expect) {
        fail("weights of '" + t.name + "' have " + std::to_string(weights[t.constant].size()) +
             " bytes, expected " + std::to_string(expect));
      }
      ready[i] = 1;
    }
  }
  for (int32_t in : inputs) {
    if (in < 0 || in >= count) fail("a network input index is out of range");
    if (tensors[in].constant >= 0) fail("network input '" + tensors[in].name + "' is a constant");
    ready[in] = 1;
  }
  for (const LayerDesc& l : layers) {
    for (int32_t in : l.inputs) {
      if (in == -1) continue;
      if (in < -1 || in >= count) fail("layer '" + l.name + "' reads a tensor index out of range");
      if (!ready[in])
        fail("layer '" + l.name + "' reads '" + tensors[in].name + "' before it is produced");
    }
    for (const auto& [tensor, value] : l.guards) {
      (void)value;
      if (tensor < 0 || tensor >= count || !ready[tensor]) {
        fail("layer '" + l.name + "' has a guard on a tensor that is not produced before it");
      }
      if (tensors[tensor].dtype != DataType::kBool)
        fail("layer '" + l.name + "' has a guard on a non-bool tensor");
    }
    for (int32_t out : l.outputs) {
      if (out < 0 || out >= count)
        fail("layer '" + l.name + "' writes a tensor index out of range");
      if (ready[out])
        fail("tensor '" + tensors[out].name + "' is produced twice (by layer '" + l.name + "')");
      ready[out] = 1;
    }
  }
  if (outputs.empty()) fail("the network has no outputs: mark at least one");
  for (int32_t out : outputs) {
    if (out < 0 || out >= count) fail("a network output index is out of range");
    if (!ready[out]) fail("network output '" + tensors[out].name + "' is never produced");
  }
  for (const Profile& p : profiles) {
    for (const ProfileDims& d : p.inputs) {
      if (d.tensor < 0 || d.tensor >= count) fail("a profile names a tensor index out of range");
      const size_t rank = tensors[d.tensor].shape.size();
      if (d.min.size() != rank || d.opt.size() != rank || d.max.size() != rank) {
        fail("profile shapes of '" + tensors[d.tensor].name + "' do not match its rank " +
             std::to_string(rank));
      }
      if (d.minValues.size() != d.optValues.size() || d.optValues.size() != d.maxValues.size()) {
        fail("profile shape values of '" + tensors[d.tensor].name + "' differ in length");
      }
      for (size_t k = 0; k < d.minValues.size(); ++k) {
        if (!(d.minValues[k] <= d.optValues[k] && d.optValues[k] <= d.maxValues[k])) {
          fail("profile shape values of '" + tensors[d.tensor].name + "' need min <= opt <= max");
        }
      }
      for (size_t k = 0; k < rank; ++k) {
        if (!(0 <= d.min[k] && d.min[k] <= d.opt[k] && d.opt[k] <= d.max[k])) {
          fail("profile of '" + tensors[d.tensor].name + "' dim " + std::to_string(k) +
               " needs 0 <= min <= opt <= max");
        }
      }
    }
  }
}

}  // namespace kiln
