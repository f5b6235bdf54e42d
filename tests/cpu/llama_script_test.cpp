// scripts/make_llama_onnx.py at a tiny size: the ONNX it writes imports and runs on the CPU backend
// with logits matching the script's own float64 numpy forward pass, its safetensors twin holds
// the same bytes as the ONNX external data, and `slimrt build` turns it into an engine that runs.
// (The full LLaMA-7B-shaped size is exercised on the GPU machine by scripts/gpu-load-bench.sh.)
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "slimrt/backend.h"
#include "slimrt/builder/onnx_importer.h"
#include "slimrt/npy.h"
#include "support/cli_runner.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kVocab = 1000;
constexpr int64_t kMaxSeq = 32;

struct TinyLlama {
  std::string dir;
  std::string onnx;
  std::string safetensors;
  std::string ref_dir;
  uint64_t seed = 0;
};

// Runs the script into a fresh directory; the seed comes from the test's rng so every run (and
// SLIMRT_TEST_SEED) gives new weights. Returns an empty dir on failure, with the command printed.
TinyLlama make_tiny_llama(const std::string& tag, int batch, int seq) {
  std::mt19937_64 rng = testing::make_rng();
  TinyLlama m;
  m.seed = rng() % 1000000;
  const std::string dir = std::string(SLIMRT_BINARY_DIR) + "/test_tmp/llama_script_" + std::to_string(getpid()) + "_" + tag;
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string cmd = std::string(SLIMRT_PYTHON) + " " + SLIMRT_SOURCE_DIR + "/scripts/make_llama_onnx.py --quiet --out-dir " +
                          dir + " --layers 2 --hidden 64 --heads 4 --mlp 172 --vocab " + std::to_string(kVocab) +
                          " --max-seq " + std::to_string(kMaxSeq) + " --seed " + std::to_string(m.seed) +
                          " --safetensors " + dir + "/llama.safetensors --reference-dir " + dir +
                          "/ref --ref-batch " + std::to_string(batch) + " --ref-seq " + std::to_string(seq);
  if (std::system(cmd.c_str()) != 0) {
    ADD_FAILURE() << "failed: " << cmd;
    return m;
  }
  m.dir = dir;
  m.onnx = dir + "/llama.onnx";
  m.safetensors = dir + "/llama.safetensors";
  m.ref_dir = dir + "/ref";
  return m;
}

std::vector<char> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<char>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// An engine built at the default precision may widen the fp16 model to fp32.
void expect_logits_match_reference(const Tensor& logits, const Tensor& want, const std::string& what,
                                   bool fp16_only = true) {
  if (fp16_only || logits.dtype() != DataType::kFloat32) {
    ASSERT_EQ(logits.dtype(), DataType::kFloat16) << what;
  }
  ASSERT_EQ(logits.shape(), want.shape()) << what;
  int64_t non_finite = 0;
  for (int64_t i = 0; i < logits.numel(); ++i) non_finite += std::isfinite(logits.get_as_double(i)) ? 0 : 1;
  EXPECT_EQ(non_finite, 0) << what;
  // fp16 weights and fp16 activations (each op rounds its output) against float64.
  EXPECT_LT(testing::rel_l2(logits, want), 1e-2) << what;
}

Result<std::vector<NamedTensor>> run_on_cpu(const std::string& onnx, const Tensor& ids) {
  SLIMRT_ASSIGN_OR_RETURN(Graph g, import_onnx_file(onnx));
  SLIMRT_ASSIGN_OR_RETURN(auto be, create_backend("cpu"));
  SLIMRT_ASSIGN_OR_RETURN(auto exe, be->prepare(g));
  std::vector<NamedTensor> out;
  RunOptions opts;
  opts.poison_outputs = true;
  SLIMRT_RETURN_IF_ERROR(exe->run({{"input_ids", ids}}, &out, opts));
  return out;
}

TEST(LlamaScript, CpuLogitsMatchTheNumpyReference) {
  // [2, 7] exercises the causal mask sliced to a short sequence; [1, 32] the whole mask.
  for (const auto& [batch, seq] : {std::pair{2, 7}, std::pair{1, static_cast<int>(kMaxSeq)}}) {
    const std::string what = "input_ids [" + std::to_string(batch) + ", " + std::to_string(seq) + "]";
    TinyLlama m = make_tiny_llama("ref" + std::to_string(seq), batch, seq);
    ASSERT_FALSE(m.dir.empty());
    SCOPED_TRACE(what + ", seed " + std::to_string(m.seed));
    Result<Tensor> ids = read_npy(m.ref_dir + "/input_ids.npy");
    Result<Tensor> want = read_npy(m.ref_dir + "/logits.npy");
    ASSERT_TRUE(ids.ok()) << ids.status().to_string();
    ASSERT_TRUE(want.ok()) << want.status().to_string();
    ASSERT_EQ(ids->shape(), (std::vector<int64_t>{batch, seq}));
    ASSERT_EQ(want->shape(), (std::vector<int64_t>{batch, seq, kVocab}));
    Result<std::vector<NamedTensor>> out = run_on_cpu(m.onnx, *ids);
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    ASSERT_EQ(out->size(), 1u);
    EXPECT_EQ((*out)[0].name, "logits");
    expect_logits_match_reference((*out)[0].tensor, *want, what);
    if (!HasFailure()) fs::remove_all(m.dir);
  }
}

TEST(LlamaScript, SafetensorsTwinHoldsTheExternalDataBytes) {
  TinyLlama m = make_tiny_llama("st", 1, 3);
  ASSERT_FALSE(m.dir.empty());
  const std::vector<char> st = read_file(m.safetensors);
  ASSERT_GE(st.size(), 8u);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<uint8_t>(st[static_cast<size_t>(i)]);
  ASSERT_LE(8 + header_len, st.size());
  EXPECT_EQ(header_len % 8, 0u);
  const nlohmann::json header = nlohmann::json::parse(st.begin() + 8, st.begin() + 8 + static_cast<std::ptrdiff_t>(header_len));
  const size_t data_start = 8 + header_len;

  Result<Graph> g = import_onnx_file(m.onnx);
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  // Tensors lie back to back in file order: sort the entries by begin offset and walk them.
  std::vector<std::pair<uint64_t, std::string>> order;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    order.emplace_back(entry.at("data_offsets").at(0).get<uint64_t>(), name);
  }
  std::sort(order.begin(), order.end());
  // embed_tokens, 9 per layer, final norm, lm_head.
  EXPECT_EQ(order.size(), 2u * 9u + 3u);
  uint64_t expect_begin = 0;
  for (const auto& [begin, name] : order) {
    SCOPED_TRACE(name);
    const nlohmann::json& e = header.at(name);
    EXPECT_EQ(e.at("dtype"), "F16");
    const uint64_t end = e.at("data_offsets").at(1).get<uint64_t>();
    EXPECT_EQ(begin, expect_begin);
    expect_begin = end;
    ASSERT_LE(data_start + end, st.size());
    const Value* v = g->find_value(name);
    ASSERT_NE(v, nullptr);
    const Tensor* t = v->constant();
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->dtype(), DataType::kFloat16);
    EXPECT_EQ(t->shape(), e.at("shape").get<std::vector<int64_t>>());
    ASSERT_EQ(t->bytes(), end - begin);
    EXPECT_EQ(std::memcmp(t->raw(), st.data() + data_start + begin, t->bytes()), 0);
    // Random, not zeros: at least half the elements differ from the first.
    const uint16_t* h = t->data<uint16_t>();
    int64_t differ = 0;
    for (int64_t i = 0; i < t->numel(); ++i) differ += h[i] != h[0] ? 1 : 0;
    EXPECT_GT(differ, t->numel() / 2);
  }
  EXPECT_EQ(data_start + expect_begin, st.size());
  if (!HasFailure()) fs::remove_all(m.dir);
}

TEST(LlamaScript, BuildsAnEngineThatRunsLikeTheModel) {
  TinyLlama m = make_tiny_llama("engine", 2, 7);
  ASSERT_FALSE(m.dir.empty());
  SCOPED_TRACE("seed " + std::to_string(m.seed));
  const std::string engine = m.dir + "/llama.engine";
  const std::string profile = " --min input_ids:1x1 --opt input_ids:2x7 --max input_ids:4x" + std::to_string(kMaxSeq);
  testing::CliResult b = testing::run_cli(SLIMRT_CLI_PATH, "build " + m.onnx + " -o " + engine + " --fp16 --json" + profile, true);
  if (b.exit_code == 2 && b.output.find("precision") == std::string::npos) {
    // stdout_only hides the message: ask again with stderr to decide whether --fp16 is refused.
    testing::CliResult why = testing::run_cli(SLIMRT_CLI_PATH, "build " + m.onnx + " -o " + engine + " --fp16" + profile);
    if (why.output.find("arrive with the precision pass") != std::string::npos) {
      std::printf("[ NOTE     ] slimrt build refuses --fp16 for now; building with the default precision\n");
      b = testing::run_cli(SLIMRT_CLI_PATH, "build " + m.onnx + " -o " + engine + " --json" + profile, true);
    }
  }
  ASSERT_EQ(b.exit_code, 0) << b.output;
  const nlohmann::json report = nlohmann::json::parse(b.output);
  EXPECT_EQ(report.at("engine_bytes").get<uint64_t>(), fs::file_size(engine));
  // Every weight lands in the engine: 2 layers of 9 tensors, embedding, final norm, lm_head.
  const uint64_t weight_bytes = report.at("weights").at("bytes").get<uint64_t>();
  EXPECT_GE(weight_bytes, 2u * (64u * 1000u + 2u * (4u * 64u * 64u + 3u * 64u * 172u)));

  const std::string out_dir = m.dir + "/engine_out";
  testing::CliResult r = testing::run_cli(SLIMRT_CLI_PATH, "run " + engine + " --input input_ids=" + m.ref_dir +
                                                               "/input_ids.npy --output-dir " + out_dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Result<Tensor> got = read_npy(out_dir + "/logits.npy");
  Result<Tensor> want = read_npy(m.ref_dir + "/logits.npy");
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  ASSERT_TRUE(want.ok()) << want.status().to_string();
  expect_logits_match_reference(*got, *want, "engine", /*fp16_only=*/false);
  if (!HasFailure()) fs::remove_all(m.dir);
}

TEST(LlamaScript, RejectsInconsistentShapes) {
  const std::string cmd = std::string(SLIMRT_PYTHON) + " " + SLIMRT_SOURCE_DIR +
                          "/scripts/make_llama_onnx.py --out-dir /nonexistent/never --hidden 65 --heads 4 2>/dev/null";
  const int rc = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(rc));
  EXPECT_EQ(WEXITSTATUS(rc), 2);
  EXPECT_FALSE(fs::exists("/nonexistent/never"));
}

}  // namespace
}  // namespace slimrt
