// The CLI's messages on stderr under --quiet, the default and --verbose (docs/cli.md,
// "Messages"), and scripts/check_no_stdio.py, which keeps the library off stdout and stderr.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cpu/cli_test_util.h"
#include "support/cli_runner.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

namespace fs = std::filesystem;

using testing::CliResult;

// Only what the command writes on stderr.
CliResult run_cli_stderr(const std::string& args) {
  return testing::run_command_line(std::string(SLIMRT_CLI_PATH) + " " + args + " 2>&1 >/dev/null");
}

const std::string& temp_dir() { return testing::process_temp_dir(SLIMRT_BINARY_DIR, "logging_cli"); }
std::string tinynet() { return std::string(SLIMRT_SOURCE_DIR) + "/models/tinynet.onnx"; }
std::string build_args(const std::string& flags) {
  return "build " + tinynet() + " -o " + temp_dir() + "/tinynet.engine " + flags;
}
bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

constexpr const char* kProfileNote = "note: profile 0: input 'image' [batch,3,64,64] is not in the profile";

TEST(LoggingCli, DefaultShowsNotesAndNoLibraryInfo) {
  const CliResult r = run_cli_stderr(build_args(""));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, kProfileNote)) << r.output;
  EXPECT_FALSE(has(r.output, "verbose: ")) << r.output;
  EXPECT_FALSE(has(r.output, "note: build: ")) << r.output;
}

TEST(LoggingCli, QuietPrintsNothingButResults) {
  for (const std::string& args : {build_args("--quiet"), build_args("-q"), "-q " + build_args("")}) {
    const CliResult err = run_cli_stderr(args);
    ASSERT_EQ(err.exit_code, 0) << args << "\n" << err.output;
    EXPECT_EQ(err.output, "") << args;
    const CliResult out = run_cli(args, /*stdout_only=*/true);
    EXPECT_TRUE(has(out.output, "engine     ")) << "the report stays: " << out.output;
  }
  const CliResult run = run_cli_stderr("run " + tinynet() + " --backend cpu --quiet");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.output, "");
  const CliResult noisy = run_cli_stderr("run " + tinynet() + " --backend cpu");
  EXPECT_TRUE(has(noisy.output, "note: input 'image': dim 'batch' set to 1")) << noisy.output;
}

TEST(LoggingCli, QuietStillPrintsErrors) {
  const CliResult r = run_cli_stderr("run " + temp_dir() + "/missing.onnx --quiet");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(has(r.output, "slimrt: error: NotFound")) << r.output;
  const CliResult unknown = run_cli_stderr("-q frobnicate");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_TRUE(has(unknown.output, "slimrt: error: unknown command 'frobnicate'")) << unknown.output;
}

TEST(LoggingCli, VerboseShowsTheLibrarysLog) {
  for (const std::string& args : {build_args("--verbose"), "-v " + build_args("")}) {
    const CliResult r = run_cli_stderr(args);
    ASSERT_EQ(r.exit_code, 0) << args << "\n" << r.output;
    EXPECT_TRUE(has(r.output, "verbose: build: imported '" + tinynet() + "'")) << r.output;
    EXPECT_TRUE(has(r.output, "note: build: profile 0: input 'image'")) << r.output;
    EXPECT_TRUE(has(r.output, "note: build: wrote '")) << r.output;
    // The profile note once, from the builder's log, not also from the report.
    EXPECT_FALSE(has(r.output, kProfileNote)) << r.output;
  }
  const CliResult run = run_cli_stderr("run " + temp_dir() + "/tinynet.engine --backend cpu --verbose");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(has(run.output, "note: loaded engine")) << run.output;
}

TEST(LoggingCli, QuietAndVerboseAreExclusive) {
  for (const std::string& args : {std::string("ops --quiet --verbose"), std::string("-q ops -v"), build_args("-v -q")}) {
    const CliResult r = run_cli(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
    EXPECT_TRUE(has(r.output, "--quiet and --verbose are exclusive")) << r.output;
  }
}

TEST(LoggingCli, EveryCommandTakesTheFlags) {
  for (const char* command : {"run", "build", "inspect", "bench", "ops"}) {
    const CliResult r = run_cli(std::string(command) + " --help", /*stdout_only=*/true);
    EXPECT_EQ(r.exit_code, 0) << command;
    EXPECT_TRUE(has(r.output, "-q,--quiet") && has(r.output, "-v,--verbose")) << command << "\n" << r.output;
  }
  EXPECT_EQ(run_cli("ops -v", true).exit_code, 0);
}

// scripts/check_no_stdio.py on the tree (clean), and on small trees it must refuse.
int check_no_stdio(const std::string& root, std::string* output) {
  const CliResult r = testing::run_command_line(std::string(SLIMRT_PYTHON) + " " + SLIMRT_SOURCE_DIR +
                                                "/scripts/check_no_stdio.py --root " + root + " 2>&1");
  *output = r.output;
  return r.exit_code;
}

std::string tree_with(const std::string& name, const std::string& path, const std::string& text) {
  const std::string root = temp_dir() + "/" + name;
  fs::remove_all(root);
  fs::create_directories(fs::path(root + "/" + path).parent_path());
  std::ofstream(root + "/" + path) << text;
  return root;
}

TEST(CheckNoStdio, SourceTreeIsClean) {
  std::string out;
  EXPECT_EQ(check_no_stdio(SLIMRT_SOURCE_DIR, &out), 0) << out;
}

TEST(CheckNoStdio, RefusesDirectWrites) {
  const char* cases[] = {
      "void f() { std::fprintf(stderr, \"x\"); }",
      "void f() { printf(\"%d\", 1); }",
      "void f() { std::cerr << 1; }",
      "void f() { fmt::print(\"{}\", 1); }",
      "void f() { ::write(STDERR_FILENO, \"x\", 1); }",
      "void f() { write(2, \"x\", 1); }",
      "__global__ void k() { printf(\"device\\n\"); }",
  };
  int i = 0;
  for (const char* text : cases) {
    const std::string root = tree_with("bad" + std::to_string(i++), "src/runtime/bad.cu", text);
    std::string out;
    EXPECT_EQ(check_no_stdio(root, &out), 1) << text << "\n" << out;
    EXPECT_TRUE(has(out, "src/runtime/bad.cu:1: writes to stdout/stderr")) << out;
  }
  // The marker counts only in the file of the documented exception.
  std::string out;
  const std::string marked = tree_with("marked", "src/ir/x.cpp", "void f() { puts(\"x\"); }  // slimrt-stdio-ok: why\n");
  EXPECT_EQ(check_no_stdio(marked, &out), 1) << out;
}

TEST(CheckNoStdio, IgnoresCommentsStringsAndTheCli) {
  const std::string text =
      "// the library never writes to stderr; printf(\"x\") would\n"
      "/* std::cout << 1; */\n"
      "const char* s = \"fmt::print(stdout)\"; auto n = 1'000'000; int snprintf_like = std::snprintf(b, 4, \"%d\", 1);\n"
      "const char* raw = R\"(\n printf(\"x\") \n)\";\n";
  const std::string root = tree_with("clean", "src/core/ok.cpp", text);
  fs::create_directories(root + "/src/cli");
  std::ofstream(root + "/src/cli/main.cpp") << "int main() { std::puts(\"the CLI prints\"); }\n";
  std::ofstream(root + "/src/core/status.cpp")
      << "void g() { std::fprintf(stderr, \"x\"); }  // slimrt-stdio-ok: last words before abort()\n";
  std::string out;
  EXPECT_EQ(check_no_stdio(root, &out), 0) << out;
}

}  // namespace
}  // namespace slimrt
