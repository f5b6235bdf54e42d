// The log sink (slimrt/logging.h): severities, formatting only above the level, many threads,
// replacing the sink while others log, messages from inside a sink, and what the builder and
// the loader tell it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/log.h"
#include "slimrt/builder/builder.h"
#include "slimrt/logging.h"
#include "slimrt/runtime.h"
#include "support/test_util.h"

namespace {

// Counts how often fmt formats it: SLIMRT_LOG must not format below the level.
struct Counted {
  std::atomic<int>* formats;
};

}  // namespace

template <>
struct fmt::formatter<Counted> : fmt::formatter<std::string_view> {
  auto format(const Counted& c, fmt::format_context& ctx) const {
    c.formats->fetch_add(1);
    return fmt::formatter<std::string_view>::format("counted", ctx);
  }
};

namespace slimrt {
namespace {

struct Record {
  LogSeverity severity;
  std::string message;
};

// Collects what the sink receives; thread-safe.
class Collector {
 public:
  LogSink sink() {
    return [this](LogSeverity s, std::string_view m) {
      std::lock_guard<std::mutex> lock(mu_);
      records_.push_back({s, std::string(m)});
    };
  }
  std::vector<Record> records() const {
    std::lock_guard<std::mutex> lock(mu_);
    return records_;
  }
  bool saw(LogSeverity s, const std::string& part) const {
    for (const Record& r : records()) {
      if (r.severity == s && r.message.find(part) != std::string::npos) return true;
    }
    return false;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Record> records_;
};

// Every test leaves the process as it found it: no sink, level kWarning.
class Logging : public ::testing::Test {
 protected:
  void TearDown() override {
    set_log_sink(nullptr);
    set_log_level(LogSeverity::kWarning);
  }
};

TEST_F(Logging, SilentWithoutSink) {
  EXPECT_EQ(log_level(), LogSeverity::kWarning);
  EXPECT_FALSE(log_enabled(LogSeverity::kError));
  log_message(LogSeverity::kError, "nobody listens");  // dropped, no crash
}

TEST_F(Logging, SeverityNames) {
  EXPECT_EQ(log_severity_name(LogSeverity::kError), "error");
  EXPECT_EQ(log_severity_name(LogSeverity::kWarning), "warning");
  EXPECT_EQ(log_severity_name(LogSeverity::kInfo), "info");
  EXPECT_EQ(log_severity_name(LogSeverity::kVerbose), "verbose");
}

TEST_F(Logging, LevelFiltersBySeverity) {
  Collector c;
  set_log_sink(c.sink());
  const LogSeverity all[] = {LogSeverity::kError, LogSeverity::kWarning, LogSeverity::kInfo, LogSeverity::kVerbose};
  for (LogSeverity level : all) {
    set_log_level(level);
    EXPECT_EQ(log_level(), level);
    for (LogSeverity s : all) {
      EXPECT_EQ(log_enabled(s), static_cast<int>(s) <= static_cast<int>(level));
      log_message(s, std::string(log_severity_name(s)) + " at level " + std::string(log_severity_name(level)));
    }
  }
  // kError: 1 message, kWarning: 2, kInfo: 3, kVerbose: 4.
  const std::vector<Record> got = c.records();
  ASSERT_EQ(got.size(), 10u);
  EXPECT_EQ(got[0].message, "error at level error");
  EXPECT_EQ(got[1].message, "error at level warning");
  EXPECT_EQ(got[2].message, "warning at level warning");
  EXPECT_EQ(got[9].severity, LogSeverity::kVerbose);
  EXPECT_EQ(got[9].message, "verbose at level verbose");
}

TEST_F(Logging, NoFormattingBelowLevel) {
  Collector c;
  std::atomic<int> formats{0};
  int evaluated = 0;
  auto expensive = [&] {
    ++evaluated;
    return 42;
  };
  // No sink: nothing is formatted at any severity, and the arguments are not evaluated.
  SLIMRT_LOG(kError, "{} {}", Counted{&formats}, expensive());
  EXPECT_EQ(formats.load(), 0);
  EXPECT_EQ(evaluated, 0);

  set_log_sink(c.sink());
  set_log_level(LogSeverity::kWarning);
  SLIMRT_LOG(kInfo, "{} {}", Counted{&formats}, expensive());
  SLIMRT_LOG(kVerbose, "{} {}", Counted{&formats}, expensive());
  EXPECT_EQ(formats.load(), 0);
  EXPECT_EQ(evaluated, 0);
  EXPECT_TRUE(c.records().empty());

  SLIMRT_LOG(kWarning, "{} {}", Counted{&formats}, expensive());
  EXPECT_EQ(formats.load(), 1);
  EXPECT_EQ(evaluated, 1);
  ASSERT_EQ(c.records().size(), 1u);
  EXPECT_EQ(c.records()[0].message, "counted 42");
}

TEST_F(Logging, CallbackForC) {
  struct Seen {
    int severity = -1;
    std::string text;
    int calls = 0;
  } seen;
  set_log_callback(
      [](void* user_data, int severity, const char* message) {
        auto* s = static_cast<Seen*>(user_data);
        s->severity = severity;
        s->text = message;  // NUL-terminated
        ++s->calls;
      },
      &seen);
  log_message(LogSeverity::kWarning, std::string_view("warned, and then some", 6));
  EXPECT_EQ(seen.calls, 1);
  EXPECT_EQ(seen.severity, 1);
  EXPECT_EQ(seen.text, "warned");
  set_log_callback(nullptr, nullptr);
  EXPECT_FALSE(log_enabled(LogSeverity::kError));
  log_message(LogSeverity::kError, "after removal");
  EXPECT_EQ(seen.calls, 1);
}

TEST_F(Logging, ManyThreadsEveryMessageArrivesWhole) {
  Collector c;
  set_log_sink(c.sink());
  constexpr int kThreads = 8, kMessages = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kMessages; ++i) SLIMRT_LOG(kWarning, "thread {} message {}", t, i);
    });
  }
  for (std::thread& th : threads) th.join();
  const std::vector<Record> got = c.records();
  ASSERT_EQ(got.size(), static_cast<size_t>(kThreads * kMessages));
  std::vector<int> next(kThreads, 0);  // each thread's messages arrive in its order
  for (const Record& r : got) {
    int t = -1, i = -1;
    ASSERT_EQ(std::sscanf(r.message.c_str(), "thread %d message %d", &t, &i), 2) << r.message;
    ASSERT_TRUE(t >= 0 && t < kThreads);
    EXPECT_EQ(i, next[static_cast<size_t>(t)]++);
  }
}

// Threads log without pause while the main thread installs a new sink 200 times. Each sink's
// state is rewritten (a plain, unsynchronized write) as soon as set_log_callback returns: a
// thread still inside that sink, or calling it later, would see "retired" (counted here) and be
// a data race that the TSan build (scripts/sanitize-check.sh) reports.
TEST_F(Logging, ReplacingTheSinkWhileLogging) {
  struct SinkState {
    std::string tag = "live";
    std::atomic<int64_t> calls{0};
  };
  static std::atomic<int64_t> stale_calls{0};
  stale_calls = 0;
  const LogCallback callback = [](void* user_data, int, const char*) {
    auto* s = static_cast<SinkState*>(user_data);
    if (s->tag != "live") stale_calls.fetch_add(1);
    s->calls.fetch_add(1, std::memory_order_relaxed);
  };
  std::vector<std::unique_ptr<SinkState>> states;
  states.push_back(std::make_unique<SinkState>());
  set_log_callback(callback, states.back().get());

  std::atomic<bool> stop{false};
  std::atomic<int64_t> sent{0};
  std::vector<std::thread> loggers;
  for (int t = 0; t < 4; ++t) {
    loggers.emplace_back([&, t] {
      while (!stop.load(std::memory_order_relaxed)) {
        SLIMRT_LOG(kWarning, "logger {}", t);
        sent.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (int k = 0; k < 200; ++k) {
    states.push_back(std::make_unique<SinkState>());
    SinkState* previous = states[states.size() - 2].get();
    set_log_callback(callback, states.back().get());
    previous->tag = "retired";
    if (k % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  stop = true;
  for (std::thread& th : loggers) th.join();
  set_log_callback(nullptr, nullptr);
  int64_t received = 0;
  for (const auto& s : states) received += s->calls.load();
  EXPECT_EQ(stale_calls.load(), 0);
  EXPECT_EQ(received, sent.load());  // no message lost across the swaps
  EXPECT_GT(sent.load(), 0);
}

TEST_F(Logging, MessagesFromInsideTheSinkAreDropped) {
  Collector c;
  LogSink inner = c.sink();
  set_log_sink([&inner](LogSeverity s, std::string_view m) {
    inner(s, m);
    log_message(LogSeverity::kError, "from inside the sink");  // would recurse forever
  });
  log_message(LogSeverity::kWarning, "outer");
  ASSERT_EQ(c.records().size(), 1u);
  EXPECT_EQ(c.records()[0].message, "outer");
}

TEST_F(Logging, SinkMayReplaceItself) {
  Collector c;
  std::atomic<int> first_calls{0};
  set_log_sink([&](LogSeverity, std::string_view) {
    ++first_calls;
    set_log_sink(c.sink());  // must not wait for itself
  });
  log_message(LogSeverity::kWarning, "to the first sink");
  log_message(LogSeverity::kWarning, "to the second sink");
  EXPECT_EQ(first_calls.load(), 1);
  ASSERT_EQ(c.records().size(), 1u);
  EXPECT_EQ(c.records()[0].message, "to the second sink");
}

TEST_F(Logging, ThrowingSinkDoesNotUnwindThroughSlimrt) {
  int calls = 0;
  set_log_sink([&](LogSeverity, std::string_view) {
    ++calls;
    throw std::runtime_error("sink failure");
  });
  log_message(LogSeverity::kError, "first");
  log_message(LogSeverity::kError, "second");
  EXPECT_EQ(calls, 2);
}

TEST_F(Logging, FailedCheckIsLoggedThenWrittenBeforeAbort) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        set_log_sink([](LogSeverity s, std::string_view m) {
          std::fprintf(stderr, "sink got %s: %.*s\n", std::string(log_severity_name(s)).c_str(),
                       static_cast<int>(m.size()), m.data());
        });
        SLIMRT_CHECK_MSG(1 + 1 == 3, "arithmetic broke");
      },
      "sink got error: internal check failed at .*logging_test.cpp:[0-9]+: 1 \\+ 1 == 3 arithmetic broke\n"
      "slimrt: internal check failed at .*logging_test.cpp");
}

// The builder and the loader: what they chose on their own reaches the sink.
TEST_F(Logging, BuildAndLoadTellTheSink) {
  Collector c;
  set_log_sink(c.sink());
  set_log_level(LogSeverity::kVerbose);
  const std::string dir = testing::process_temp_dir(SLIMRT_BINARY_DIR, "logging");
  const std::string engine = dir + "/tinynet.engine";
  BuildReport report;
  ASSERT_TRUE(build_engine(std::string(SLIMRT_SOURCE_DIR) + "/models/tinynet.onnx", BuildOptions{}, engine, &report).ok());
  // The default profile's note, as in the report.
  ASSERT_EQ(report.profile_choices.notes.size(), 1u);
  EXPECT_TRUE(c.saw(LogSeverity::kInfo, "build: " + report.profile_choices.notes[0]));
  EXPECT_TRUE(c.saw(LogSeverity::kVerbose, "build: imported"));
  EXPECT_TRUE(c.saw(LogSeverity::kVerbose, "build: profile 0"));
  EXPECT_TRUE(c.saw(LogSeverity::kInfo, "build: wrote '" + engine + "'"));

  Result<std::unique_ptr<Runtime>> rt = Runtime::create({.backend = "cpu"});
  ASSERT_TRUE(rt.ok());
  ASSERT_TRUE((*rt)->load_file(engine).ok());
  EXPECT_TRUE(c.saw(LogSeverity::kVerbose, "reader thread(s)"));
  EXPECT_TRUE(c.saw(LogSeverity::kInfo, "loaded engine"));
  EXPECT_TRUE(c.saw(LogSeverity::kInfo, "checksums verified"));
  for (const Record& r : c.records()) {
    EXPECT_EQ(r.message.find('\n'), std::string::npos) << "one line per message: " << r.message;
  }

  // At the default level the same work says nothing.
  set_log_level(LogSeverity::kWarning);
  const size_t before = c.records().size();
  ASSERT_TRUE((*rt)->load_file(engine).ok());
  EXPECT_EQ(c.records().size(), before);
  std::filesystem::remove(engine);
}

}  // namespace
}  // namespace slimrt
