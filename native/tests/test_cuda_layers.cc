// Which layers a cuda context refuses, judged from the network alone (no GPU needed): built
// only with the cuda device.
#include <string>

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

}  // namespace
