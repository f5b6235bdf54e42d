// The patchify rewrite (src/passes/patchify_conv.cpp): convolutions whose stride equals their
// kernel run on the CPU backend before and after the pass on fresh random inputs (symbolic
// batch, odd channel counts, non-square patches) and must give the same outputs; ViT's flatten
// after the patch embedding is absorbed; any other convolution stays a Conv.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "slimrt/builder/passes.h"
#include "slimrt/graph.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

using testing::count_op;
using testing::make_rng;
using testing::random_tensor;
using testing::rel_l2;
using testing::run_graph;

struct ConvCase {
  int64_t c = 3, m = 5, h = 8, w = 12, kh = 4, kw = 3;
  std::vector<int64_t> strides;  // default: the kernel
  std::vector<int64_t> pads, dilations;
  int64_t group = 1;
  bool bias = true;
  DataType dtype = DataType::kFloat32;
};

Node* add_conv(Graph& g, Value* x, const ConvCase& c, std::mt19937_64& rng) {
  Value* w = g.add_initializer("w", random_tensor(c.dtype, {c.m, c.c / c.group, c.kh, c.kw}, rng, -0.5, 0.5));
  std::vector<Value*> ins = {x, w};
  if (c.bias) ins.push_back(g.add_initializer("b", random_tensor(c.dtype, {c.m}, rng)));
  Node* conv = g.add_node("Conv", "patch_embed", ins, 1, {"conv_out"});
  conv->set_attr("kernel_shape", std::vector<int64_t>{c.kh, c.kw});
  conv->set_attr("strides", c.strides.empty() ? std::vector<int64_t>{c.kh, c.kw} : c.strides);
  if (!c.pads.empty()) conv->set_attr("pads", c.pads);
  if (!c.dilations.empty()) conv->set_attr("dilations", c.dilations);
  if (c.group != 1) conv->set_attr("group", c.group);
  return conv;
}

Value* ints(Graph& g, const std::string& name, const std::vector<int64_t>& v, bool scalar = false) {
  return g.add_initializer(name, Tensor::from_vector<int64_t>(DataType::kInt64, scalar ? std::vector<int64_t>{}
                                                                                      : std::vector<int64_t>{static_cast<int64_t>(v.size())}, v));
}

// ViT: x -> conv_proj -> reshape(n, hidden, n_h * n_w) -> permute(0, 2, 1) -> + pos -> y, with n
// read from x's shape as torch exports it.
Graph vit_stem(const ConvCase& c, std::mt19937_64& rng) {
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), c.c, c.h, c.w});
  Value* y = add_conv(g, x, c, rng)->output(0);
  Node* gather = g.add_node("Gather", "n", {g.add_node("Shape", "shape", {x}, 1)->output(0), ints(g, "zero", {0}, true)}, 1);
  gather->set_attr("axis", int64_t{0});
  Value* n = g.add_node("Unsqueeze", "n1", {gather->output(0), ints(g, "axes", {0})}, 1)->output(0);
  Node* cat = g.add_node("Concat", "flat_shape", {n, ints(g, "mc", {c.m, -1})}, 1);
  cat->set_attr("axis", int64_t{0});
  Value* flat = g.add_node("Reshape", "flatten", {y, cat->output(0)}, 1)->output(0);
  Node* t = g.add_node("Transpose", "tokens", {flat}, 1);
  t->set_attr("perm", std::vector<int64_t>{0, 2, 1});
  const int64_t tokens = (c.h / c.kh) * (c.w / c.kw);
  Value* pos = g.add_initializer("pos", random_tensor(DataType::kFloat32, {tokens, c.m}, rng));
  g.add_output(g.add_node("Add", "pos_add", {t->output(0), pos}, 1, {"y"})->output(0));
  return g;
}

// x -> Conv -> Relu -> y (NCHW).
Graph conv_relu(const ConvCase& c, std::mt19937_64& rng, bool symbolic_h = false) {
  Graph g;
  Value* x = g.add_input("x", c.dtype, Shape{Dim::symbol("batch"), c.c, symbolic_h ? Dim::symbol("h") : Dim(c.h), c.w});
  Value* y = add_conv(g, x, c, rng)->output(0);
  g.add_output(g.add_node("Relu", "relu", {y}, 1, {"y"})->output(0));
  return g;
}

// Runs `pass` on `g`, comparing the CPU outputs before and after on batch 1 and 3.
void expect_same_outputs(Graph& g, const std::function<Status(Graph&)>& pass, double tol = 1e-5) {
  ASSERT_TRUE(infer_shapes(g).ok());
  auto rng = make_rng(9);
  std::vector<std::vector<NamedTensor>> inputs;
  for (int64_t batch : {1, 3}) inputs.push_back(testing::random_inputs(g, rng, {{"batch", batch}, {"h", 8}}, 3, -2.0, 2.0));
  testing::expect_pass_keeps_outputs(g, inputs, pass, tol);
}

size_t transposes_of_rank(const Graph& g, size_t rank) {
  size_t n = 0;
  for (const Node* node : g.nodes()) n += node->op_type() == "Transpose" && node->input(0)->shape().size() == rank;
  return n;
}

std::string lines(const PassStats& s) {
  std::string t;
  for (const std::string& l : s.lines) t += l + "\n";
  return t;
}

TEST(PatchifyPass, VitStemBecomesOneGemmAndTheFlattenGoes) {
  auto rng = make_rng(1);
  Graph g = vit_stem(ConvCase{}, rng);
  PassReport report;
  expect_same_outputs(g, [&](Graph& gr) { return run_passes(gr, PassOptions{}, &report); });
  EXPECT_EQ(count_op(g, "Conv"), 0u) << report.to_string();
  // Only the patch gather is left: [N, C, h, p, w, q] -> [N, h, w, C, p, q].
  EXPECT_EQ(count_op(g, "Transpose"), 1u) << report.to_string();
  EXPECT_EQ(transposes_of_rank(g, 6), 1u);
  // The bias fuses into the GEMM.
  EXPECT_EQ(count_op(g, "FusedMatMul"), 1u) << report.to_string();
  EXPECT_EQ(g.outputs()[0]->name(), "y");
  EXPECT_NE(report.to_string().find("for the flatten"), std::string::npos) << report.to_string();
}

TEST(PatchifyPass, OtherReadersGetNchwBack) {
  for (bool bias : {true, false}) {
    SCOPED_TRACE(bias ? "bias" : "no bias");
    ConvCase c;
    c.c = 5, c.m = 7, c.h = 6, c.w = 10, c.kh = 2, c.kw = 5, c.bias = bias;
    auto rng = make_rng(2);
    Graph g = conv_relu(c, rng);
    PassStats stats;
    expect_same_outputs(g, [&](Graph& gr) { return patchify_conv_to_matmul(gr, &stats); });
    EXPECT_EQ(count_op(g, "Conv"), 0u) << lines(stats);
    EXPECT_EQ(transposes_of_rank(g, 6), 1u);
    EXPECT_EQ(transposes_of_rank(g, 4), 1u);  // [N, h, w, M] -> [N, M, h, w]
    EXPECT_EQ(count_op(g, "MatMul"), 1u);
  }
}

TEST(PatchifyPass, HalfWeightsKeepTheirType) {
  ConvCase c;
  c.dtype = DataType::kFloat16;
  auto rng = make_rng(3);
  Graph g = conv_relu(c, rng);
  expect_same_outputs(g, [&](Graph& gr) { return patchify_conv_to_matmul(gr, nullptr); }, 2e-3);
  EXPECT_EQ(count_op(g, "Conv"), 0u);
  for (const Node* n : g.nodes()) {
    if (n->op_type() == "MatMul") {
      EXPECT_EQ(n->input(1)->dtype(), DataType::kFloat16);
      EXPECT_EQ(n->input(1)->shape(), (Shape{c.c * c.kh * c.kw, c.m}));
    }
  }
}

std::string fmt_case(const ConvCase& c) {
  std::string s = std::to_string(c.kh) + "x" + std::to_string(c.kw) + " over " + std::to_string(c.h) + "x" + std::to_string(c.w);
  for (int64_t v : c.strides) s += " s" + std::to_string(v);
  for (int64_t v : c.pads) s += " p" + std::to_string(v);
  for (int64_t v : c.dilations) s += " d" + std::to_string(v);
  return s + " group " + std::to_string(c.group);
}

TEST(PatchifyPass, OtherConvolutionsStayConv) {
  struct Bad {
    const char* why;  // the `kept` line; "" for convolutions the pass does not report
    ConvCase c;
  };
  std::vector<Bad> cases;
  cases.push_back({"it has pads", ConvCase{}});
  cases.back().c.pads = {1, 0, 1, 0};
  cases.push_back({"", ConvCase{}});  // stride 2x3 under a 4x3 kernel: overlapping, not reported
  cases.back().c.strides = {2, 3};
  cases.push_back({"it is dilated", ConvCase{}});
  cases.back().c.kh = 2, cases.back().c.kw = 2, cases.back().c.dilations = {2, 2}, cases.back().c.strides = {2, 2};
  cases.push_back({"grouped convolution", ConvCase{}});
  cases.back().c.c = 4, cases.back().c.m = 6, cases.back().c.group = 2;
  cases.push_back({"not a multiple of the", ConvCase{}});
  cases.back().c.h = 10;
  cases.push_back({"", ConvCase{}});  // 1x1 / 1: pointwise, not reported
  cases.back().c.kh = 1, cases.back().c.kw = 1;
  for (const Bad& b : cases) {
    SCOPED_TRACE(fmt_case(b.c));
    auto rng = make_rng(4);
    Graph g = conv_relu(b.c, rng);
    PassStats stats;
    expect_same_outputs(g, [&](Graph& gr) { return patchify_conv_to_matmul(gr, &stats); });
    EXPECT_EQ(count_op(g, "Conv"), 1u);
    EXPECT_EQ(count_op(g, "Transpose"), 0u);
    if (*b.why) {
      EXPECT_NE(lines(stats).find(b.why), std::string::npos) << lines(stats);
    } else {
      EXPECT_TRUE(stats.lines.empty()) << lines(stats);
    }
  }
  // A symbolic H: the patch grid is unknown.
  auto rng = make_rng(5);
  Graph g = conv_relu(ConvCase{}, rng, true);
  PassStats stats;
  expect_same_outputs(g, [&](Graph& gr) { return patchify_conv_to_matmul(gr, &stats); });
  EXPECT_EQ(count_op(g, "Conv"), 1u);
  EXPECT_NE(lines(stats).find("symbolic"), std::string::npos) << lines(stats);
}

}  // namespace
}  // namespace slimrt
