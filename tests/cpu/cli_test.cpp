// Runs the slimrt executable as a user would and checks exit codes and messages.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "slimrt/device.h"
#include "slimrt/npy.h"
#include "cpu/cli_test_util.h"
#include "support/cli_runner.h"

namespace slimrt {
namespace {

namespace fs = std::filesystem;

using testing::CliResult;

const std::string& fixtures_dir() {
  static const std::string dir = [] {
    // One directory per process: ctest runs these tests as parallel processes.
    const std::string d = std::string(SLIMRT_BINARY_DIR) + "/test_tmp/cli_fixtures_" + std::to_string(getpid());
    const std::string cmd = std::string(SLIMRT_PYTHON) + " " + SLIMRT_SOURCE_DIR + "/tests/data/make_cli_fixtures.py " + d;
    if (std::system(cmd.c_str()) != 0) return std::string();
    return d;
  }();
  return dir;
}

std::string bundled_model() { return std::string(SLIMRT_SOURCE_DIR) + "/models/tinynet.onnx"; }

TEST(Cli, VersionAndHelp) {
  CliResult v = run_cli("--version");
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_NE(v.output.find("slimrt 0."), std::string::npos) << v.output;
  CliResult h = run_cli("--help");
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_NE(h.output.find("run"), std::string::npos);
  EXPECT_NE(h.output.find("Exit codes"), std::string::npos);
  CliResult rh = run_cli("run --help");
  EXPECT_EQ(rh.exit_code, 0);
  for (const char* opt : {"--backend", "--input", "--shapes", "--output-dir", "--seed", "--json"})
    EXPECT_NE(rh.output.find(opt), std::string::npos) << opt;
}

TEST(Cli, BadUsageExits2) {
  EXPECT_EQ(run_cli("").exit_code, 2);
  EXPECT_EQ(run_cli("frobnicate").exit_code, 2);
  EXPECT_EQ(run_cli("run").exit_code, 2);
  CliResult s = run_cli("run " + bundled_model() + " --shapes image:1xfoo");
  EXPECT_EQ(s.exit_code, 2);
  EXPECT_NE(s.output.find("not a shape"), std::string::npos) << s.output;
  CliResult b = run_cli("run " + bundled_model() + " --backend tpu");
  EXPECT_EQ(b.exit_code, 2);
  EXPECT_NE(b.output.find("no backend named 'tpu'"), std::string::npos) << b.output;
  CliResult i = run_cli("run " + bundled_model() + " --input nosuch=x.npy");
  EXPECT_EQ(i.exit_code, 2);
  EXPECT_NE(i.output.find("no input 'nosuch'"), std::string::npos) << i.output;
}

TEST(Cli, MissingModelFileExits2) {
  CliResult r = run_cli("run /nonexistent/model.onnx");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("/nonexistent/model.onnx"), std::string::npos) << r.output;
}

TEST(Cli, BadModelsExit2WithPreciseMessages) {
  ASSERT_FALSE(fixtures_dir().empty()) << "fixture script failed";
  struct Case {
    const char* file;
    std::vector<std::string> must_mention;
  };
  const Case cases[] = {
      {"not_onnx.onnx", {"not_onnx.onnx", "not a valid ONNX model"}},
      {"truncated.onnx", {"truncated.onnx", "not a valid ONNX model"}},
      {"missing_external.onnx", {"missing_weights.bin", "'w'"}},
      {"unsupported_op.onnx", {"determinant_node", "Det", "opset 17", "docs/ops.md"}},
      {"bad_shapes.onnx", {"bad_matmul", "MatMul", "[2,3]", "[4,5]"}},
  };
  for (const Case& c : cases) {
    CliResult r = run_cli("run " + fixtures_dir() + "/" + c.file);
    EXPECT_EQ(r.exit_code, 2) << c.file << ": " << r.output;
    for (const std::string& m : c.must_mention) EXPECT_NE(r.output.find(m), std::string::npos) << c.file << " should mention " << m << ": " << r.output;
  }
}

TEST(Cli, RunsBundledModelAndWritesOutputs) {
  const fs::path out = fs::path(SLIMRT_BINARY_DIR) / "test_tmp" / "cli_out";
  fs::remove_all(out);
  CliResult r = run_cli("run " + bundled_model() + " --shapes image:2x3x64x64 --seed 7 --output-dir " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("probs float32 [2,10]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("timing"), std::string::npos);
  auto probs = read_npy((out / "probs.npy").string());
  ASSERT_TRUE(probs.ok()) << probs.status().to_string();
  ASSERT_EQ(probs->shape(), (std::vector<int64_t>{2, 10}));
  for (int row = 0; row < 2; ++row) {
    double sum = 0;
    for (int k = 0; k < 10; ++k) sum += probs->data<float>()[row * 10 + k];
    EXPECT_NEAR(sum, 1.0, 1e-5);  // softmax rows
  }
  // Same seed, same outputs; --json is machine-readable.
  CliResult j = run_cli("run " + bundled_model() + " --shapes image:2x3x64x64 --seed 7 --json", true);
  ASSERT_EQ(j.exit_code, 0) << j.output;
  auto doc = nlohmann::json::parse(j.output, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << j.output;
  ASSERT_EQ(doc["outputs"].size(), 1u);
  EXPECT_EQ(doc["outputs"][0]["name"], "probs");
  EXPECT_EQ(doc["outputs"][0]["shape"], nlohmann::json::array({2, 10}));
  EXPECT_DOUBLE_EQ(doc["outputs"][0]["max"].get<double>(), [&] {
    double m = 0;
    for (int k = 0; k < 20; ++k) m = std::max(m, static_cast<double>(probs->data<float>()[k]));
    return m;
  }());
  EXPECT_EQ(doc["inputs"][0]["shape"], nlohmann::json::array({2, 3, 64, 64}));
}

TEST(Cli, FeedsNpyInputs) {
  const fs::path dir = fs::path(SLIMRT_BINARY_DIR) / "test_tmp" / "cli_npy";
  fs::create_directories(dir);
  Tensor x = Tensor::allocate(DataType::kFloat32, {1, 3, 64, 64}).value();
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>((i % 17) - 8) / 8.0f;
  ASSERT_TRUE(write_npy((dir / "image.npy").string(), x).ok());
  CliResult r = run_cli("run " + bundled_model() + " --input image=" + (dir / "image.npy").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("probs float32 [1,10]"), std::string::npos) << r.output;
  Tensor wrong = Tensor::allocate(DataType::kFloat32, {1, 4, 64, 64}).value();
  ASSERT_TRUE(write_npy((dir / "wrong.npy").string(), wrong).ok());
  CliResult w = run_cli("run " + bundled_model() + " --input image=" + (dir / "wrong.npy").string());
  EXPECT_EQ(w.exit_code, 2) << w.output;
  EXPECT_NE(w.output.find("[1,4,64,64]"), std::string::npos) << w.output;
}

}  // namespace
}  // namespace slimrt

namespace slimrt {
namespace {

// Without a GPU, `slimrt run` (backend auto) runs on the CPU and says so; `slimrt bench` refuses
// with the reason. On the GPU machine these paths are covered by scripts/gpu-check.sh instead.
TEST(Cli, NoGpuFallsBackToCpuAndBenchRefuses) {
  const DeviceQuery q = query_cuda_devices();
  if (q.count > 0) GTEST_SKIP() << "this machine has a GPU: " << q.description;
  CliResult r = testing::run_cli(SLIMRT_CLI_PATH, "run " + std::string(SLIMRT_SOURCE_DIR) + "/models/tinynet.onnx");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("running on the CPU: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("backend  cpu"), std::string::npos) << r.output;
  CliResult b = testing::run_cli(SLIMRT_CLI_PATH, "bench " + std::string(SLIMRT_SOURCE_DIR) + "/models/tinynet.onnx");
  EXPECT_EQ(b.exit_code, 2) << b.output;
  EXPECT_NE(b.output.find("slimrt bench needs a GPU"), std::string::npos) << b.output;
  CliResult h = testing::run_cli(SLIMRT_CLI_PATH, "bench --help");
  EXPECT_EQ(h.exit_code, 0);
  for (const char* opt : {"--batch", "--iterations", "--warmup", "--json", "--no-cuda-graphs"})
    EXPECT_NE(h.output.find(opt), std::string::npos) << opt;
}

}  // namespace
}  // namespace slimrt
