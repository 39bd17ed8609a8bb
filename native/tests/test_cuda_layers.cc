// Which layers a cuda context refuses and how FP16 layers store their tensors, judged from the
// network alone (no GPU needed), and, where a GPU is present, the cuda layers of transformer
// networks against the cpu kernels: built only with the cuda device.
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <map>
#include <random>
#include <stdexcept>
#include <string>

#include "engine/cuda/cuda_ops.h"
#include "engine/cuda/cuda_precision.h"
#include "engine/cuda/cuda_runner.h"
#include "engine/op.h"
#include "kiln/kernels/norm.h"
#include "kiln/kernels/softmax.h"
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

// x -> Conv(pads) -> Relu -> MaxPool -> MeanVarianceNormalization
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
  LayerDesc mvn{"mvn", "MeanVarianceNormalization", {4}, {6}, {}, {}};
  n.layers = {conv, relu, pool, mvn};
  n.inputs = {0};
  n.outputs = {6};
  return n;
}

TEST(lists_ops_without_a_cuda_kernel) {
  const std::vector<std::string> missing = cudaUnsupportedLayers(sample({1, 1, 1, 1}, 1));
  CHECK(listed(missing, "mvn"));
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

// x -> QuantizeLinear -> QLinearConv (64 -> 8 channels) -> QLinearAdd (with itself) -> MaxPool ->
// QLinearConv (8 -> 6 channels) -> DequantizeLinear -> y, uint8 activations.
Network int8NhwcSample() {
  Network n;
  n.tensors = {{"x", DataType::kFloat32, {1, 64, 4, 4}, -1},
               {"s", DataType::kFloat32, {}, 0},
               {"z", DataType::kUInt8, {}, 1},
               {"q", DataType::kUInt8, {1, 64, 4, 4}, -1},
               {"w", DataType::kInt8, {8, 64, 3, 3}, 2},
               {"wz", DataType::kInt8, {}, 3},
               {"c", DataType::kUInt8, {1, 8, 4, 4}, -1},
               {"a", DataType::kUInt8, {1, 8, 4, 4}, -1},
               {"p", DataType::kUInt8, {1, 8, 2, 2}, -1},
               {"w2", DataType::kInt8, {6, 8, 1, 1}, 4},
               {"c2", DataType::kUInt8, {1, 6, 2, 2}, -1},
               {"y", DataType::kFloat32, {1, 6, 2, 2}, -1}};
  n.weights = {std::vector<uint8_t>(4), std::vector<uint8_t>(1), std::vector<uint8_t>(8 * 64 * 9),
               std::vector<uint8_t>(1), std::vector<uint8_t>(6 * 8)};
  n.layers = {
      {"quantize", "QuantizeLinear", {0, 1, 2}, {3}, {}, {}},
      {"conv", "QLinearConv", {3, 1, 2, 4, 1, 5, 1, 2}, {6}, {{"pads", ints({1, 1, 1, 1})}}, {}},
      {"add", "QLinearAdd", {6, 1, 2, 6, 1, 2, 1, 2}, {7}, {}, {}},
      {"pool",
       "MaxPool",
       {7},
       {8},
       {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}},
       {}},
      {"conv2", "QLinearConv", {8, 1, 2, 9, 1, 5, 1, 2}, {10}, {}, {}},
      {"dequantize", "DequantizeLinear", {10, 1, 2}, {11}, {}, {}}};
  n.inputs = {0};
  n.outputs = {11};
  return n;
}

TEST(int8_nhwc_convolutions_keep_nhwc_activations_between_them) {
  using cuda::Storage;
  const Network n = int8NhwcSample();
  CHECK(cudaUnsupportedLayers(n).empty());
  const cuda::PrecisionPlan p = cuda::planPrecision(n);
  CHECK(p.tensors[3] == Storage::kFloat);  // QuantizeLinear writes NCHW ...
  CHECK(p.layers[1].nhwc && p.layers[1].in[0] == Storage::kByteNhwc);  // ... the conv reads NHWC
  CHECK(p.tensors[6] == Storage::kByteNhwc);
  CHECK(p.layers[2].nhwc && p.tensors[7] == Storage::kByteNhwc);     // QLinearAdd follows
  CHECK(p.layers[2].in[1] == Storage::kFloat);                       // (its scale stays as it is)
  CHECK(p.layers[3].nhwc && p.tensors[8] == Storage::kByteNhwc);     // and the 8-bit MaxPool
  CHECK(!p.layers[4].nhwc && p.layers[4].in[0] == Storage::kFloat);  // 6 channels: NCHW
  CHECK(p.tensors[10] == Storage::kFloat && p.tensors[11] == Storage::kFloat);
}

AttrValue intAttr(int64_t v) {
  AttrValue a;
  a.kind = AttrValue::Kind::kInt;
  a.i = v;
  return a;
}

// x -> Shape -> Gather -> Unsqueeze -> Concat -> Reshape(x), as exported transformers compute
// their reshapes: the shape arithmetic is computed on the host, only Reshape runs on cuda.
TEST(shape_arithmetic_needs_no_cuda_kernel) {
  Network n;
  n.tensors = {{"x", DataType::kFloat32, {-1, 4, 6}, -1}, {"s", DataType::kInt64, {3}, -1},
               {"i0", DataType::kInt64, {}, 0},           {"b", DataType::kInt64, {}, -1},
               {"ax", DataType::kInt64, {1}, 1},          {"b1", DataType::kInt64, {1}, -1},
               {"rest", DataType::kInt64, {2}, 2},        {"shape", DataType::kInt64, {3}, -1},
               {"y", DataType::kFloat32, {-1, 2, 12}, -1}};
  n.weights = {std::vector<uint8_t>(8, 0), std::vector<uint8_t>(8, 0), std::vector<uint8_t>(16, 0)};
  n.layers = {{"shape", "Shape", {0}, {1}, {}, {}},
              {"gather", "Gather", {1, 2}, {3}, {}, {}},
              {"unsqueeze", "Unsqueeze", {3, 4}, {5}, {}, {}},
              {"concat", "Concat", {5, 6}, {7}, {{"axis", intAttr(0)}}, {}},
              {"reshape", "Reshape", {0, 7}, {8}, {}, {}}};
  n.inputs = {0};
  n.outputs = {8};
  CHECK(cudaUnsupportedLayers(n).empty());
  // The same Gather on activation data needs the kernel, which refuses a dynamic axis.
  n.layers[1].inputs = {0, 2};
  n.tensors[3].shape = {-1, 6};
  CHECK(listed(cudaUnsupportedLayers(n), "gather"));
}

// MatMul(half weights) -> LayerNormalization(scale, bias): the norm runs in half, reading its
// float32 parameters as they are.
TEST(fp16_layer_norm_reads_float_parameters) {
  if (cuda::findCudaOp("MatMul") == nullptr) return;
  Network n;
  n.tensors = {{"x", DataType::kFloat32, {1, 4, 8}, -1}, {"w", DataType::kFloat32, {8, 8}, 0},
               {"m", DataType::kFloat32, {1, 4, 8}, -1}, {"g", DataType::kFloat32, {8}, 1},
               {"b", DataType::kFloat32, {8}, 2},        {"n", DataType::kFloat32, {1, 4, 8}, -1},
               {"y", DataType::kFloat32, {1, 4, 8}, -1}};
  n.tensors[1].halfStored = true;
  n.weights = {std::vector<uint8_t>(8 * 8 * 4), std::vector<uint8_t>(32), std::vector<uint8_t>(32)};
  n.layers = {{"mm", "MatMul", {0, 1}, {2}, {}, {}},
              {"ln", "LayerNormalization", {2, 3, 4}, {5}, {}, {}},
              {"softmax", "Softmax", {5}, {6}, {}, {}}};
  n.inputs = {0};
  n.outputs = {6};
  using cuda::Storage;
  const cuda::PrecisionPlan p = cuda::planPrecision(n);
  CHECK(p.layers[1].in[0] == Storage::kHalf);
  CHECK(p.layers[1].in[1] == Storage::kFloat);
  CHECK(p.layers[1].in[2] == Storage::kFloat);
  CHECK(p.tensors[5] == Storage::kHalf);
  CHECK(p.layers[2].in[0] == Storage::kHalf);
  CHECK(p.tensors[6] == Storage::kFloat);  // the network's output
}

// ---- on a GPU: the cuda layers against the cpu kernels or a direct reference ----

bool haveGpu() {
  int count = 0;
  const bool ok = cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
  cudaGetLastError();
  if (!ok) std::fprintf(stderr, "note: no CUDA GPU here, GPU cases not run\n");
  return ok;
}

struct HostTensor {
  Dims shape;
  std::vector<float> data;
  bool param = false;  // stays float32 in a half layer (LayerNormalization's scale and bias)
};

std::vector<float> randoms(size_t count, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(count);
  for (float& x : v) x = dist(rng);
  return v;
}

// The values `v` takes in half precision.
std::vector<float> roundedToHalf(std::vector<float> v) {
  for (float& x : v) x = __half2float(__float2half_rn(x));
  return v;
}

// Runs the cuda op of `layer` on `inputs` (float32, or float16 when `half`) and returns its
// outputs as float32.
std::vector<std::vector<float>> runOnGpu(const LayerDesc& layer,
                                         const std::vector<HostTensor>& inputs,
                                         const std::vector<Dims>& outShapes, bool half) {
  const cuda::CudaOp* op = cuda::findCudaOp(layer.op);
  if (op == nullptr) throw std::runtime_error("no cuda op " + layer.op);
  cudaStream_t stream = nullptr;
  cudaStreamCreate(&stream);
  std::vector<void*> buffers;
  const auto upload = [&](const std::vector<float>& v, bool asHalf) {
    void* p = nullptr;
    std::vector<uint8_t> bytes(v.size() * (asHalf ? 2 : 4));
    if (asHalf) {
      for (size_t i = 0; i < v.size(); ++i) {
        const __half h = __float2half_rn(v[i]);
        std::memcpy(bytes.data() + 2 * i, &h, 2);
      }
    } else {
      std::memcpy(bytes.data(), v.data(), bytes.size());
    }
    cudaMalloc(&p, bytes.size() + 1);
    cudaMemcpy(p, bytes.data(), bytes.size(), cudaMemcpyHostToDevice);
    buffers.push_back(p);
    return p;
  };
  OpContext ctx(layer);
  for (const HostTensor& t : inputs) {
    InputView v;
    v.present = true;
    v.shape = &t.shape;
    const bool h = half && !t.param;
    v.dtype = h ? DataType::kFloat16 : DataType::kFloat32;
    v.data = upload(t.data, h);
    ctx.in.push_back(v);
  }
  for (const Dims& d : outShapes) {
    ctx.outShapes.push_back(d);
    ctx.outTypes.push_back(half ? DataType::kFloat16 : DataType::kFloat32);
    ctx.out.push_back(upload(std::vector<float>(static_cast<size_t>(shapeElements(d)), NAN), half));
  }
  cuda::Launch launch;
  launch.stream = stream;
  op->run(ctx, launch);
  std::vector<std::vector<float>> results;
  for (size_t o = 0; o < outShapes.size(); ++o) {
    const size_t count = static_cast<size_t>(shapeElements(outShapes[o]));
    std::vector<uint8_t> bytes(count * (half ? 2 : 4));
    cudaMemcpyAsync(bytes.data(), ctx.out[o], bytes.size(), cudaMemcpyDeviceToHost, stream);
    cudaStreamSynchronize(stream);
    std::vector<float> v(count);
    for (size_t i = 0; i < count; ++i) {
      if (half) {
        __half h;
        std::memcpy(&h, bytes.data() + 2 * i, 2);
        v[i] = __half2float(h);
      } else {
        std::memcpy(&v[i], bytes.data() + 4 * i, 4);
      }
    }
    results.push_back(std::move(v));
  }
  const cudaError_t status = cudaStreamSynchronize(stream);
  for (void* p : buffers) cudaFree(p);
  cudaStreamDestroy(stream);
  if (status != cudaSuccess) throw std::runtime_error(cudaGetErrorString(status));
  return results;
}

// max |a - b| / (max |b| + tiny): NaN (an element never written) fails every bound.
double maxRelError(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double err = 0, scale = 1e-30;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs(static_cast<double>(a[i]) - b[i]);
    err = std::isnan(d) ? INFINITY : std::max(err, d);
    scale = std::max(scale, std::fabs(static_cast<double>(b[i])));
  }
  return err / scale;
}

TEST(gpu_layer_norm_matches_cpu) {
  if (!haveGpu()) return;
  // 192 columns (DeiT-tiny) and 37 (fewer than a block's threads); an offset mean tests the
  // two-pass variance.
  for (const int64_t cols : {192, 37}) {
    const int64_t rows = 9;
    std::vector<float> x = randoms(rows * cols, 1, 2.0f);
    for (float& v : x) v += 30.0f;
    const std::vector<float> scale = randoms(cols, 2), bias = randoms(cols, 3);
    LayerDesc layer{"ln", "LayerNormalization", {0, 1, 2}, {3}, {{"epsilon", AttrValue{}}}, {}};
    layer.attrs["epsilon"].kind = AttrValue::Kind::kFloat;
    layer.attrs["epsilon"].f = 1e-6;
    for (const bool half : {false, true}) {
      const std::vector<float> in = half ? roundedToHalf(x) : x;
      std::vector<float> want(x.size());
      kernels::layerNorm(rows, cols, in.data(), scale.data(), bias.data(), 1e-6f, want.data());
      const auto got =
          runOnGpu(layer, {{{3, rows / 3, cols}, x}, {{cols}, scale, true}, {{cols}, bias, true}},
                   {{3, rows / 3, cols}}, half);
      // float32: summation order only; half: the output's rounding (2^-11 relative).
      CHECK(maxRelError(got[0], want) < (half ? 2e-3 : 2e-6));
    }
  }
}

TEST(gpu_softmax_matches_cpu) {
  if (!haveGpu()) return;
  // The last axis (attention scores, 197 wide), then a middle axis (inner 5).
  const std::vector<std::pair<Dims, int64_t>> cases = {{{2, 3, 197}, -1}, {{2, 7, 5}, 1}};
  for (const auto& [shape, axis] : cases) {
    const std::vector<float> x = randoms(static_cast<size_t>(shapeElements(shape)), 4, 3.0f);
    LayerDesc layer{"softmax", "Softmax", {0}, {1}, {{"axis", intAttr(axis)}}, {}};
    const int64_t a = axis < 0 ? static_cast<int64_t>(shape.size()) + axis : axis;
    const int64_t outer = shapeElements(Dims(shape.begin(), shape.begin() + a));
    const int64_t inner = shapeElements(Dims(shape.begin() + a + 1, shape.end()));
    for (const bool half : {false, true}) {
      const std::vector<float> in = half ? roundedToHalf(x) : x;
      std::vector<float> want(x.size());
      kernels::softmax(outer, shape[a], inner, in.data(), want.data());
      const auto got = runOnGpu(layer, {{shape, x}}, {shape}, half);
      CHECK(maxRelError(got[0], want) < (half ? 2e-3 : 1e-6));
    }
  }
}

TEST(gpu_transpose_concat_split_expand_move_elements) {
  if (!haveGpu()) return;
  const Dims xs = {2, 3, 4, 5};
  std::vector<float> x(120);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);  // exact in half too
  for (const bool half : {false, true}) {
    // Transpose perm (0, 2, 3, 1): y[a][c][d][b] = x[a][b][c][d].
    LayerDesc transpose{"t", "Transpose", {0}, {1}, {{"perm", ints({0, 2, 3, 1})}}, {}};
    const auto t = runOnGpu(transpose, {{xs, x}}, {{2, 4, 5, 3}}, half)[0];
    bool same = true;
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 3; ++b)
        for (int c = 0; c < 4; ++c)
          for (int d = 0; d < 5; ++d)
            same = same && t[((a * 4 + c) * 5 + d) * 3 + b] == x[((a * 3 + b) * 4 + c) * 5 + d];
    CHECK(same);
    // Split axis 1 into 1 + 2, then Concat them back in the other order.
    LayerDesc split{"s", "Split", {0}, {1, 2}, {{"axis", intAttr(1)}}, {}};
    const auto parts = runOnGpu(split, {{xs, x}}, {{2, 1, 4, 5}, {2, 2, 4, 5}}, half);
    CHECK(parts[0][20] == x[60] && parts[1][0] == x[20] && parts[1][40] == x[80]);
    LayerDesc concat{"c", "Concat", {0, 1}, {2}, {{"axis", intAttr(1)}}, {}};
    const auto joined =
        runOnGpu(concat, {{{2, 2, 4, 5}, parts[1]}, {{2, 1, 4, 5}, parts[0]}}, {xs}, half)[0];
    bool rotated = true;
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 3; ++b)
        for (int r = 0; r < 20; ++r)
          rotated = rotated && joined[(a * 3 + b) * 20 + r] == x[(a * 3 + (b + 1) % 3) * 20 + r];
    CHECK(rotated);
    // Expand [3, 1] to [2, 3, 4].
    LayerDesc expand{"e", "Expand", {0}, {1}, {}, {}};
    const auto e = runOnGpu(expand, {{{3, 1}, {1, 2, 3}}}, {{2, 3, 4}}, half)[0];
    CHECK(e.size() == 24 && e[0] == 1 && e[5] == 2 && e[23] == 3 && e[12] == 1);
  }
}

TEST(gpu_gather_takes_rows_by_constant_indices) {
  if (!haveGpu()) return;
  // x [2, 5, 3] (values = their offsets) along axis 1 at indices {4, -5, 2}.
  std::vector<float> x(30);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  const int64_t indices[3] = {4, -5, 2};
  void *dx = nullptr, *di = nullptr, *dy = nullptr;
  cudaMalloc(&dx, 120);
  cudaMalloc(&di, sizeof(indices));
  cudaMalloc(&dy, 18 * 4);
  cudaMemcpy(dx, x.data(), 120, cudaMemcpyHostToDevice);
  cudaMemcpy(di, indices, sizeof(indices), cudaMemcpyHostToDevice);
  cuda::GatherShape s;
  s.outer = 2, s.axisDim = 5, s.count = 3, s.inner = 3;
  CHECK(cuda::gather(s, dx, di, dy, nullptr) == cudaSuccess);
  std::vector<float> y(18);
  cudaMemcpy(y.data(), dy, 72, cudaMemcpyDeviceToHost);
  bool same = true;
  for (int o = 0; o < 2; ++o)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) {
        const int64_t row = indices[j] < 0 ? indices[j] + 5 : indices[j];
        same = same && y[(o * 3 + j) * 3 + k] == x[(o * 5 + row) * 3 + k];
      }
  CHECK(same);
  cudaFree(dx);
  cudaFree(di);
  cudaFree(dy);
}

// NHWC half pooling (the eight-channel kernel when channels % 8 == 0, else the generic one)
// against a naive host reference on the same half values: max exactly, average within the
// output's rounding.
TEST(gpu_nhwc_half_pooling_matches_a_naive_reference) {
  if (!haveGpu()) return;
  for (const int64_t channels : {16, 12}) {
    for (const bool max : {true, false}) {
      cuda::Pool2dParams p;
      p.batch = 2, p.channels = channels, p.inH = 9, p.inW = 7;
      p.kernelH = p.kernelW = 3, p.strideH = p.strideW = 2;
      p.padTop = p.padLeft = p.padBottom = 1, p.padRight = 0;
      p.outH = 5, p.outW = 3;
      p.max = max, p.countIncludePad = true, p.nhwc = true;
      const std::vector<float> x = roundedToHalf(randoms(2 * 9 * 7 * channels, 7, 3.0f));
      const size_t outCount = static_cast<size_t>(2 * 5 * 3 * channels);
      std::vector<__half> hx(x.size()), hy(outCount);
      for (size_t i = 0; i < x.size(); ++i) hx[i] = __float2half_rn(x[i]);
      void *dx = nullptr, *dy = nullptr;
      cudaMalloc(&dx, hx.size() * 2);
      cudaMalloc(&dy, hy.size() * 2);
      cudaMemcpy(dx, hx.data(), hx.size() * 2, cudaMemcpyHostToDevice);
      CHECK(cuda::pool2d(p, static_cast<const __half*>(dx), static_cast<__half*>(dy), nullptr) ==
            cudaSuccess);
      cudaMemcpy(hy.data(), dy, hy.size() * 2, cudaMemcpyDeviceToHost);
      cudaFree(dx);
      cudaFree(dy);
      double worst = 0;
      for (int64_t n = 0; n < 2; ++n)
        for (int64_t oh = 0; oh < 5; ++oh)
          for (int64_t ow = 0; ow < 3; ++ow)
            for (int64_t c = 0; c < channels; ++c) {
              double best = -1e30, sum = 0;
              for (int64_t kh = 0; kh < 3; ++kh)
                for (int64_t kw = 0; kw < 3; ++kw) {
                  const int64_t h = oh * 2 - 1 + kh, w = ow * 2 - 1 + kw;
                  if (h < 0 || h >= 9 || w < 0 || w >= 7) continue;
                  const double v = x[static_cast<size_t>(((n * 9 + h) * 7 + w) * channels + c)];
                  best = std::max(best, v);
                  sum += v;
                }
              // count_include_pad: windows inside the padded input (rows -1..9, cols -1..6).
              int64_t padded = 0;
              for (int64_t kh = 0; kh < 3; ++kh)
                for (int64_t kw = 0; kw < 3; ++kw)
                  if (oh * 2 - 1 + kh < 10 && ow * 2 - 1 + kw < 7) ++padded;
              const double want = max ? best : sum / static_cast<double>(padded);
              const double got =
                  __half2float(hy[static_cast<size_t>(((n * 5 + oh) * 3 + ow) * channels + c)]);
              worst = std::max(worst, std::fabs(got - want) / std::max(1.0, std::fabs(want)));
            }
      CHECK(max ? worst == 0 : worst < 2e-3);
    }
  }
}

// ---- the op coverage layers on a GPU, against the cpu op itself (engine/ops) ----

// A host tensor of any dtype; `present` false for an omitted optional input.
struct AnyTensor {
  Dims shape;
  DataType type = DataType::kFloat32;
  std::vector<uint8_t> bytes;
  bool present = true;
  bool param = false;  // a float32 parameter a half layer reads as float32 (BN's scale...)
};

template <typename T>
AnyTensor typed(Dims shape, DataType type, const std::vector<T>& values) {
  AnyTensor t{std::move(shape), type, std::vector<uint8_t>(values.size() * sizeof(T))};
  std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}
AnyTensor f32(Dims shape, const std::vector<float>& v) {
  return typed(std::move(shape), DataType::kFloat32, v);
}
AnyTensor i64(Dims shape, const std::vector<int64_t>& v) {
  return typed(std::move(shape), DataType::kInt64, v);
}
AnyTensor boolean(Dims shape, const std::vector<uint8_t>& v) {
  return typed(std::move(shape), DataType::kBool, v);
}
AnyTensor absent() { return AnyTensor{{}, DataType::kFloat32, {}, false}; }
AnyTensor param(AnyTensor t) {
  t.param = true;
  return t;
}

// Normal values of scale 2 after the edge values every float op must agree on (NaN, the
// infinities, signed zeros, rounding ties, +-1).
std::vector<float> withEdges(size_t count, unsigned seed) {
  std::vector<float> v = randoms(count, seed, 2.0f);
  const float edges[] = {NAN,  INFINITY, -INFINITY, 0.0f, -0.0f, 0.5f,
                         1.5f, 2.5f,     -2.5f,     1.0f, -1.0f};
  for (size_t i = 0; i < std::size(edges) && i < count; ++i) v[i] = edges[i];
  return v;
}

AnyTensor asHalf(const AnyTensor& t) {
  if (t.type != DataType::kFloat32 || t.param || !t.present) return t;
  std::vector<float> v(t.bytes.size() / 4);
  std::memcpy(v.data(), t.bytes.data(), t.bytes.size());
  return f32(t.shape, roundedToHalf(v));
}

LayerDesc layerOf(const std::string& op, size_t inputs, size_t outputs,
                  std::map<std::string, AttrValue> attrs = {}) {
  LayerDesc l{op, op, {}, {}, std::move(attrs), {}};
  for (size_t i = 0; i < inputs; ++i) l.inputs.push_back(static_cast<int32_t>(i));
  for (size_t o = 0; o < outputs; ++o) l.outputs.push_back(static_cast<int32_t>(inputs + o));
  return l;
}

AttrValue floatAttr(double v) {
  AttrValue a;
  a.kind = AttrValue::Kind::kFloat;
  a.f = v;
  return a;
}

// A tensor's host data, never null (an empty tensor's values are known too, as the shape
// pass keeps them).
const void* hostData(const AnyTensor& t) {
  static const uint8_t kNothing = 0;
  return t.bytes.empty() ? &kNothing : t.bytes.data();
}

// The cpu op (infer, then run) on host tensors.
std::vector<AnyTensor> runOnCpu(const LayerDesc& layer, const std::vector<AnyTensor>& inputs) {
  const OpImpl* op = findOp(layer.op);
  if (op == nullptr) throw std::runtime_error("no cpu op " + layer.op);
  OpContext ctx(layer);
  for (const AnyTensor& t : inputs) {
    InputView v;
    v.present = t.present;
    v.shape = t.present ? &t.shape : nullptr;
    v.dtype = t.type;
    v.data = t.present ? hostData(t) : nullptr;
    ctx.in.push_back(v);
  }
  ctx.outShapes.resize(layer.outputs.size());
  ctx.outTypes.assign(layer.outputs.size(), DataType::kFloat32);
  op->infer(ctx);
  std::vector<AnyTensor> outs;
  for (size_t o = 0; o < layer.outputs.size(); ++o)
    outs.push_back(
        {ctx.outShapes[o], ctx.outTypes[o],
         std::vector<uint8_t>(static_cast<size_t>(shapeBytes(ctx.outShapes[o], ctx.outTypes[o])))});
  for (AnyTensor& t : outs) ctx.out.push_back(t.bytes.data());
  op->run(ctx);
  return outs;
}

// The cuda op on the same inputs, the outputs shaped and typed as the cpu's; with `half` the
// float32 activations (not params) travel as float16 as in an FP16 engine, and come back as
// float32. Every input's host values are offered (Launch::host), as constants are.
std::vector<AnyTensor> runLayerOnGpu(const LayerDesc& layer, const std::vector<AnyTensor>& inputs,
                                     const std::vector<AnyTensor>& like, bool half) {
  const cuda::CudaOp* op = cuda::findCudaOp(layer.op);
  if (op == nullptr) throw std::runtime_error("no cuda op " + layer.op);
  cudaStream_t stream = nullptr;
  cudaStreamCreate(&stream);
  std::vector<void*> buffers;
  const auto toDevice = [&](const AnyTensor& t, bool asHalf) {
    std::vector<uint8_t> bytes = t.bytes;
    if (asHalf) {
      const size_t n = t.bytes.size() / 4;
      bytes.assign(n * 2, 0);
      for (size_t i = 0; i < n; ++i) {
        float f;
        std::memcpy(&f, t.bytes.data() + 4 * i, 4);
        const __half h = __float2half_rn(f);
        std::memcpy(bytes.data() + 2 * i, &h, 2);
      }
    }
    void* p = nullptr;
    cudaMalloc(&p, bytes.size() + 1);
    cudaMemcpy(p, bytes.data(), bytes.size(), cudaMemcpyHostToDevice);
    buffers.push_back(p);
    return p;
  };
  OpContext ctx(layer);
  cuda::Launch launch;
  launch.stream = stream;
  for (const AnyTensor& t : inputs) {
    InputView v;
    v.present = t.present;
    if (t.present) {
      const bool h = half && t.type == DataType::kFloat32 && !t.param;
      v.shape = &t.shape;
      v.dtype = h ? DataType::kFloat16 : t.type;
      v.data = toDevice(t, h);
    }
    ctx.in.push_back(v);
    launch.host.push_back(t.present ? hostData(t) : nullptr);
  }
  for (const AnyTensor& t : like) {
    const bool h = half && t.type == DataType::kFloat32;
    ctx.outShapes.push_back(t.shape);
    ctx.outTypes.push_back(h ? DataType::kFloat16 : t.type);
    AnyTensor poison = t;  // 0xff bytes: NaN floats, so an element never written shows
    std::fill(poison.bytes.begin(), poison.bytes.end(), 0xff);
    ctx.out.push_back(toDevice(poison, h));
  }
  op->run(ctx, launch);
  std::vector<AnyTensor> results;
  for (size_t o = 0; o < like.size(); ++o) {
    const bool h = ctx.outTypes[o] == DataType::kFloat16;
    AnyTensor r = like[o];
    std::vector<uint8_t> bytes(h ? r.bytes.size() / 2 : r.bytes.size());
    cudaMemcpy(bytes.data(), ctx.out[o], bytes.size(), cudaMemcpyDeviceToHost);
    if (h) {
      for (size_t i = 0; i < bytes.size() / 2; ++i) {
        __half v;
        std::memcpy(&v, bytes.data() + 2 * i, 2);
        const float f = __half2float(v);
        std::memcpy(r.bytes.data() + 4 * i, &f, 4);
      }
    } else {
      r.bytes = bytes;
    }
    results.push_back(std::move(r));
  }
  const cudaError_t status = cudaStreamSynchronize(stream);
  for (void* p : buffers) cudaFree(p);
  cudaStreamDestroy(stream);
  if (status != cudaSuccess) throw std::runtime_error(cudaGetErrorString(status));
  return results;
}

double valueAt(const AnyTensor& t, size_t i) {
  switch (t.type) {
    case DataType::kFloat32: {
      float f;
      std::memcpy(&f, t.bytes.data() + 4 * i, 4);
      return f;
    }
    case DataType::kInt64: {
      int64_t v;
      std::memcpy(&v, t.bytes.data() + 8 * i, 8);
      return static_cast<double>(v);
    }
    case DataType::kInt32: {
      int32_t v;
      std::memcpy(&v, t.bytes.data() + 4 * i, 4);
      return v;
    }
    case DataType::kInt8:
      return static_cast<int8_t>(t.bytes[i]);
    default:  // bool, uint8
      return t.bytes[i];
  }
}

// Every element within rel * |want| + abs of the cpu's (NaN where the cpu has NaN, the same
// infinity); integer and bool outputs exactly. Prints the first mismatch.
bool agrees(const std::string& what, const AnyTensor& got, const AnyTensor& want, double rel,
            double abs) {
  if (got.shape != want.shape || got.type != want.type || got.bytes.size() != want.bytes.size()) {
    std::fprintf(stderr, "%s: output shape or type differs\n", what.c_str());
    return false;
  }
  const size_t count = static_cast<size_t>(shapeElements(want.shape));
  const bool exact = want.type != DataType::kFloat32;
  for (size_t i = 0; i < count; ++i) {
    const double g = valueAt(got, i), w = valueAt(want, i);
    bool ok;
    if (std::isnan(w) || std::isinf(w))
      ok = std::isnan(w) ? std::isnan(g) : g == w;
    else
      ok = exact ? g == w : std::fabs(g - w) <= rel * std::fabs(w) + abs;
    if (!ok) {
      std::fprintf(stderr, "%s: element %zu is %.9g, the cpu's %.9g\n", what.c_str(), i, g, w);
      return false;
    }
  }
  return true;
}

// Runs `layer` on cpu and cuda (FP32, and FP16 when `halfToo`) and compares. FP32 within
// `rel` / `abs`; FP16 against the cpu on the half-rounded inputs within 2^-10 relative (the
// output's rounding to half, twice the 2^-11 bound) plus `halfAbs` (1e-4: half's spacing near
// its smallest normals) on top of the FP32 bound.
bool gpuMatchesCpu(const LayerDesc& layer, const std::vector<AnyTensor>& inputs, double rel,
                   double abs, bool halfToo = true, double halfAbs = 1e-4) {
  bool ok = true;
  for (const bool half : {false, true}) {
    if (half && !halfToo) continue;
    std::vector<AnyTensor> in = inputs;
    if (half)
      for (AnyTensor& t : in) t = asHalf(t);
    const std::vector<AnyTensor> want = runOnCpu(layer, in);
    const std::vector<AnyTensor> got = runLayerOnGpu(layer, in, want, half);
    for (size_t o = 0; o < want.size(); ++o) {
      const std::string what =
          layer.op + (half ? " fp16" : " fp32") + " output " + std::to_string(o);
      ok = agrees(what, got[o], want[o], half ? rel + 1.0 / 1024 : rel,
                  half ? abs + halfAbs : abs) &&
           ok;
    }
  }
  return ok;
}

TEST(gpu_unary_math_matches_cpu) {
  if (!haveGpu()) return;
  const AnyTensor x = f32({3, 5, 7}, withEdges(105, 11));
  // Exact on both devices: sign and rounding functions, one IEEE operation (correctly rounded
  // by both), or comparisons and selections.
  for (const char* op : {"Abs", "Neg", "Floor", "Ceil", "Round", "Sign", "Reciprocal", "Sqrt",
                         "Softsign", "ThresholdedRelu", "Shrink", "Relu"})
    CHECK(gpuMatchesCpu(layerOf(op, 1, 1), {x}, 0, 0));
  // libm-style functions: CUDA documents at most 4 ulp for these, glibc and the cpu's
  // AVX-512 exp / erf stay within 4 more: 8 ulp is 1e-6 relative; 1e-6 absolute covers
  // results that cancel to near zero (exp(x) - 1 in Selu / Celu, sin near pi).
  for (const char* op : {"Exp", "Log", "Erf", "Sin", "Cos", "Tan", "Acos", "Acosh", "Asin", "Asinh",
                         "Atan", "Atanh", "Cosh", "Sinh", "Selu", "Celu", "Silu"})
    CHECK(gpuMatchesCpu(layerOf(op, 1, 1), {x}, 1e-6, 1e-6));
  // Attributes reach the kernel.
  CHECK(
      gpuMatchesCpu(layerOf("Selu", 1, 1, {{"alpha", floatAttr(1.5)}, {"gamma", floatAttr(0.75)}}),
                    {x}, 1e-6, 1e-6));
  CHECK(gpuMatchesCpu(
      layerOf("Shrink", 1, 1, {{"lambd", floatAttr(1.0)}, {"bias", floatAttr(0.25)}}), {x}, 0, 0));
  CHECK(gpuMatchesCpu(layerOf("ThresholdedRelu", 1, 1, {{"alpha", floatAttr(-0.5)}}), {x}, 0, 0));
  CHECK(gpuMatchesCpu(layerOf("Celu", 1, 1, {{"alpha", floatAttr(2.0)}}), {x}, 1e-6, 1e-6));
}

TEST(gpu_clip_and_float_tests_match_cpu) {
  if (!haveGpu()) return;
  const AnyTensor x = f32({4, 9}, withEdges(36, 12));
  // Clip without NaN: the cpu's AVX-512 path turns NaN into the lower bound, its scalar path
  // (and the cuda kernel) keep NaN.
  std::vector<float> noNan = withEdges(36, 12);
  noNan[0] = 0.25f;
  const AnyTensor clipped = f32({4, 9}, noNan);
  CHECK(gpuMatchesCpu(layerOf("Clip", 3, 1), {clipped, f32({}, {-1.25f}), f32({}, {0.5f})}, 0, 0));
  CHECK(gpuMatchesCpu(layerOf("Clip", 3, 1), {clipped, absent(), f32({1}, {0.75f})}, 0, 0));
  CHECK(gpuMatchesCpu(layerOf("Clip", 1, 1, {{"min", floatAttr(-0.5)}}), {clipped}, 0, 0));
  CHECK(gpuMatchesCpu(layerOf("IsNaN", 1, 1), {x}, 0, 0));
  CHECK(gpuMatchesCpu(layerOf("IsInf", 1, 1), {x}, 0, 0));
  CHECK(gpuMatchesCpu(layerOf("IsInf", 1, 1, {{"detect_positive", intAttr(0)}}), {x}, 0, 0));
}

TEST(gpu_binary_and_variadic_ops_match_cpu) {
  if (!haveGpu()) return;
  const AnyTensor a = f32({2, 3, 4}, withEdges(24, 13));
  const AnyTensor b = f32({3, 1}, randoms(3, 14, 2.0f));
  const AnyTensor c = f32({4}, withEdges(4, 15));
  // Pow: powf's documented 4 ulp (and glibc's 1) within 1e-6; negative bases with fractional
  // exponents are NaN on both.
  CHECK(gpuMatchesCpu(layerOf("Pow", 2, 1), {a, b}, 1e-6, 0));
  CHECK(gpuMatchesCpu(layerOf("Pow", 2, 1), {a, f32({}, {2.0f})}, 1e-6, 0));
  // One IEEE operation per element (fmod, a multiply, adds): exact.
  CHECK(gpuMatchesCpu(layerOf("Mod", 2, 1, {{"fmod", intAttr(1)}}), {a, b}, 0, 0));
  CHECK(gpuMatchesCpu(layerOf("Mod", 2, 1), {a, b}, 0, 0));
  CHECK(gpuMatchesCpu(layerOf("PRelu", 2, 1), {a, c}, 0, 0));
  // Selections and the cpu's own sequence of adds (Mean: then one multiply): exact in FP32. In
  // FP16 the running sum is stored in half between inputs: two roundings of at most 2^-11 of
  // a partial sum below 16 (normals of scale 2, three of them) add up to 0.016.
  for (const char* op : {"Max", "Min", "Sum", "Mean"}) {
    CHECK(gpuMatchesCpu(layerOf(op, 3, 1), {a, c, b}, 0, 0, true, 0.016));
    CHECK(gpuMatchesCpu(layerOf(op, 1, 1), {a}, 0, 0));
  }
}

AttrValue floatsAttr(std::vector<double> v) {
  AttrValue a;
  a.kind = AttrValue::Kind::kFloats;
  a.floats = std::move(v);
  return a;
}

// The builder's ElementwiseChain: steps of (opcode, operand, reversed) over inputs and
// immediates (opcodes of engine/ops/chain_ops.cc).
TEST(gpu_elementwise_chain_matches_cpu) {
  if (!haveGpu()) return;
  const AnyTensor a = f32({3, 5, 7}, randoms(105, 32, 1.5f));
  const AnyTensor b = f32({3, 5, 7}, randoms(105, 33, 1.5f));
  // a * b + 0.5 -> tanh -> 2 - v -> HardSwish -> max(v, b) -> sqrt -> log -> exp -> sigmoid ->
  // erf -> 1 / v -> v ^ 1.5 -> -v -> abs -> relu: every op, values kept in ranges where each
  // step is well conditioned. CUDA's libm-style functions are within 4 ulp, glibc's within 1;
  // 15 steps of at most 5 ulp each stay below 1e-5 relative.
  const std::vector<int64_t> steps = {2, 1,  0,  0,  -2, 0,  12, -1, 0,  1,  -3, 1,  22, -1, 0,  4,
                                      1, 0,  15, -1, 0,  14, -1, 0,  13, -1, 0,  11, -1, 0,  18, -1,
                                      0, 19, -1, 0,  6,  -4, 0,  17, -1, 0,  16, -1, 0,  10, -1, 0};
  LayerDesc chain = layerOf("ElementwiseChain", 2, 1,
                            {{"steps", ints(steps)}, {"immediates", floatsAttr({0.5, 2.0, 1.5})}});
  CHECK(gpuMatchesCpu(chain, {a, b}, 1e-5, 0));
  // Exact steps: Div by an input, Floor, Ceil after a multiply; Max / Min with NaN (NaN out).
  std::vector<float> withNan = randoms(105, 34, 1.5f);
  withNan[3] = NAN;
  LayerDesc exact =
      layerOf("ElementwiseChain", 2, 1,
              {{"steps", ints({3, 1, 1, 2, -2, 0, 20, -1, 0, 21, -1, 0, 5, 1, 0, 4, -2, 0})},
               {"immediates", floatsAttr({2.5})}});
  CHECK(gpuMatchesCpu(exact, {a, f32({3, 5, 7}, withNan)}, 0, 0));
}

TEST(gpu_comparisons_logic_and_where_match_cpu) {
  if (!haveGpu()) return;
  const AnyTensor a = f32({2, 3, 4}, withEdges(24, 16));
  std::vector<float> bv = randoms(4, 17, 2.0f);
  bv[1] = 0.0f;  // -0 == 0 and NaN != anything
  const AnyTensor b = f32({1, 4}, bv);
  for (const char* op : {"Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"})
    CHECK(gpuMatchesCpu(layerOf(op, 2, 1), {a, b}, 0, 0));
  const AnyTensor p = boolean({3, 1}, {1, 0, 1});
  const AnyTensor q = boolean({2, 1, 4}, {0, 1, 1, 0, 1, 0, 0, 1});
  for (const char* op : {"And", "Or", "Xor"}) CHECK(gpuMatchesCpu(layerOf(op, 2, 1), {p, q}, 0, 0));
  CHECK(gpuMatchesCpu(layerOf("Not", 1, 1), {q}, 0, 0));
  CHECK(gpuMatchesCpu(layerOf("Where", 3, 1), {p, a, f32({4}, randoms(4, 18))}, 0, 0));
  CHECK(gpuMatchesCpu(layerOf("Where", 3, 1), {q, i64({3, 1}, {7, -8, 9}), i64({}, {-1})}, 0, 0));
}

TEST(gpu_cast_matches_cpu) {
  if (!haveGpu()) return;
  // Out of range, NaN, ties and negative values toward every integer type.
  std::vector<float> v = withEdges(24, 19);
  const float more[] = {300.0f, -300.0f, 3e9f, -3e9f, 1e20f, -129.5f, 255.9f, -0.9f, 127.5f};
  std::copy(std::begin(more), std::end(more), v.begin() + 11);
  const AnyTensor x = f32({24}, v);
  const AnyTensor big = i64({5}, {int64_t{1} << 40, -(int64_t{1} << 33) - 7, 255, -129, 16777217});
  const AnyTensor flags = boolean({5}, {0, 1, 2, 0, 255});
  for (DataType to : {DataType::kFloat32, DataType::kFloat16, DataType::kInt8, DataType::kUInt8,
                      DataType::kInt32, DataType::kInt64, DataType::kBool}) {
    const LayerDesc cast = layerOf("Cast", 1, 1, {{"to", intAttr(static_cast<int64_t>(to))}});
    // A float16 result comes back widened by the cpu as float16 bytes: compare it as float.
    if (to == DataType::kFloat16) continue;
    CHECK(gpuMatchesCpu(cast, {x}, 0, 0));
    CHECK(gpuMatchesCpu(cast, {big}, 0, 0, false));
    CHECK(gpuMatchesCpu(cast, {flags}, 0, 0, false));
  }
  // To float16: refused at context creation (unsupported_types_and_modes_are_listed) until
  // the GPU's result matches the cpu's (it did not on the H100: inf came back NaN).
}

TEST(gpu_reductions_match_cpu) {
  if (!haveGpu()) return;
  const AnyTensor x = f32({3, 4, 5, 6}, randoms(360, 20, 1.5f));
  const AnyTensor withNan = f32({3, 4, 5, 6}, withEdges(360, 21));
  for (const std::string op :
       {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
        "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"}) {
    // Products of many values may leave half's range where the cpu's float holds them: FP16
    // only where four values meet.
    const bool half = op != "ReduceProd";
    // Both devices accumulate in double and round once: 1e-6 covers the summation order.
    // Trailing axes, a middle axis without keepdims, axes from the input, and all axes.
    CHECK(gpuMatchesCpu(layerOf(op, 1, 1, {{"axes", ints({2, 3})}}), {x}, 1e-6, 0, half));
    CHECK(gpuMatchesCpu(layerOf(op, 1, 1, {{"axes", ints({1})}, {"keepdims", intAttr(0)}}), {x},
                        1e-6, 0));
    CHECK(gpuMatchesCpu(layerOf(op, 2, 1), {x, i64({2}, {0, -2})}, 1e-6, 0, half));
    CHECK(gpuMatchesCpu(layerOf(op, 1, 1), {x}, 1e-6, 0, half));
    CHECK(gpuMatchesCpu(layerOf(op, 1, 1, {{"axes", ints({3})}}), {withNan}, 1e-6, 0, false));
  }
  CHECK(gpuMatchesCpu(layerOf("ReduceSum", 2, 1, {{"noop_with_empty_axes", intAttr(1)}}),
                      {x, i64({0}, {})}, 0, 0));
  for (const char* op : {"ArgMax", "ArgMin"}) {
    // Ties (a rounded grid) with first and last index, NaN, and the axis at 1 and at -1.
    std::vector<float> grid = randoms(360, 22, 1.5f);
    for (float& g : grid) g = std::round(g);
    grid[7] = NAN;
    const AnyTensor t = f32({3, 4, 5, 6}, grid);
    CHECK(gpuMatchesCpu(layerOf(op, 1, 1, {{"axis", intAttr(1)}}), {t}, 0, 0));
    CHECK(gpuMatchesCpu(
        layerOf(
            op, 1, 1,
            {{"axis", intAttr(-1)}, {"select_last_index", intAttr(1)}, {"keepdims", intAttr(0)}}),
        {t}, 0, 0));
  }
}

TEST(gpu_batch_and_instance_norm_match_cpu) {
  if (!haveGpu()) return;
  const int64_t c = 5;
  const AnyTensor x = f32({2, c, 7, 3}, randoms(2 * c * 21, 23, 3.0f));
  std::vector<float> var = randoms(c, 24);
  for (float& v : var) v = v * v + 0.1f;
  const AnyTensor scale = param(f32({c}, randoms(c, 25))), bias = param(f32({c}, randoms(c, 26)));
  const AnyTensor mean = param(f32({c}, randoms(c, 27))), variance = param(f32({c}, var));
  // The same float steps on both (the GPU's rounded multiply and add): a few ulp at most.
  CHECK(gpuMatchesCpu(layerOf("BatchNormalization", 5, 1, {{"epsilon", floatAttr(1e-3)}}),
                      {x, scale, bias, mean, variance}, 1e-6, 1e-6));
  LayerDesc fused = layerOf("BatchNormalization", 5, 1);
  fused.attrs["activation"] = text("Relu");
  CHECK(gpuMatchesCpu(fused, {x, scale, bias, mean, variance}, 1e-6, 1e-6));
  // Mean and variance in double on both, an offset mean for the two-pass variance.
  std::vector<float> shifted = randoms(2 * c * 21, 28, 0.5f);
  for (float& v : shifted) v += 20.0f;
  CHECK(gpuMatchesCpu(layerOf("InstanceNormalization", 3, 1),
                      {f32({2, c, 21}, shifted), scale, bias}, 1e-6, 1e-6));
}

TEST(gpu_slice_pad_tile_match_cpu) {
  if (!haveGpu()) return;
  std::vector<float> v(120);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);  // exact in half
  const AnyTensor x = f32({2, 3, 4, 5}, v);
  // Positive and negative steps, clamped ends, a negative axis; the attribute form too.
  CHECK(gpuMatchesCpu(layerOf("Slice", 5, 1),
                      {x, i64({3}, {1, -1, 0}), i64({3}, {3, -100, 100}), i64({3}, {1, -1, 2}),
                       i64({3}, {1, -2, 2})},
                      0, 0));
  CHECK(gpuMatchesCpu(layerOf("Slice", 3, 1), {x, i64({1}, {1}), i64({1}, {2})}, 0, 0));
  CHECK(gpuMatchesCpu(
      layerOf("Slice", 1, 1,
              {{"starts", ints({0, 1})}, {"ends", ints({1, 3})}, {"axes", ints({0, 3})}}),
      {x}, 0, 0));
  for (const char* mode : {"constant", "reflect", "edge", "wrap"}) {
    const auto attrs = std::map<std::string, AttrValue>{{"mode", text(mode)}};
    CHECK(
        gpuMatchesCpu(layerOf("Pad", 2, 1, attrs), {x, i64({8}, {0, 1, 2, -1, 1, 0, 3, 2})}, 0, 0));
    CHECK(gpuMatchesCpu(layerOf("Pad", 4, 1, attrs),
                        {x, i64({4}, {2, 1, 1, 3}), absent(), i64({2}, {-1, 1})}, 0, 0));
  }
  CHECK(gpuMatchesCpu(layerOf("Pad", 3, 1),
                      {x, i64({8}, {1, 0, 0, 1, 0, 2, 0, 0}), f32({}, {-7.5f})}, 0, 0, false));
  CHECK(gpuMatchesCpu(layerOf("Pad", 2, 1, {{"value", floatAttr(2.5)}}),
                      {x, i64({8}, {0, 0, 1, 1, 0, 0, 1, 1})}, 0, 0));
  CHECK(gpuMatchesCpu(layerOf("Tile", 2, 1), {x, i64({4}, {2, 1, 3, 2})}, 0, 0));
  CHECK(gpuMatchesCpu(layerOf("Tile", 2, 1), {f32({3, 1}, {1, 2, 3}), i64({2}, {2, 4})}, 0, 0));
  CHECK(gpuMatchesCpu(layerOf("Tile", 2, 1), {i64({2}, {5, -6}), i64({1}, {3})}, 0, 0));
}

TEST(gpu_log_softmax_lrn_and_moves_match_cpu) {
  if (!haveGpu()) return;
  const AnyTensor x = f32({2, 8, 3, 5}, randoms(240, 29, 3.0f));
  // LogSoftmax: the cpu sums exp in double, the GPU in float; log(sum) is off by at most a
  // few float ulps of the sum, an absolute error of ~1e-6 on outputs of magnitude ~10.
  CHECK(gpuMatchesCpu(layerOf("LogSoftmax", 1, 1, {{"axis", intAttr(1)}}), {x}, 1e-6, 2e-6));
  CHECK(gpuMatchesCpu(layerOf("LogSoftmax", 1, 1), {x}, 1e-6, 2e-6));
  // LRN: the same float steps but powf (4 ulp on CUDA, ~1 in glibc): 1e-6 relative. Even and
  // odd sizes, one wider than the channels.
  for (const int64_t size : {3, 4, 11})
    CHECK(gpuMatchesCpu(layerOf("LRN", 1, 1,
                                {{"size", intAttr(size)},
                                 {"alpha", floatAttr(0.02)},
                                 {"beta", floatAttr(0.75)},
                                 {"bias", floatAttr(1.5)}}),
                        {x}, 1e-6, 0));
  std::vector<float> v(240);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);  // exact in half
  const AnyTensor seq = f32({2, 8, 3, 5}, v);
  CHECK(gpuMatchesCpu(layerOf("DepthToSpace", 1, 1, {{"blocksize", intAttr(2)}}), {seq}, 0, 0));
  CHECK(gpuMatchesCpu(
      layerOf("DepthToSpace", 1, 1, {{"blocksize", intAttr(2)}, {"mode", text("CRD")}}), {seq}, 0,
      0));
  const AnyTensor even = f32({2, 3, 4, 10}, v);
  CHECK(gpuMatchesCpu(layerOf("SpaceToDepth", 1, 1, {{"blocksize", intAttr(2)}}), {even}, 0, 0));
  CHECK(gpuMatchesCpu(layerOf("Transpose", 1, 1), {seq}, 0, 0));
  // ConstantOfShape: the cpu's bytes of the value in the output type.
  for (const auto& [type, value] : std::vector<std::pair<int64_t, double>>{
           {1, -2.5}, {7, 12345678901.0}, {6, -3.0}, {9, 1.0}, {3, 200.0}}) {
    const LayerDesc fill = layerOf("ConstantOfShape", 1, 1,
                                   {{"value", floatAttr(value)}, {"value_dtype", intAttr(type)}});
    const std::vector<AnyTensor> want = runOnCpu(fill, {i64({3}, {2, 3, 70})});
    CHECK(want[0].bytes == runLayerOnGpu(fill, {i64({3}, {2, 3, 70})}, want, false)[0].bytes);
  }
  // Trilu (any dtype; k from the input) and Hardmax (first maximum, ties from the grid).
  for (const int64_t upper : {0, 1}) {
    const auto attrs = std::map<std::string, AttrValue>{{"upper", intAttr(upper)}};
    CHECK(gpuMatchesCpu(layerOf("Trilu", 1, 1, attrs), {seq}, 0, 0));
    CHECK(gpuMatchesCpu(layerOf("Trilu", 2, 1, attrs), {seq, i64({}, {-1})}, 0, 0));
    CHECK(gpuMatchesCpu(layerOf("Trilu", 2, 1, attrs),
                        {i64({2, 3}, {1, 2, 3, 4, 5, 6}), i64({}, {1})}, 0, 0));
  }
  std::vector<float> grid = randoms(240, 31);
  for (float& g : grid) g = std::round(g);
  for (const int64_t axis : {1, -1})
    CHECK(gpuMatchesCpu(layerOf("Hardmax", 1, 1, {{"axis", intAttr(axis)}}),
                        {f32({2, 8, 3, 5}, grid)}, 0, 0));
  // Dropout in inference: the input and an all-true mask.
  CHECK(gpuMatchesCpu(layerOf("Dropout", 1, 2), {seq}, 0, 0));
  // CastLike: to the second input's type.
  CHECK(gpuMatchesCpu(layerOf("CastLike", 2, 1),
                      {f32({4}, {1.5f, -2.5f, 300.0f, NAN}), i64({1}, {0})}, 0, 0, false));
}

TEST(gpu_resize_matches_cpu) {
  if (!haveGpu()) return;
  const AnyTensor x = f32({1, 2, 4, 5}, randoms(40, 30));
  const auto attrs = [](const std::string& mode, const std::string& coord,
                        const std::string& nearest) {
    return std::map<std::string, AttrValue>{{"mode", text(mode)},
                                            {"coordinate_transformation_mode", text(coord)},
                                            {"nearest_mode", text(nearest)}};
  };
  const auto sizes = [](std::vector<int64_t> v) { return i64({4}, v); };
  const auto scales = [](std::vector<float> v) { return param(f32({4}, v)); };
  // Nearest copies elements: exact. The modes decide which one.
  for (const char* nearest : {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"})
    for (const char* coord : {"half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel"}) {
      CHECK(gpuMatchesCpu(layerOf("Resize", 4, 1, attrs("nearest", coord, nearest)),
                          {x, absent(), absent(), sizes({1, 2, 7, 9})}, 0, 0));
      CHECK(gpuMatchesCpu(layerOf("Resize", 4, 1, attrs("nearest", coord, nearest)),
                          {x, absent(), absent(), sizes({1, 2, 3, 2})}, 0, 0));
    }
  // Linear and cubic: the cpu blends one axis at a time, rounding in between; the GPU sums the
  // products of both axes' weights. A few float roundings of terms below 4 (normals of scale
  // 1, weights summing to 1; cubic's up to 1.3): 1e-5 absolute.
  for (const char* coord : {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
                            "align_corners", "asymmetric"}) {
    CHECK(gpuMatchesCpu(layerOf("Resize", 4, 1, attrs("linear", coord, "floor")),
                        {x, absent(), absent(), sizes({1, 2, 7, 9})}, 1e-6, 1e-5));
    CHECK(gpuMatchesCpu(layerOf("Resize", 3, 1, attrs("cubic", coord, "floor")),
                        {x, absent(), scales({1.0f, 1.0f, 0.75f, 1.6f})}, 1e-6, 2e-5));
  }
  LayerDesc exclude = layerOf("Resize", 4, 1, attrs("cubic", "half_pixel", "floor"));
  exclude.attrs["exclude_outside"] = intAttr(1);
  exclude.attrs["cubic_coeff_a"] = floatAttr(-0.5);
  CHECK(gpuMatchesCpu(exclude, {x, absent(), absent(), sizes({1, 2, 6, 3})}, 1e-6, 2e-5));
  // tf_crop_and_resize: roi beyond the input extrapolates.
  LayerDesc crop = layerOf("Resize", 4, 1, attrs("linear", "tf_crop_and_resize", "floor"));
  crop.attrs["extrapolation_value"] = floatAttr(7.0);
  CHECK(gpuMatchesCpu(
      crop,
      {x, param(f32({8}, {0, 0, 0.2f, -0.1f, 1, 1, 0.9f, 1.2f})), absent(), sizes({1, 2, 5, 6})},
      1e-6, 1e-5));
  // Upsample (opset 9): X and scales, asymmetric nearest.
  CHECK(gpuMatchesCpu(layerOf("Upsample", 2, 1), {x, scales({1.0f, 1.0f, 2.0f, 3.0f})}, 0, 0));
}

// Context creation refuses what the kernels lack, naming it, before anything runs.
TEST(unsupported_types_and_modes_are_listed) {
  Network n;
  n.tensors = {{"x", DataType::kInt64, {2, 3}, -1},   {"y", DataType::kInt64, {2, 3}, -1},
               {"f", DataType::kFloat32, {2, 3}, -1}, {"b", DataType::kBFloat16, {2, 3}, -1},
               {"k", DataType::kInt64, {2}, -1},      {"s", DataType::kFloat32, {2, 3}, -1}};
  n.layers = {
      {"neg", "Neg", {0}, {1}, {}, {}},
      {"cast", "Cast", {2}, {3}, {{"to", intAttr(16)}}, {}},
      {"bn", "BatchNormalization", {2, 2, 2, 2, 2}, {5}, {{"training_mode", intAttr(1)}}, {}},
      {"argmax", "ArgMax", {2}, {4}, {}, {}},
      {"slice", "Slice", {2, 4, 4}, {5}, {}, {}},
      {"half", "Cast", {2}, {6}, {{"to", intAttr(10)}}, {}}};
  n.tensors.push_back({"h", DataType::kFloat16, {2, 3}, -1});
  n.inputs = {0, 2};
  n.outputs = {1, 3, 5, 6};
  const std::vector<std::string> missing = cudaUnsupportedLayers(n);
  CHECK(listed(missing, "neg"));   // integer math
  CHECK(listed(missing, "cast"));  // bfloat16
  CHECK(listed(missing, "bn"));    // training mode
  CHECK(!listed(missing, "argmax"));
  CHECK(listed(missing, "slice"));  // bounds computed from data, not known at shape time
  CHECK(listed(missing, "half"));   // Cast to float16, not verified on cuda yet
}

}  // namespace
