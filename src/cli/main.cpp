// slimrt: the command-line front end.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "slimrt/version.h"

namespace slimrt::cli {

int report_error(const Status& s) {
  fmt::print(stderr, "slimrt: error: {}\n", s.to_string());
  return s.is_user_error() ? kExitBadInput : kExitRuntimeFailure;
}

}  // namespace slimrt::cli

int main(int argc, char** argv) {
  using namespace slimrt::cli;
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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints help/version/usage errors
    return rc == 0 ? kExitOk : kExitBadInput;
  }
  return exit_code;
}
