// Which layers a cuda context refuses, judged from the network alone (no GPU needed): built
// only with the cuda device.
#include <string>

#include "engine/cuda/cuda_ops.h"
#include "engine/cuda/cuda_precision.h"
#include "engine/cuda/cuda_runner.h"
#include "kiln_test.h"

using namespace kiln;

namespace {

AttrValue ints(std::vector<int64_t> v) {
  AttrValue a;
  a.kind = AttrValue::Kind::kInts;
  a.ints = std::move(v);
  return a;
}

bool listed(const std::vector<std::string>& list, const std::string& layer) {
  for (const std::string& entry : list)
    if (entry.rfind(layer + " (", 0) == 0) return true;
  return false;
}

// x -> Conv(pads) -> Relu -> MaxPool -> Softmax
Network sample(std::vector<int64_t> pads, size_t maxPoolOutputs) {
  Network n;
  n.tensors = {
      {"x", DataType::kFloat32, {1, 1, 5, 5}, -1}, {"w", DataType::kFloat32, {2, 1, 3, 3}, 0},
      {"c", DataType::kFloat32, {1, 2, 5, 5}, -1}, {"r", DataType::kFloat32, {1, 2, 5, 5}, -1},
      {"p", DataType::kFloat32, {1, 2, 2, 2}, -1}, {"i", DataType::kInt64, {1, 2, 2, 2}, -1},
      {"y", DataType::kFloat32, {1, 2, 2, 2}, -1}};
  n.weights = {std::vector<uint8_t>(2 * 9 * 4, 0)};
  LayerDesc conv{"conv", "Conv", {0, 1}, {2}, {{"pads", ints(pads)}}, {}};
  LayerDesc relu{"relu", "Relu", {2}, {3}, {}, {}};
  LayerDesc pool{"pool", "MaxPool", {3}, {4}, {{"kernel_shape", ints({2, 2})}}, {}};
  if (maxPoolOutputs == 2) pool.outputs.push_back(5);
  LayerDesc softmax{"softmax", "Softmax", {4}, {6}, {}, {}};
  n.layers = {conv, relu, pool, softmax};
  n.inputs = {0};
  n.outputs = {6};
  return n;
}

TEST(lists_ops_without_a_cuda_kernel) {
  const std::vector<std::string> missing = cudaUnsupportedLayers(sample({1, 1, 1, 1}, 1));
  CHECK(listed(missing, "softmax"));
  CHECK(!listed(missing, "relu"));
  CHECK(!listed(missing, "pool"));
}

TEST(lists_attributes_the_cuda_kernels_lack) {
  const std::vector<std::string> missing = cudaUnsupportedLayers(sample({0, 0, 1, 1}, 2));
  CHECK(listed(missing, "conv"));  // asymmetric padding (or no cuDNN in this build)
  CHECK(listed(missing, "pool"));  // MaxPool's Indices output
  CHECK(!listed(missing, "relu"));
}

// x -> Conv(w, b) -> Relu -> MaxPool -> Flatten -> Gemm(w2) -> y, plus Add(pool, constant):
// the weights stored as float16 by the builder when `half`.
Network halfSample(bool half) {
  Network n;
  n.tensors = {
      {"x", DataType::kFloat32, {1, 8, 4, 4}, -1}, {"w", DataType::kFloat32, {8, 8, 3, 3}, 0},
      {"b", DataType::kFloat32, {8}, 1},           {"c", DataType::kFloat32, {1, 8, 4, 4}, -1},
      {"r", DataType::kFloat32, {1, 8, 4, 4}, -1}, {"p", DataType::kFloat32, {1, 8, 2, 2}, -1},
      {"f", DataType::kFloat32, {1, 32}, -1},      {"w2", DataType::kFloat32, {32, 4}, 2},
      {"y", DataType::kFloat32, {1, 4}, -1},       {"k", DataType::kFloat32, {1}, 3},
      {"s", DataType::kFloat32, {1, 8, 2, 2}, -1}};
  n.tensors[1].halfStored = n.tensors[2].halfStored = n.tensors[7].halfStored = half;
  n.weights = {std::vector<uint8_t>(8 * 8 * 9 * 4), std::vector<uint8_t>(8 * 4),
               std::vector<uint8_t>(32 * 4 * 4), std::vector<uint8_t>(4)};
  n.layers = {{"conv", "Conv", {0, 1, 2}, {3}, {{"pads", ints({1, 1, 1, 1})}}, {}},
              {"relu", "Relu", {3}, {4}, {}, {}},
              {"pool", "MaxPool", {4}, {5}, {{"kernel_shape", ints({2, 2})}}, {}},
              {"flatten", "Flatten", {5}, {6}, {}, {}},
              {"gemm", "Gemm", {6, 7}, {8}, {}, {}},
              {"add", "Add", {5, 9}, {10}, {}, {}}};
  n.inputs = {0};
  n.outputs = {8, 10};
  return n;
}

TEST(fp16_layers_keep_half_activations_between_them) {
  if (cuda::findCudaOp("Conv") == nullptr || cuda::findCudaOp("Gemm") == nullptr) return;
  using cuda::Storage;
  const cuda::PrecisionPlan p = cuda::planPrecision(halfSample(true));
  CHECK(p.tensors[0] == Storage::kFloat);     // the input stays as the plan says
  CHECK(p.tensors[3] == Storage::kHalfNhwc);  // conv, relu, pool: half NHWC
  CHECK(p.tensors[4] == Storage::kHalfNhwc);
  CHECK(p.tensors[5] == Storage::kHalfNhwc);
  CHECK(p.tensors[6] == Storage::kHalf);   // a copy keeps NCHW order
  CHECK(p.tensors[8] == Storage::kFloat);  // an output: the GEMM writes float32 itself
  CHECK(p.layers[4].out[0] == Storage::kFloat);
  CHECK(p.tensors[10] == Storage::kFloat);  // a float32 constant operand keeps Add in FP32
  CHECK(p.layers[5].in[0] == Storage::kFloat);
  CHECK(p.layers[0].in[0] == Storage::kHalfNhwc);  // the input converted at the boundary
  CHECK(p.layers[0].in[1] == Storage::kHalfNhwc);  // weights KRSC
  CHECK(p.layers[0].in[2] == Storage::kHalf);      // the bias, a vector
  CHECK(p.layers[0].nhwc && p.layers[2].nhwc && !p.layers[3].nhwc);
  CHECK(p.layers[3].in[0] == Storage::kHalf);
}

TEST(fp32_engines_stay_fp32) {
  const cuda::PrecisionPlan p = cuda::planPrecision(halfSample(false));
  for (cuda::Storage s : p.tensors) CHECK(s == cuda::Storage::kFloat);
  for (const cuda::LayerStorage& l : p.layers) CHECK(!l.nhwc);
}

AttrValue text(const std::string& v) {
  AttrValue a;
  a.kind = AttrValue::Kind::kString;
  a.s = v;
  return a;
}

// x -> QuantizeLinear -> QLinearConv(+activation) -> MaxPool (8-bit) -> DequantizeLinear -> y,
// with the given weight zero point bytes (one per output channel).
Network int8Sample(std::vector<uint8_t> weightZero, const std::string& activation) {
  Network n;
  n.tensors = {{"x", DataType::kFloat32, {1, 2, 4, 4}, -1},
               {"s", DataType::kFloat32, {}, 0},
               {"z", DataType::kInt8, {}, 1},
               {"q", DataType::kInt8, {1, 2, 4, 4}, -1},
               {"w", DataType::kInt8, {2, 2, 3, 3}, 2},
               {"ws", DataType::kFloat32, {2}, 3},
               {"wz", DataType::kInt8, {2}, 4},
               {"c", DataType::kInt8, {1, 2, 4, 4}, -1},
               {"p", DataType::kInt8, {1, 2, 2, 2}, -1},
               {"y", DataType::kFloat32, {1, 2, 2, 2}, -1}};
  n.weights = {std::vector<uint8_t>(4), std::vector<uint8_t>(1), std::vector<uint8_t>(2 * 2 * 9),
               std::vector<uint8_t>(8), std::move(weightZero)};
  LayerDesc conv{
      "conv", "QLinearConv", {3, 1, 2, 4, 5, 6, 1, 2}, {7}, {{"pads", ints({1, 1, 1, 1})}}, {}};
  if (!activation.empty()) conv.attrs["activation"] = text(activation);
  n.layers = {{"quantize", "QuantizeLinear", {0, 1, 2}, {3}, {}, {}},
              conv,
              {"pool", "MaxPool", {7}, {8}, {{"kernel_shape", ints({2, 2})}}, {}},
              {"dequantize", "DequantizeLinear", {8, 1, 2}, {9}, {}, {}}};
  n.inputs = {0};
  n.outputs = {9};
  return n;
}

TEST(int8_layers_run_on_cuda) { CHECK(cudaUnsupportedLayers(int8Sample({0, 0}, "Relu")).empty()); }

TEST(int8_convolutions_the_kernel_lacks_are_listed) {
  // A non-zero weight zero point would need a per-pixel correction; the builder fuses only Relu.
  CHECK(listed(cudaUnsupportedLayers(int8Sample({0, 3}, "")), "conv"));
  CHECK(listed(cudaUnsupportedLayers(int8Sample({0, 0}, "Clip")), "conv"));
  CHECK(!listed(cudaUnsupportedLayers(int8Sample({0, 3}, "")), "pool"));
}

}  // namespace
