// Build memory: `slimrt build` streams external-data weights (mmap) through conversion into the
// engine file without keeping them resident. A chain of MatMuls with ~384 MB of fp16 external
// data (and a 192 MB fp32 one built as --fp16) is written by /usr/bin/python3 + onnx, built by
// the CLI in a child process, and the child's peak RSS growth (VmHWM - RSS at start, from the
// --json report) must stay under 128 MiB. The engines must compute what the ONNX models do.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "slimrt/backend.h"
#include "slimrt/builder/builder.h"
#include "slimrt/builder/onnx_importer.h"
#include "support/cli_runner.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMaxGrowth = uint64_t{128} << 20;

// Writes model.onnx + weights.bin: x[1, k0] -> MatMul(W0) -> ... -> y, weights N(0, 1/k) so the
// activations stay near unit scale. Square-ish layers alternating [a, b] and [b, a].
const char* kScript = R"PY(
import os, sys
import numpy as np
import onnx
from onnx import TensorProto, helper

out_dir, dtype_name, a, b, layers = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
np_dtype = np.float16 if dtype_name == "float16" else np.float32
onnx_dtype = TensorProto.FLOAT16 if dtype_name == "float16" else TensorProto.FLOAT
rng = np.random.default_rng(1234)
inits, nodes = [], []
off = 0
prev = "x"
with open(os.path.join(out_dir, "weights.bin"), "wb") as f:
    for i in range(layers):
        k, n = (a, b) if i % 2 == 0 else (b, a)
        w = (rng.standard_normal((k, n), dtype=np.float32) / np.sqrt(k)).astype(np_dtype)
        pad = (-off) % 4096
        f.write(b"\0" * pad)
        off += pad
        data = w.tobytes()
        f.write(data)
        t = TensorProto()
        t.name = "w%d" % i
        t.data_type = onnx_dtype
        t.dims.extend([k, n])
        t.data_location = TensorProto.EXTERNAL
        for key, val in (("location", "weights.bin"), ("offset", str(off)), ("length", str(len(data)))):
            e = t.external_data.add()
            e.key, e.value = key, val
        inits.append(t)
        off += len(data)
        name = "y" if i == layers - 1 else "h%d" % i
        nodes.append(helper.make_node("MatMul", [prev, t.name], [name], name="mm%d" % i))
        prev = name
last_n = b if (layers - 1) % 2 == 0 else a
g = helper.make_graph(nodes, "chain",
                      [helper.make_tensor_value_info("x", onnx_dtype, [1, a])],
                      [helper.make_tensor_value_info("y", onnx_dtype, [1, last_n])], initializer=inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
m.ir_version = 8
with open(os.path.join(out_dir, "model.onnx"), "wb") as f:
    f.write(m.SerializeToString())
)PY";

// Generates (once, cached under the build directory) and returns the model path.
std::string chain_model(const std::string& name, const std::string& dtype, int a, int b, int layers) {
  const fs::path dir = fs::path(SLIMRT_BINARY_DIR) / "cache" / "build_memory" / name;
  if (fs::exists(dir / "model.onnx")) return (dir / "model.onnx").string();
  const fs::path tmp = dir.string() + ".tmp" + std::to_string(getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  const fs::path script = tmp / "make.py";
  std::ofstream(script) << kScript;
  const std::string cmd = "/usr/bin/python3 " + script.string() + " " + tmp.string() + " " + dtype + " " +
                          std::to_string(a) + " " + std::to_string(b) + " " + std::to_string(layers) + " 2>&1";
  const int rc = std::system(cmd.c_str());
  if (rc != 0 || !fs::exists(tmp / "model.onnx")) {
    ADD_FAILURE() << "model generation failed (" << rc << "): " << cmd;
    return "";
  }
  fs::remove_all(dir);
  fs::rename(tmp, dir);
  return (dir / "model.onnx").string();
}


struct Case {
  const char* name;
  const char* dtype;
  int a, b, layers;
  const char* flags;
  double tolerance;  // rel L2 of the engine against the ONNX run
};

void check_build(const Case& c) {
  const std::string model = chain_model(c.name, c.dtype, c.a, c.b, c.layers);
  ASSERT_FALSE(model.empty());
  const uint64_t weights_file = fs::file_size(fs::path(model).parent_path() / "weights.bin");
  const std::string engine = fs::path(model).parent_path().string() + "/out" + std::to_string(getpid()) + ".engine";
  const auto t0 = std::chrono::steady_clock::now();
  testing::CliResult r =
      testing::run_cli(SLIMRT_CLI_PATH, "build " + model + " -o " + engine + " " + c.flags + " --json", true);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json doc = nlohmann::json::parse(r.output);
  const uint64_t peak = doc["peak_rss_bytes"].get<uint64_t>();
  const uint64_t before = doc["rss_before_bytes"].get<uint64_t>();
  ASSERT_GT(peak, 0u);
  ASSERT_GE(peak, before);
  const double mib = 1024.0 * 1024.0;
  const double write_ms = doc["timing_ms"]["write"].get<double>();
  std::printf("[build_memory] %s: weights %.0f MiB, engine %.0f MiB, RSS at start %.1f MiB, peak %.1f MiB "
              "(growth %.1f MiB), build %.2f s wall, write %.0f ms (%.0f MiB/s)\n",
              c.name, weights_file / mib, doc["engine_bytes"].get<double>() / mib, before / mib, peak / mib,
              (peak - before) / mib, wall, write_ms, doc["engine_bytes"].get<double>() / mib / (write_ms / 1000.0));
  EXPECT_LT(peak - before, kMaxGrowth) << "peak RSS grew by " << (peak - before) / mib << " MiB while building "
                                       << weights_file / mib << " MiB of weights";

  // The engine computes what the ONNX model computes.
  Result<Graph> onnx_graph = import_onnx_file(model);
  ASSERT_TRUE(onnx_graph.ok()) << onnx_graph.status().to_string();
  auto reader = open_file_reader(engine);
  ASSERT_TRUE(reader.ok());
  auto info = parse_engine(**reader);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  for (const EngineWeight& w : info->weights) EXPECT_EQ(w.dtype, DataType::kFloat16) << w.name;
  auto eg = read_engine_graph(**reader, *info);
  ASSERT_TRUE(eg.ok()) << eg.status().to_string();
  std::mt19937_64 rng = testing::make_rng();
  const DataType in_dtype = std::string(c.dtype) == "float16" ? DataType::kFloat16 : DataType::kFloat32;
  std::vector<NamedTensor> feeds = {{"x", testing::random_tensor(in_dtype, {1, c.a}, rng)}};
  auto want = testing::run_on_cpu(*onnx_graph, feeds);
  auto got = testing::run_on_cpu(*eg, feeds);
  ASSERT_TRUE(want.ok()) << want.status().to_string();
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].tensor.dtype(), in_dtype);
  const double err = testing::rel_l2((*got)[0].tensor, (*want)[0].tensor);
  std::printf("[build_memory] %s: engine vs ONNX rel L2 %.3g\n", c.name, err);
  EXPECT_LE(err, c.tolerance);
  fs::remove(engine);
}

TEST(BuildMemory, Fp16ExternalDataStreamsThroughTheWriter) {
  // 6 x 4096 x 8192 fp16 = 384 MiB.
  check_build({"fp16_chain_384m", "float16", 4096, 8192, 6, "", 0.0});
}

TEST(BuildMemory, Fp32WeightsConvertWhileStreaming) {
  // 4 x 2048 x 6144 fp32 = 192 MiB, written as 96 MiB of fp16.
  check_build({"fp32_chain_192m", "float32", 2048, 6144, 4, "--fp16", 5e-3});
}

}  // namespace
}  // namespace slimrt
