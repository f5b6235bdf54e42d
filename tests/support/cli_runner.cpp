#include "support/cli_runner.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>

namespace slimrt::testing {

CliResult run_cli(const std::string& cli_path, const std::string& args, bool stdout_only) {
  return run_command_line(cli_path + " " + args + (stdout_only ? " 2>/dev/null" : " 2>&1"));
}

CliResult run_command_line(const std::string& command_line) {
  CliResult r;
  FILE* p = popen(command_line.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace slimrt::testing
