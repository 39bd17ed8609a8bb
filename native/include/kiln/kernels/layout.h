// Data movement: Transpose, Concat, Split, Slice, Gather, Pad, Tile, DepthToSpace. All exact
// (no arithmetic), dense row-major tensors.
#pragma once

#include <cstdint>
#include <vector>

#include "kiln/kernels/shape.h"

namespace kiln::kernels {

// y = transpose(x) with y.shape[i] = x.shape[perm[i]].
void transpose(const float* x, const Shape& xShape, const std::vector<int64_t>& perm, float* y);

// Concatenates inputs (same shape except along axis, axis normalized >= 0) into y.
void concat(const std::vector<const float*>& inputs, const std::vector<Shape>& shapes, int64_t axis,
            float* y);

// Splits x along axis into outputs of the given sizes (summing to shape[axis]).
void split(const float* x, const Shape& xShape, int64_t axis, const std::vector<int64_t>& sizes,
           const std::vector<float*>& outputs);

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
void slice(const float* x, const Shape& xShape, const SliceSpec& spec, float* y);

// ONNX Gather along axis: y.shape = x.shape[:axis] + indicesShape + x.shape[axis+1:]; negative
// indices count from the end; out-of-range ones throw kInvalidArgument.
void gather(const float* x, const Shape& xShape, int64_t axis, const int64_t* indices,
            const Shape& indicesShape, float* y);

// Pad modes of ONNX Pad.
enum class PadMode { kConstant, kReflect, kEdge, kWrap };

// pads = [begin_0 .. begin_{r-1}, end_0 .. end_{r-1}], negative values crop. y.shape[i] =
// x.shape[i] + begin_i + end_i.
void pad(const float* x, const Shape& xShape, const std::vector<int64_t>& pads, PadMode mode,
         float value, float* y);

// ONNX Tile: y.shape[i] = x.shape[i] * repeats[i].
void tile(const float* x, const Shape& xShape, const std::vector<int64_t>& repeats, float* y);

// ONNX DepthToSpace on [N, C, H, W] with blocksize b: DCR (default) or CRD mode.
void depthToSpace(const float* x, const Shape& xShape, int64_t blocksize, bool crd, float* y);

}  // namespace kiln::kernels
