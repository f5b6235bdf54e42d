// Element-wise chain fusion (src/passes/fuse_elementwise.cpp) and the FusedElementwise op: each
// chain is built as a small graph, run on the CPU backend before and after the pass on fresh
// random inputs with outputs poisoned, and must give the same outputs (the unfused ops are the
// reference) with the expected FusedElementwise nodes left; refusals leave the graph alone.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ir/elementwise_program.h"
#include "slimrt/backend.h"
#include "slimrt/builder/passes.h"
#include "slimrt/graph.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

using testing::count_op;
using testing::make_rng;
using testing::rel_l2;
using testing::run_graph;

// Runs the pass, checks outputs before/after on two fresh inputs within `tol` and that the
// graph outputs keep their names.
PassStats fuse(Graph& g, double tol = 1e-6) {
  EXPECT_TRUE(infer_shapes(g).ok());
  std::vector<std::string> names;
  for (const Value* v : g.outputs()) names.push_back(v->name());
  auto rng = make_rng();
  std::vector<std::vector<NamedTensor>> inputs;
  for (int k = 0; k < 2; ++k) inputs.push_back(testing::random_inputs(g, rng, {{"batch", 3}}, 3, -2.0, 2.0));
  PassStats stats;
  testing::expect_pass_keeps_outputs(g, inputs, [&](Graph& gr) { return fuse_elementwise(gr, &stats); }, tol);
  for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(g.outputs()[i]->name(), names[i]);
  return stats;
}

Value* op(Graph& g, const std::string& type, std::vector<Value*> ins, const std::string& out = "") {
  Node* n = g.add_node(type, type + "_" + std::to_string(g.num_nodes()), ins, 1,
                       out.empty() ? std::vector<std::string>{} : std::vector<std::string>{out});
  return n->output(0);
}

TEST(FuseElementwiseTest, ChainBecomesOneNode) {
  // y = Sigmoid(x * a + bias) * x2 - 0.5, with bias [16] broadcast and a scalar constant.
  auto rng = make_rng(1);
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), 16});
  Value* a = g.add_input("a", DataType::kFloat32, Shape{Dim::symbol("batch"), 16});
  Value* x2 = g.add_input("x2", DataType::kFloat32, Shape{Dim::symbol("batch"), 16});
  Value* bias = g.add_initializer("bias", testing::random_tensor(DataType::kFloat32, {16}, rng));
  Value* half = g.add_initializer("half", Tensor::from_vector<float>(DataType::kFloat32, {}, {0.5f}));
  Value* h = op(g, "Mul", {x, a});
  h = op(g, "Add", {h, bias});
  h = op(g, "Sigmoid", {h});
  h = op(g, "Mul", {h, x2});
  g.add_output(op(g, "Sub", {h, half}, "y"));
  const PassStats st = fuse(g);
  EXPECT_EQ(g.num_nodes(), 1u);
  ASSERT_EQ(count_op(g, "FusedElementwise"), 1u);
  const Node* f = g.nodes()[0];
  EXPECT_EQ(f->num_inputs(), 5u);  // x, a, bias, x2, half
  auto code = read_ew_program(*f, f->num_inputs());
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(code->size(), 5u);
  EXPECT_EQ(st.nodes_removed, 5);
  EXPECT_EQ(st.nodes_added, 1);
}

TEST(FuseElementwiseTest, EveryFusableOp) {
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{4, 9});
  Value* z = g.add_input("z", DataType::kFloat32, Shape{4, 9});
  Value* lo = g.add_initializer("lo", Tensor::from_vector<float>(DataType::kFloat32, {}, {-0.7f}));
  Value* hi = g.add_initializer("hi", Tensor::from_vector<float>(DataType::kFloat32, {}, {0.9f}));
  Value* h = op(g, "Abs", {x});
  h = op(g, "Sqrt", {h});
  h = op(g, "Neg", {h});
  h = op(g, "Div", {h, op(g, "Add", {op(g, "Abs", {z}), hi})});
  Node* lr = g.add_node("LeakyRelu", "lr", {h}, 1);
  lr->set_attr("alpha", 0.3f);
  h = op(g, "Tanh", {lr->output(0)});
  h = op(g, "Max", {h, op(g, "Erf", {z})});
  h = op(g, "Min", {h, op(g, "Softplus", {z})});
  Node* gelu = g.add_node("Gelu", "gelu", {h}, 1);
  gelu->set_attr("approximate", std::string("tanh"));
  h = op(g, "Gelu", {gelu->output(0)});
  h = op(g, "SiLU", {h});
  Node* hs = g.add_node("HardSigmoid", "hs", {op(g, "Relu", {h})}, 1);
  hs->set_attr("alpha", 0.25f);
  h = op(g, "Clip", {op(g, "Sub", {hs->output(0), z}), lo, hi});
  g.add_output(op(g, "Sigmoid", {h}, "y"));
  fuse(g);
  EXPECT_EQ(g.num_nodes(), 1u);
  EXPECT_EQ(count_op(g, "FusedElementwise"), 1u);
}

TEST(FuseElementwiseTest, SharedValuesSplitChains) {
  // h = x + y is read twice: it ends one group; Relu(h) * h - and Exp (kept in fp32 by the
  // precision table, never fused) stays apart.
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{5, 7});
  Value* y = g.add_input("y", DataType::kFloat32, Shape{5, 7});
  Value* h = op(g, "Neg", {op(g, "Add", {x, y})});
  Value* r = op(g, "Mul", {op(g, "Relu", {h}), h});
  Value* e = op(g, "Exp", {r});
  g.add_output(op(g, "Tanh", {op(g, "Neg", {e})}, "out"));
  fuse(g);
  // {Add, Neg} -> h; {Relu, Mul} reads h twice; Exp; {Neg, Tanh}.
  EXPECT_EQ(count_op(g, "FusedElementwise"), 3u);
  EXPECT_EQ(count_op(g, "Exp"), 1u);
}

TEST(FuseElementwiseTest, BroadcastIntermediatesAndSingletonsAreLeft) {
  // a [3,1] + b [1,4] grows to [3,4]: the Add is a group sink, not an absorbed producer of the
  // [3,4] chain only when its output already has the chain's shape -- here it does, so it fuses;
  // x [3,1] -> Neg -> (Neg output [3,1]) + c [3,4]: Neg's shape differs, so it stays apart.
  Graph g;
  Value* a = g.add_input("a", DataType::kFloat32, Shape{3, 1});
  Value* b = g.add_input("b", DataType::kFloat32, Shape{1, 4});
  Value* c = g.add_input("c", DataType::kFloat32, Shape{3, 4});
  Value* s = op(g, "Add", {a, b});
  Value* t = op(g, "Mul", {s, c});
  Value* n = op(g, "Neg", {a});
  g.add_output(op(g, "Sub", {t, n}, "y"));
  Value* lone = op(g, "Relu", {c});
  g.add_output(op(g, "Identity", {lone}, "lone"));
  fuse(g);
  EXPECT_EQ(count_op(g, "FusedElementwise"), 1u);
  EXPECT_EQ(count_op(g, "Neg"), 1u);
  EXPECT_EQ(count_op(g, "Relu"), 1u);  // a chain of one op is left as it is
}

TEST(FuseElementwiseTest, HalfGraphIsAtLeastAsAccurate) {
  // fp16: the fused op rounds once, the unfused chain after every op.
  auto rng = make_rng(5);
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat16, Shape{8, 33});
  Value* w = g.add_initializer("w", testing::random_tensor(DataType::kFloat16, {33}, rng));
  Value* h = op(g, "Mul", {x, w});
  h = op(g, "Gelu", {op(g, "Add", {h, x})});
  g.add_output(op(g, "Mul", {h, h}, "y"));
  fuse(g, 5e-3);
  EXPECT_EQ(count_op(g, "FusedElementwise"), 1u);
}

TEST(FuseElementwiseTest, TooWideChainsFuseTheLongestPartThatFits) {
  Graph g;
  Value* h = g.add_input("x0", DataType::kFloat32, Shape{2, 3});
  for (int i = 1; i <= kMaxEwInputs; ++i) h = op(g, "Add", {h, g.add_input("x" + std::to_string(i), DataType::kFloat32, Shape{2, 3})});
  g.add_output(op(g, "Relu", {h}, "y"));
  const PassStats st = fuse(g);
  // The whole chain (9 inputs) and the chain ending at the last Add (9 inputs) are too wide; the
  // one ending a step earlier fits (8 inputs) and fuses. Outputs are unchanged (checked above).
  ASSERT_EQ(count_op(g, "FusedElementwise"), 1u);
  for (const Node* n : g.nodes()) {
    if (n->op_type() == "FusedElementwise") {
      EXPECT_EQ(n->num_inputs(), static_cast<size_t>(kMaxEwInputs));
    }
  }
  bool noted = false;
  for (const std::string& l : st.lines) noted |= l.find("exceed the limits") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST(FuseElementwiseTest, MalformedProgramsAreRejected) {
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{2});
  Node* n = g.add_node("FusedElementwise", "f", {x}, 1);
  write_ew_program(n, {{EwOp::kAdd, 0, 1, 0, 0}});  // reads register 1: its own output
  g.add_output(n->output(0));
  Status s = infer_shapes(g);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("register"), std::string::npos) << s.to_string();
  write_ew_program(n, {{EwOp::kRelu, 0, -1, 0, 0}});
  n->set_attr("ops", std::vector<int64_t>{999});
  s = infer_shapes(g);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("opcode"), std::string::npos) << s.to_string();
}

}  // namespace
}  // namespace slimrt
