#include "engine/build.h"

#include <algorithm>
#include <cstring>

#include "engine/engine_core.h"
#include "engine/plan_format.h"
#include "kiln/error.h"

namespace kiln {
namespace {

// The bytes of `values` in the element type of `type` (an int or bool input's shape values).
std::vector<uint8_t> valueBytes(const std::vector<int64_t>& values, DataType type) {
  std::vector<uint8_t> bytes(values.size() * dataTypeSize(type));
  for (size_t i = 0; i < values.size(); ++i) {
    switch (type) {
      case DataType::kInt64:
        std::memcpy(bytes.data() + 8 * i, &values[i], 8);
        break;
      case DataType::kInt32: {
        const int32_t v = static_cast<int32_t>(values[i]);
        std::memcpy(bytes.data() + 4 * i, &v, 4);
        break;
      }
      case DataType::kBool:
        bytes[i] = values[i] != 0;
        break;
      default:
        throw Error(ErrorCode::kInvalidArgument,
                    "shape values are only for int32, int64 and bool inputs");
    }
  }
  return bytes;
}

}  // namespace

std::vector<size_t> profileMemory(const std::shared_ptr<const EngineCore>& core) {
  const Network& n = core->network();
  std::vector<size_t> memory;
  const size_t count = std::max<size_t>(n.profiles.size(), 1);
  for (size_t p = 0; p < count; ++p) {
    ExecutionContext ctx(core);
    ctx.setProfile(static_cast<int>(p));
    size_t most = 0;
    for (int which = 0; which < 3 && !n.profiles.empty(); ++which) {
      for (const ProfileDims& d : n.profiles[p].inputs) {
        for (size_t i = 0; i < n.inputs.size(); ++i) {
          if (n.inputs[i] != d.tensor) continue;
          ctx.setInputShape(i, which == 0 ? d.min : which == 1 ? d.opt : d.max);
          const std::vector<int64_t>& values = which == 0   ? d.minValues
                                               : which == 1 ? d.optValues
                                                            : d.maxValues;
          if (!values.empty()) {
            const std::vector<uint8_t> bytes = valueBytes(values, n.tensors[d.tensor].dtype);
            ctx.setInputValues(i, bytes.data(), bytes.size());
          }
        }
      }
      most = std::max(most, ctx.plan()->memoryBytes());
    }
    if (n.profiles.empty()) most = ctx.plan()->memoryBytes();
    memory.push_back(most);
  }
  return memory;
}

BuildResult buildEngine(std::shared_ptr<Network> network, const TuneOptions& options) {
  BuildResult result;
  {
    // Shapes and tactic candidates need no packed weights: the ops prepare nothing here, so a
    // layer whose tactic comes from the timing cache is never packed for a tactic it won't run.
    auto shapes = std::make_shared<const EngineCore>(network, /*prepare=*/false);
    profileMemory(shapes);  // fails early, before any timing, on a profile that cannot run
    result.tactics = tuneNetwork(*shapes, network.get(), options);
  }
  // The engine as the plan will load: packed once, for the chosen tactics, whose kernel
  // scratch the memory check must count.
  result.memory = profileMemory(std::make_shared<const EngineCore>(network, /*prepare=*/true));
  result.plan = writePlan(*network, PlanInfo{});
  return result;
}

}  // namespace kiln
