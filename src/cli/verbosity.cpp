// The CLI's stderr sink and the --quiet / --verbose flags (cli/verbosity.h).
#include "cli/verbosity.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <atomic>
#include <cstdio>

#include "slimrt/logging.h"

namespace slimrt::cli {

namespace {

std::atomic<Verbosity> g_verbosity{Verbosity::kNormal};
bool g_quiet_given = false;
bool g_verbose_given = false;

std::string_view prefix(LogSeverity severity) {
  switch (severity) {
    case LogSeverity::kError: return "slimrt: error: ";
    case LogSeverity::kWarning: return "warning: ";
    case LogSeverity::kInfo: return "note: ";
    case LogSeverity::kVerbose: return "verbose: ";
  }
  return "";
}

// One fmt::print is one fwrite: lines from several threads do not interleave.
void write_to_stderr(LogSeverity severity, std::string_view message) {
  fmt::print(stderr, "{}{}\n", prefix(severity), message);
}

LogSeverity log_level_for(Verbosity v) {
  switch (v) {
    case Verbosity::kQuiet: return LogSeverity::kError;
    case Verbosity::kNormal: return LogSeverity::kWarning;
    case Verbosity::kVerbose: return LogSeverity::kVerbose;
  }
  return LogSeverity::kWarning;
}

void set_verbosity(Verbosity v) {
  if (g_quiet_given && g_verbose_given) throw CLI::ValidationError("--quiet and --verbose are exclusive");
  g_verbosity = v;
  set_log_level(log_level_for(v));
}

}  // namespace

void install_log_sink() {
  set_log_sink(write_to_stderr);
  set_log_level(log_level_for(g_verbosity));
}

void add_verbosity_flags(CLI::App& app) {
  app.add_flag_callback(
      "-q,--quiet",
      [] {
        g_quiet_given = true;
        set_verbosity(Verbosity::kQuiet);
      },
      "Print errors only (no notes, warnings or progress bar)");
  app.add_flag_callback(
      "-v,--verbose",
      [] {
        g_verbose_given = true;
        set_verbosity(Verbosity::kVerbose);
      },
      "Also print what slimrt does step by step (the library's info and verbose messages)");
}

Verbosity verbosity() { return g_verbosity; }

bool is_verbosity_flag(std::string_view arg) {
  return arg == "-q" || arg == "--quiet" || arg == "-v" || arg == "--verbose";
}

void print_note(std::string_view text) {
  if (g_verbosity != Verbosity::kQuiet) fmt::print(stderr, "note: {}\n", text);
}

}  // namespace slimrt::cli
