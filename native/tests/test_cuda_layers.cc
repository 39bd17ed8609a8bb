// Which layers a cuda context refuses and how FP16 layers store their tensors, judged from the
// network alone (no GPU needed), and, where a GPU is present, the cuda layers of transformer
// networks against the cpu kernels: built only with the cuda device.
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>

#include "engine/cuda/cuda_ops.h"
#include "engine/cuda/cuda_precision.h"
#include "engine/cuda/cuda_runner.h"
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

// x -> Conv(pads) -> Relu -> MaxPool -> LRN
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
  LayerDesc lrn{"lrn", "LRN", {4}, {6}, {}, {}};
  n.layers = {conv, relu, pool, lrn};
  n.inputs = {0};
  n.outputs = {6};
  return n;
}

TEST(lists_ops_without_a_cuda_kernel) {
  const std::vector<std::string> missing = cudaUnsupportedLayers(sample({1, 1, 1, 1}, 1));
  CHECK(listed(missing, "lrn"));
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

}  // namespace
