// Build memory of a LLaMA-shaped model (scripts/make_llama_onnx.py, 4 layers of hidden 2048,
// ~430 MB of fp16 external data) built as the load benchmark builds it (--fp16, a sequence
// profile). The attention canonicalization packs each layer's Q, K and V weights into one
// matrix: those packed weights must not pile up in the resident set (they did: 24 MiB of heap
// plus 24 MiB of touched mapped pages per layer, 6.3 GiB for LLaMA-7B), and neither may the
// mapped model pages, whether the model's file is in the page cache (just written, the
// benchmark's first build) or not. The engine must compute what the ONNX model computes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "slimrt/backend.h"
#include "slimrt/builder/builder.h"
#include "slimrt/builder/onnx_importer.h"
#include "slimrt/runtime.h"
#include "slimrt/stream_reader.h"
#include "support/cli_runner.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

namespace fs = std::filesystem;

// 4 layers x 24 MiB of packed QKV: well above this before the fix, well below after.
constexpr uint64_t kMaxGrowth = uint64_t{96} << 20;

std::string llama_model() {
  const fs::path dir = fs::path(SLIMRT_BINARY_DIR) / "cache" / "build_memory" / "llama_h2048_l4";
  if (fs::exists(dir / "llama.onnx")) return (dir / "llama.onnx").string();
  const fs::path tmp = dir.string() + ".tmp" + std::to_string(getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  const std::string cmd = std::string(SLIMRT_PYTHON) + " " + SLIMRT_SOURCE_DIR +
                          "/scripts/make_llama_onnx.py --quiet --out-dir " + tmp.string() +
                          " --layers 4 --hidden 2048 --heads 16 --mlp 5504 --vocab 4000 --max-seq 64 --seed 5";
  if (std::system(cmd.c_str()) != 0 || !fs::exists(tmp / "llama.onnx")) {
    ADD_FAILURE() << "failed: " << cmd;
    return "";
  }
  fs::remove_all(dir);
  fs::rename(tmp, dir);
  return (dir / "llama.onnx").string();
}

// Reads the file (into the page cache), or drops it from the page cache. Returns whether the
// page cache now holds (cached) or lacks (!cached) most of it.
bool set_cached(const std::string& path, bool cached) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return false;
  if (cached) {
    std::vector<char> buf(8 << 20);
    while (::read(fd, buf.data(), buf.size()) > 0) {
    }
  } else {
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  }
  ::close(fd);
  const std::optional<double> f = page_cache_fraction(path);
  return f.has_value() && (cached ? *f > 0.9 : *f < 0.1);
}

struct BuildRun {
  uint64_t growth = 0;
  std::string engine;
};

BuildRun build(const std::string& model, const std::string& tag) {
  BuildRun run;
  run.engine = fs::path(model).parent_path().string() + "/" + tag + std::to_string(getpid()) + ".engine";
  testing::CliResult r = testing::run_cli(
      SLIMRT_CLI_PATH,
      "build " + model + " -o " + run.engine +
          " --fp16 --min input_ids:1x1 --opt input_ids:1x8 --max input_ids:1x64 --json",
      true);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  if (r.exit_code != 0) return run;
  nlohmann::json doc = nlohmann::json::parse(r.output);
  const uint64_t peak = doc["peak_rss_bytes"].get<uint64_t>();
  const uint64_t before = doc["rss_before_bytes"].get<uint64_t>();
  run.growth = peak - before;
  std::printf("[build_memory_llama] %s: RSS at start %.1f MiB, peak %.1f MiB (growth %.1f MiB)\n", tag.c_str(),
              before / 1048576.0, peak / 1048576.0, run.growth / 1048576.0);
  return run;
}

TEST(BuildMemoryLlama, PackedAttentionWeightsStayOutOfTheResidentSetCachedOrNot) {
  const std::string model = llama_model();
  ASSERT_FALSE(model.empty());
  const std::string weights = (fs::path(model).parent_path() / "llama.weights").string();
  const double weights_mib = static_cast<double>(fs::file_size(weights)) / 1048576.0;

  ASSERT_TRUE(set_cached(weights, true));
  BuildRun cached = build(model, "cached");
  EXPECT_LT(cached.growth, kMaxGrowth) << "the build grew by " << cached.growth / 1048576.0 << " MiB for "
                                       << weights_mib << " MiB of weights in the page cache";
  if (set_cached(weights, false)) {
    BuildRun cold = build(model, "uncached");
    EXPECT_LT(cold.growth, kMaxGrowth) << "the build grew by " << cold.growth / 1048576.0 << " MiB for "
                                       << weights_mib << " MiB of weights on the disk";
    fs::remove(cold.engine);
  } else {
    std::printf("[build_memory_llama] cannot drop the weights from the page cache here: uncached build skipped\n");
  }

  // The engine (its packed QKV weights came through scratch files) computes what the model does.
  Result<Graph> onnx_graph = import_onnx_file(model);
  ASSERT_TRUE(onnx_graph.ok()) << onnx_graph.status().to_string();
  auto rt = Runtime::create({.backend = "cpu"});
  ASSERT_TRUE(rt.ok());
  auto engine = (*rt)->load_file(cached.engine);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  std::vector<NamedTensor> feeds = {
      {"input_ids", Tensor::from_vector<int64_t>(DataType::kInt64, {1, 5}, {1, 17, 400, 3999, 42})}};
  auto want = testing::run_on_cpu(*onnx_graph, feeds);
  auto got = testing::run_on_cpu((*engine)->graph(), feeds);
  ASSERT_TRUE(want.ok()) << want.status().to_string();
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  const double err = testing::rel_l2((*got)[0].tensor, (*want)[0].tensor);
  std::printf("[build_memory_llama] engine vs ONNX logits rel L2 %.3g\n", err);
  EXPECT_LE(err, 2e-2);
  fs::remove(cached.engine);
}

}  // namespace
}  // namespace slimrt
