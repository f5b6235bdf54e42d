// Graph passes (src/passes): every pass must leave the graph's outputs unchanged up to float
// rounding. Each test runs the graph on the CPU backend before and after the pass on fresh
// random inputs and compares (relative L2 < 1e-6), and checks the rewrite really happened.
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

using testing::random_inputs;

// Runs `pass` on `g` and checks outputs before == after on two fresh random inputs.
template <typename Pass>
void expect_same_outputs(Graph& g, Pass&& pass, const std::map<std::string, int64_t>& dims = {{"batch", 2}, {"seq", 11}}) {
  auto rng = make_rng();
  std::vector<std::vector<NamedTensor>> inputs = {random_inputs(g, rng, dims), random_inputs(g, rng, dims)};
  testing::expect_pass_keeps_outputs(g, inputs, pass, 1e-6);
}

using testing::count_op;

Value* add_const(Graph& g, const std::string& name, Tensor t) { return g.add_initializer(name, std::move(t)); }

Tensor positive_tensor(const std::vector<int64_t>& shape, std::mt19937_64& rng) {
  return random_tensor(DataType::kFloat32, shape, rng, 0.5, 1.5);
}

// x[2, c, 7, 9] -> Conv(W[m, c/group, 3, 3], B?) -> BN -> Relu -> output.
void build_conv_bn(Graph& g, int64_t c, int64_t m, int64_t group, bool bias, std::mt19937_64& rng) {
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), c, 7, 9});
  std::vector<Value*> conv_in = {x, add_const(g, "w", random_tensor(DataType::kFloat32, {m, c / group, 3, 3}, rng))};
  if (bias) conv_in.push_back(add_const(g, "b", random_tensor(DataType::kFloat32, {m}, rng)));
  Node* conv = g.add_node("Conv", "conv", conv_in, 1);
  conv->set_attr("group", group);
  conv->set_attr("pads", std::vector<int64_t>{1, 0, 1, 2});
  conv->set_attr("strides", std::vector<int64_t>{1, 2});
  Node* bn = g.add_node("BatchNormalization", "bn",
                        {conv->output(0), add_const(g, "gamma", positive_tensor({m}, rng)),
                         add_const(g, "beta", random_tensor(DataType::kFloat32, {m}, rng)),
                         add_const(g, "mean", random_tensor(DataType::kFloat32, {m}, rng)),
                         add_const(g, "var", positive_tensor({m}, rng))},
                        1);
  bn->set_attr("epsilon", 1e-3f);
  Node* relu = g.add_node("Relu", "relu", {bn->output(0)}, 1, {"y"});
  g.add_output(relu->output(0));
}

struct ConvBnCase {
  int64_t c, m, group;
  bool bias;
};

class ConvBnFoldTest : public ::testing::TestWithParam<ConvBnCase> {};

TEST_P(ConvBnFoldTest, FoldsAndKeepsOutputs) {
  const ConvBnCase p = GetParam();
  auto rng = make_rng(static_cast<uint64_t>(p.c * 100 + p.m * 10 + p.group + (p.bias ? 1000 : 0)));
  Graph g;
  build_conv_bn(g, p.c, p.m, p.group, p.bias, rng);
  ASSERT_TRUE(infer_shapes(g).ok());
  PassStats stats;
  expect_same_outputs(g, [&](Graph& gr) { return fold_conv_batchnorm(gr, &stats); });
  EXPECT_EQ(count_op(g, "BatchNormalization"), 0u);
  EXPECT_EQ(count_op(g, "Conv"), 1u);
  EXPECT_EQ(g.num_nodes(), 2u);
  EXPECT_EQ(stats.nodes_removed, 2);
  EXPECT_EQ(stats.nodes_added, 1);
  ASSERT_EQ(stats.lines.size(), 1u);
  EXPECT_NE(stats.lines[0].find("folded"), std::string::npos) << stats.lines[0];
  EXPECT_EQ(g.outputs()[0]->name(), "y");
  // The folded Conv always carries a bias.
  for (const Node* n : g.nodes()) {
    if (n->op_type() == "Conv") {
      ASSERT_NE(n->input(2), nullptr);
      EXPECT_EQ(n->attr_int("group", 1), p.group);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, ConvBnFoldTest,
                         ::testing::Values(ConvBnCase{4, 6, 1, true}, ConvBnCase{4, 6, 1, false},
                                           ConvBnCase{4, 6, 2, true}, ConvBnCase{5, 5, 5, false},
                                           ConvBnCase{3, 7, 1, false}));

TEST(PassesTest, ConvBnWithSecondConsumerIsNotFolded) {
  auto rng = make_rng();
  Graph g;
  build_conv_bn(g, 4, 6, 1, true, rng);
  Node* conv = g.nodes()[0];
  Node* side = g.add_node("Sigmoid", "side", {conv->output(0)}, 1, {"side"});
  g.add_output(side->output(0));
  ASSERT_TRUE(infer_shapes(g).ok());
  PassStats stats;
  expect_same_outputs(g, [&](Graph& gr) { return fold_conv_batchnorm(gr, &stats); });
  EXPECT_EQ(count_op(g, "BatchNormalization"), 1u);
  EXPECT_EQ(stats.nodes_removed, 0);
  ASSERT_EQ(stats.lines.size(), 1u);
  EXPECT_NE(stats.lines[0].find("has other users"), std::string::npos) << stats.lines[0];
}

TEST(PassesTest, ConvBnWithNonConstantParamsIsNotFolded) {
  auto rng = make_rng();
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{2, 3, 5, 5});
  Value* gamma = g.add_input("gamma", DataType::kFloat32, Shape{4});
  Node* conv = g.add_node("Conv", "conv", {x, add_const(g, "w", random_tensor(DataType::kFloat32, {4, 3, 1, 1}, rng))}, 1);
  Node* bn = g.add_node("BatchNormalization", "bn",
                        {conv->output(0), gamma, add_const(g, "beta", random_tensor(DataType::kFloat32, {4}, rng)),
                         add_const(g, "mean", random_tensor(DataType::kFloat32, {4}, rng)),
                         add_const(g, "var", positive_tensor({4}, rng))},
                        1);
  g.add_output(bn->output(0));
  ASSERT_TRUE(infer_shapes(g).ok());
  PassStats stats;
  ASSERT_TRUE(fold_conv_batchnorm(g, &stats).ok());
  EXPECT_EQ(g.num_nodes(), 2u);
  ASSERT_EQ(stats.lines.size(), 1u);
  // A BN producing a graph output is refused first (folding would rename the output).
  EXPECT_NE(stats.lines[0].find("graph output"), std::string::npos) << stats.lines[0];
}

// x -> Shape -> Gather(i) -> Unsqueeze -> Concat(.., [-1]) -> Reshape(x, ..) -> y.
void build_shape_subgraph(Graph& g, Shape x_shape, int64_t gather_index) {
  Value* x = g.add_input("x", DataType::kFloat32, std::move(x_shape));
  Node* shape = g.add_node("Shape", "shape", {x}, 1);
  Node* gather = g.add_node("Gather", "gather",
                            {shape->output(0), add_const(g, "idx", Tensor::from_vector<int64_t>(DataType::kInt64, {}, {gather_index}))}, 1);
  gather->set_attr("axis", int64_t{0});
  Node* unsq = g.add_node("Unsqueeze", "unsq",
                          {gather->output(0), add_const(g, "axes", Tensor::from_vector<int64_t>(DataType::kInt64, {1}, {0}))}, 1);
  Node* cat = g.add_node("Concat", "cat",
                         {unsq->output(0), add_const(g, "minus1", Tensor::from_vector<int64_t>(DataType::kInt64, {1}, {-1}))}, 1);
  cat->set_attr("axis", int64_t{0});
  Node* reshape = g.add_node("Reshape", "reshape", {x, cat->output(0)}, 1, {"y"});
  g.add_output(reshape->output(0));
}

TEST(PassesTest, ShapeSubgraphFoldsWithStaticShapes) {
  Graph g;
  build_shape_subgraph(g, Shape{2, 3, 4, 5}, 0);
  ASSERT_TRUE(infer_shapes(g).ok());
  PassReport report;
  expect_same_outputs(g, [&](Graph& gr) { return run_passes(gr, PassOptions{}, &report); });
  EXPECT_EQ(report.nodes_before, 5u);
  EXPECT_EQ(report.nodes_after, 1u) << report.to_string();
  EXPECT_EQ(count_op(g, "Reshape"), 1u);
  ASSERT_TRUE(g.nodes()[0]->input(1)->constant());
  EXPECT_EQ(g.nodes()[0]->input(1)->constant()->to_int64_vector(), (std::vector<int64_t>{2, -1}));
  EXPECT_EQ(shape_to_string(g.outputs()[0]->shape()), "[2,60]");
}

TEST(PassesTest, ShapeSubgraphOfStaticDimFoldsWithDynamicBatch) {
  Graph g;
  build_shape_subgraph(g, Shape{Dim::symbol("batch"), 3, 4, 5}, 1);
  ASSERT_TRUE(infer_shapes(g).ok());
  PassReport report;
  expect_same_outputs(g, [&](Graph& gr) { return run_passes(gr, PassOptions{}, &report); });
  // Gather of the static dim 1 is known (3), so Gather/Unsqueeze/Concat fold and Shape dies.
  EXPECT_EQ(report.nodes_after, 1u) << report.to_string();
}

TEST(PassesTest, ShapeSubgraphOfDynamicDimStays) {
  Graph g;
  build_shape_subgraph(g, Shape{Dim::symbol("batch"), 3, 4, 5}, 0);
  ASSERT_TRUE(infer_shapes(g).ok());
  PassReport report;
  expect_same_outputs(g, [&](Graph& gr) { return run_passes(gr, PassOptions{}, &report); });
  EXPECT_EQ(report.nodes_after, 5u) << report.to_string();
}

TEST(PassesTest, ConstantBranchFolds) {
  auto rng = make_rng();
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), 3, 4});
  Value* c = add_const(g, "c", random_tensor(DataType::kFloat32, {3, 4}, rng));
  Node* sq = g.add_node("Mul", "sq", {c, c}, 1);
  Node* ex = g.add_node("Exp", "ex", {sq->output(0)}, 1);
  Node* add = g.add_node("Add", "add", {x, ex->output(0)}, 1, {"y"});
  g.add_output(add->output(0));
  ASSERT_TRUE(infer_shapes(g).ok());
  PassStats stats;
  expect_same_outputs(g, [&](Graph& gr) { return fold_constants(gr, PassOptions{}, &stats); });
  EXPECT_EQ(g.num_nodes(), 1u);
  EXPECT_EQ(stats.nodes_removed, 2);
  ASSERT_NE(g.nodes()[0]->input(1)->constant(), nullptr);
}

TEST(PassesTest, ConstantFoldingRespectsSizeLimitAndGraphOutputs) {
  auto rng = make_rng();
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{3, 4});
  Value* c = add_const(g, "c", random_tensor(DataType::kFloat32, {3, 4}, rng));
  Node* big = g.add_node("Mul", "big", {c, c}, 1);
  Node* add = g.add_node("Add", "add", {x, big->output(0)}, 1, {"y"});
  Node* out_c = g.add_node("Neg", "neg", {c}, 1, {"z"});  // a constant graph output stays a node
  g.add_output(add->output(0));
  g.add_output(out_c->output(0));
  ASSERT_TRUE(infer_shapes(g).ok());
  PassOptions opts;
  opts.max_fold_elements = 11;  // Mul's 12 elements exceed it
  PassStats stats;
  expect_same_outputs(g, [&](Graph& gr) { return fold_constants(gr, opts, &stats); });
  EXPECT_EQ(g.num_nodes(), 3u);
  ASSERT_EQ(stats.lines.size(), 1u);
  EXPECT_NE(stats.lines[0].find("fold limit"), std::string::npos) << stats.lines[0];
}

TEST(PassesTest, DeadCodeEliminationRemovesDanglingBranches) {
  auto rng = make_rng();
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), 5});
  Value* unused = add_const(g, "unused", random_tensor(DataType::kFloat32, {100}, rng));
  Value* w = add_const(g, "w", random_tensor(DataType::kFloat32, {5}, rng));
  Node* relu = g.add_node("Relu", "relu", {x}, 1, {"y"});
  Node* s = g.add_node("Sigmoid", "dangling1", {x}, 1);
  Node* m = g.add_node("Mul", "dangling2", {s->output(0), w}, 1);
  g.add_node("Exp", "dangling3", {m->output(0)}, 1);
  // A two-output node with only its second output unused stays.
  Node* split = g.add_node("Split", "split", {relu->output(0)}, 2);
  split->set_attr("num_outputs", int64_t{2});
  split->set_attr("axis", int64_t{0});
  g.add_output(relu->output(0));
  g.add_output(split->output(0));
  ASSERT_TRUE(infer_shapes(g).ok());
  PassStats stats;
  expect_same_outputs(g, [&](Graph& gr) { return eliminate_dead_code(gr, &stats); });
  EXPECT_EQ(g.num_nodes(), 2u);
  EXPECT_EQ(stats.nodes_removed, 3);
  // "unused", "w" (once its Mul is gone) and the three dangling nodes' outputs; the Split's
  // unused second output stays with its node.
  EXPECT_EQ(stats.values_removed, 5);
  (void)unused;
  (void)w;
  EXPECT_EQ(g.find_value("unused"), nullptr);
  EXPECT_EQ(g.find_value("w"), nullptr);
  EXPECT_EQ(g.find_value("dangling3:0"), nullptr);
  EXPECT_NE(g.find_value("split:1"), nullptr);
  for (const Value* v : g.values()) EXPECT_TRUE(v->producer() || v->is_graph_input() || !v->consumers().empty()) << v->name();
}

TEST(PassesTest, IdentityAndDropoutRemoval) {
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), 6});
  Node* id1 = g.add_node("Identity", "id1", {x}, 1);
  Node* relu = g.add_node("Relu", "relu", {id1->output(0)}, 1);
  Node* drop = g.add_node("Dropout", "drop", {relu->output(0)}, 1);
  Node* id2 = g.add_node("Identity", "id2", {drop->output(0)}, 1, {"y"});
  g.add_output(id2->output(0));
  ASSERT_TRUE(infer_shapes(g).ok());
  PassStats stats;
  expect_same_outputs(g, [&](Graph& gr) { return remove_identity(gr, &stats); });
  EXPECT_EQ(g.num_nodes(), 2u);  // Relu, and id2 which names the graph output
  EXPECT_EQ(stats.nodes_removed, 2);
  EXPECT_EQ(g.outputs()[0]->name(), "y");
}

TEST(PassesTest, ReportListsEveryPass) {
  auto rng = make_rng();
  Graph g;
  build_conv_bn(g, 4, 6, 1, false, rng);
  ASSERT_TRUE(infer_shapes(g).ok());
  PassReport report;
  ASSERT_TRUE(run_passes(g, PassOptions{}, &report).ok());
  EXPECT_EQ(report.passes.size(), 11u);  // ... patchify_conv, ..., mha_canonicalization, ..., dead_code_elimination
  EXPECT_EQ(report.nodes_before, 3u);
  EXPECT_EQ(report.nodes_after, 1u);  // Conv+BN folded, then Conv+Relu fused into FusedConv
  const std::string text = report.to_string();
  EXPECT_NE(text.find("conv_batchnorm_folding: -2 +1 nodes"), std::string::npos) << text;
  EXPECT_NE(text.find("epilogue_fusion: -2 +1 nodes"), std::string::npos) << text;
  EXPECT_NE(text.find("passes: 3 -> 1 nodes"), std::string::npos) << text;
}

// ---- exported models from the cache ----

using testing::model_cache;

struct ModelCase {
  const char* name;
  bool static_shapes;  // import with batch 2 / seq 11 fixed, so the shape subgraphs fold
};

class PassesModelTest : public ::testing::TestWithParam<ModelCase> {};

TEST_P(PassesModelTest, OutputsUnchanged) {
  const ModelCase p = GetParam();
  const std::string path = model_cache() + "/" + p.name + "/model.onnx";
  if (model_cache().empty() || !std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  ImportOptions io;
  if (p.static_shapes) {
    Result<Graph> probe = import_onnx_file(path);
    ASSERT_TRUE(probe.ok()) << probe.status().to_string();
    auto rng = make_rng();
    for (const NamedTensor& t : random_inputs(*probe, rng)) io.input_shapes.emplace_back(t.name, t.tensor.shape());
  }
  Result<Graph> g = import_onnx_file(path, io);
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  PassReport report;
  expect_same_outputs(*g, [&](Graph& gr) { return run_passes(gr, PassOptions{}, &report); });
  std::printf("%-13s %-7s nodes %3zu -> %3zu\n", p.name, p.static_shapes ? "static" : "dynamic",
              report.nodes_before, report.nodes_after);
  for (const PassStats& s : report.passes) {
    std::printf("    %-24s -%lld +%lld nodes, %lld values removed\n", s.pass.c_str(),
                static_cast<long long>(s.nodes_removed), static_cast<long long>(s.nodes_added),
                static_cast<long long>(s.values_removed));
  }
  EXPECT_LE(report.nodes_after, report.nodes_before);
}

INSTANTIATE_TEST_SUITE_P(Models, PassesModelTest,
                         ::testing::Values(ModelCase{"resnet50", false}, ModelCase{"mobilenet_v2", false},
                                           ModelCase{"bert_tiny", false}, ModelCase{"llama_tiny", false},
                                           ModelCase{"resnet50", true}, ModelCase{"mobilenet_v2", true},
                                           ModelCase{"bert_tiny", true}, ModelCase{"llama_tiny", true}),
                         [](const ::testing::TestParamInfo<ModelCase>& info) {
                           return std::string(info.param.name) + (info.param.static_shapes ? "_static" : "_dynamic");
                         });

}  // namespace
}  // namespace slimrt
