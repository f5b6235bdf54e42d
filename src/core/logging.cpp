// The process-wide log sink (include/slimrt/logging.h).
//
// The sink lives in a Slot that counts the threads inside it. A message takes the current slot
// and raises its count under the mutex, calls the sink with no lock held (sinks run in
// parallel and may be slow), then lowers the count. set_log_sink swaps in a new slot and waits,
// on a condition variable, until the old one's count is zero; only then is the old sink
// destroyed. New messages go to the new slot meanwhile, so a stream of messages cannot starve
// the swap. A swap from inside the old sink waits for the other threads only and leaves the
// slot to be freed by its own thread on the way out.
#include "slimrt/logging.h"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace slimrt {

namespace log_detail {
std::atomic<int> g_threshold{-1};
}  // namespace log_detail

namespace {

struct Slot {
  explicit Slot(LogSink s) : sink(std::move(s)) {}
  LogSink sink;
  int active = 0;        // threads inside sink; guarded by LogState::mu
  bool retired = false;  // replaced from inside itself: the last thread out deletes it
};

struct LogState {
  std::mutex mu;
  std::condition_variable left;  // a thread left a slot that is no longer current
  Slot* current = nullptr;       // owned
  LogSeverity level = LogSeverity::kWarning;
};

// Never destroyed: a thread may log during static destruction.
LogState& state() {
  static LogState* s = new LogState();
  return *s;
}

// The slot this thread is calling into, if any.
thread_local const Slot* t_inside = nullptr;

void publish_threshold(const LogState& s) {
  log_detail::g_threshold.store(s.current != nullptr ? static_cast<int>(s.level) : -1, std::memory_order_relaxed);
}

}  // namespace

std::string_view log_severity_name(LogSeverity severity) {
  switch (severity) {
    case LogSeverity::kError: return "error";
    case LogSeverity::kWarning: return "warning";
    case LogSeverity::kInfo: return "info";
    case LogSeverity::kVerbose: return "verbose";
  }
  return "unknown";
}

void set_log_sink(LogSink sink) {
  std::unique_ptr<Slot> fresh = sink ? std::make_unique<Slot>(std::move(sink)) : nullptr;
  LogState& s = state();
  Slot* old = nullptr;
  {
    std::unique_lock<std::mutex> lock(s.mu);
    old = std::exchange(s.current, fresh.release());
    publish_threshold(s);
    if (old == nullptr) return;
    const int own = t_inside == old ? 1 : 0;
    s.left.wait(lock, [&] { return old->active == own; });
    if (own == 1) {
      old->retired = true;
      return;
    }
  }
  // Outside the lock: the sink's destructor may run arbitrary code, logging included.
  delete old;
}

void set_log_callback(LogCallback callback, void* user_data) {
  if (callback == nullptr) {
    set_log_sink(nullptr);
    return;
  }
  set_log_sink([callback, user_data](LogSeverity severity, std::string_view message) {
    const std::string text(message);
    callback(user_data, static_cast<int>(severity), text.c_str());
  });
}

void set_log_level(LogSeverity level) {
  LogState& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.level = level;
  publish_threshold(s);
}

LogSeverity log_level() {
  LogState& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.level;
}

void log_message(LogSeverity severity, std::string_view message) {
  if (!log_enabled(severity) || t_inside != nullptr) return;
  LogState& s = state();
  Slot* slot = nullptr;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    slot = s.current;
    if (slot == nullptr || static_cast<int>(severity) > static_cast<int>(s.level)) return;
    ++slot->active;
  }
  t_inside = slot;
  try {
    slot->sink(severity, message);
  } catch (...) {
    // A throwing sink loses its message; the exception must not unwind through slimrt.
  }
  t_inside = nullptr;
  bool last_out = false;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    --slot->active;
    last_out = slot->retired && slot->active == 0;
    if (slot != s.current) s.left.notify_all();
  }
  if (last_out) delete slot;
}

}  // namespace slimrt
