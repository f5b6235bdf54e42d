// Runs the slimrt executable as a user would (tests that check exit codes and messages).
//
//   CliResult r = run_cli(SLIMRT_CLI_PATH, "run model.onnx --json", /*stdout_only=*/true);
#pragma once

#include <string>

namespace slimrt::testing {

struct CliResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together, or stdout alone
};

CliResult run_cli(const std::string& cli_path, const std::string& args, bool stdout_only = false);

// Runs a shell command line as it is and collects what it prints on stdout (redirect stderr in
// `command_line` to keep it).
CliResult run_command_line(const std::string& command_line);

}  // namespace slimrt::testing
