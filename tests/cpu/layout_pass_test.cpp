// The layout pass (src/passes/layout.cpp) and the channels-last op forms (ir/layout.h): a
// region of fp16 convolutions and a pool runs on the CPU backend before and after the pass on
// fresh random inputs with outputs poisoned and must give the same outputs; regions that would
// need more transposes than they save, and nodes the NHWC kernels cannot take, stay NCHW.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "ir/layout.h"
#include "slimrt/backend.h"
#include "slimrt/builder/passes.h"
#include "slimrt/graph.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

using testing::make_rng;
using testing::random_tensor;
using testing::rel_l2;
using testing::run_graph;

using testing::count_op;

size_t count_channels_last(const Graph& g) {
  size_t n = 0;
  for (const Node* node : g.nodes()) n += is_channels_last(*node);
  return n;
}

Node* conv(Graph& g, const std::string& name, Value* x, int64_t c, int64_t m, int64_t k, std::mt19937_64& rng,
           Value* residual = nullptr, const std::string& act = "") {
  Value* w = g.add_initializer(name + ".w", random_tensor(DataType::kFloat16, {m, c, k, k}, rng, -0.3, 0.3));
  Value* b = g.add_initializer(name + ".b", random_tensor(DataType::kFloat16, {m}, rng));
  std::vector<Value*> ins = {x, w, b};
  if (residual) ins.push_back(residual);
  Node* n = g.add_node(residual || !act.empty() ? "FusedConv" : "Conv", name, ins, 1, {name + ".y"});
  n->set_attr("kernel_shape", std::vector<int64_t>{k, k});
  n->set_attr("pads", std::vector<int64_t>{k / 2, k / 2, k / 2, k / 2});
  if (n->op_type() == "FusedConv") n->set_attr("activation", act);
  return n;
}

// x[batch, 16, 11, 9] -> conv a (Relu) -> MaxPool 3x3/2 -> conv b -> conv c (+ pool out, Relu)
//   -> conv d (Relu) -> conv e (+ c) -> AveragePool 2x2 -> GlobalAveragePool (NCHW) -> y;
//   with `side_reader`, conv b's output is also read by a Sigmoid (a graph output).
Graph resnet_like(std::mt19937_64& rng, bool side_reader) {
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat16, Shape{Dim::symbol("batch"), 16, 11, 9});
  Value* a = conv(g, "a", x, 16, 24, 3, rng, nullptr, "Relu")->output(0);
  Node* mp = g.add_node("MaxPool", "pool", {a}, 1, {"pool.y"});
  mp->set_attr("kernel_shape", std::vector<int64_t>{3, 3});
  mp->set_attr("strides", std::vector<int64_t>{2, 2});
  mp->set_attr("pads", std::vector<int64_t>{1, 1, 1, 1});
  Value* b = conv(g, "b", mp->output(0), 24, 24, 1, rng)->output(0);
  Value* c = conv(g, "c", b, 24, 24, 3, rng, mp->output(0), "Relu")->output(0);
  Value* d = conv(g, "d", c, 24, 32, 1, rng, nullptr, "Relu")->output(0);
  Value* e = conv(g, "e", d, 32, 24, 3, rng, c)->output(0);
  Node* ap = g.add_node("AveragePool", "avg", {e}, 1, {"avg.y"});
  ap->set_attr("kernel_shape", std::vector<int64_t>{2, 2});
  ap->set_attr("strides", std::vector<int64_t>{2, 2});
  Value* y = g.add_node("GlobalAveragePool", "gap", {ap->output(0)}, 1, {"y"})->output(0);
  g.add_output(y);
  if (side_reader) g.add_output(g.add_node("Sigmoid", "side", {b}, 1, {"side"})->output(0));
  return g;
}

// Outputs before and after the pass, on two fresh random inputs (batch 2 and 3).
void expect_same_outputs(Graph& g, PassStats* stats) {
  ASSERT_TRUE(infer_shapes(g).ok());
  auto rng = make_rng();
  std::vector<std::vector<NamedTensor>> inputs;
  for (int64_t batch : {2, 3}) inputs.push_back(testing::random_inputs(g, rng, {{"batch", batch}}, 3, -2.0, 2.0));
  auto pass = [stats](Graph& gr) {
    SLIMRT_RETURN_IF_ERROR(convert_to_channels_last(gr, stats));
    // The pass set every shape itself; inference from scratch must agree with it.
    std::vector<std::pair<const Value*, Shape>> set;
    for (const Value* v : gr.values()) {
      if (v->has_shape()) set.push_back({v, v->shape()});
    }
    SLIMRT_RETURN_IF_ERROR(infer_shapes(gr));
    for (const auto& [v, shape] : set) EXPECT_EQ(v->shape(), shape) << v->name();
    return Status::OK();
  };
  // The same NCHW kernels run between exact permutations, except that 1x1 convolutions run as
  // MatMul, whose double accumulation (another order) can round a fp16 value the other way now
  // and then.
  testing::expect_pass_keeps_outputs(g, inputs, pass, 1e-3);
}

TEST(LayoutPassTest, ConvolutionRegionRunsChannelsLast) {
  auto rng = make_rng(1);
  Graph g = resnet_like(rng, false);
  PassStats stats;
  expect_same_outputs(g, &stats);
  EXPECT_EQ(count_channels_last(g), 5u);    // a, pool, c, e, avg
  EXPECT_EQ(count_op(g, "FusedMatMul"), 2u); // the 1x1 convolutions b and d
  EXPECT_EQ(count_op(g, "Conv"), 0u);
  EXPECT_EQ(count_op(g, "Transpose"), 2u); // one in, one out
  for (const Node* n : g.nodes()) {
    if (n->op_type() != "FusedConv") continue;
    const Tensor* w = n->input(1)->constant();
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w->dim(3), n->input(0)->shape()[3].value().value_or(-1)) << "W is [M, kH, kW, C]";
    EXPECT_EQ(n->output(0)->shape()[3], Dim(w->dim(0))) << "Y is [N, H, W, M]";
  }
  EXPECT_NE(g.find_value("y"), nullptr);  // outputs keep their names
}

TEST(LayoutPassTest, ReadersOutsideTheRegionGetTheNchwValue) {
  auto rng = make_rng(2);
  Graph g = resnet_like(rng, true);
  // conv b's output is also a graph output's input (through Sigmoid): a third transpose.
  expect_same_outputs(g, nullptr);
  EXPECT_EQ(count_channels_last(g), 5u);
  EXPECT_EQ(count_op(g, "Transpose"), 3u);
}

TEST(LayoutPassTest, PointwiseConvolutionsBecomeMatMulsOverNhwc) {
  auto rng = make_rng(6);
  Graph g = resnet_like(rng, false);
  expect_same_outputs(g, nullptr);
  for (const Node* n : g.nodes()) {
    if (n->op_type() != "FusedMatMul") continue;
    EXPECT_EQ(n->attr_int("gemm", -1), 0);
    EXPECT_FALSE(n->has_attr("kernel_shape"));
    const Tensor* w = n->input(1)->constant();
    ASSERT_NE(w, nullptr);
    ASSERT_EQ(w->rank(), 2u) << "W is [C, M]";
    EXPECT_EQ(Dim(w->dim(0)), n->input(0)->shape()[3]);
    EXPECT_EQ(Dim(w->dim(1)), n->output(0)->shape()[3]);
  }
  // d keeps its Relu.
  const Node* d = nullptr;
  for (const Node* n : g.nodes()) {
    if (n->name() == "d/pointwise") d = n;
  }
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->attr_string("activation", ""), "Relu");
}

TEST(LayoutPassTest, InputChannelsArePaddedToEight) {
  // An RGB stem: 3 input channels, 7x7 / 2, then a pool and three 3x3 convolutions.
  auto rng = make_rng(7);
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat16, Shape{Dim::symbol("batch"), 3, 15, 13});
  Node* stem = conv(g, "stem", x, 3, 16, 7, rng, nullptr, "Relu");
  stem->set_attr("strides", std::vector<int64_t>{2, 2});
  Node* mp = g.add_node("MaxPool", "pool", {stem->output(0)}, 1, {"pool.y"});
  mp->set_attr("kernel_shape", std::vector<int64_t>{3, 3});
  mp->set_attr("pads", std::vector<int64_t>{1, 1, 1, 1});
  Value* b = conv(g, "b", mp->output(0), 16, 16, 3, rng, nullptr, "Relu")->output(0);
  Value* c = conv(g, "c", b, 16, 16, 3, rng, nullptr, "Relu")->output(0);
  Value* d = conv(g, "d", c, 16, 16, 3, rng, b, "Relu")->output(0);
  g.add_output(g.add_node("GlobalAveragePool", "gap", {d}, 1, {"y"})->output(0));
  expect_same_outputs(g, nullptr);
  EXPECT_EQ(count_channels_last(g), 5u);
  EXPECT_EQ(count_op(g, "Pad"), 1u);
  bool seen = false;
  for (const Node* n : g.nodes()) {
    if (n->name() != "stem/nhwc") continue;
    seen = true;
    EXPECT_EQ(n->input(1)->constant()->dim(3), 8) << "W is [M, kH, kW, 8]";
    EXPECT_EQ(n->input(0)->shape()[3], Dim(8));
  }
  EXPECT_TRUE(seen);
}

TEST(LayoutPassTest, RegionsThatCostMoreThanTheySaveStayNchw) {
  // conv -> Sigmoid -> conv -> Sigmoid: two one-node regions, two transposes each.
  auto rng = make_rng(3);
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat16, Shape{2, 16, 7, 7});
  Value* a = conv(g, "a", x, 16, 16, 3, rng)->output(0);
  Value* s = g.add_node("Sigmoid", "s", {a}, 1, {"s"})->output(0);
  Value* b = conv(g, "b", s, 16, 16, 3, rng)->output(0);
  g.add_output(g.add_node("Sigmoid", "t", {b}, 1, {"y"})->output(0));
  PassStats stats;
  expect_same_outputs(g, &stats);
  EXPECT_EQ(count_channels_last(g), 0u);
  EXPECT_EQ(count_op(g, "Transpose"), 0u);
  bool noted = false;
  for (const std::string& l : stats.lines) noted |= l.find("kept NCHW") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST(LayoutPassTest, NodesTheNhwcKernelsCannotTakeAreRefused) {
  auto rng = make_rng(4);
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat16, Shape{2, 16, 7, 7});
  Value* x32 = g.add_input("x32", DataType::kFloat32, Shape{2, 16, 7, 7});
  // fp32: not a candidate. 12 output channels: not a multiple of 8. Asymmetric pads. Grouped.
  Value* w32 = g.add_initializer("w32", random_tensor(DataType::kFloat32, {16, 16, 3, 3}, rng));
  Node* f32 = g.add_node("Conv", "f32", {x32, w32}, 1, {"f32.y"});
  f32->set_attr("pads", std::vector<int64_t>{1, 1, 1, 1});
  Node* odd = conv(g, "odd", x, 16, 12, 3, rng);
  Node* asym = conv(g, "asym", x, 16, 16, 3, rng);
  asym->set_attr("pads", std::vector<int64_t>{0, 0, 2, 2});
  Value* wg = g.add_initializer("wg", random_tensor(DataType::kFloat16, {16, 8, 3, 3}, rng));
  Node* grouped = g.add_node("Conv", "grouped", {x, wg}, 1, {"g.y"});
  grouped->set_attr("group", int64_t{2});
  grouped->set_attr("pads", std::vector<int64_t>{1, 1, 1, 1});
  for (Node* n : {f32, odd, asym, grouped}) g.add_output(g.add_node("Relu", n->name() + ".relu", {n->output(0)}, 1)->output(0));
  Node* out = conv(g, "out", x, 16, 16, 3, rng);
  g.add_output(out->output(0));
  ASSERT_TRUE(infer_shapes(g).ok());
  PassStats stats;
  ASSERT_TRUE(convert_to_channels_last(g, &stats).ok());
  EXPECT_EQ(count_channels_last(g), 0u);
  std::string all;
  for (const std::string& l : stats.lines) all += l + "\n";
  EXPECT_NE(all.find("not a multiple of 8"), std::string::npos) << all;
  EXPECT_NE(all.find("asymmetric pads"), std::string::npos) << all;
  EXPECT_NE(all.find("grouped convolution"), std::string::npos) << all;
  EXPECT_NE(all.find("graph output"), std::string::npos) << all;
}

TEST(LayoutPassTest, ChannelsLastShapeInferenceAndErrors) {
  auto rng = make_rng(5);
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat16, Shape{Dim::symbol("n"), 10, 12, 16});  // NHWC
  Value* w = g.add_initializer("w", random_tensor(DataType::kFloat16, {32, 3, 3, 16}, rng));  // [M, kH, kW, C]
  Node* c = g.add_node("FusedConv", "c", {x, w}, 1, {"c.y"});
  c->set_attr("channels_last", int64_t{1});
  c->set_attr("strides", std::vector<int64_t>{2, 2});
  c->set_attr("activation", std::string("Relu"));
  Node* p = g.add_node("MaxPool", "p", {c->output(0)}, 1, {"p.y"});
  p->set_attr("channels_last", int64_t{1});
  p->set_attr("kernel_shape", std::vector<int64_t>{2, 2});
  g.add_output(p->output(0));
  Status s = infer_shapes(g);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(c->output(0)->shape(), (Shape{Dim::symbol("n"), 4, 5, 32}));
  EXPECT_EQ(p->output(0)->shape(), (Shape{Dim::symbol("n"), 3, 4, 32}));

  // A residual that would broadcast is refused in the channels-last form.
  Value* r = g.add_input("r", DataType::kFloat16, Shape{1, 1, 1, 32});
  Node* bad = g.add_node("FusedConv", "bad", {x, w, nullptr, r}, 1, {"bad.y"});
  bad->set_attr("channels_last", int64_t{1});
  bad->set_attr("strides", std::vector<int64_t>{2, 2});
  g.add_output(bad->output(0));
  s = infer_shapes(g);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("residual"), std::string::npos) << s.to_string();
}

TEST(LayoutPassTest, Transpose4MatchesIndexArithmetic) {
  auto rng = make_rng(6);
  Tensor t = random_tensor(DataType::kFloat32, {2, 3, 4, 5}, rng);
  Result<Tensor> u = transpose4(t, kNchwToNhwc);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->shape(), (std::vector<int64_t>{2, 4, 5, 3}));
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t h = 0; h < 4; ++h)
        for (int64_t w = 0; w < 5; ++w)
          ASSERT_EQ(u->data<float>()[((n * 4 + h) * 5 + w) * 3 + c], t.data<float>()[((n * 3 + c) * 4 + h) * 5 + w]);
  Result<Tensor> back = transpose4(*u, kNhwcToNchw);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(rel_l2(*back, t), 0.0);
  EXPECT_FALSE(transpose4(random_tensor(DataType::kFloat32, {2, 3}, rng), kNchwToNhwc).ok());
}

}  // namespace
}  // namespace slimrt

namespace slimrt {
namespace {

// x [batch, seq, 32] -> three MatMuls -> Reshape [batch, seq, 4, 8] -> Transpose (0,2,1,3) ->
// Attention (with an additive mask [batch, 1, 1, seq]) -> Transpose back -> Reshape -> y.
// `rank3` builds torch's seq-first form instead: [seq, batch*4, 8] with perm (1,0,2).
Graph attention_graph(std::mt19937_64& rng, bool rank3, bool extra_reader) {
  Graph g;
  const int64_t seq = 7, batch = 2, heads = 4, dim = 8;
  Value* x = g.add_input("x", DataType::kFloat32, rank3 ? Shape{seq, batch, heads * dim} : Shape{batch, seq, heads * dim});
  Value* mask = rank3 ? nullptr : g.add_input("mask", DataType::kFloat32, Shape{batch, 1, 1, seq});
  auto shape = [&](const std::string& name, std::vector<int64_t> d) {
    return g.add_initializer(name, Tensor::from_vector<int64_t>(DataType::kInt64, {static_cast<int64_t>(d.size())}, d));
  };
  const std::vector<int64_t> split = rank3 ? std::vector<int64_t>{seq, batch * heads, dim} : std::vector<int64_t>{batch, seq, heads, dim};
  const std::vector<int64_t> perm = rank3 ? std::vector<int64_t>{1, 0, 2} : std::vector<int64_t>{0, 2, 1, 3};
  std::vector<Value*> qkv;
  for (const char* n : {"q", "k", "v"}) {
    Value* w = g.add_initializer(std::string(n) + ".w", random_tensor(DataType::kFloat32, {heads * dim, heads * dim}, rng, -0.3, 0.3));
    Value* p = g.add_node("MatMul", std::string(n) + ".mm", {x, w}, 1)->output(0);
    Value* r = g.add_node("Reshape", std::string(n) + ".split", {p, shape(std::string(n) + ".shape", split)}, 1)->output(0);
    Node* t = g.add_node("Transpose", std::string(n) + ".t", {r}, 1);
    t->set_attr("perm", perm);
    qkv.push_back(t->output(0));
  }
  std::vector<Value*> ins = qkv;
  if (mask) ins.push_back(mask);
  Value* a = g.add_node("Attention", "attn", ins, 1)->output(0);
  Node* back = g.add_node("Transpose", "back", {a}, 1);
  back->set_attr("perm", perm);
  const std::vector<int64_t> merged = rank3 ? std::vector<int64_t>{seq, batch, heads * dim} : std::vector<int64_t>{batch, seq, heads * dim};
  g.add_output(g.add_node("Reshape", "merge", {back->output(0), shape("merged", merged)}, 1, {"y"})->output(0));
  if (extra_reader) g.add_output(g.add_node("Sigmoid", "side", {a}, 1, {"side"})->output(0));
  return g;
}

void expect_same_outputs_after(Graph& g, const std::function<Status(Graph&)>& pass) {
  ASSERT_TRUE(infer_shapes(g).ok());
  auto rng = make_rng();
  std::vector<NamedTensor> in = testing::random_inputs(g, rng, {}, 3, -2.0, 2.0);
  std::vector<Tensor> before = run_graph(g, in);
  Status s = pass(g);
  ASSERT_TRUE(s.ok()) << s.to_string();
  ASSERT_TRUE(infer_shapes(g).ok());
  std::vector<Tensor> after = run_graph(g, in);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(rel_l2(after[i], before[i]), 0.0) << "output " << i;
}

TEST(SeqMajorAttentionTest, TransposesAroundAttentionGoAway) {
  for (bool rank3 : {false, true}) {
    SCOPED_TRACE(rank3 ? "rank 3" : "rank 4");
    auto rng = make_rng(11);
    Graph g = attention_graph(rng, rank3, false);
    PassStats stats;
    expect_same_outputs_after(g, [&](Graph& gr) { return use_seq_major_attention(gr, &stats); });
    EXPECT_EQ(count_op(g, "Transpose"), 0u);
    ASSERT_EQ(count_op(g, "Attention"), 1u);
    for (const Node* n : g.nodes()) {
      if (n->op_type() == "Attention") {
        EXPECT_EQ(n->attr_int("seq_major", 0), 1);
      }
    }
  }
}

TEST(SeqMajorAttentionTest, OtherReadersKeepTheHeadsMajorOutput) {
  auto rng = make_rng(12);
  Graph g = attention_graph(rng, false, true);
  expect_same_outputs_after(g, [](Graph& gr) { return use_seq_major_attention(gr, nullptr); });
  EXPECT_EQ(count_op(g, "Transpose"), 1u);  // for the Sigmoid
}

TEST(SeqMajorAttentionTest, InputsNotFromASwapLeaveTheNodeAlone) {
  auto rng = make_rng(13);
  Graph g = attention_graph(rng, false, false);
  // K straight from a graph input in heads-major layout: no Transpose to absorb.
  Value* k = g.add_input("k", DataType::kFloat32, Shape{2, 4, 7, 8});
  for (Node* n : g.nodes()) {
    if (n->op_type() == "Attention") g.set_node_input(n, 1, k);
  }
  expect_same_outputs_after(g, [](Graph& gr) { return use_seq_major_attention(gr, nullptr); });
  for (const Node* n : g.nodes()) {
    if (n->op_type() == "Attention") {
      EXPECT_EQ(n->attr_int("seq_major", 0), 0);
    }
  }
}

}  // namespace
}  // namespace slimrt
