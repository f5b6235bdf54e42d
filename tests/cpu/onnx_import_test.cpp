// ONNX importer: error paths (each asserting the Status code and what the message names) and
// good models, old opsets included, run on the CPU backend against numpy-computed outputs.
//
// The models are written at run time by tests/data/make_import_fixtures.py (onnx 1.12 + numpy,
// through SLIMRT_PYTHON) into the build directory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "slimrt/backend.h"
#include "slimrt/builder/onnx_importer.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

namespace fs = std::filesystem;

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The fixtures live in a directory named by a hash of the script, written once: ctest runs each
// test in its own process, possibly in parallel, so a process generates into a private directory
// and renames it into place; a process that loses the race uses the winner's.
const std::string& fixture_dir() {
  static const std::string dir = [] {
    const std::string script = std::string(SLIMRT_SOURCE_DIR) + "/tests/data/make_import_fixtures.py";
    const size_t hash = std::hash<std::string>{}(read_text(script));
    const std::string d = std::string(SLIMRT_BINARY_DIR) + "/onnx_import_fixtures/" + std::to_string(hash);
    if (fs::exists(d + "/.complete")) return d;
    const std::string tmp = d + ".tmp" + std::to_string(::getpid());
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    const std::string cmd = std::string(SLIMRT_PYTHON) + " " + script + " " + tmp;
    const int rc = std::system(cmd.c_str());
    if (rc != 0) {
      ADD_FAILURE() << "fixture script failed (" << rc << "): " << cmd;
      return tmp;
    }
    std::ofstream(tmp + "/.complete") << "ok\n";
    std::error_code ec;
    fs::rename(tmp, d, ec);
    if (ec) fs::remove_all(tmp);  // another process got there first
    return d;
  }();
  return dir;
}

std::string fx(const std::string& name) { return fixture_dir() + "/" + name; }

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Asserts the code and that the message mentions every fragment.
void expect_error(const Status& s, StatusCode code, const std::vector<std::string>& fragments) {
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), code) << s.to_string();
  for (const auto& f : fragments) EXPECT_TRUE(contains(s.message(), f)) << "'" << f << "' not in: " << s.message();
}

bool is_missing_op(const Status& s) {
  return s.code() == StatusCode::kUnsupported && contains(s.message(), "not supported by slimrt");
}

// Imports <name>.onnx, runs it on the CPU backend with <name>_in<i>.pb and compares with
// <name>_out<i>.pb. Skips (naming the op) when an op the model needs is not registered yet.
void run_case(const std::string& name, double tol = 1e-5) {
  Result<Graph> g = import_onnx_file(fx(name + ".onnx"));
  if (!g.ok() && is_missing_op(g.status())) GTEST_SKIP() << g.status().message();
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  Result<std::unique_ptr<Backend>> be = create_backend("cpu");
  ASSERT_TRUE(be.ok()) << be.status().to_string();
  auto exe = be.value()->prepare(g.value());
  if (!exe.ok() && exe.status().code() == StatusCode::kUnsupported) GTEST_SKIP() << exe.status().message();
  ASSERT_TRUE(exe.ok()) << exe.status().to_string();
  std::vector<NamedTensor> feeds;
  for (size_t i = 0; i < g->inputs().size(); ++i) {
    Result<Tensor> t = read_onnx_tensor_file(fx(name + "_in" + std::to_string(i) + ".pb"));
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    feeds.push_back({g->inputs()[i]->name(), t.value()});
  }
  std::vector<NamedTensor> outs;
  RunOptions opts;
  opts.poison_outputs = true;
  Status st = exe.value()->run(feeds, &outs, opts);
  if (!st.ok() && st.code() == StatusCode::kUnsupported) GTEST_SKIP() << st.message();
  ASSERT_TRUE(st.ok()) << st.to_string();
  ASSERT_EQ(outs.size(), g->outputs().size());
  for (size_t i = 0; i < outs.size(); ++i) {
    Result<Tensor> want = read_onnx_tensor_file(fx(name + "_out" + std::to_string(i) + ".pb"));
    ASSERT_TRUE(want.ok()) << want.status().to_string();
    const Tensor& got = outs[i].tensor;
    ASSERT_EQ(got.dtype(), want->dtype()) << "output " << i;
    ASSERT_EQ(got.shape(), want->shape()) << "output " << i << ": " << shape_to_string(got.shape()) << " vs "
                                          << shape_to_string(want->shape());
    if (dtype_is_float(got.dtype())) {
      EXPECT_LT(testing::rel_l2(got, want.value()), tol) << "output " << i;
    } else {
      EXPECT_EQ(testing::max_abs_diff(got, want.value()), 0.0) << "output " << i;
    }
  }
}

// ---- bad files -------------------------------------------------------------------------------
TEST(OnnxImport, NotAnOnnxFile) {
  Result<Graph> g = import_onnx_file(fx("not_onnx.onnx"));
  expect_error(g.status(), StatusCode::kInvalidArgument, {"not_onnx.onnx", "is not a valid ONNX model"});
}

TEST(OnnxImport, TruncatedProtobuf) {
  Result<Graph> g = import_onnx_file(fx("truncated.onnx"));
  expect_error(g.status(), StatusCode::kInvalidArgument,
               {"truncated.onnx", "is not a valid ONNX model (protobuf parse failed"});
}

TEST(OnnxImport, EmptyFile) {
  Result<Graph> g = import_onnx_file(fx("empty.onnx"));
  expect_error(g.status(), StatusCode::kInvalidArgument, {"empty.onnx", "is empty (0 bytes)"});
}

TEST(OnnxImport, MissingFileAndDirectory) {
  expect_error(import_onnx_file(fx("no_such_model.onnx")).status(), StatusCode::kNotFound,
               {"no_such_model.onnx", "does not exist"});
  expect_error(import_onnx_file(fixture_dir()).status(), StatusCode::kInvalidArgument, {"is a directory"});
}

TEST(OnnxImport, BytesApi) {
  const std::string bytes = read_text(fx("not_onnx.onnx"));
  expect_error(import_onnx_bytes(bytes.data(), bytes.size(), fixture_dir()).status(), StatusCode::kInvalidArgument,
               {"is not a valid ONNX model"});
  expect_error(import_onnx_bytes(bytes.data(), 0, fixture_dir()).status(), StatusCode::kInvalidArgument, {"empty"});
  // Sizes past protobuf's 2 GiB message limit are refused before any byte is read.
  const size_t huge = (size_t{1} << 31) + 7;
  expect_error(import_onnx_bytes(bytes.data(), huge, fixture_dir()).status(), StatusCode::kUnsupported,
               {std::to_string(huge) + " bytes", "2 GiB", "external data"});
}

TEST(OnnxImport, UnsupportedOpNamesNodeOpOpsetAndDocs) {
  Result<Graph> g = import_onnx_file(fx("unsupported_op.onnx"));
  expect_error(g.status(), StatusCode::kUnsupported,
               {"unsupported_op.onnx", "my_node", "FooBar", "opset 13", "docs/ops.md", "slimrt ops"});
}

TEST(OnnxImport, UnsupportedOpsAreAllListed) {
  Result<Graph> g = import_onnx_file(fx("several_unsupported.onnx"));
  expect_error(g.status(), StatusCode::kUnsupported,
               {"first_bad", "FooBar", "opset 11", "docs/ops.md", "also uses these unsupported ops: BazQux"});
}

TEST(OnnxImport, UnsupportedDomain) {
  Result<Graph> g = import_onnx_file(fx("unsupported_domain.onnx"));
  expect_error(g.status(), StatusCode::kUnsupported, {"fused", "FusedMatMul", "com.microsoft"});
}

TEST(OnnxImport, OpsetAndIrVersionOutOfRange) {
  expect_error(import_onnx_file(fx("opset22.onnx")).status(), StatusCode::kUnsupported, {"opset 22", "1 to 21"});
  expect_error(import_onnx_file(fx("ir11.onnx")).status(), StatusCode::kUnsupported, {"IR version 11", "3 to 10"});
}

TEST(OnnxImport, SubgraphAttributeIsUnsupported) {
  expect_error(import_onnx_file(fx("graph_attr.onnx")).status(), StatusCode::kUnsupported,
               {"'branch'", "If", "_branch'", "subgraph"});
}

TEST(OnnxImport, UnsupportedDtypeAndShortData) {
  expect_error(import_onnx_file(fx("int16_init.onnx")).status(), StatusCode::kUnsupported, {"'w16'", "int16"});
  expect_error(import_onnx_file(fx("short_typed.onnx")).status(), StatusCode::kDataLoss,
               {"'wshort'", "3 elements", "expected 6", "[2,3]"});
  expect_error(import_onnx_file(fx("short_raw.onnx")).status(), StatusCode::kDataLoss,
               {"'wraw'", "12 bytes", "expected 16"});
}

TEST(OnnxImport, UndefinedNodeInput) {
  expect_error(import_onnx_file(fx("undefined_input.onnx")).status(), StatusCode::kInvalidArgument,
               {"reader", "'nope'"});
}

TEST(OnnxImport, ShapeErrorNamesNodeAndInputShapes) {
  if (!is_supported_op("MatMul")) GTEST_SKIP() << "op MatMul is not registered yet";
  Result<Graph> g = import_onnx_file(fx("matmul_bad.onnx"));
  expect_error(g.status(), StatusCode::kShapeError, {"matmul_bad.onnx", "mm", "[2,3]", "[4,5]"});
  ImportOptions no_infer;
  no_infer.infer_shapes = false;
  EXPECT_TRUE(import_onnx_file(fx("matmul_bad.onnx"), no_infer).ok());
}

TEST(OnnxImport, GraphStructureErrors) {
  expect_error(import_onnx_file(fx("cycle.onnx")).status(), StatusCode::kInvalidArgument, {"cycle"});
  expect_error(import_onnx_file(fx("no_default_opset.onnx")).status(), StatusCode::kInvalidArgument,
               {"lonely", "Relu", "no opset_import"});
  expect_error(import_onnx_file(fx("redefined.onnx")).status(), StatusCode::kInvalidArgument,
               {"self_writer", "'x'", "already defined"});
  expect_error(import_onnx_file(fx("unknown_output.onnx")).status(), StatusCode::kInvalidArgument,
               {"graph output 'zzz'"});
  expect_error(import_onnx_file(fx("constant_string.onnx")).status(), StatusCode::kUnsupported,
               {"strc", "value_string"});
}

TEST(OnnxImport, NameErrors) {
  expect_error(import_onnx_file(fx("init_twice.onnx")).status(), StatusCode::kInvalidArgument,
               {"initializer 'w'", "defined twice"});
  expect_error(import_onnx_file(fx("input_twice.onnx")).status(), StatusCode::kInvalidArgument,
               {"graph input 'x'", "listed twice"});
  expect_error(import_onnx_file(fx("two_writers.onnx")).status(), StatusCode::kInvalidArgument,
               {"'second'", "'y'", "already defined"});
  expect_error(import_onnx_file(fx("self_reader.onnx")).status(), StatusCode::kInvalidArgument,
               {"'loop'", "'s'", "produces itself"});
}

// Weights also listed as graph inputs are initializers, not runtime inputs; nodes listed consumer
// first are ordered by their data.
TEST(OnnxImport, WeightsAsInputsOutOfOrder) {
  Result<Graph> g = import_onnx_file(fx("weights_as_inputs_out_of_order.onnx"));
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  ASSERT_EQ(g->inputs().size(), 1u);
  EXPECT_EQ(g->inputs()[0]->name(), "x");
  ASSERT_NE(g->find_value("w"), nullptr);
  EXPECT_NE(g->find_value("w")->constant(), nullptr);
  run_case("weights_as_inputs_out_of_order");
}

// Nodes listed last-first, with a Concat that reads the same two producers five times: each
// producer is counted once, so the order resolves and the Concat keeps its input order.
TEST(OnnxImport, RepeatedProducersListedLastFirst) {
  Result<Graph> g = import_onnx_file(fx("repeated_producers_reversed.onnx"));
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  const std::vector<Node*> nodes = g->nodes();
  ASSERT_FALSE(nodes.empty());
  EXPECT_EQ(nodes.back()->op_type(), "Concat");
  run_case("repeated_producers_reversed");
}

TEST(OnnxImport, BatchNormPerActivationIsUnsupported) {
  if (!is_supported_op("BatchNormalization")) GTEST_SKIP() << "op BatchNormalization is not registered yet";
  expect_error(import_onnx_file(fx("batchnorm7_per_activation.onnx")).status(), StatusCode::kUnsupported,
               {"'bn'", "opset 7", "spatial=0"});
}

// ---- external data ---------------------------------------------------------------------------
TEST(OnnxImport, ExternalDataErrors) {
  expect_error(import_onnx_file(fx("ext/wrong_length.onnx")).status(), StatusCode::kDataLoss,
               {"'wl'", "length 64", "60 bytes"});
  expect_error(import_onnx_file(fx("ext/missing.onnx")).status(), StatusCode::kNotFound, {"'m'", "missing.bin"});
  const auto size = fs::file_size(fx("ext/weights.bin"));
  expect_error(import_onnx_file(fx("ext/past_end.onnx")).status(), StatusCode::kDataLoss,
               {"'p'", "offset " + std::to_string(size - 8), "length 60", "file size " + std::to_string(size)});
  expect_error(import_onnx_file(fx("ext/escape.onnx")).status(), StatusCode::kInvalidArgument,
               {"'e'", "../weights.bin", "escapes"});
  expect_error(import_onnx_file(fx("ext/absolute.onnx")).status(), StatusCode::kInvalidArgument,
               {"'abs'", "absolute"});
}

// The address ranges at which `file` is mapped in this process.
std::vector<std::pair<uintptr_t, uintptr_t>> mappings_of(const std::string& file) {
  std::vector<std::pair<uintptr_t, uintptr_t>> out;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  const std::string canon = fs::canonical(file).string();
  while (std::getline(maps, line)) {
    if (!contains(line, canon)) continue;
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi) == 2) out.emplace_back(lo, hi);
  }
  return out;
}

bool inside(const void* p, const std::vector<std::pair<uintptr_t, uintptr_t>>& ranges) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  for (const auto& [lo, hi] : ranges) {
    if (a >= lo && a < hi) return true;
  }
  return false;
}

TEST(OnnxImport, ExternalDataIsMappedAndMatches) {
  const std::string weights = fx("ext/weights.bin");
  {
    Result<Graph> g = import_onnx_file(fx("ext/ok.onnx"));
    ASSERT_TRUE(g.ok()) << g.status().to_string();
    const char* names[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; ++i) {
      Value* v = g->find_value(names[i]);
      ASSERT_NE(v, nullptr) << names[i];
      ASSERT_NE(v->constant(), nullptr) << names[i];
      Result<Tensor> want = read_onnx_tensor_file(fx("ext/ok_out" + std::to_string(i) + ".pb"));
      ASSERT_TRUE(want.ok()) << want.status().to_string();
      EXPECT_EQ(v->constant()->dtype(), want->dtype()) << names[i];
      EXPECT_EQ(testing::max_abs_diff(*v->constant(), want.value()), 0.0) << names[i];
    }
    const auto ranges = mappings_of(weights);
    ASSERT_EQ(ranges.size(), 1u) << "weights.bin should be mapped once and shared by its tensors";
    // Aligned tensors point into the mapping; misaligned ones (int64 at offset 60, fp16 at an odd
    // offset) were copied.
    EXPECT_TRUE(inside(g->find_value("a")->constant()->raw(), ranges));
    EXPECT_TRUE(inside(g->find_value("d")->constant()->raw(), ranges));
    EXPECT_FALSE(inside(g->find_value("b")->constant()->raw(), ranges));
    EXPECT_FALSE(inside(g->find_value("c")->constant()->raw(), ranges));
    // A tensor keeps the mapping alive after its graph is gone.
    Tensor keep = *g->find_value("d")->constant();
    g = Result<Graph>(Graph());
    EXPECT_FALSE(mappings_of(weights).empty());
    EXPECT_FLOAT_EQ(keep.data<float>()[0], keep.data<float>()[0]);
  }
  EXPECT_TRUE(mappings_of(weights).empty()) << "weights.bin stays mapped after every tensor is gone";
}

TEST(OnnxImport, ExternalDataTwoFilesAndBytesApi) {
  const std::string bytes = read_text(fx("ext/two_files.onnx"));
  // The bytes API resolves external data against the directory it is given.
  Result<Graph> g = import_onnx_bytes(bytes.data(), bytes.size(), fx("ext"));
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  for (int i = 0; i < 2; ++i) {
    Result<Tensor> want = read_onnx_tensor_file(fx("ext/two_files_out" + std::to_string(i) + ".pb"));
    ASSERT_TRUE(want.ok());
    const Value* v = g->find_value(i == 0 ? "a" : "e");
    ASSERT_TRUE(v && v->constant());
    EXPECT_EQ(testing::max_abs_diff(*v->constant(), want.value()), 0.0);
  }
  expect_error(import_onnx_bytes(bytes.data(), bytes.size(), fixture_dir()).status(), StatusCode::kNotFound,
               {"'a'", "weights.bin"});

  Result<Graph> nolen = import_onnx_file(fx("ext/no_length.onnx"));
  ASSERT_TRUE(nolen.ok()) << nolen.status().to_string();
  Result<Tensor> want = read_onnx_tensor_file(fx("ext/no_length_out0.pb"));
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(testing::max_abs_diff(*nolen->find_value("n")->constant(), want.value()), 0.0);
}

// ---- tensors and graph structure -------------------------------------------------------------
TEST(OnnxImport, TypedFieldsAndDtypes) {
  Result<Graph> g = import_onnx_file(fx("typed.onnx"));
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  auto c = [&](const char* n) -> const Tensor& { return *g->find_value(n)->constant(); };
  EXPECT_EQ(c("t_f32").dtype(), DataType::kFloat32);
  EXPECT_EQ(c("t_f32").shape(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(c("t_f32").data<float>()[2], 3.25f);
  EXPECT_EQ(c("t_f64").data<double>()[1], 2.5);
  EXPECT_EQ(c("t_i64").data<int64_t>()[1], int64_t{1} << 40);
  EXPECT_EQ(c("t_i32").data<int32_t>()[0], -7);
  EXPECT_EQ(c("t_i8").data<int8_t>()[0], -128);
  EXPECT_EQ(c("t_u8").data<uint8_t>()[1], 255);
  EXPECT_EQ(c("t_bool").dtype(), DataType::kBool);
  EXPECT_EQ(c("t_bool").get_as_int64(0), 1);
  EXPECT_EQ(c("t_bool").get_as_int64(1), 0);
  EXPECT_EQ(c("t_f16").dtype(), DataType::kFloat16);
  EXPECT_EQ(c("t_f16").get_as_double(0), 1.5);
  EXPECT_EQ(c("t_f16").get_as_double(1), -0.25);
  EXPECT_EQ(c("t_bf16").dtype(), DataType::kBFloat16);
  EXPECT_EQ(c("t_bf16").get_as_double(0), 1.5);
  EXPECT_EQ(c("t_bf16").get_as_double(1), -2.0);
  EXPECT_EQ(c("t_scalar").rank(), 0u);
  EXPECT_EQ(c("t_scalar").data<float>()[0], 4.0f);
  EXPECT_EQ(c("t_raw_i32").data<int32_t>()[3], 4);
  EXPECT_EQ(c("t_empty").shape(), (std::vector<int64_t>{0, 3}));
}

TEST(OnnxImport, WeightsAsInputsSymbolsAndNodeNames) {
  Result<Graph> g = import_onnx_file(fx("structure.onnx"));
  if (!g.ok() && is_missing_op(g.status())) GTEST_SKIP() << g.status().message();
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  ASSERT_EQ(g->inputs().size(), 2u);  // w is an initializer although listed as an input
  EXPECT_EQ(g->inputs()[0]->name(), "x");
  EXPECT_EQ(g->inputs()[1]->name(), "z");
  EXPECT_EQ(shape_to_string(g->inputs()[0]->shape()), "[batch,4]");
  EXPECT_EQ(shape_to_string(g->inputs()[1]->shape()), "[batch,z_d1]");
  ASSERT_NE(g->find_value("w")->constant(), nullptr);
  // Nodes were listed out of order and unnamed: sorted, and named <op>_<index in the file>.
  const auto nodes = g->nodes();
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0]->name(), "Add_1");
  EXPECT_EQ(nodes[1]->name(), "Relu_0");
  EXPECT_EQ(shape_to_string(g->find_value("y")->shape()), "[batch,4]");
}

TEST(OnnxImport, InputShapesOption) {
  if (!is_supported_op("Add") || !is_supported_op("Relu")) GTEST_SKIP() << "Add/Relu not registered yet";
  ImportOptions o;
  o.input_shapes = {{"x", {3, 4}}};
  Result<Graph> g = import_onnx_file(fx("structure.onnx"), o);
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  EXPECT_EQ(shape_to_string(g->inputs()[0]->shape()), "[3,4]");
  EXPECT_EQ(shape_to_string(g->inputs()[1]->shape()), "[3,z_d1]");  // the shared symbol is bound
  EXPECT_EQ(shape_to_string(g->find_value("y")->shape()), "[3,4]");

  o.input_shapes = {{"nope", {3, 4}}};
  expect_error(import_onnx_file(fx("structure.onnx"), o).status(), StatusCode::kInvalidArgument,
               {"'nope'", "inputs: x, z"});
  o.input_shapes = {{"x", {3, 4, 5}}};
  expect_error(import_onnx_file(fx("structure.onnx"), o).status(), StatusCode::kInvalidArgument, {"'x'", "rank 3"});
  o.input_shapes = {{"x", {3, 5}}};
  expect_error(import_onnx_file(fx("structure.onnx"), o).status(), StatusCode::kInvalidArgument,
               {"'x'", "does not match"});
}

TEST(OnnxImport, ReadTensorFileErrors) {
  expect_error(read_onnx_tensor_file(fx("nope.pb")).status(), StatusCode::kNotFound, {"nope.pb"});
  expect_error(read_onnx_tensor_file(fx("not_onnx.onnx")).status(), StatusCode::kInvalidArgument, {"TensorProto"});
}

TEST(OnnxImport, RunsStructureModel) { run_case("structure"); }
TEST(OnnxImport, ConstantNodesBecomeInitializers) {
  run_case("constants");
  if (::testing::Test::IsSkipped()) return;
  Result<Graph> g = import_onnx_file(fx("constants.onnx"));
  ASSERT_TRUE(g.ok());
  for (Node* n : g->nodes()) EXPECT_NE(n->op_type(), "Constant");
  ASSERT_NE(g->find_value("c3"), nullptr);
  EXPECT_NE(g->find_value("c3")->constant(), nullptr);
}
TEST(OnnxImport, ShapeSubgraphFolds) { run_case("shape_subgraph"); }
TEST(OnnxImport, IntConstants) { run_case("int_constants"); }

// ---- opset-21 forms --------------------------------------------------------------------------
TEST(OnnxImportOpset21, ReduceSumAxesInput) { run_case("reducesum21"); }
TEST(OnnxImportOpset21, SplitNumOutputs) { run_case("split18"); }
TEST(OnnxImportOpset21, PadWithAxes) { run_case("pad21"); }
TEST(OnnxImportOpset21, Resize19Attributes) { run_case("resize19"); }

// ---- old-opset rewrites ----------------------------------------------------------------------
TEST(OnnxImportLegacy, Squeeze11AxesAttr) { run_case("squeeze11"); }
TEST(OnnxImportLegacy, Unsqueeze11AxesAttr) { run_case("unsqueeze11"); }
TEST(OnnxImportLegacy, ReduceMean13AxesAttr) { run_case("reducemean13"); }
TEST(OnnxImportLegacy, ReduceSum11AxesAttr) { run_case("reducesum11"); }
TEST(OnnxImportLegacy, ReduceMax11AllAxes) { run_case("reducemax_all11"); }
TEST(OnnxImportLegacy, Softmax11CoercesTo2D) { run_case("softmax11"); }
TEST(OnnxImportLegacy, LogSoftmax1DefaultAxis) { run_case("logsoftmax1_default"); }
TEST(OnnxImportLegacy, Softmax12LastAxis) { run_case("softmax12_last"); }
TEST(OnnxImportLegacy, Clip6Attrs) { run_case("clip6"); }
TEST(OnnxImportLegacy, Clip6OnIntermediate) {
  run_case("clip6_intermediate");
  if (::testing::Test::IsSkipped()) return;
  Result<Graph> g = import_onnx_file(fx("clip6_intermediate.onnx"));
  ASSERT_TRUE(g.ok());
  for (Node* n : g->nodes()) EXPECT_NE(n->op_type(), "CastLike") << "the CastLike helper was not folded";
}
TEST(OnnxImportLegacy, Upsample9) { run_case("upsample9"); }
TEST(OnnxImportLegacy, Upsample7) { run_case("upsample7"); }
TEST(OnnxImportLegacy, Upsample9Linear) { run_case("upsample9_linear"); }
TEST(OnnxImportLegacy, BatchNorm9UnusedTrainingOutputs) { run_case("batchnorm9_unused_outputs"); }
TEST(OnnxImportLegacy, Resize10) { run_case("resize10"); }
TEST(OnnxImportLegacy, Add6BroadcastAxisInitializer) { run_case("add6_axis"); }
TEST(OnnxImportLegacy, Mul6BroadcastAxisRuntime) { run_case("mul6_axis_runtime"); }
TEST(OnnxImportLegacy, Sub6BroadcastSuffix) { run_case("sub6_suffix"); }
TEST(OnnxImportLegacy, Slice1Attrs) { run_case("slice1"); }
TEST(OnnxImportLegacy, Pad2Attrs) { run_case("pad2"); }
TEST(OnnxImportLegacy, Split2Attr) { run_case("split2"); }
TEST(OnnxImportLegacy, Split11Equal) { run_case("split11_equal"); }
TEST(OnnxImportLegacy, Reshape4Attr) { run_case("reshape4"); }
TEST(OnnxImportLegacy, TopK1Attr) { run_case("topk1"); }
TEST(OnnxImportLegacy, Dropout7Ratio) { run_case("dropout7"); }
TEST(OnnxImportLegacy, Cast6TypeNumber) { run_case("cast6"); }
TEST(OnnxImportLegacy, Cast1TypeString) { run_case("cast1_string"); }
TEST(OnnxImportLegacy, Gemm6Broadcast) { run_case("gemm6"); }
TEST(OnnxImportLegacy, BatchNorm7Spatial) { run_case("batchnorm7", 1e-5); }
TEST(OnnxImportLegacy, Scatter9) { run_case("scatter9"); }
// The rewritten graphs hold only the canonical forms (what kernels and later backends see).
const Node* only_node_of(const Graph& g, const std::string& op) {
  const Node* found = nullptr;
  for (const Node* n : g.nodes()) {
    if (n->op_type() == op) {
      EXPECT_EQ(found, nullptr) << "two " << op << " nodes";
      found = n;
    }
  }
  return found;
}

TEST(OnnxImportLegacy, RewrittenGraphsAreCanonical) {
  ImportOptions o;
  o.infer_shapes = false;  // structure only: no op has to be registered for this test
  auto load = [&](const std::string& name) {
    Result<Graph> g = import_onnx_file(fx(name + ".onnx"), o);
    EXPECT_TRUE(g.ok() || is_missing_op(g.status())) << g.status().to_string();
    return g;
  };
  if (Result<Graph> g = load("squeeze11"); g.ok()) {
    const Node* n = only_node_of(*g, "Squeeze");
    ASSERT_NE(n, nullptr);
    EXPECT_FALSE(n->has_attr("axes"));
    ASSERT_EQ(n->num_inputs(), 2u);
    ASSERT_NE(n->input(1)->constant(), nullptr);
    EXPECT_EQ(n->input(1)->constant()->to_int64_vector(), (std::vector<int64_t>{1}));
  }
  if (Result<Graph> g = load("reducemean13"); g.ok()) {
    const Node* n = only_node_of(*g, "ReduceMean");
    ASSERT_NE(n, nullptr);
    EXPECT_FALSE(n->has_attr("axes"));
    ASSERT_NE(n->input(1), nullptr);
    EXPECT_EQ(n->input(1)->constant()->to_int64_vector(), (std::vector<int64_t>{1}));
    EXPECT_EQ(n->attr_int("keepdims", 1), 0);
  }
  if (Result<Graph> g = load("softmax11"); g.ok()) {
    const Node* sm = only_node_of(*g, "Softmax");
    ASSERT_NE(sm, nullptr);
    EXPECT_EQ(sm->attr_int("axis", 0), -1);
    ASSERT_NE(sm->input(0)->producer(), nullptr);
    EXPECT_EQ(sm->input(0)->producer()->op_type(), "Flatten");
    EXPECT_EQ(sm->input(0)->producer()->attr_int("axis", 0), 1);
    const Node* rs = only_node_of(*g, "Reshape");
    ASSERT_NE(rs, nullptr);
    EXPECT_EQ(rs->name(), "Softmax_0");  // the model's node name stays on the node producing 'y'
    EXPECT_EQ(rs->output(0)->name(), "y");
    EXPECT_EQ(rs->input(1)->producer()->op_type(), "Shape");
  }
  if (Result<Graph> g = load("upsample9"); g.ok()) {
    EXPECT_EQ(only_node_of(*g, "Upsample"), nullptr);
    const Node* n = only_node_of(*g, "Resize");
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->input(1), nullptr);  // no roi
    EXPECT_NE(n->input(2), nullptr);  // scales
    EXPECT_EQ(n->attr_string("mode", ""), "nearest");
    EXPECT_EQ(n->attr_string("coordinate_transformation_mode", ""), "asymmetric");
    EXPECT_EQ(n->attr_string("nearest_mode", ""), "floor");
  }
  if (Result<Graph> g = load("cast6"); g.ok()) {
    const Node* n = only_node_of(*g, "Cast");
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->attr_int("to", -1), static_cast<int64_t>(DataType::kInt32));
  }
  if (Result<Graph> g = load("add6_axis"); g.ok()) {
    const Node* n = only_node_of(*g, "Add");
    ASSERT_NE(n, nullptr);
    EXPECT_FALSE(n->has_attr("broadcast"));
    EXPECT_FALSE(n->has_attr("axis"));
    EXPECT_EQ(n->input(1)->constant()->shape(), (std::vector<int64_t>{3, 1, 1}));
  }
  if (Result<Graph> g = load("clip6"); g.ok()) {
    const Node* n = only_node_of(*g, "Clip");
    ASSERT_NE(n, nullptr);
    EXPECT_FALSE(n->has_attr("min"));
    ASSERT_EQ(n->num_inputs(), 3u);
    EXPECT_EQ(n->input(1)->constant()->get_as_double(0), -0.5);
    EXPECT_EQ(n->input(2)->constant()->get_as_double(0), 0.25);
  }
  if (Result<Graph> g = load("dropout7"); g.ok()) {
    const Node* n = only_node_of(*g, "Dropout");
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->num_outputs(), 1u);  // the unused mask is dropped
    EXPECT_FALSE(n->has_attr("ratio"));
  }
}

TEST(OnnxImportLegacy, PRelu6PerChannelSlope) { run_case("prelu6_channel"); }
TEST(OnnxImportLegacy, GroupNorm18PerGroupScale) {
  run_case("groupnorm18", 1e-5);
  if (::testing::Test::IsSkipped()) return;
  Result<Graph> g = import_onnx_file(fx("groupnorm18.onnx"));
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->nodes()[0]->input(1)->constant()->shape(), (std::vector<int64_t>{6}));  // per channel
}

}  // namespace
}  // namespace slimrt
