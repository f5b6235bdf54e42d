// The CLI tests' way to run the slimrt binary under test (SLIMRT_CLI_PATH, set for the cpu test
// target) with arguments.
#pragma once

#include <string>

#include "support/cli_runner.h"

namespace slimrt {

inline testing::CliResult run_cli(const std::string& args, bool stdout_only = false) {
  return testing::run_cli(SLIMRT_CLI_PATH, args, stdout_only);
}

}  // namespace slimrt
