// Which layers of an engine run in half precision on cuda, and how each tensor is kept there.
// The builder marks an FP16 layer by storing its weights as float16 (the 'fp16' flag or a
// layer's 'fp16' precision); on cuda such a Conv, Gemm or MatMul computes in half with tensor
// cores, and the layers after it (activations, pools, arithmetic, copies) stay in half while
// their inputs are, so half activations flow from layer to layer. Conv's half tensors are
// NHWC (cuDNN's tensor-core layout), kept so by the layers that accept it. Conversions happen
// only where storages meet: network inputs and outputs stay as the plan says (float32), and a
// float32 layer reading a half tensor gets a float32 copy.
//
// INT8 engines likewise keep the 8-bit activations of QLinearConv layers the NHWC tensor-core
// kernel takes NHWC (kByteNhwc), and QLinearAdd follows; the other 8-bit layers (pooling,
// QuantizeLinear, DequantizeLinear, the dp4a and cuBLAS paths) read and write NCHW, so the bytes
// are transposed where the two meet.
//
// Half tensors use the arena offsets of the float32 memory plan: they take half of their slot;
// NHWC 8-bit ones all of it.
#pragma once

#include <vector>

#include "graph/network.h"
#include "kernels/cuda/cuda_kernels.h"

namespace kiln::cuda {

struct LayerStorage {
  bool nhwc = false;        // its half activations are NHWC
  std::vector<Storage> in;  // what the layer reads, per input (kFloat: as the plan says)
  std::vector<Storage> out;
};

struct PrecisionPlan {
  std::vector<Storage> tensors;  // how each tensor is kept on the GPU
  std::vector<LayerStorage> layers;
};

PrecisionPlan planPrecision(const Network& network);

}  // namespace kiln::cuda
