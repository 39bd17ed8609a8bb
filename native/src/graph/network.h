// The layer IR the builder hands to the native core: tensors (with constant weights), layers
// with ONNX-style op names and attributes, IO and optimization profiles. Plans store exactly
// this, so building and loading share one description.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kiln/dtype.h"

namespace kiln {

// A dim of -1 is dynamic: fixed per execution by the input shapes inside a profile.
using Dims = std::vector<int64_t>;

struct TensorDesc {
  std::string name;
  DataType dtype = DataType::kFloat32;
  Dims shape;             // as declared; activations may have -1 dims
  int32_t constant = -1;  // index into Network::weights, or -1 for a computed tensor
  // Not in plans: set when an engine loads for a float32 constant expanded from the plan's
  // float16 weights (engine/half_weights.h), the builder's mark of an FP16 layer.
  bool halfStored = false;
};

struct AttrValue {
  enum class Kind : uint8_t { kInt = 0, kFloat = 1, kInts = 2, kFloats = 3, kString = 4 };
  Kind kind = Kind::kInt;
  int64_t i = 0;
  double f = 0;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::string s;
};

struct LayerDesc {
  std::string name;
  std::string op;               // "Conv", "Gemm", ... (ONNX op names)
  std::vector<int32_t> inputs;  // tensor indices; -1 marks an omitted optional input
  std::vector<int32_t> outputs;
  std::map<std::string, AttrValue> attrs;
  // The layer runs only when every guard's bool tensor holds the given value: the branches of
  // an ONNX If, flattened into the network (like TensorRT's IIfConditional).
  std::vector<std::pair<int32_t, bool>> guards;
  // The implementation the builder chose for this layer by timing (e.g. "conv.winograd"), or
  // empty: the op then picks by its heuristic when the engine loads.
  std::string tactic = {};

  int64_t attrInt(const std::string& key, int64_t fallback) const;
  double attrFloat(const std::string& key, double fallback) const;
  std::vector<int64_t> attrInts(const std::string& key, std::vector<int64_t> fallback = {}) const;
  std::string attrString(const std::string& key, const std::string& fallback) const;
};

struct ProfileDims {
  int32_t tensor = 0;  // a network input
  Dims min, opt, max;
  // For inputs whose values steer shapes or branches (TensorRT's shape values): the values the
  // build checks at min / opt / max. Empty when the input has none.
  std::vector<int64_t> minValues, optValues, maxValues;
};

struct Profile {
  std::vector<ProfileDims> inputs;
};

struct Network {
  std::vector<TensorDesc> tensors;
  std::vector<LayerDesc> layers;  // in execution (topological) order
  std::vector<int32_t> inputs;
  std::vector<int32_t> outputs;
  std::vector<Profile> profiles;
  std::vector<std::vector<uint8_t>> weights;

  // Throws kInvalidModel (or kInvalidPlan when `fromPlan`) on dangling indices, layers that read
  // tensors before they are produced, tensors produced twice, weights of the wrong size.
  void validate(bool fromPlan) const;
};

// Element count of a fully known shape; throws kInvalidArgument on negative dims or overflow.
int64_t shapeElements(const Dims& dims);
// Bytes of a tensor of that shape and type. Throws kOutOfMemory above 2^48 bytes (more than any
// machine holds), which also keeps sums of tensor sizes far from overflowing.
int64_t shapeBytes(const Dims& dims, DataType type);
std::string formatDims(const Dims& dims);

}  // namespace kiln
