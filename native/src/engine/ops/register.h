// One registration function per op family; op.cc calls them all to build the op table.
#pragma once

#include <map>
#include <string>

#include "engine/op.h"

namespace kiln {

using OpTable = std::map<std::string, OpImpl>;

void registerConvOps(OpTable& table);
void registerGemmOps(OpTable& table);
void registerPoolOps(OpTable& table);
void registerNormOps(OpTable& table);
void registerEltwiseOps(OpTable& table);
void registerReshapeOps(OpTable& table);
void registerLayoutOps(OpTable& table);
void registerReduceResizeOps(OpTable& table);
void registerControlOps(OpTable& table);
void registerChainOps(OpTable& table);
void registerMathOps(OpTable& table);
void registerIndexOps(OpTable& table);
void registerLossOps(OpTable& table);
void registerNormalizeOps(OpTable& table);
void registerQuantizeOps(OpTable& table);
void registerQLinearOps(OpTable& table);
void registerMiscOps(OpTable& table);
void registerGridSampleOps(OpTable& table);
void registerRoiAlignOps(OpTable& table);
void registerSignalOps(OpTable& table);

}  // namespace kiln
