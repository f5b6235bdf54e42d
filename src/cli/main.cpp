// slimrt: the command-line front end.
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/verbosity.h"
#include "slimrt/version.h"

namespace slimrt::cli {

int report_error(const Status& s) {
  fmt::print(stderr, "slimrt: error: {}\n", s.to_string());
  return s.is_user_error() ? kExitBadInput : kExitRuntimeFailure;
}

}  // namespace slimrt::cli

int main(int argc, char** argv) {
  using namespace slimrt::cli;
  install_log_sink();
  CLI::App app{"slimrt: a memory-first inference runtime for ONNX models.\n"
               "Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad input."};
  app.set_version_flag("--version", std::string("slimrt ") + SLIMRT_VERSION_STRING);
  app.require_subcommand(1);
  int exit_code = kExitOk;
  RunOptions run_opts;
  add_run_command(app, run_opts, exit_code);
  BuildCommandOptions build_opts;
  add_build_command(app, build_opts, exit_code);
  InspectOptions inspect_opts;
  add_inspect_command(app, inspect_opts, exit_code);
  BenchOptions bench_opts;
  add_bench_command(app, bench_opts, exit_code);
  add_ops_command(app, exit_code);
  // Global flags: before the command (slimrt -q build ...) or among its options.
  add_verbosity_flags(app);
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) add_verbosity_flags(*sub);

  // The first argument that is not an option names the command (after the global flags); CLI11
  // would call an unknown one an unexpected argument or ask for "a subcommand".
  std::vector<std::string> commands;
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) commands.push_back(sub->get_name());
  int first = 1;
  while (first < argc && is_verbosity_flag(argv[first])) ++first;
  if (first >= argc || argv[first][0] != '-') {
    const std::string given = first >= argc ? std::string() : argv[first];
    if (std::find(commands.begin(), commands.end(), given) == commands.end()) {
      if (given.empty()) {
        fmt::print(stderr, "slimrt: error: a command is required: {} (slimrt --help describes them)\n",
                   fmt::join(commands, ", "));
      } else {
        fmt::print(stderr, "slimrt: error: unknown command '{}' (commands: {}; slimrt --help describes them)\n", given,
                   fmt::join(commands, ", "));
      }
      return kExitBadInput;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints help/version/usage errors
    return rc == 0 ? kExitOk : kExitBadInput;
  } catch (const std::bad_alloc&) {
    // Allocations report kOutOfMemory themselves; this is the last line for one that throws.
    fmt::print(stderr, "slimrt: error: OutOfMemory: a host allocation failed\n");
    return kExitRuntimeFailure;
  } catch (const std::exception& e) {
    fmt::print(stderr, "slimrt: error: Internal: unexpected exception: {}\n", e.what());
    return kExitRuntimeFailure;
  }
  return exit_code;
}
