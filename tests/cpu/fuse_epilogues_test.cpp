// Epilogue fusion (src/passes/fuse_epilogues.cpp): each pattern is built as a small graph, run on
// the CPU backend before and after the pass on fresh random inputs with outputs poisoned, and
// must give the same outputs (relative L2 < 1e-6) with the expected fused node left. Refusal
// cases check that the graph is left alone and that the report says why.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "slimrt/backend.h"
#include "slimrt/builder/onnx_importer.h"
#include "slimrt/builder/passes.h"
#include "slimrt/graph.h"
#include "support/model_cache.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

using testing::make_rng;
using testing::random_tensor;
using testing::rel_l2;

using testing::run_graph;

// Random float inputs; symbolic dims bind to `batch` = 2, `seq` = 5, anything else 3.
std::vector<NamedTensor> random_inputs(const Graph& g, std::mt19937_64& rng) {
  return testing::random_inputs(g, rng, {{"batch", 2}, {"seq", 5}}, 3, -2.0, 2.0);
}

// Runs `pass` and checks outputs before == after (and output names kept) on two fresh inputs.
template <typename Pass>
void expect_same_outputs(Graph& g, Pass&& pass) {
  ASSERT_TRUE(infer_shapes(g).ok());
  std::vector<std::string> names;
  for (const Value* v : g.outputs()) names.push_back(v->name());
  auto rng = make_rng();
  std::vector<std::vector<NamedTensor>> inputs = {random_inputs(g, rng), random_inputs(g, rng)};
  testing::expect_pass_keeps_outputs(g, inputs, pass, 1e-6);
  ASSERT_EQ(g.outputs().size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(g.outputs()[i]->name(), names[i]);
}

// Runs fuse_epilogues alone, collecting its report lines.
PassStats fuse(Graph& g) {
  PassStats stats;
  expect_same_outputs(g, [&](Graph& gr) { return fuse_epilogues(gr, &stats); });
  return stats;
}

using testing::count_op;

const Node* only_node(const Graph& g) {
  EXPECT_EQ(g.num_nodes(), 1u);
  return g.num_nodes() == 1 ? g.nodes()[0] : nullptr;
}

bool has_line(const PassStats& s, const std::string& needle) {
  for (const std::string& l : s.lines) {
    if (l.find(needle) != std::string::npos) return true;
  }
  return false;
}

std::string lines(const PassStats& s) {
  std::string out;
  for (const std::string& l : s.lines) out += l + "\n";
  return out;
}

Value* constant(Graph& g, const std::string& name, const std::vector<int64_t>& shape, std::mt19937_64& rng) {
  return g.add_initializer(name, random_tensor(DataType::kFloat32, shape, rng));
}

Value* scalar(Graph& g, const std::string& name, float v) {
  return g.add_initializer(name, Tensor::from_vector<float>(DataType::kFloat32, {}, {v}));
}

// Appends activation `act` to `x` ("Relu", "Gelu", "GeluTanh", "ClipMin", "Clip", ...).
Value* activation(Graph& g, const std::string& act, Value* x, const std::string& out = "") {
  std::vector<std::string> names;
  if (!out.empty()) names.push_back(out);
  if (act == "GeluTanh") {
    Node* n = g.add_node("Gelu", "act", {x}, 1, names);
    n->set_attr("approximate", std::string("tanh"));
    return n->output(0);
  }
  if (act == "ClipMin") return g.add_node("Clip", "act", {x, scalar(g, "lo", -0.25f)}, 1, names)->output(0);
  if (act == "Clip")
    return g.add_node("Clip", "act", {x, scalar(g, "lo", 0.0f), scalar(g, "hi", 0.75f)}, 1, names)->output(0);
  Node* n = g.add_node(act, "act", {x}, 1, names);
  if (act == "LeakyRelu") n->set_attr("alpha", 0.2f);
  return n->output(0);
}

// x[batch, 4, 7, 9] -> Conv(W[6, 4/group, 3, 3], B?) with padding and stride.
Node* add_conv(Graph& g, std::mt19937_64& rng, bool bias, int64_t group = 1, int64_t c = 4, int64_t m = 6) {
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), c, 7, 9});
  std::vector<Value*> in = {x, constant(g, "w", {m, c / group, 3, 3}, rng)};
  if (bias) in.push_back(constant(g, "b", {m}, rng));
  Node* conv = g.add_node("Conv", "conv", in, 1);
  conv->set_attr("group", group);
  conv->set_attr("pads", std::vector<int64_t>{1, 0, 1, 2});
  conv->set_attr("strides", std::vector<int64_t>{1, 2});
  return conv;  // output [batch, m, 7, 5]
}

// ---- Conv ----------------------------------------------------------------------------------

TEST(FuseEpiloguesTest, ConvBiasReluResidualAfter) {
  auto rng = make_rng();
  Graph g;
  Node* conv = add_conv(g, rng, false);
  Node* bias = g.add_node("Add", "bias", {conv->output(0), constant(g, "bias_c", {1, 6, 1, 1}, rng)}, 1);
  Value* a = activation(g, "Relu", bias->output(0));
  Value* r = g.add_input("r", DataType::kFloat32, Shape{Dim::symbol("batch"), 6, 7, 5});
  g.add_output(g.add_node("Add", "res", {r, a}, 1, {"y"})->output(0));
  const PassStats s = fuse(g);
  const Node* f = only_node(g);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->op_type(), "FusedConv");
  EXPECT_EQ(f->name(), "conv");
  EXPECT_EQ(f->attr_string("activation", ""), "Relu");
  EXPECT_EQ(f->attr_int("residual_before_activation", -1), 0);
  EXPECT_EQ(s.nodes_removed, 4);
  EXPECT_EQ(s.nodes_added, 1);
  EXPECT_TRUE(has_line(s, "into FusedConv 'conv' (bias + Relu + residual)")) << lines(s);
}

// ResNet's block end: Conv(B) -> Add(identity) -> Relu.
TEST(FuseEpiloguesTest, ConvResidualBeforeRelu) {
  auto rng = make_rng();
  Graph g;
  Node* conv = add_conv(g, rng, true);
  Value* r = g.add_input("r", DataType::kFloat32, Shape{Dim::symbol("batch"), 6, 7, 5});
  Node* add = g.add_node("Add", "res", {conv->output(0), r}, 1);
  g.add_output(activation(g, "Relu", add->output(0), "y"));
  const PassStats s = fuse(g);
  const Node* f = only_node(g);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->op_type(), "FusedConv");
  EXPECT_EQ(f->attr_int("residual_before_activation", -1), 1);
  EXPECT_TRUE(has_line(s, "(residual + Relu)")) << lines(s);
}

// MobileNet-v2: depthwise Conv -> Clip(0, 6); the residual broadcasts over the batch.
TEST(FuseEpiloguesTest, DepthwiseConvClipBroadcastResidual) {
  auto rng = make_rng();
  Graph g;
  Node* conv = add_conv(g, rng, true, 4, 4, 8);
  Value* a = activation(g, "Clip", conv->output(0));
  Value* r = g.add_input("r", DataType::kFloat32, Shape{8, 1, 5});
  g.add_output(g.add_node("Add", "res", {a, r}, 1, {"y"})->output(0));
  fuse(g);
  const Node* f = only_node(g);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->attr_string("activation", ""), "Clip");
  EXPECT_EQ(f->attr_int("group", 0), 4);
}

TEST(FuseEpiloguesTest, ConvBiasOnlyBecomesConvBias) {
  auto rng = make_rng();
  Graph g;
  Node* conv = add_conv(g, rng, false);
  g.add_output(g.add_node("Add", "bias", {constant(g, "bias_c", {6, 1, 1}, rng), conv->output(0)}, 1, {"y"})->output(0));
  fuse(g);
  const Node* f = only_node(g);
  ASSERT_NE(f, nullptr);
  ASSERT_NE(f->input(2), nullptr);
  EXPECT_EQ(f->input(2)->shape(), (Shape{6}));
}

// ---- MatMul / Gemm, every activation -------------------------------------------------------

class FuseActivationTest : public ::testing::TestWithParam<const char*> {};

// x[batch, seq, 8] @ W[8, 6] + b[6] -> act -> + r[batch, seq, 6].
TEST_P(FuseActivationTest, MatMulBiasActivationResidual) {
  const std::string act = GetParam();
  auto rng = make_rng();
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), Dim::symbol("seq"), 8});
  Node* mm = g.add_node("MatMul", "mm", {x, constant(g, "w", {8, 6}, rng)}, 1);
  Node* bias = g.add_node("Add", "bias", {mm->output(0), constant(g, "b", {6}, rng)}, 1);
  Value* a = activation(g, act, bias->output(0));
  Value* r = g.add_input("r", DataType::kFloat32, Shape{Dim::symbol("batch"), Dim::symbol("seq"), 6});
  g.add_output(g.add_node("Add", "res", {a, r}, 1, {"y"})->output(0));
  const PassStats s = fuse(g);
  const Node* f = only_node(g);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->op_type(), "FusedMatMul");
  EXPECT_EQ(f->name(), "mm");
  EXPECT_EQ(f->attr_int("gemm", -1), 0);
  const std::string want = act == "ClipMin" ? "Clip" : act;
  EXPECT_EQ(f->attr_string("activation", ""), want);
  EXPECT_TRUE(has_line(s, "(bias + " + want + " + residual)")) << lines(s);
}

// Gemm(transB) without C: the bias Add becomes C; act; no residual.
TEST_P(FuseActivationTest, GemmBiasActivation) {
  const std::string act = GetParam();
  auto rng = make_rng();
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{3, 8});
  Node* gemm = g.add_node("Gemm", "fc", {x, constant(g, "w", {6, 8}, rng)}, 1);
  gemm->set_attr("transB", int64_t{1});
  gemm->set_attr("alpha", 0.5f);
  gemm->set_attr("beta", 0.0f);  // meaningless without C; the fused C must be added with beta 1
  Node* bias = g.add_node("Add", "bias", {gemm->output(0), constant(g, "b", {1, 6}, rng)}, 1);
  g.add_output(activation(g, act, bias->output(0), "y"));
  const PassStats s = fuse(g);
  if (act == "LeakyRelu") {  // both would be the fused node's `alpha`
    EXPECT_EQ(g.num_nodes(), 2u);
    EXPECT_TRUE(has_line(s, "would clash with the Gemm's alpha")) << lines(s);
    return;
  }
  const Node* f = only_node(g);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->attr_int("gemm", -1), 1);
  EXPECT_EQ(f->attr_int("transB", -1), 1);
}

INSTANTIATE_TEST_SUITE_P(Activations, FuseActivationTest,
                         ::testing::Values("Relu", "Sigmoid", "Tanh", "LeakyRelu", "Clip", "ClipMin", "Gelu",
                                           "GeluTanh", "SiLU"));

// A transformer's projection: x + (h @ W + b), no activation.
TEST(FuseEpiloguesTest, MatMulBiasResidualNoActivation) {
  auto rng = make_rng();
  Graph g;
  Value* h = g.add_input("h", DataType::kFloat32, Shape{Dim::symbol("batch"), Dim::symbol("seq"), 8});
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), Dim::symbol("seq"), 6});
  Node* mm = g.add_node("MatMul", "proj", {h, constant(g, "w", {8, 6}, rng)}, 1);
  Node* bias = g.add_node("Add", "bias", {constant(g, "b", {6}, rng), mm->output(0)}, 1);
  g.add_output(g.add_node("Add", "res", {x, bias->output(0)}, 1, {"y"})->output(0));
  const PassStats s = fuse(g);
  const Node* f = only_node(g);
  ASSERT_NE(f, nullptr);
  EXPECT_FALSE(f->has_attr("activation"));
  EXPECT_TRUE(has_line(s, "(bias + residual)")) << lines(s);
}

TEST(FuseEpiloguesTest, MatMulScalarBiasSigmoid) {
  auto rng = make_rng();
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), 8});
  Node* mm = g.add_node("MatMul", "mm", {x, constant(g, "w", {8, 6}, rng)}, 1);
  Node* bias = g.add_node("Add", "bias", {mm->output(0), scalar(g, "b", 0.375f)}, 1);
  g.add_output(activation(g, "Sigmoid", bias->output(0), "y"));
  fuse(g);
  const Node* f = only_node(g);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->attr_string("activation", ""), "Sigmoid");
}

// Gemm with its own C, then a residual add before a Tanh.
TEST(FuseEpiloguesTest, GemmWithCResidualTanh) {
  auto rng = make_rng();
  Graph g;
  Value* a = g.add_input("a", DataType::kFloat32, Shape{8, 3});
  Node* gemm = g.add_node("Gemm", "fc", {a, constant(g, "w", {8, 6}, rng), constant(g, "c", {6}, rng)}, 1);
  gemm->set_attr("transA", int64_t{1});
  gemm->set_attr("beta", 0.75f);
  Value* r = g.add_input("r", DataType::kFloat32, Shape{3, 6});
  Node* add = g.add_node("Add", "res", {gemm->output(0), r}, 1);
  g.add_output(activation(g, "Tanh", add->output(0), "y"));
  fuse(g);
  const Node* f = only_node(g);
  ASSERT_NE(f, nullptr);
  EXPECT_FLOAT_EQ(f->attr_float("beta", 0.0f), 0.75f);
  EXPECT_EQ(f->attr_int("residual_before_activation", -1), 1);
}

// Two products meeting in one Add: the first fuses the Add, the second becomes its residual.
TEST(FuseEpiloguesTest, TwoConvsIntoOneAdd) {
  auto rng = make_rng();
  Graph g;
  Node* conv = add_conv(g, rng, true);
  Node* conv2 = g.add_node("Conv", "conv2", {g.find_value("x"), constant(g, "w2", {6, 4, 1, 1}, rng)}, 1);
  conv2->set_attr("strides", std::vector<int64_t>{1, 2});
  conv2->set_attr("pads", std::vector<int64_t>{0, 0, 0, 0});
  Node* add = g.add_node("Add", "res", {conv->output(0), conv2->output(0)}, 1);
  g.add_output(activation(g, "Relu", add->output(0), "y"));
  fuse(g);
  EXPECT_EQ(g.num_nodes(), 2u);
  EXPECT_EQ(count_op(g, "FusedConv"), 1u);
  EXPECT_EQ(count_op(g, "Conv"), 1u);
}

// ---- refusals -------------------------------------------------------------------------------

TEST(FuseEpiloguesTest, IntermediateWithTwoConsumersStops) {
  auto rng = make_rng();
  Graph g;
  Node* conv = add_conv(g, rng, true);
  Value* a = activation(g, "Relu", conv->output(0), "y");
  g.add_output(a);
  g.add_output(g.add_node("Sigmoid", "side", {conv->output(0)}, 1, {"z"})->output(0));
  const PassStats s = fuse(g);
  EXPECT_EQ(g.num_nodes(), 3u);
  EXPECT_EQ(count_op(g, "Conv"), 1u);
  EXPECT_TRUE(has_line(s, "has 2 consumers")) << lines(s);
}

TEST(FuseEpiloguesTest, IntermediateGraphOutputStops) {
  auto rng = make_rng();
  Graph g;
  Node* conv = add_conv(g, rng, true);
  g.add_output(conv->output(0));
  g.add_output(activation(g, "Relu", conv->output(0), "y"));
  const PassStats s = fuse(g);
  EXPECT_EQ(g.num_nodes(), 2u);
  EXPECT_EQ(count_op(g, "Conv"), 1u);
  EXPECT_TRUE(has_line(s, "is a graph output")) << lines(s);
}

// A partial chain still fuses: MatMul + bias + Relu, whose output also feeds a second user.
TEST(FuseEpiloguesTest, ChainStopsAtSharedValue) {
  auto rng = make_rng();
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), 8});
  Node* mm = g.add_node("MatMul", "mm", {x, constant(g, "w", {8, 6}, rng)}, 1);
  Node* bias = g.add_node("Add", "bias", {mm->output(0), constant(g, "b", {6}, rng)}, 1);
  Value* a = activation(g, "Relu", bias->output(0), "y");
  Value* r = g.add_input("r", DataType::kFloat32, Shape{Dim::symbol("batch"), 6});
  g.add_output(a);
  g.add_output(g.add_node("Add", "res", {a, r}, 1, {"z"})->output(0));
  fuse(g);
  EXPECT_EQ(g.num_nodes(), 2u);
  EXPECT_EQ(count_op(g, "FusedMatMul"), 1u);
  EXPECT_EQ(count_op(g, "Add"), 1u);
}

TEST(FuseEpiloguesTest, MatMulBiasOfWrongShapeIsRefused) {
  auto rng = make_rng();
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{5, 8});
  Node* mm = g.add_node("MatMul", "mm", {x, constant(g, "w", {8, 6}, rng)}, 1);
  Node* bias = g.add_node("Add", "bias", {mm->output(0), constant(g, "b", {5, 6}, rng)}, 1);
  g.add_output(activation(g, "Relu", bias->output(0), "y"));
  const PassStats s = fuse(g);
  EXPECT_EQ(g.num_nodes(), 3u);
  EXPECT_TRUE(has_line(s, "does not broadcast along the last axis only")) << lines(s);
}

// [6] against [batch, 6, 7, 5] broadcasts along the width, not the channels.
TEST(FuseEpiloguesTest, ConvBiasAlongWrongAxisIsRefused) {
  auto rng = make_rng();
  Graph g;
  Node* conv = add_conv(g, rng, false, 1, 4, 5);
  g.add_output(g.add_node("Add", "bias", {conv->output(0), constant(g, "b", {5}, rng)}, 1, {"y"})->output(0));
  const PassStats s = fuse(g);
  EXPECT_EQ(g.num_nodes(), 2u);
  EXPECT_TRUE(has_line(s, "does not broadcast along the channel axis only")) << lines(s);
}

TEST(FuseEpiloguesTest, ResidualThatGrowsTheOutputIsRefused) {
  auto rng = make_rng();
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{1, 8});
  Node* mm = g.add_node("MatMul", "mm", {x, constant(g, "w", {8, 6}, rng)}, 1);
  Value* r = g.add_input("r", DataType::kFloat32, Shape{4, 6});
  g.add_output(g.add_node("Add", "res", {mm->output(0), r}, 1, {"y"})->output(0));
  const PassStats s = fuse(g);
  EXPECT_EQ(g.num_nodes(), 2u);
  EXPECT_TRUE(has_line(s, "without growing it")) << lines(s);
}

TEST(FuseEpiloguesTest, NonConstantClipBoundIsRefused) {
  auto rng = make_rng();
  Graph g;
  Node* conv = add_conv(g, rng, true);
  Value* lo = g.add_input("lo", DataType::kFloat32, Shape{});
  g.add_output(g.add_node("Clip", "clip", {conv->output(0), lo}, 1, {"y"})->output(0));
  const PassStats s = fuse(g);
  EXPECT_EQ(g.num_nodes(), 2u);
  EXPECT_TRUE(has_line(s, "not a constant float32 scalar")) << lines(s);
}

// fp16 graphs round after every op; a fused node would round once, so they are left alone.
TEST(FuseEpiloguesTest, Float16IsNotFused) {
  auto rng = make_rng();
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat16, Shape{3, 8});
  Value* w = g.add_initializer("w", random_tensor(DataType::kFloat16, {8, 6}, rng));
  Node* mm = g.add_node("MatMul", "mm", {x, w}, 1);
  g.add_output(activation(g, "Relu", mm->output(0), "y"));
  fuse(g);
  EXPECT_EQ(g.num_nodes(), 2u);
  EXPECT_EQ(count_op(g, "FusedMatMul"), 0u);
}

TEST(FuseEpiloguesTest, RunPassesFusesAfterBatchNormFolding) {
  auto rng = make_rng();
  Graph g;
  Node* conv = add_conv(g, rng, false);
  const int64_t m = 6;
  Node* bn = g.add_node("BatchNormalization", "bn",
                        {conv->output(0), g.add_initializer("gamma", random_tensor(DataType::kFloat32, {m}, rng, 0.5, 1.5)),
                         constant(g, "beta", {m}, rng), constant(g, "mean", {m}, rng),
                         g.add_initializer("var", random_tensor(DataType::kFloat32, {m}, rng, 0.5, 1.5))},
                        1);
  g.add_output(activation(g, "Relu", bn->output(0), "y"));
  PassReport report;
  expect_same_outputs(g, [&](Graph& gr) { return run_passes(gr, PassOptions{}, &report); });
  EXPECT_EQ(report.nodes_after, 1u);
  EXPECT_EQ(count_op(g, "FusedConv"), 1u);
  EXPECT_NE(report.to_string().find("epilogue_fusion: -2 +1 nodes"), std::string::npos) << report.to_string();
}

// ---- exported models -----------------------------------------------------------------------

using testing::model_cache;

struct ModelCase {
  const char* name;
  const char* gone_op;   // an op the fusion should absorb entirely (nullptr: none)
  size_t min_fused;      // FusedConv + FusedMatMul nodes expected at least
};

class FuseEpiloguesModelTest : public ::testing::TestWithParam<ModelCase> {};

TEST_P(FuseEpiloguesModelTest, FusesAndKeepsOutputs) {
  const ModelCase p = GetParam();
  const std::string path = model_cache() + "/" + p.name + "/model.onnx";
  if (model_cache().empty() || !std::filesystem::exists(path)) GTEST_SKIP() << "no model cache entry " << path;
  Result<Graph> g = import_onnx_file(path);
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  PassOptions no_fusion;
  no_fusion.fuse_epilogues = false;
  no_fusion.fuse_elementwise = false;  // it would take the chains epilogue fusion is tested on
  PassReport base;
  ASSERT_TRUE(run_passes(*g, no_fusion, &base).ok());
  const size_t gone_before = p.gone_op ? count_op(*g, p.gone_op) : 0;
  PassStats stats;
  expect_same_outputs(*g, [&](Graph& gr) {
    Status s = fuse_epilogues(gr, &stats);
    if (!s.ok()) return s;
    return eliminate_dead_code(gr, nullptr);
  });
  const size_t fused = count_op(*g, "FusedConv") + count_op(*g, "FusedMatMul");
  std::printf("%-13s nodes %zu -> %zu, %zu fused nodes", p.name, base.nodes_after, g->num_nodes(), fused);
  if (p.gone_op) std::printf(", %s %zu -> %zu", p.gone_op, gone_before, count_op(*g, p.gone_op));
  std::printf("\n");
  size_t kept = 0;
  for (const std::string& l : stats.lines) {
    if (l.rfind("kept", 0) == 0 && ++kept <= 4) std::printf("    %s\n", l.c_str());
  }
  if (kept > 4) std::printf("    ... %zu refusals in all\n", kept);
  EXPECT_GE(fused, p.min_fused);
  if (p.gone_op) {
    EXPECT_EQ(count_op(*g, p.gone_op), 0u) << lines(stats);
  }
}

// bert_tiny: per layer the packed QKV projection, the output projection and the two FFN GEMMs
// (MHA canonicalization packs Q, K and V into one), 2 layers, and the pooler.
INSTANTIATE_TEST_SUITE_P(Models, FuseEpiloguesModelTest,
                         ::testing::Values(ModelCase{"resnet18", "Relu", 17}, ModelCase{"resnet50", "Relu", 49},
                                           ModelCase{"mobilenet_v2", "Clip", 45}, ModelCase{"bert_tiny", nullptr, 9}),
                         [](const ::testing::TestParamInfo<ModelCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace slimrt
