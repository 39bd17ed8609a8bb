// Conv, MaxPool and AveragePool over any number of spatial dims, by direct loops: what
// conv_ops.cc and pool_ops.cc run for inputs of rank 5 or more (3-D volumes), which their
// 2-D kernels do not cover.
#pragma once

#include "engine/op.h"
#include "kiln/kernels/pool.h"

namespace kiln {

// True when the input (input 0) has more than two spatial dims.
inline bool isSpatialNd(const OpContext& ctx) { return ctx.shape(0).size() >= 5; }

// True for pooling the 2-D kernels do not cover: more than two spatial dims, or MaxPool's
// Indices output.
inline bool needsPoolNd(const OpContext& ctx) {
  return isSpatialNd(ctx) || ctx.layer.outputs.size() > 1;
}

void inferConvNd(OpContext& ctx);
void runConvNd(OpContext& ctx);
void inferPoolNd(OpContext& ctx, kernels::PoolKind kind);
void runPoolNd(OpContext& ctx, kernels::PoolKind kind);
// The window of runPoolNd, axis by axis.
std::vector<kernels::PoolAxis> poolNdAxes(const OpContext& ctx);

// The integer convolutions (any spatial rank, exact int32 sums by kernels::integerConv):
// ConvInteger, and QLinearConv where qlinear_ops.cc's packed 2-D path does not apply. MaxUnpool by
// a direct loop.
void inferConvInteger(OpContext& ctx);
void runConvInteger(OpContext& ctx);
void scratchConvInteger(const OpContext& ctx, kernels::ScratchNeed* need);
void inferQLinearConv(OpContext& ctx);
void runQLinearConv(OpContext& ctx);
void scratchQLinearConv(const OpContext& ctx, kernels::ScratchNeed* need);
void inferMaxUnpool(OpContext& ctx);
void runMaxUnpool(OpContext& ctx);

}  // namespace kiln
