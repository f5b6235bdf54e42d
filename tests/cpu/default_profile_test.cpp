// `slimrt build` on models with dynamic dims and no (or a partial) optimization profile: the
// shapes slimrt chooses, the notes naming them and the flags that change them, the JSON report,
// and the engine running at the chosen shapes with the ONNX model's outputs (issue 13, item 14).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "slimrt/npy.h"
#include "cpu/cli_test_util.h"
#include "support/cli_runner.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

namespace fs = std::filesystem;

using testing::CliResult;

const std::string& temp_dir() { return testing::process_temp_dir(SLIMRT_BINARY_DIR, "default_profile"); }

std::string tinynet() { return std::string(SLIMRT_SOURCE_DIR) + "/models/tinynet.onnx"; }

// Two small models written with the onnx package: "pair" (a [batch,seq] + b [batch,seq] and
// c [batch,4] -> sums), "conv" (x [batch,3,h,w] -> a 3x3 Conv, so h = w = 1 cannot build).
constexpr const char* kScript = R"PY(
import sys
import numpy as np
from onnx import TensorProto, helper, numpy_helper
out = sys.argv[1]
F = TensorProto.FLOAT
pair = helper.make_graph(
    [helper.make_node("Add", ["a", "b"], ["s"], name="add"),
     helper.make_node("ReduceSum", ["s", "axes"], ["r"], name="sum", keepdims=1),
     helper.make_node("Mul", ["r", "c"], ["y"], name="mul")],
    "pair",
    [helper.make_tensor_value_info("a", F, ["batch", "seq"]), helper.make_tensor_value_info("b", F, ["batch", "seq"]),
     helper.make_tensor_value_info("c", F, ["batch", 4])],
    [helper.make_tensor_value_info("y", F, ["batch", 4])],
    initializer=[numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")])
conv = helper.make_graph(
    [helper.make_node("Conv", ["x", "w"], ["y"], name="conv3x3", kernel_shape=[3, 3])],
    "conv",
    [helper.make_tensor_value_info("x", F, ["batch", 3, "h", "w"])],
    [helper.make_tensor_value_info("y", F, ["batch", 2, None, None])],
    initializer=[numpy_helper.from_array(np.random.default_rng(0).standard_normal((2, 3, 3, 3)).astype(np.float32), "w")])
for name, g in (("pair", pair), ("conv", conv)):
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    with open(f"{out}/{name}.onnx", "wb") as f:
        f.write(m.SerializeToString())
)PY";

std::string fixture(const std::string& name) {
  static const std::string dir = [] {
    const std::string d = temp_dir() + "/models";
    fs::create_directories(d);
    std::ofstream(d + "/make.py") << kScript;
    const std::string cmd = std::string(SLIMRT_PYTHON) + " " + d + "/make.py " + d + " 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return d;
  }();
  return dir + "/" + name + ".onnx";
}

nlohmann::json build_json(const std::string& args, CliResult* stderr_too = nullptr) {
  CliResult j = run_cli(args + " --json", /*stdout_only=*/true);
  EXPECT_EQ(j.exit_code, 0) << j.output;
  if (stderr_too) *stderr_too = run_cli(args);
  return j.exit_code == 0 ? nlohmann::json::parse(j.output) : nlohmann::json{};
}

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

TEST(DefaultProfile, NoProfileBuildsWithDynamicDimsAtOneAndSaysSo) {
  const std::string engine = temp_dir() + "/tinynet.engine";
  CliResult r = run_cli("build " + tinynet() + " -o " + engine);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "note: profile 0: input 'image' [batch,3,64,64] is not in the profile: chose min = opt = "
                            "max = 1x3x64x64 ('batch' at 1); pass --min/--opt/--max image:DIMS to choose"))
      << r.output;
  EXPECT_TRUE(has(r.output, "image 1x3x64x64..1x3x64x64")) << r.output;

  nlohmann::json doc = build_json("build " + tinynet() + " -o " + engine);
  EXPECT_TRUE(doc["default_profile"].get<bool>());
  ASSERT_EQ(doc["notes"].size(), 1u);
  EXPECT_TRUE(has(doc["notes"][0].get<std::string>(), "'batch' at 1"));
  const nlohmann::json& in = doc["profiles"][0]["inputs"][0];
  EXPECT_EQ(in["min"], (std::vector<int64_t>{1, 3, 64, 64}));
  EXPECT_EQ(in["max"], (std::vector<int64_t>{1, 3, 64, 64}));
  EXPECT_EQ(in["chosen"], (std::vector<std::string>{"min", "opt", "max"}));
  EXPECT_EQ(doc["profiles"][0]["symbols"]["batch"], 1);

  // The engine runs at the chosen shape with the ONNX model's outputs, and refuses others.
  const std::string out_engine = temp_dir() + "/out_engine", out_onnx = temp_dir() + "/out_onnx";
  CliResult run = run_cli("run " + engine + " --backend cpu --seed 5 --output-dir " + out_engine);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(has(run.output, "[1,10]")) << run.output;
  ASSERT_EQ(run_cli("run " + tinynet() + " --backend cpu --seed 5 --output-dir " + out_onnx).exit_code, 0);
  Result<Tensor> a = read_npy(out_engine + "/probs.npy"), b = read_npy(out_onnx + "/probs.npy");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->shape(), (std::vector<int64_t>{1, 10}));
  EXPECT_LE(testing::rel_l2(*a, *b), 1e-6);
  CliResult outside = run_cli("run " + engine + " --backend cpu --shapes image:2x3x64x64");
  EXPECT_EQ(outside.exit_code, 2) << outside.output;
  EXPECT_TRUE(has(outside.output, "outside every optimization profile")) << outside.output;
}

TEST(DefaultProfile, StaticModelNeedsNoNote) {
  // Only static inputs: the implicit profile, nothing chosen, no note.
  CliResult r = run_cli("build " + tinynet() + " -o " + temp_dir() + "/static.engine --min image:2x3x64x64 "
                        "--opt image:2x3x64x64 --max image:2x3x64x64");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(has(r.output, "note:")) << r.output;
  nlohmann::json doc = build_json("build " + tinynet() + " -o " + temp_dir() + "/static.engine --min image:2x3x64x64 "
                                  "--opt image:2x3x64x64 --max image:2x3x64x64");
  EXPECT_FALSE(doc["default_profile"].get<bool>());
  EXPECT_TRUE(doc["notes"].empty());
  EXPECT_TRUE(doc["profiles"][0]["inputs"][0]["chosen"].empty());
}

TEST(DefaultProfile, PartialListsAreCompleted) {
  const std::string engine = temp_dir() + "/partial.engine";
  // Only --max: min at 1, opt = max.
  CliResult r;
  nlohmann::json doc = build_json("build " + tinynet() + " -o " + engine + " --max image:8x3x64x64", &r);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "note: profile 0: input 'image' [batch,3,64,64] has no --min/--opt: chose min 1x3x64x64, "
                            "opt 8x3x64x64 ('batch' as in its --max, 'batch' at 1); pass --min/--opt image:DIMS"))
      << r.output;
  nlohmann::json in = doc["profiles"][0]["inputs"][0];
  EXPECT_EQ(in["min"], (std::vector<int64_t>{1, 3, 64, 64}));
  EXPECT_EQ(in["opt"], (std::vector<int64_t>{8, 3, 64, 64}));
  EXPECT_EQ(in["max"], (std::vector<int64_t>{8, 3, 64, 64}));
  EXPECT_EQ(in["chosen"], (std::vector<std::string>{"min", "opt"}));
  EXPECT_EQ(doc["profiles"][0]["symbols"]["batch"], 8);
  // The engine takes every batch in 1..8.
  for (int batch : {1, 5, 8}) {
    CliResult run = run_cli("run " + engine + " --backend cpu --shapes image:" + std::to_string(batch) + "x3x64x64");
    EXPECT_EQ(run.exit_code, 0) << run.output;
  }

  // Only --opt: min at 1, max = opt.
  doc = build_json("build " + tinynet() + " -o " + engine + " --opt image:4x3x64x64");
  in = doc["profiles"][0]["inputs"][0];
  EXPECT_EQ(in["min"], (std::vector<int64_t>{1, 3, 64, 64}));
  EXPECT_EQ(in["max"], (std::vector<int64_t>{4, 3, 64, 64}));
  EXPECT_EQ(in["chosen"], (std::vector<std::string>{"min", "max"}));

  // --min and --max: opt = max.
  doc = build_json("build " + tinynet() + " -o " + engine + " --min image:2x3x64x64 --max image:6x3x64x64");
  in = doc["profiles"][0]["inputs"][0];
  EXPECT_EQ(in["opt"], (std::vector<int64_t>{6, 3, 64, 64}));
  EXPECT_EQ(in["chosen"], (std::vector<std::string>{"opt"}));

  // Two profiles given only by --max.
  doc = build_json("build " + tinynet() + " -o " + engine + " --max image:2x3x64x64 --max image:16x3x64x64");
  ASSERT_EQ(doc["profiles"].size(), 2u);
  EXPECT_EQ(doc["profiles"][1]["inputs"][0]["min"], (std::vector<int64_t>{1, 3, 64, 64}));
  EXPECT_EQ(doc["profiles"][1]["symbols"]["batch"], 16);
  EXPECT_EQ(doc["notes"].size(), 2u);
}

TEST(DefaultProfile, SharedSymbolsStayConsistent) {
  const std::string model = fixture("pair"), engine = temp_dir() + "/pair.engine";
  // Only 'a' given: 'b' (batch, seq) and 'c' (batch) follow it in min, opt and max.
  CliResult r;
  nlohmann::json doc =
      build_json("build " + model + " -o " + engine + " --min a:2x5 --opt a:3x6 --max a:4x7", &r);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json& ins = doc["profiles"][0]["inputs"];
  ASSERT_EQ(ins.size(), 3u);
  EXPECT_EQ(ins[1]["name"], "b");
  EXPECT_EQ(ins[1]["min"], (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(ins[1]["opt"], (std::vector<int64_t>{3, 6}));
  EXPECT_EQ(ins[1]["max"], (std::vector<int64_t>{4, 7}));
  EXPECT_EQ(ins[2]["name"], "c");
  EXPECT_EQ(ins[2]["min"], (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(ins[2]["max"], (std::vector<int64_t>{4, 4}));
  EXPECT_TRUE(has(r.output, "input 'b' [batch,seq] is not in the profile: chose min 2x5, opt 3x6, max 4x7 ('batch' as "
                            "in input 'a', 'seq' as in input 'a')"))
      << r.output;
  EXPECT_EQ(doc["profiles"][0]["symbols"]["seq"], 7);
  for (const char* shapes : {"--shapes a:2x5 --shapes b:2x5 --shapes c:2x4", "--shapes a:4x7 --shapes b:4x7 --shapes c:4x4"}) {
    CliResult run = run_cli("run " + engine + " --backend cpu " + shapes);
    EXPECT_EQ(run.exit_code, 0) << shapes << "\n" << run.output;
  }

  // No profile at all: every symbol at 1, the same for every input.
  doc = build_json("build " + model + " -o " + engine);
  EXPECT_EQ(doc["profiles"][0]["inputs"][2]["max"], (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(doc["notes"].size(), 3u);

  // A partial list of one input takes the value another input gives the symbol.
  doc = build_json("build " + model + " -o " + engine + " --min a:2x5 --opt a:3x6 --max a:4x7 --max b:4x7");
  EXPECT_EQ(doc["profiles"][0]["inputs"][1]["min"], (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(doc["profiles"][0]["inputs"][1]["opt"], (std::vector<int64_t>{3, 6}));
}

TEST(DefaultProfile, ContradictionsStillExit2) {
  const std::string model = fixture("pair"), engine = temp_dir() + "/bad.engine";
  CliResult conflict = run_cli("build " + model + " -o " + engine + " --max a:4x7 --max b:5x7");
  EXPECT_EQ(conflict.exit_code, 2) << conflict.output;
  EXPECT_TRUE(has(conflict.output, "symbol 'batch' is bound to 4 and to 5")) << conflict.output;
  // 'a' in two profiles, 'b' in one: a forgotten repetition, not a request for defaults.
  CliResult uneven = run_cli("build " + model + " -o " + engine + " --max a:4x7 --max a:8x7 --max b:4x7");
  EXPECT_EQ(uneven.exit_code, 2) << uneven.output;
  EXPECT_TRUE(has(uneven.output, "input 'b' [batch,seq] is given in profile(s) 0 of 2")) << uneven.output;
  CliResult order = run_cli("build " + tinynet() + " -o " + engine + " --min image:4x3x64x64 --max image:2x3x64x64");
  EXPECT_EQ(order.exit_code, 2) << order.output;
  EXPECT_TRUE(has(order.output, "need min <= opt <= max, got 4 / - / 2")) << order.output;
  // A chosen min above a given max.
  CliResult chosen = run_cli("build " + model + " -o " + engine + " --min a:3x5 --opt a:3x5 --max a:3x5 --max b:2x5");
  EXPECT_EQ(chosen.exit_code, 2) << chosen.output;
  EXPECT_FALSE(fs::exists(engine));
}

TEST(DefaultProfile, ChosenShapesThatCannotBuildAreNamed) {
  // h = w = 1 is too small for a 3x3 Conv: exit 2, with the note saying where the 1s came from.
  const std::string engine = temp_dir() + "/conv.engine";
  CliResult r = run_cli("build " + fixture("conv") + " -o " + engine);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "note: profile 0: input 'x' [batch,3,h,w] is not in the profile: chose min = opt = max = "
                            "1x3x1x1 ('batch' at 1, 'h' at 1, 'w' at 1); pass --min/--opt/--max x:DIMS to choose"))
      << r.output;
  EXPECT_TRUE(has(r.output, "conv3x3")) << r.output;
  CliResult ok = run_cli("build " + fixture("conv") + " -o " + engine + " --max x:2x3x16x16");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  CliResult run = run_cli("run " + engine + " --backend cpu --shapes x:2x3x9x12");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(has(run.output, "[2,2,7,10]")) << run.output;
}

}  // namespace
}  // namespace slimrt
