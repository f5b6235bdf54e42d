#include "slimrt/status.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>

#include "slimrt/logging.h"

namespace slimrt {

std::string_view status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalidArgument: return "InvalidArgument";
    case StatusCode::kNotFound: return "NotFound";
    case StatusCode::kUnsupported: return "Unsupported";
    case StatusCode::kShapeError: return "ShapeError";
    case StatusCode::kDataLoss: return "DataLoss";
    case StatusCode::kOutOfRange: return "OutOfRange";
    case StatusCode::kOutOfMemory: return "OutOfMemory";
    case StatusCode::kIoError: return "IoError";
    case StatusCode::kCancelled: return "Cancelled";
    case StatusCode::kUnavailable: return "Unavailable";
    case StatusCode::kInternal: return "Internal";
  }
  return "Unknown";
}

Status::Status(StatusCode code, std::string message) {
  if (code != StatusCode::kOk) state_ = std::make_unique<State>(State{code, std::move(message)});
}

Status::Status(const Status& other)
    : state_(other.state_ ? std::make_unique<State>(*other.state_) : nullptr) {}

Status& Status::operator=(const Status& other) {
  if (this != &other) state_ = other.state_ ? std::make_unique<State>(*other.state_) : nullptr;
  return *this;
}

const std::string& Status::message() const {
  static const std::string kEmpty;
  return state_ ? state_->message : kEmpty;
}

std::string Status::to_string() const {
  if (ok()) return "OK";
  return std::string(status_code_name(state_->code)) + ": " + state_->message;
}

Status Status::with_context(std::string_view context) const {
  if (ok()) return Status();
  return Status(state_->code, std::string(context) + ": " + state_->message);
}

bool Status::is_user_error() const {
  switch (code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
    case StatusCode::kUnsupported:
    case StatusCode::kShapeError:
    case StatusCode::kDataLoss:
    case StatusCode::kOutOfRange:
      return true;
    default:
      return false;
  }
}

Status invalid_argument(std::string m) { return Status(StatusCode::kInvalidArgument, std::move(m)); }
Status not_found(std::string m) { return Status(StatusCode::kNotFound, std::move(m)); }
Status unsupported(std::string m) { return Status(StatusCode::kUnsupported, std::move(m)); }
Status shape_error(std::string m) { return Status(StatusCode::kShapeError, std::move(m)); }
Status data_loss(std::string m) { return Status(StatusCode::kDataLoss, std::move(m)); }
Status out_of_range(std::string m) { return Status(StatusCode::kOutOfRange, std::move(m)); }
Status out_of_memory(std::string m) { return Status(StatusCode::kOutOfMemory, std::move(m)); }
Status io_error(std::string m) { return Status(StatusCode::kIoError, std::move(m)); }
Status cancelled(std::string m) { return Status(StatusCode::kCancelled, std::move(m)); }
Status unavailable(std::string m) { return Status(StatusCode::kUnavailable, std::move(m)); }
Status internal_error(std::string m) { return Status(StatusCode::kInternal, std::move(m)); }

void check_failed(const char* expr, const char* file, int line, std::string_view msg) {
  const std::string text = fmt::format("internal check failed at {}:{}: {}{}{}", file, line, expr,
                                       msg.empty() ? "" : " ", msg);
  log_message(LogSeverity::kError, text);
  // The one write to stderr in the library (slimrt/logging.h): the process ends here, and a
  // sink that buffers may never flush, so the reason goes where a crash report is looked for.
  std::fprintf(stderr, "slimrt: %s\n", text.c_str());  // slimrt-stdio-ok: last words before abort()
  std::abort();
}

}  // namespace slimrt
