// `slimrt build`, `slimrt inspect` and `slimrt run ENGINE` as a user runs them: exit codes,
// messages, JSON, and engine outputs equal to the ONNX model's.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
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

const std::string& temp_dir() { return testing::process_temp_dir(SLIMRT_BINARY_DIR, "build_cli"); }

std::string tinynet() { return std::string(SLIMRT_SOURCE_DIR) + "/models/tinynet.onnx"; }
const std::string kProfile = " --min image:1x3x64x64 --opt image:2x3x64x64 --max image:4x3x64x64";

// Builds tinynet once per process (the tests below share it).
const std::string& tinynet_engine() {
  static const std::string path = [] {
    const std::string p = temp_dir() + "/tinynet.engine";
    CliResult r = run_cli("build " + tinynet() + " -o " + p + kProfile);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return p;
  }();
  return path;
}

TEST(BuildCli, BuildPrintsReportAndJson) {
  const std::string p = temp_dir() + "/report.engine";
  CliResult r = run_cli("build " + tinynet() + " -o " + p + kProfile);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* s : {"layers     8 (17 imported; passes run)", "conv_batchnorm_folding: -8 +4 nodes", "planned", "lower bound", "image 1x3x64x64..4x3x64x64"})
    EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
  // Piped: no progress bar.
  EXPECT_EQ(r.output.find("\r["), std::string::npos);
  CliResult j = run_cli("build " + tinynet() + " -o " + p + kProfile + " --json", /*stdout_only=*/true);
  ASSERT_EQ(j.exit_code, 0) << j.output;
  nlohmann::json doc = nlohmann::json::parse(j.output);
  EXPECT_EQ(doc["layers"], 8);
  EXPECT_EQ(doc["nodes_imported"], 17);
  CliResult np = run_cli("build " + tinynet() + " -o " + p + kProfile + " --no-passes --json", /*stdout_only=*/true);
  ASSERT_EQ(np.exit_code, 0) << np.output;
  EXPECT_EQ(nlohmann::json::parse(np.output)["layers"], 17);
  EXPECT_EQ(doc["precision"], "fp32");
  ASSERT_EQ(doc["profiles"].size(), 1u);
  EXPECT_EQ(doc["profiles"][0]["symbols"]["batch"], 4);
  EXPECT_GE(doc["profiles"][0]["activation_bytes"]["planned"].get<int64_t>(),
            doc["profiles"][0]["activation_bytes"]["lower_bound"].get<int64_t>());
  EXPECT_GT(doc["weights"]["bytes"].get<int64_t>(), 0);
  EXPECT_GT(doc["peak_rss_bytes"].get<int64_t>(), 0);
  EXPECT_GT(doc["rss_before_bytes"].get<int64_t>(), 0);
  EXPECT_GE(doc["peak_rss_bytes"].get<int64_t>(), doc["rss_before_bytes"].get<int64_t>());
  EXPECT_NE(r.output.find("peak RSS"), std::string::npos) << r.output;
}

// --fp16 / --bf16: half weights (half the bytes), fp32 bindings, outputs close to the ONNX run.
TEST(BuildCli, HalfPrecisionFlags) {
  CliResult full = run_cli("build " + tinynet() + " -o " + temp_dir() + "/f32.engine" + kProfile + " --json", true);
  ASSERT_EQ(full.exit_code, 0) << full.output;
  const int64_t fp32_bytes = nlohmann::json::parse(full.output)["weights"]["bytes"].get<int64_t>();
  const std::string o_dir = temp_dir() + "/half_onnx";
  CliResult o = run_cli("run " + tinynet() + " --shapes image:3x3x64x64 --seed 9 --output-dir " + o_dir);
  ASSERT_EQ(o.exit_code, 0) << o.output;
  for (const char* flag : {"fp16", "bf16"}) {
    const std::string p = temp_dir() + "/" + flag + ".engine";
    CliResult j = run_cli("build " + tinynet() + " -o " + p + kProfile + " --" + flag + " --tf32 --json", true);
    ASSERT_EQ(j.exit_code, 0) << j.output;
    nlohmann::json doc = nlohmann::json::parse(j.output);
    EXPECT_EQ(doc["precision"], flag);
    EXPECT_EQ(doc["tf32"], true);
    EXPECT_GT(doc["precision_nodes"]["half"].get<int64_t>(), 0);
    EXPECT_GT(doc["precision_nodes"]["weights_converted"].get<int64_t>(), 0);
    EXPECT_LT(doc["weights"]["bytes"].get<int64_t>(), fp32_bytes * 6 / 10);
    CliResult text = run_cli("build " + tinynet() + " -o " + p + kProfile + " --" + flag);
    ASSERT_EQ(text.exit_code, 0) << text.output;
    EXPECT_NE(text.output.find(std::string("precision  ") + flag), std::string::npos) << text.output;
    CliResult ins = run_cli("inspect " + p + " --json", true);
    ASSERT_EQ(ins.exit_code, 0) << ins.output;
    EXPECT_NE(ins.output.find(flag), std::string::npos);
    const std::string e_dir = temp_dir() + "/half_" + flag;
    CliResult e = run_cli("run " + p + " --shapes image:3x3x64x64 --seed 9 --output-dir " + e_dir);
    ASSERT_EQ(e.exit_code, 0) << e.output;
    Result<Tensor> a = read_npy(e_dir + "/probs.npy");
    Result<Tensor> b = read_npy(o_dir + "/probs.npy");
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a->dtype(), DataType::kFloat32);  // bindings stay fp32
    ASSERT_EQ(a->shape(), b->shape());
    EXPECT_LE(testing::rel_l2(*a, *b), std::string(flag) == "fp16" ? 5e-3 : 4e-2) << flag;
    EXPECT_GT(testing::max_abs_diff(*a, *b), 0.0) << flag;  // really computed in half
  }
}

TEST(BuildCli, BadArgumentsExit2) {
  const std::string p = temp_dir() + "/bad.engine";
  CliResult syntax = run_cli("build " + tinynet() + " -o " + p + " --min image:1xfoo --opt image:1x3x64x64 --max image:1x3x64x64");
  EXPECT_EQ(syntax.exit_code, 2);
  EXPECT_NE(syntax.output.find("--min image:1xfoo: '1xfoo' is not a shape"), std::string::npos) << syntax.output;
  CliResult counts = run_cli("build " + tinynet() + " -o " + p + " --max image:1x3x64x64 --max image:2x3x64x64 --min image:1x3x64x64");
  EXPECT_EQ(counts.exit_code, 2);
  EXPECT_NE(counts.output.find("1 --min, 0 --opt and 2 --max shapes"), std::string::npos) << counts.output;
  CliResult both = run_cli("build " + tinynet() + " -o " + p + kProfile + " --fp32 --bf16");
  EXPECT_EQ(both.exit_code, 2);
  CliResult no_model = run_cli("build /nonexistent.onnx -o " + p);
  EXPECT_EQ(no_model.exit_code, 2);
}

// I/O formats through the CLI: a uint8 NHWC engine whose report, inspect and run show the
// bound formats; bad format arguments exit 2 naming the tensor.
TEST(BuildCli, IoFormats) {
  const std::string p = temp_dir() + "/u8.engine";
  const std::string nhwc = " --min image:1x64x64x3 --opt image:2x64x64x3 --max image:4x64x64x3";
  CliResult b = run_cli("build " + tinynet() + " -o " + p + nhwc +
                        " --fp16 --input-format image:uint8:nhwc --output-format probs:fp16"
                        " --normalize image:mean=0.485,0.456,0.406:std=0.229,0.224,0.225");
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_NE(b.output.find("io       input 'image' (uint8 NHWC, normalized (x*0.00392157 - mean) / std"), std::string::npos)
      << b.output;
  EXPECT_NE(b.output.find("io       output 'probs' (float16): written directly by node 'softmax' (Softmax)"),
            std::string::npos) << b.output;
  CliResult i = run_cli("inspect " + p);
  ASSERT_EQ(i.exit_code, 0) << i.output;
  for (const char* s : {"input      image uint8 [batch,64,64,3]", "  format   uint8 NHWC, normalized",
                        "the model has float32 NCHW", "output     probs float16 [batch,10]",
                        "  format   float16; the model has float32"})
    EXPECT_NE(i.output.find(s), std::string::npos) << s << "\n" << i.output;
  CliResult j = run_cli("inspect " + p + " --json", /*stdout_only=*/true);
  ASSERT_EQ(j.exit_code, 0) << j.output;
  nlohmann::json doc = nlohmann::json::parse(j.output);
  EXPECT_EQ(doc["inputs"][0]["format"]["model_dtype"], "float32");
  EXPECT_EQ(doc["inputs"][0]["format"]["channels_last"], true);
  EXPECT_EQ(doc["inputs"][0]["format"]["mean"].size(), 3u);
  CliResult r = run_cli("run " + p + " --shapes image:2x64x64x3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("input    image uint8 [2,64,64,3]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("output   probs float16 [2,10]"), std::string::npos) << r.output;

  struct Bad {
    std::string flags, says;
  };
  for (const Bad& c : std::vector<Bad>{
           {" --input-format nope:uint8", "I/O format for 'nope': the model has no input of that name (inputs: image)"},
           {" --input-format image:int4", "--input-format 'image:int4': expected NAME:FORMAT"},
           {" --output-format probs:uint8", "output 'probs' (float32 [batch,10]): outputs are given as fp32, fp16 or bf16"},
           {" --normalize image:mean=1,2:std=1,2", "--normalize gives 2 values per list, but the input has 3 channels"},
           {" --input-format image:uint8:nhwc" + kProfile, "give its shapes as N x H x W x C"}}) {
    CliResult bad = run_cli("build " + tinynet() + " -o " + temp_dir() + "/bad.engine" + c.flags);
    EXPECT_EQ(bad.exit_code, 2) << c.flags << "\n" << bad.output;
    EXPECT_NE(bad.output.find(c.says), std::string::npos) << c.flags << "\n" << bad.output;
    EXPECT_FALSE(std::filesystem::exists(temp_dir() + "/bad.engine"));
  }
}

TEST(BuildCli, InspectShowsEverythingAndJsonParses) {
  CliResult r = run_cli("inspect " + tinynet_engine());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* s : {"magic SLIMRTEN", "format 1.1", "target any", "precision fp32", "input      image float32 [batch,3,64,64]",
                        "output     probs float32 [batch,10]", "min 1x3x64x64  opt 2x3x64x64  max 4x3x64x64",
                        "memory plan: arena", "layers     8: Flatten 1, FusedConv 4, Gemm 1, GlobalAveragePool 1, Softmax 1", "checksums  OK"})
    EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
  CliResult j = run_cli("inspect " + tinynet_engine() + " --json --layers 3", /*stdout_only=*/true);
  ASSERT_EQ(j.exit_code, 0) << j.output;
  nlohmann::json doc = nlohmann::json::parse(j.output);
  EXPECT_EQ(doc["header"]["magic"], "SLIMRTEN");
  EXPECT_EQ(doc["checksums"], "OK");
  EXPECT_EQ(doc["layers"]["count"], 8);
  EXPECT_EQ(doc["layers"]["nodes"].size(), 3u);
  EXPECT_EQ(doc["inputs"][0]["shape"], "[batch,3,64,64]");
  EXPECT_EQ(doc["profiles"][0]["inputs"][0]["max"], (std::vector<int64_t>{4, 3, 64, 64}));
  EXPECT_GT(doc["profiles"][0]["memory_plan"]["arena_bytes"].get<int64_t>(), 0);
}

TEST(BuildCli, CorruptEngineExits2) {
  const std::string bad = temp_dir() + "/corrupt.engine";
  fs::copy_file(tinynet_engine(), bad, fs::copy_options::overwrite_existing);
  {
    std::fstream f(bad, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(bad) - 5000));
    f.put('\x7f');
  }
  CliResult i = run_cli("inspect " + bad);
  EXPECT_EQ(i.exit_code, 2) << i.output;
  EXPECT_NE(i.output.find("checksum mismatch"), std::string::npos) << i.output;
  CliResult r = run_cli("run " + bad);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("checksum mismatch"), std::string::npos) << r.output;
  const std::string cut = temp_dir() + "/truncated.engine";
  fs::copy_file(tinynet_engine(), cut, fs::copy_options::overwrite_existing);
  fs::resize_file(cut, 200);
  CliResult t = run_cli("inspect " + cut);
  EXPECT_EQ(t.exit_code, 2) << t.output;
  EXPECT_NE(t.output.find("slimrt: error: DataLoss"), std::string::npos) << t.output;
  CliResult missing = run_cli("inspect " + temp_dir() + "/nosuch.engine");
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
}

TEST(BuildCli, RunEngineMatchesOnnxAndChecksProfiles) {
  // Detected by magic: the file is not named .engine.
  const std::string renamed = temp_dir() + "/tinynet.model";
  fs::copy_file(tinynet_engine(), renamed, fs::copy_options::overwrite_existing);
  const std::string e_dir = temp_dir() + "/out_engine", o_dir = temp_dir() + "/out_onnx";
  CliResult e = run_cli("run " + renamed + " --shapes image:3x3x64x64 --seed 5 --output-dir " + e_dir);
  ASSERT_EQ(e.exit_code, 0) << e.output;
  CliResult o = run_cli("run " + tinynet() + " --shapes image:3x3x64x64 --seed 5 --output-dir " + o_dir);
  ASSERT_EQ(o.exit_code, 0) << o.output;
  Result<Tensor> a = read_npy(e_dir + "/probs.npy");
  Result<Tensor> b = read_npy(o_dir + "/probs.npy");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->shape(), (std::vector<int64_t>{3, 10}));
  ASSERT_EQ(a->shape(), b->shape());
  // Conv+BatchNorm folding reorders arithmetic: relative L2 within 1e-6.
  EXPECT_LE(testing::rel_l2(*a, *b), 1e-6);

  // Without --shapes, the first profile's opt shape.
  CliResult d = run_cli("run " + tinynet_engine() + " --json", /*stdout_only=*/true);
  ASSERT_EQ(d.exit_code, 0) << d.output;
  EXPECT_EQ(nlohmann::json::parse(d.output)["inputs"][0]["shape"], (std::vector<int64_t>{2, 3, 64, 64}));

  CliResult out = run_cli("run " + tinynet_engine() + " --shapes image:5x3x64x64");
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.output.find("input 'image' [5,3,64,64] is outside every optimization profile of the engine "
                            "(profile 0: image: [1x3x64x64 .. 4x3x64x64])"),
            std::string::npos)
      << out.output;
  CliResult name = run_cli("run " + tinynet_engine() + " --shapes nosuch:1x2");
  EXPECT_EQ(name.exit_code, 2);
  EXPECT_NE(name.output.find("'nosuch', which is not an input of the engine"), std::string::npos) << name.output;
}

}  // namespace
}  // namespace slimrt
