#include "kiln/error.h"

namespace kiln {

const char* errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case ErrorCode::kInvalidState:
      return "INVALID_STATE";
    case ErrorCode::kDisposed:
      return "DISPOSED";
    case ErrorCode::kOutOfMemory:
      return "OUT_OF_MEMORY";
    case ErrorCode::kUnsupported:
      return "UNSUPPORTED";
    case ErrorCode::kNotFound:
      return "NOT_FOUND";
    case ErrorCode::kIoError:
      return "IO_ERROR";
    case ErrorCode::kInvalidModel:
      return "INVALID_MODEL";
    case ErrorCode::kInvalidPlan:
      return "INVALID_PLAN";
    case ErrorCode::kDeviceError:
      return "DEVICE_ERROR";
    case ErrorCode::kInternal:
      return "INTERNAL";
  }
  return "INTERNAL";
}

}  // namespace kiln
