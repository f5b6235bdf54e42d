// `slimrt run`, `bench` and `inspect` given what a careless or hostile user gives them: malformed
// .npy headers and bodies, directories and FIFOs as inputs, huge or overflowing shapes, numbers out
// of range, unknown commands, non-finite outputs. Each must exit with the documented code and a
// message naming what is wrong; none may crash or hang (docs/cli.md).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "slimrt/npy.h"
#include "support/cli_runner.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

namespace fs = std::filesystem;

using testing::CliResult;

// Every command runs under `timeout`, so a hang fails the test instead of stalling it.
CliResult run_cli(const std::string& args, bool stdout_only = false) {
  return testing::run_cli("timeout 60 " + std::string(SLIMRT_CLI_PATH), args, stdout_only);
}

const std::string& temp_dir() { return testing::process_temp_dir(SLIMRT_BINARY_DIR, "run_robustness"); }

const std::string& fixtures_dir() {
  static const std::string dir = [] {
    const std::string d = temp_dir() + "/fixtures";
    const std::string cmd = std::string(SLIMRT_PYTHON) + " " + SLIMRT_SOURCE_DIR + "/tests/data/make_run_fixtures.py " + d;
    return std::system(cmd.c_str()) == 0 ? d : std::string();
  }();
  return dir;
}

std::string tinynet() { return std::string(SLIMRT_SOURCE_DIR) + "/models/tinynet.onnx"; }

// A .npy file (format `major`.0) with this header text and `data_bytes` zero bytes of data.
std::string write_raw_npy(const std::string& name, const std::string& header, size_t data_bytes, int major = 1) {
  const std::string path = temp_dir() + "/" + name;
  const size_t len_bytes = major == 1 ? 2 : 4;
  std::string h = header;
  const size_t unpadded = 8 + len_bytes + h.size() + 1;
  h.append((64 - unpadded % 64) % 64, ' ');
  h += '\n';
  std::ofstream f(path, std::ios::binary);
  f.write("\x93NUMPY", 6);
  f.put(static_cast<char>(major));
  f.put(0);
  for (size_t k = 0; k < len_bytes; ++k) f.put(static_cast<char>((h.size() >> (8 * k)) & 0xff));
  f << h << std::string(data_bytes, '\0');
  return path;
}

std::string float_header(const std::string& shape) {
  return "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
}

constexpr size_t kImageBytes = 1 * 3 * 64 * 64 * 4;

void expect_mentions(const CliResult& r, const std::vector<std::string>& texts, const std::string& what) {
  for (const std::string& t : texts) EXPECT_NE(r.output.find(t), std::string::npos) << what << ": expected '" << t << "' in\n" << r.output;
}

// Item 8: these ran as [1,3,64,64] (or [1,5,3,64,64]) with exit 0.
TEST(RunRobustness, NpyHeaderIsParsedStrictly) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"(-1, 3, 64, 64)", "dim 0 is negative (-1)"},
      {"(1, 3, 64.64)", "'64.64' is not a decimal integer"},
      {"('a', 1, 3, 64, 64)", "dim 0 is a string"},
      {"(1 3 64 64)", "expected ',' or ')'"},
      {"(1.5,3,64,64)", "'1.5' is not a decimal integer"},
      {"(1, 3, 64, 64", "unexpected character at character 65 ('}')"},
      {"(1,,3,64,64)", "unexpected character"},
      {"(4096)", "not a tuple"},
      {"[1, 3, 64, 64]", "is a list, not a tuple"},
      {"(01, 3, 64, 64)", "leading zero"},
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    const std::string f = write_raw_npy("bad_header_" + std::to_string(i) + ".npy", float_header(bad[i].first), kImageBytes);
    CliResult r = run_cli("run " + tinynet() + " --backend cpu --input image=" + f);
    EXPECT_EQ(r.exit_code, 2) << bad[i].first << "\n" << r.output;
    expect_mentions(r, {"--input image", "is not valid", bad[i].first, bad[i].second}, bad[i].first);
  }
  const std::vector<std::pair<std::string, std::string>> bad_dicts = {
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 64, 64), 'extra': 1}", "unexpected key 'extra'"},
      {"{'descr': '<f4', 'shape': (1, 3, 64, 64)}", "'fortran_order' is missing"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 64, 64)}", "'descr' appears twice"},
      {"{'descr': '<f4', 'fortran_order': 0, 'shape': (1, 3, 64, 64)}", "not True or False"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 64, 64)} junk", "unexpected text after the dict"},
      {"{'descr': '<f4' 'fortran_order': False, 'shape': (1, 3, 64, 64)}", "expected ',' or '}'"},
  };
  for (size_t i = 0; i < bad_dicts.size(); ++i) {
    const std::string f = write_raw_npy("bad_dict_" + std::to_string(i) + ".npy", bad_dicts[i].first, kImageBytes);
    CliResult r = run_cli("run " + tinynet() + " --backend cpu --input image=" + f);
    EXPECT_EQ(r.exit_code, 2) << bad_dicts[i].first << "\n" << r.output;
    expect_mentions(r, {"is not valid", bad_dicts[i].second}, bad_dicts[i].first);
  }
  // Format versions 2.0 and 3.0 have a 4-byte header length.
  for (int major : {2, 3}) {
    const std::string f = write_raw_npy("v" + std::to_string(major) + ".npy", float_header("(1, 3, 64, 64)"), kImageBytes, major);
    CliResult r = run_cli("run " + tinynet() + " --backend cpu --input image=" + f);
    EXPECT_EQ(r.exit_code, 0) << "version " << major << "\n" << r.output;
  }
  // What numpy writes, and Python's other spellings of the same dict, are read.
  for (const std::string& h : {float_header("(1, 3, 64, 64)"), std::string("{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(1,3,64,64,)}"),
                               std::string("{ 'shape' : ( 1 , 3 , 64 , 64 ) , 'fortran_order' : False , 'descr' : '<f4' }")}) {
    const std::string f = write_raw_npy("good_header.npy", h, kImageBytes);
    CliResult r = run_cli("run " + tinynet() + " --backend cpu --input image=" + f);
    EXPECT_EQ(r.exit_code, 0) << h << "\n" << r.output;
    EXPECT_NE(r.output.find("probs float32 [1,10]"), std::string::npos) << r.output;
  }
}

// Item 7: a dim >= 2^63 threw std::out_of_range (exit 134).
TEST(RunRobustness, NpyDimBeyondInt64Exits2) {
  const std::string f = write_raw_npy("dim_2_63.npy", float_header("(9223372036854775808, 3, 64, 64)"), kImageBytes);
  CliResult r = run_cli("run " + tinynet() + " --backend cpu --input image=" + f);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  expect_mentions(r, {"dim 0 (9223372036854775808) is out of range", "9223372036854775807"}, "2^63");
  const std::string g = write_raw_npy("dim_huge.npy", float_header("(99999999999999999999999999999,)"), 16);
  CliResult q = run_cli("run " + tinynet() + " --backend cpu --input image=" + g);
  EXPECT_EQ(q.exit_code, 2) << q.output;
  expect_mentions(q, {"out of range"}, "2^96");
}

// Item 11: 2^62 float32 elements exited 1 (an allocation of 2^64 bytes); 2^32+1 must say the
// file is shorter than its header, with the bytes.
TEST(RunRobustness, NpyClaimingMoreDataThanItHasExits2) {
  const std::string f = write_raw_npy("claims_2_62.npy", float_header("(4611686018427387904,)"), 64);
  CliResult r = run_cli("run " + tinynet() + " --backend cpu --input image=" + f);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  expect_mentions(r, {"[4611686018427387904]", "overflow int64"}, "2^62 float32");
  const std::string b = write_raw_npy("claims_2_62_u8.npy", "{'descr': '|u1', 'fortran_order': False, 'shape': (4611686018427387904,), }", 64);
  CliResult rb = run_cli("run " + tinynet() + " --backend cpu --input image=" + b);
  EXPECT_EQ(rb.exit_code, 2) << rb.output;
  expect_mentions(rb, {"shorter than its header says", "needs 4611686018427387904 bytes", "the file has 64"}, "2^62 uint8");
  const std::string g = write_raw_npy("claims_2_32.npy", float_header("(4294967297,)"), 64);
  CliResult q = run_cli("run " + tinynet() + " --backend cpu --input image=" + g);
  EXPECT_EQ(q.exit_code, 2) << q.output;
  expect_mentions(q, {"shorter than its header says", "[4294967297] of float32 needs 17179869188 bytes", "the file has 64"}, "2^32+1");
  // More data than the header says is refused too (a second array appended, a damaged header).
  const std::string l = write_raw_npy("longer.npy", float_header("(1, 3, 64, 64)"), kImageBytes + 8);
  CliResult rl = run_cli("run " + tinynet() + " --backend cpu --input image=" + l);
  EXPECT_EQ(rl.exit_code, 2) << rl.output;
  expect_mentions(rl, {"longer than its header says", "8 bytes too many"}, "longer");
}

// Item 12: a directory or FIFO said "bad magic"; a FIFO without a writer must not hang.
TEST(RunRobustness, DirectoryAndFifoAsNpy) {
  const std::string dir = temp_dir() + "/a_directory.npy";
  fs::create_directories(dir);
  CliResult d = run_cli("run " + tinynet() + " --backend cpu --input image=" + dir);
  EXPECT_EQ(d.exit_code, 2) << d.output;
  expect_mentions(d, {"a_directory.npy' is a directory"}, "directory");
  EXPECT_EQ(d.output.find("bad magic"), std::string::npos) << d.output;

  const std::string fifo = temp_dir() + "/fifo.npy";
  fs::remove(fifo);
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  CliResult p = run_cli("run " + tinynet() + " --backend cpu --input image=" + fifo);
  EXPECT_EQ(p.exit_code, 2) << p.output;
  expect_mentions(p, {"(a FIFO) is empty", "nothing was written to it"}, "fifo without writer");

  // A pipe that is written to is read like a file.
  const std::string good = write_raw_npy("piped.npy", float_header("(1, 3, 64, 64)"), kImageBytes);
  CliResult piped = testing::run_cli("cat " + good + " | timeout 60 " + SLIMRT_CLI_PATH,
                                     "run " + tinynet() + " --backend cpu --input image=/dev/stdin");
  EXPECT_EQ(piped.exit_code, 0) << piped.output;
  EXPECT_NE(piped.output.find("probs float32 [1,10]"), std::string::npos) << piped.output;
  const std::string cut = write_raw_npy("piped_short.npy", float_header("(1, 3, 64, 64)"), 100);
  CliResult short_pipe = testing::run_cli("cat " + cut + " | timeout 60 " + SLIMRT_CLI_PATH,
                                          "run " + tinynet() + " --backend cpu --input image=/dev/stdin");
  EXPECT_EQ(short_pipe.exit_code, 2) << short_pipe.output;
  expect_mentions(short_pipe, {"ended early", "needs 49152 bytes", "it gave 100"}, "short pipe");
  // A stream claiming 20 GB and giving 100 bytes: refused without touching 20 GB of memory.
  const std::string claim = write_raw_npy("piped_claim.npy", float_header("(5000000000,)"), 100);
  CliResult big_claim = testing::run_cli("cat " + claim + " | timeout 60 " + SLIMRT_CLI_PATH,
                                         "run " + tinynet() + " --backend cpu --input image=/dev/stdin");
  EXPECT_EQ(big_claim.exit_code, 2) << big_claim.output;
  expect_mentions(big_claim, {"ended early", "needs 20000000000 bytes", "it gave 100"}, "20 GB claim");
}

// Item 12: "A subcommand is required" for a typo.
TEST(RunRobustness, UnknownCommandIsNamed) {
  CliResult r = run_cli("frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  expect_mentions(r, {"unknown command 'frobnicate'", "run, build, inspect, bench, ops"}, "frobnicate");
  CliResult none = run_cli("");
  EXPECT_EQ(none.exit_code, 2);
  expect_mentions(none, {"a command is required", "run, build"}, "no command");
  CliResult help = run_cli("--help");
  EXPECT_EQ(help.exit_code, 0) << help.output;
}

// Items 7 and 12: dims out of range and products that overflow name the input, the dims and the limit.
TEST(RunRobustness, ShapesOutOfRangeExit2NamingInputAndDims) {
  CliResult big = run_cli("run " + tinynet() + " --backend cpu --shapes image:99999999999999999999x3x64x64");
  EXPECT_EQ(big.exit_code, 2) << big.output;
  expect_mentions(big, {"--shapes image:99999999999999999999x3x64x64", "dim 0 (99999999999999999999) is out of range",
                        "9223372036854775807"}, "dim > 2^63");
  CliResult prod = run_cli("run " + tinynet() + " --backend cpu --shapes image:1099511627776x1099511627776");
  EXPECT_EQ(prod.exit_code, 2) << prod.output;
  expect_mentions(prod, {"--shapes image:1099511627776x1099511627776", "product of its dims overflows int64"}, "2^80");
  EXPECT_EQ(prod.output.find("{}"), std::string::npos) << prod.output;
  CliResult neg = run_cli("run " + tinynet() + " --backend cpu --shapes image:-1x3x64x64");
  EXPECT_EQ(neg.exit_code, 2) << neg.output;
  expect_mentions(neg, {"dim 0 '-1' is not a non-negative decimal integer"}, "negative");
  CliResult build = run_cli("build " + tinynet() + " -o " + temp_dir() + "/x.engine --min image:1x3x64x64 --opt "
                            "image:1x3x64x64 --max image:99999999999999999999x3x64x64");
  EXPECT_EQ(build.exit_code, 2) << build.output;
  expect_mentions(build, {"--max image:99999999999999999999x3x64x64", "is out of range"}, "build --max");

  // The element count fits, the bytes do not: float32 x 2^61 elements.
  ASSERT_FALSE(fixtures_dir().empty());
  CliResult bytes = run_cli("run " + fixtures_dir() + "/dynamic_add.onnx --backend cpu --shapes x:2305843009213693952x1x1x1");
  EXPECT_EQ(bytes.exit_code, 2) << bytes.output;
  expect_mentions(bytes, {"input 'x' [2305843009213693952,1,1,1] of float32", "overflow int64"}, "bytes overflow");
}

// Item 6: a failed allocation was std::bad_variant_access (exit 134). It is kOutOfMemory naming
// the bytes, exit 1.
TEST(RunRobustness, HugeShapesAreOutOfMemoryNotACrash) {
  CliResult r = run_cli("run " + tinynet() + " --backend cpu --shapes image:1000000000x3x64x64");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_mentions(r, {"OutOfMemory", "random input 'image'", "49152000000000 bytes", "[1000000000,3,64,64] float32"},
                  "tinynet");
  ASSERT_FALSE(fixtures_dir().empty());
  CliResult d = run_cli("run " + fixtures_dir() + "/dynamic_add.onnx --backend cpu --shapes x:100000x3x4096x4096");
  EXPECT_EQ(d.exit_code, 1) << d.output;
  expect_mentions(d, {"OutOfMemory", "random input 'x'", "20132659200000 bytes"}, "all-dynamic");
}

// Item 6: on an engine the profile is checked before the random input is allocated.
TEST(RunRobustness, EngineProfileIsCheckedBeforeAllocating) {
  const std::string engine = temp_dir() + "/tinynet.engine";
  CliResult b = run_cli("build " + tinynet() + " -o " + engine +
                        " --min image:1x3x64x64 --opt image:2x3x64x64 --max image:4x3x64x64");
  ASSERT_EQ(b.exit_code, 0) << b.output;
  for (const char* shape : {"1000000x3x64x64", "1000000000000x3x64x64"}) {
    CliResult r = run_cli("run " + engine + " --backend cpu --shapes image:" + std::string(shape));
    EXPECT_EQ(r.exit_code, 2) << r.output;
    expect_mentions(r, {"outside every optimization profile", "image: [1x3x64x64 .. 4x3x64x64]"}, shape);
    EXPECT_EQ(r.output.find("OutOfMemory"), std::string::npos) << r.output;
  }
}

// Item 9: -1 and 99999999999999999999999 became 2^64-1; --output-dir '' wrote nothing.
TEST(RunRobustness, NumericOptionsOutOfRangeExit2) {
  struct Case {
    std::string args, must_mention;
  };
  const std::string run = "run " + tinynet() + " --backend cpu ";
  const std::string engine = temp_dir() + "/none.engine";
  const Case cases[] = {
      {run + "--seed -1", "--seed '-1': expected an integer from 0 to 18446744073709551615"},
      {run + "--seed 99999999999999999999999", "--seed '99999999999999999999999': expected an integer from 0 to"},
      {run + "--seed 18446744073709551616", "--seed '18446744073709551616'"},
      {run + "--seed 1.5", "--seed '1.5'"},
      {run + "--seed ''", "--seed '': expected an integer"},
      {run + "--iterations 0", "--iterations '0': expected an integer from 1 to 1000000"},
      {run + "--iterations -3", "--iterations '-3'"},
      {run + "--iterations 99999999999", "--iterations '99999999999'"},
      {run + "--warmup -1", "--warmup '-1': expected an integer from 0 to 1000000"},
      {run + "--warmup 1e3", "--warmup '1e3'"},
      {run + "--output-dir ''", "--output-dir '' is empty"},
      {"inspect " + engine + " --layers -1", "--layers '-1': expected an integer from 0 to"},
      {"inspect " + engine + " --layers x", "--layers 'x'"},
      {"bench " + engine + " --batch 0", "--batch '0': expected an integer from 1 to"},
      {"bench " + engine + " --batch -5", "--batch '-5'"},
      {"bench " + engine + " --iterations 0", "--iterations '0'"},
      {"bench " + engine + " --warmup 1", "--warmup '1': expected an integer from 2 to 1000000"},
      {"bench " + engine + " --seed -1", "--seed '-1'"},
      {"bench " + engine + " --io disk", "--io 'disk': expected device, pinned, mapped or pageable"},
      {"bench " + engine + " --streams 2", "--streams and --timeline measure host data in and out: give --io"},
      {"bench " + engine + " --io pinned --streams 0", "--streams '0': expected an integer from 1 to 64"},
      {"bench " + engine + " --io pinned --streams 65", "--streams '65'"},
      {"bench " + engine + " --io pinned --profile", "--profile times the compute alone: leave out --io"},
      {"bench " + engine + " --io pinned --batch 1 --batch 2", "--io takes one --batch"},
  };
  for (const Case& c : cases) {
    CliResult r = run_cli(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.output;
    expect_mentions(r, {c.must_mention}, c.args);
  }
  CliResult max_seed = run_cli(run + "--seed 18446744073709551615");
  EXPECT_EQ(max_seed.exit_code, 0) << max_seed.output;
  EXPECT_NE(max_seed.output.find("random(seed=18446744073709551615)"), std::string::npos) << max_seed.output;
  // Different seeds, different inputs: the seed is not clamped.
  CliResult a = run_cli(run + "--seed 18446744073709551614 --json", true);
  CliResult b = run_cli(run + "--seed 18446744073709551615 --json", true);
  ASSERT_EQ(a.exit_code, 0);
  ASSERT_EQ(b.exit_code, 0);
  EXPECT_NE(nlohmann::json::parse(a.output)["outputs"][0]["mean"], nlohmann::json::parse(b.output)["outputs"][0]["mean"]);
}

// Item 10: all-NaN reported mean 0 and std 0; the text showed "max inf" where the JSON had null.
TEST(RunRobustness, NonFiniteOutputStatsAgreeBetweenTextAndJson) {
  ASSERT_FALSE(fixtures_dir().empty());
  const std::string model = fixtures_dir() + "/dynamic_add.onnx";
  // y = x + x over 4 NaNs.
  const std::string all_nan = write_raw_npy("all_nan.npy", float_header("(1, 1, 2, 2)"), 0);
  {
    std::ofstream f(all_nan, std::ios::binary | std::ios::app);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (int i = 0; i < 4; ++i) f.write(reinterpret_cast<const char*>(&nan), 4);
  }
  CliResult t = run_cli("run " + model + " --backend cpu --input x=" + all_nan);
  ASSERT_EQ(t.exit_code, 0) << t.output;
  expect_mentions(t, {"min nan  max nan  mean nan  std nan  nan 4  inf 0 (stats over the 0 finite values)"}, "all-NaN text");
  CliResult j = run_cli("run " + model + " --backend cpu --input x=" + all_nan + " --json", true);
  ASSERT_EQ(j.exit_code, 0) << j.output;
  const auto out = nlohmann::json::parse(j.output)["outputs"][0];
  for (const char* k : {"min", "max", "mean", "std"}) EXPECT_TRUE(out[k].is_null()) << k << ": " << out.dump();
  EXPECT_EQ(out["finite_count"], 0);
  EXPECT_EQ(out["nan_count"], 4);

  // [1, +inf, NaN, 3] doubled: the stats are over the finite 2 and 6, the rest counted.
  const std::string mixed = write_raw_npy("mixed.npy", float_header("(1, 1, 2, 2)"), 0);
  {
    std::ofstream f(mixed, std::ios::binary | std::ios::app);
    const float v[4] = {1.0f, std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(), 3.0f};
    f.write(reinterpret_cast<const char*>(v), sizeof(v));
  }
  CliResult mt = run_cli("run " + model + " --backend cpu --input x=" + mixed);
  ASSERT_EQ(mt.exit_code, 0) << mt.output;
  expect_mentions(mt, {"min 2  max 6  mean 4  std 2  nan 1  inf 1 (stats over the 2 finite values)"}, "mixed text");
  EXPECT_EQ(mt.output.find("max inf"), std::string::npos) << mt.output;
  CliResult mj = run_cli("run " + model + " --backend cpu --input x=" + mixed + " --json", true);
  ASSERT_EQ(mj.exit_code, 0) << mj.output;
  const auto mo = nlohmann::json::parse(mj.output)["outputs"][0];
  EXPECT_EQ(mo["min"], 2.0);
  EXPECT_EQ(mo["max"], 6.0);
  EXPECT_EQ(mo["mean"], 4.0);
  EXPECT_EQ(mo["std"], 2.0);
  EXPECT_EQ(mo["finite_count"], 2);
  EXPECT_EQ(mo["inf_count"], 1);
  EXPECT_EQ(mo["nan_count"], 1);
}

}  // namespace
}  // namespace slimrt
