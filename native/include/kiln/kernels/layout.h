// Data movement: Transpose, Concat, Split, Slice, Gather, Pad, Tile, DepthToSpace/SpaceToDepth.
// All exact (no arithmetic), dense row-major tensors. Every op works on raw bytes of any element
// size (1, 2, 4 or 8: bool/int8/uint8, float16/bfloat16, float32/int32, int64); `elemSize` is
// always the argument just before the output(s). The float overloads forward with 4.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kiln/kernels/shape.h"

namespace kiln::kernels {

// y = transpose(x) with y.shape[i] = x.shape[perm[i]].
void transpose(const void* x, const Shape& xShape, const std::vector<int64_t>& perm,
               size_t elemSize, void* y);

// Concatenates inputs (same shape except along axis, axis normalized >= 0) into y.
void concat(const std::vector<const void*>& inputs, const std::vector<Shape>& shapes, int64_t axis,
            size_t elemSize, void* y);

// Splits x along axis into outputs of the given sizes (summing to shape[axis]).
void split(const void* x, const Shape& xShape, int64_t axis, const std::vector<int64_t>& sizes,
           size_t elemSize, const std::vector<void*>& outputs);

// Per-dim start, step and count of an ONNX Slice after clamping; dims not sliced are 0, 1, dim.
struct SliceSpec {
  std::vector<int64_t> start;
  std::vector<int64_t> step;
  Shape outShape;
};

// Resolves ONNX Slice inputs (negative axes/starts/ends, INT64 max/min ends, negative steps)
// exactly as the spec clamps them; axes empty means 0..starts.size()-1, steps empty means 1.
SliceSpec resolveSlice(const Shape& xShape, const std::vector<int64_t>& starts,
                       const std::vector<int64_t>& ends, const std::vector<int64_t>& axes,
                       const std::vector<int64_t>& steps);

// y = x[spec] (shape spec.outShape).
void slice(const void* x, const Shape& xShape, const SliceSpec& spec, size_t elemSize, void* y);

// ONNX Gather along axis: y.shape = x.shape[:axis] + indicesShape + x.shape[axis+1:]; negative
// indices count from the end; out-of-range ones throw kInvalidArgument.
void gather(const void* x, const Shape& xShape, int64_t axis, const int64_t* indices,
            const Shape& indicesShape, size_t elemSize, void* y);

// Gather with int32 indices (ONNX allows both index types).
void gather(const void* x, const Shape& xShape, int64_t axis, const int32_t* indices,
            const Shape& indicesShape, size_t elemSize, void* y);

// Pad modes of ONNX Pad.
enum class PadMode { kConstant, kReflect, kEdge, kWrap };

// pads = [begin_0 .. begin_{r-1}, end_0 .. end_{r-1}], negative values crop. y.shape[i] =
// x.shape[i] + begin_i + end_i. `value` points at one element of the tensor's type (the
// constant of kConstant mode); nullptr means zero bytes.
void pad(const void* x, const Shape& xShape, const std::vector<int64_t>& pads, PadMode mode,
         const void* value, size_t elemSize, void* y);

// ONNX Tile: y.shape[i] = x.shape[i] * repeats[i].
void tile(const void* x, const Shape& xShape, const std::vector<int64_t>& repeats, size_t elemSize,
          void* y);

// ONNX DepthToSpace on [N, C, H, W] with blocksize b: DCR (default) or CRD mode.
void depthToSpace(const void* x, const Shape& xShape, int64_t blocksize, bool crd, size_t elemSize,
                  void* y);

// ONNX SpaceToDepth on [N, C, H, W] (H and W divisible by b): y is [N, C*b*b, H/b, W/b].
void spaceToDepth(const void* x, const Shape& xShape, int64_t blocksize, size_t elemSize, void* y);

// ---- float32 forms (the first kernel round's API) ----

// transpose on float32.
inline void transpose(const float* x, const Shape& xShape, const std::vector<int64_t>& perm,
                      float* y) {
  transpose(x, xShape, perm, sizeof(float), y);
}

// concat on float32.
void concat(const std::vector<const float*>& inputs, const std::vector<Shape>& shapes, int64_t axis,
            float* y);

// split on float32.
void split(const float* x, const Shape& xShape, int64_t axis, const std::vector<int64_t>& sizes,
           const std::vector<float*>& outputs);

// slice on float32.
inline void slice(const float* x, const Shape& xShape, const SliceSpec& spec, float* y) {
  slice(x, xShape, spec, sizeof(float), y);
}

// gather on float32 with int64 indices.
inline void gather(const float* x, const Shape& xShape, int64_t axis, const int64_t* indices,
                   const Shape& indicesShape, float* y) {
  gather(x, xShape, axis, indices, indicesShape, sizeof(float), y);
}

// pad on float32 with a float constant.
inline void pad(const float* x, const Shape& xShape, const std::vector<int64_t>& pads, PadMode mode,
                float value, float* y) {
  pad(x, xShape, pads, mode, &value, sizeof(float), y);
}

// tile on float32.
inline void tile(const float* x, const Shape& xShape, const std::vector<int64_t>& repeats,
                 float* y) {
  tile(x, xShape, repeats, sizeof(float), y);
}

// depthToSpace on float32.
inline void depthToSpace(const float* x, const Shape& xShape, int64_t blocksize, bool crd,
                         float* y) {
  depthToSpace(x, xShape, blocksize, crd, sizeof(float), y);
}

}  // namespace kiln::kernels
