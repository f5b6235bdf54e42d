// slimrt-load, the runtime-only loading tool, as a user runs it (on the CPU backend here; the GPU
// machine runs it on the device in scripts/gpu-check.sh and scripts/gpu-load-bench.sh).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "support/cli_runner.h"

namespace slimrt {
namespace {

using testing::CliResult;

std::string temp_dir() {
  static const std::string dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("slimrt_load_tool_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d.string();
  }();
  return dir;
}

const std::string& engine_path() {
  static const std::string path = [] {
    const std::string p = temp_dir() + "/tinynet.engine";
    CliResult r = testing::run_cli(SLIMRT_CLI_PATH, "build " + std::string(SLIMRT_SOURCE_DIR) +
                                                        "/models/tinynet.onnx -o " + p +
                                                        " --min image:1x3x64x64 --opt image:4x3x64x64 --max image:8x3x64x64");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return p;
  }();
  return path;
}

TEST(LoadTool, EveryReaderLoadsAndTheBytesMatchTheFile) {
  const uint64_t file_bytes = std::filesystem::file_size(engine_path());
  for (const std::string reader : {"file", "auto", "direct", "mmap", "pipe", "stdin"}) {
    SCOPED_TRACE(reader);
    const std::string args = reader == "stdin" ? "- --reader pipe --backend cpu --json < " + engine_path()
                                               : engine_path() + " --reader " + reader + " --backend cpu --json --threads 3";
    CliResult r = testing::run_cli(SLIMRT_LOAD_PATH, args, /*stdout_only=*/true);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const nlohmann::json j = nlohmann::json::parse(r.output);
    EXPECT_EQ(j["backend"], "cpu");
    EXPECT_EQ(j["device_check"], "ok");
    EXPECT_EQ(j["file_bytes"].get<uint64_t>(), file_bytes);
    EXPECT_GT(j["weights_bytes"].get<uint64_t>(), 90000u);
    EXPECT_TRUE(j["checksums_verified"].get<bool>());
    EXPECT_EQ(j["threads"].get<uint32_t>(), reader == "pipe" || reader == "stdin" ? 1u : 3u);
    EXPECT_GE(j["rss_growth_kib"].get<int64_t>(), 0);
    EXPECT_GT(j["load_seconds"].get<double>(), 0.0);
  }
}

TEST(LoadTool, BadEnginesAndArgumentsExitTwo) {
  // A flipped bit in the weights: the checksum names the chunk.
  const std::string bad = temp_dir() + "/flipped.engine";
  std::filesystem::copy_file(engine_path(), bad, std::filesystem::copy_options::overwrite_existing);
  {
    std::fstream f(bad, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(bad) - 5000));
    f.put('\x7f');
  }
  CliResult r = testing::run_cli(SLIMRT_LOAD_PATH, bad + " --backend cpu");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("checksum mismatch"), std::string::npos) << r.output;
  r = testing::run_cli(SLIMRT_LOAD_PATH, temp_dir() + "/missing.engine --backend cpu");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("not found"), std::string::npos) << r.output;
  r = testing::run_cli(SLIMRT_LOAD_PATH, engine_path() + " --backend tpu");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = testing::run_cli(SLIMRT_LOAD_PATH, engine_path() + " --staging-buffers 1");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  // With verification off the flipped engine loads, and the byte check still catches it.
  r = testing::run_cli(SLIMRT_LOAD_PATH, bad + " --backend cpu --no-verify");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("mismatch"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace slimrt
