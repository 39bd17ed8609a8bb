// What an op implementation sees: its layer, its inputs (shape, type, and the data when it is
// known) and its outputs. Each op infers output shapes and runs; one registry maps ONNX op
// names to implementations (one file per op family in ops/).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "graph/network.h"
#include "kiln/error.h"
#include "kiln/kernels/scratch.h"

namespace kiln {

struct InputView {
  bool present = false;  // false for an omitted optional input
  const Dims* shape = nullptr;
  DataType dtype = DataType::kFloat32;
  const void* data = nullptr;  // always set when running; set while inferring only if known
};

struct OpContext {
  const LayerDesc& layer;
  std::vector<InputView> in;
  std::vector<Dims> outShapes;
  std::vector<DataType> outTypes;  // preset from the network, ops may refine
  std::vector<void*> out;          // set when running
  const void* prepared = nullptr;  // what the op's prepare() made when the engine loaded

  explicit OpContext(const LayerDesc& l) : layer(l) {}

  size_t inputCount() const { return in.size(); }
  bool has(size_t i) const { return i < in.size() && in[i].present; }
  const Dims& shape(size_t i) const;
  DataType dtype(size_t i) const {
    if (i >= in.size()) fail("input " + std::to_string(i) + " is required");
    return in[i].dtype;
  }
  const float* f32(size_t i) const;
  float* outF32(size_t i) const;
  // The integer values of input i (int32 or int64), which must be known: shape-like inputs
  // (Reshape's shape, Slice's starts...) are constants or computed from shapes.
  std::vector<int64_t> ints(size_t i) const;
  std::vector<float> floats(size_t i) const;
  // Throws kInvalidModel naming the layer.
  [[noreturn]] void fail(const std::string& message) const;
  void require(bool condition, const std::string& message) const {
    if (!condition) fail(message);
  }
  // Checks that every present input is float32 (the dtype the current kernels handle).
  void requireFloatInputs(std::initializer_list<size_t> which) const;
};

struct OpImpl {
  // Sets ctx.outShapes (and outTypes when they depend on inputs).
  void (*infer)(OpContext& ctx);
  // Computes the outputs into ctx.out.
  void (*run)(OpContext& ctx);
  // False for ops that read only input shapes (Shape, Size): their values are known while
  // shapes are inferred.
  bool readsInputData = true;
  // Optional: work done once when an engine loads, shared by every context (e.g. packing
  // constant weights into the GEMM's panel layout). Returns null when there is nothing to do.
  std::shared_ptr<const void> (*prepare)(const LayerDesc& layer, const Network& network) = nullptr;
  // Optional: the kernel scratch one thread may ask for while running the layer at ctx's
  // shapes (ctx.prepared set, no data), so the memory plan counts it. Null: none.
  void (*scratch)(const OpContext& ctx, kernels::ScratchNeed* need) = nullptr;
  // Optional: the tactics (implementations) that can run the layer at ctx's input shapes, the
  // heuristic's choice first; empty when there is no choice to make. prepare() honours
  // layer.tactic (see src/tactics). Input data may be absent (only constants are known).
  std::vector<std::string> (*tactics)(const OpContext& ctx) = nullptr;
};

// nullptr when the op is not implemented.
const OpImpl* findOp(const std::string& name);
std::vector<std::string> supportedOps();

// Normalises a possibly negative axis against `rank`; throws kInvalidModel when out of range.
int64_t normalizeAxis(const OpContext& ctx, int64_t axis, int64_t rank);

}  // namespace kiln
