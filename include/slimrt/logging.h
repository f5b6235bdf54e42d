// slimrt/logging.h: where the library's messages go. Runtime library.
//
//   slimrt::set_log_sink([](slimrt::LogSeverity s, std::string_view message) {
//     my_log(slimrt::log_severity_name(s), message);   // must be thread-safe: any thread may call it
//   });
//   slimrt::set_log_level(slimrt::LogSeverity::kInfo);  // kWarning by default
//
// slimrt never writes to stdout or stderr (the one exception is below). What it has to tell
// beyond a returned Status (a fallback it chose, what a load did, what a build chose where it
// was not told) goes to ONE process-wide sink that the application installs, like TensorRT's
// ILogger or ONNX Runtime's logging manager. With no sink installed the messages are dropped,
// and so is their formatting: the library is silent by default. Errors are returned as Status,
// not logged; kError is for what cannot be returned (a failed internal check, below).
//
// Severities, most severe first; a message reaches the sink when it is at least as severe as the
// level (set_log_level):
//   kError    something failed and nothing returned it
//   kWarning  the result is not what was asked for, or is degraded (a requested mode refused
//             and another used)
//   kInfo     what slimrt chose or did on its own: a default profile, a load's summary. What a
//             call also returns in a report (BuildReport::profile_choices and ::warnings) is
//             logged at kInfo: the caller has it already, the log keeps it for one that passed
//             no report.
//   kVerbose  step by step: each build stage, each load decision
//
// Threads. Every function here may be called from any thread at any time. The sink may be
// called from several threads at once (the load's reader threads log too), so it must be
// thread-safe. set_log_sink / set_log_callback swap the sink and then wait until no other
// thread is still inside the previous one: once they return, the previous sink is never called
// again and its state (a callback's user data) may be freed. Hence a thread that holds a lock
// the sink also takes (Python's GIL, for a sink that forwards to Python's logging) must release
// it around set_log_sink. A message logged from inside the sink (the sink calling into slimrt)
// is dropped rather than recursing; a sink may itself call set_log_sink. An exception thrown by
// the sink is swallowed: none crosses the library.
//
// The exception to "never writes": a failed internal check (SLIMRT_CHECK, a bug in slimrt) is
// logged at kError and then also written to stderr just before abort(), because the process is
// about to end and the sink may not get to flush what it buffered.
#pragma once

#include <atomic>
#include <functional>
#include <string_view>

namespace slimrt {

// The values are part of the API (a C callback receives them as int) and will not change.
enum class LogSeverity : int {
  kError = 0,
  kWarning = 1,
  kInfo = 2,
  kVerbose = 3,
};

// "error", "warning", "info", "verbose".
std::string_view log_severity_name(LogSeverity severity);

// A message is one line of text without a trailing newline.
using LogSink = std::function<void(LogSeverity severity, std::string_view message)>;
// The same for C callers (and bindings): `message` is NUL-terminated, `severity` a LogSeverity
// value.
using LogCallback = void (*)(void* user_data, int severity, const char* message);

// Installs the process-wide sink, replacing the previous one; an empty sink means none. See
// "Threads" above for when the previous sink may be destroyed.
void set_log_sink(LogSink sink);
// Installs a C callback with its user data (nullptr: none); same rules as set_log_sink.
void set_log_callback(LogCallback callback, void* user_data);

// Messages at least as severe as `level` reach the sink. Default kWarning.
void set_log_level(LogSeverity level);
LogSeverity log_level();

namespace log_detail {
// The level while a sink is installed, -1 while none is: one relaxed load decides whether a
// message is wanted. Written only by set_log_sink/set_log_callback/set_log_level.
extern std::atomic<int> g_threshold;
}  // namespace log_detail

// Whether a message of this severity would reach a sink now.
inline bool log_enabled(LogSeverity severity) {
  return static_cast<int>(severity) <= log_detail::g_threshold.load(std::memory_order_relaxed);
}

// Sends `message` to the sink when log_enabled(severity). Inside slimrt, SLIMRT_LOG
// (src/core/log.h) formats the message only after that check.
void log_message(LogSeverity severity, std::string_view message);

}  // namespace slimrt
