// What the CLI says on stderr besides its results: errors, notes and the library's log
// (slimrt/logging.h), governed by --quiet and --verbose (docs/cli.md, "Messages").
#pragma once

#include <string_view>

namespace CLI {
class App;
}

namespace slimrt::cli {

enum class Verbosity {
  kQuiet,    // --quiet: errors only
  kNormal,   // notes, warnings and errors
  kVerbose,  // --verbose: also the library's info and verbose messages
};

// Installs the library's log sink: one line per message on stderr, prefixed by its severity
// ("slimrt: error: ", "warning: ", "note: ", "verbose: "), at the kNormal level.
void install_log_sink();

// Adds -q/--quiet and -v/--verbose to `app`. They take effect as they are parsed, before any
// command runs; both together are a usage error.
void add_verbosity_flags(CLI::App& app);

Verbosity verbosity();

// -q, --quiet, -v or --verbose.
bool is_verbosity_flag(std::string_view arg);

// "note: <text>" on stderr unless --quiet.
void print_note(std::string_view text);

}  // namespace slimrt::cli
