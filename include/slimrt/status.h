// slimrt/status.h: error handling for the whole library.
//
//   slimrt::Result<Graph> r = import_onnx("model.onnx");
//   if (!r.ok()) { fmt::print(stderr, "{}\n", r.status().to_string()); return 2; }
//   Graph& g = r.value();
//
// A Status costs one null pointer on success. Functions that can fail return Status or Result<T>;
// no exception crosses the public API. Messages name the thing at fault: the node, the tensor, the
// file offset, the bytes requested. SLIMRT_RETURN_IF_ERROR / SLIMRT_ASSIGN_OR_RETURN propagate.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace slimrt {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument,  // bad user input: arguments, shapes, malformed files
  kNotFound,         // a file, tensor or name that does not exist
  kUnsupported,      // valid input that slimrt does not handle (an op, a dtype, an opset)
  kShapeError,       // shapes that cannot be inferred or do not agree
  kDataLoss,         // truncated or corrupt data (files, checksums)
  kOutOfRange,       // an index or offset outside its bounds
  kOutOfMemory,      // an allocation failed
  kIoError,          // the operating system refused a read or write
  kCancelled,        // the caller asked to stop
  kUnavailable,      // no room now (a full queue the caller asked not to wait on); retry later
  kInternal,         // a bug in slimrt
};

std::string_view status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message);
  Status(const Status& other);
  Status& operator=(const Status& other);
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;
  ~Status() = default;

  static Status OK() { return Status(); }

  bool ok() const { return state_ == nullptr; }
  StatusCode code() const { return state_ ? state_->code : StatusCode::kOk; }
  const std::string& message() const;
  // "InvalidArgument: <message>"
  std::string to_string() const;

  // Returns a copy whose message is "<context>: <message>". OK stays OK.
  Status with_context(std::string_view context) const;

  // True for errors caused by the caller's input (the CLI exits 2), false for runtime failures
  // (exit 1).
  bool is_user_error() const;

 private:
  struct State {
    StatusCode code;
    std::string message;
  };
  std::unique_ptr<State> state_;
};

Status invalid_argument(std::string message);
Status not_found(std::string message);
Status unsupported(std::string message);
Status shape_error(std::string message);
Status data_loss(std::string message);
Status out_of_range(std::string message);
Status out_of_memory(std::string message);
Status io_error(std::string message);
Status cancelled(std::string message);
Status unavailable(std::string message);
Status internal_error(std::string message);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {    // NOLINT: implicit by design
    if (std::get<Status>(v_).ok()) v_ = Status(StatusCode::kInternal, "Result built from OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

// Aborts with file:line when an internal invariant is broken. Not for user input.
[[noreturn]] void check_failed(const char* expr, const char* file, int line, std::string_view msg);

}  // namespace slimrt

#define SLIMRT_CONCAT_INNER(a, b) a##b
#define SLIMRT_CONCAT(a, b) SLIMRT_CONCAT_INNER(a, b)

#define SLIMRT_RETURN_IF_ERROR(expr)                  \
  do {                                                \
    ::slimrt::Status slimrt_status_ = (expr);         \
    if (!slimrt_status_.ok()) return slimrt_status_;  \
  } while (0)

#define SLIMRT_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()

#define SLIMRT_ASSIGN_OR_RETURN(lhs, expr) \
  SLIMRT_ASSIGN_OR_RETURN_IMPL(SLIMRT_CONCAT(slimrt_result_, __LINE__), lhs, expr)

#define SLIMRT_CHECK(expr)                                                  \
  do {                                                                      \
    if (!(expr)) ::slimrt::check_failed(#expr, __FILE__, __LINE__, "");     \
  } while (0)

#define SLIMRT_CHECK_MSG(expr, msg)                                         \
  do {                                                                      \
    if (!(expr)) ::slimrt::check_failed(#expr, __FILE__, __LINE__, (msg));  \
  } while (0)
