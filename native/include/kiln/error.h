// Errors of the kiln core: a stable code plus a message that says what to do.
// C++ throws kiln::Error; the N-API layer turns it into a JS KilnError with the same code.
#pragma once

#include <stdexcept>
#include <string>

namespace kiln {

// Keep in sync with packages/core/src/errors.ts (KilnErrorCode); the names are part of the API.
enum class ErrorCode {
  kInvalidArgument,
  kInvalidState,
  kDisposed,
  kOutOfMemory,
  kUnsupported,
  kNotFound,
  kIoError,
  kInvalidModel,
  kInvalidPlan,
  kDeviceError,
  kInternal,
};

// The string form used on the JS side, e.g. "INVALID_ARGUMENT".
const char* errorCodeName(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// The outcome of asynchronous work, delivered to completion callbacks.
struct Status {
  bool ok = true;
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  static Status success() { return {}; }
  static Status failure(ErrorCode code, std::string message) {
    return Status{false, code, std::move(message)};
  }
};

}  // namespace kiln
