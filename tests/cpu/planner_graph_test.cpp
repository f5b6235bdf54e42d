// plan_activations: sizes at a profile's max shapes, lifetimes from node order, in-place reuse
// for element-wise ops, errors, and the plans of the real models (planned <= 1.10 x lower bound).
#include <cstdio>
#include <random>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "slimrt/builder/onnx_importer.h"
#include "slimrt/memory_plan.h"
#include "support/model_cache.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

Tensor zeros(const std::vector<int64_t>& shape) {
  std::mt19937_64 rng(1);
  return testing::random_tensor(DataType::kFloat32, shape, rng);
}

// x[batch, 64] -> MatMul h -> Relu r -> Add a (+ bias) -> Sigmoid s -> MatMul y (output).
Graph mlp_graph() {
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), 64});
  Value* w = g.add_initializer("w", zeros({64, 64}));
  Value* bias = g.add_initializer("bias", zeros({64}));
  Value* h = g.add_node("MatMul", "mm0", {x, w}, 1, {"h"})->output(0);
  Value* r = g.add_node("Relu", "relu", {h}, 1, {"r"})->output(0);
  Value* a = g.add_node("Add", "add", {bias, r}, 1, {"a"})->output(0);
  Value* s = g.add_node("Sigmoid", "sig", {a}, 1, {"s"})->output(0);
  Value* y = g.add_node("MatMul", "mm1", {s, w}, 1, {"y"})->output(0);
  g.add_output(y);
  return g;
}

// Buffers alive at a common op must not share bytes unless one reuses the other in place.
void expect_disjoint(const ActivationPlan& p) {
  auto root = [&](const ActivationBuffer* b) {
    while (!b->in_place_of.empty()) b = p.find(b->in_place_of);
    return b;
  };
  for (size_t i = 0; i < p.buffers.size(); ++i) {
    const ActivationBuffer& a = p.buffers[i];
    EXPECT_EQ(a.offset % p.alignment, 0) << a.value;
    EXPECT_LE(a.offset + a.size, p.arena_bytes) << a.value;
    for (size_t j = i + 1; j < p.buffers.size(); ++j) {
      const ActivationBuffer& b = p.buffers[j];
      if (a.size == 0 || b.size == 0 || root(&a) == root(&b)) continue;
      const bool coexist = a.first_use <= b.last_use && b.first_use <= a.last_use;
      const bool disjoint = a.offset + a.size <= b.offset || b.offset + b.size <= a.offset;
      ASSERT_TRUE(!coexist || disjoint) << a.value << " and " << b.value << " overlap";
    }
  }
}

TEST(PlannerGraphTest, ElementwiseChainRunsInPlace) {
  Graph g = mlp_graph();
  ASSERT_TRUE(infer_shapes(g).ok());
  Result<ActivationPlan> p = plan_activations(g, {{"batch", 8}});
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  expect_disjoint(*p);
  ASSERT_EQ(p->buffers.size(), 5u);  // h r a s y; x is a graph input, w and bias constants
  for (const ActivationBuffer& b : p->buffers) EXPECT_EQ(b.size, 8 * 64 * 4) << b.value;
  EXPECT_EQ(p->find("r")->in_place_of, "h");
  EXPECT_EQ(p->find("a")->in_place_of, "r");  // the bias is a constant: r is the one reused
  EXPECT_EQ(p->find("s")->in_place_of, "a");
  EXPECT_EQ(p->find("y")->in_place_of, "");   // MatMul is not element-wise
  EXPECT_EQ(p->find("y")->last_use, 4);
  EXPECT_EQ(p->num_in_place, 3);
  EXPECT_EQ(p->arena_bytes, 2 * 2048);  // h..s share one buffer, y the other
  EXPECT_EQ(p->lower_bound_bytes, 2 * 2048);
  EXPECT_EQ(p->sum_bytes, 5 * 2048);
  EXPECT_EQ(p->find("x"), nullptr);
  const std::string report = p->to_string(true);
  EXPECT_NE(report.find("lower bound"), std::string::npos) << report;
  EXPECT_NE(report.find("in place of h"), std::string::npos) << report;

  PlanOptions no_reuse;
  no_reuse.in_place = false;
  Result<ActivationPlan> q = plan_activations(g, {{"batch", 8}}, no_reuse);
  ASSERT_TRUE(q.ok());
  expect_disjoint(*q);
  EXPECT_EQ(q->num_in_place, 0);
  EXPECT_EQ(q->arena_bytes, 2 * 2048);  // ping-pong between two buffers
}

TEST(PlannerGraphTest, ViewsReuseTheirInputWhenItDies) {
  // h -> Reshape v (h dies: v is h's bytes) -> Flatten f (v also read later: a copy) -> Exp e;
  // Unsqueeze u of f... and a Reshape of a graph input, which has no buffer to reuse.
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), 4, 6});
  Value* shape = g.add_initializer("shape", [] {
    Tensor t = Tensor::allocate(DataType::kInt64, {2}).value();
    t.data<int64_t>()[0] = -1;
    t.data<int64_t>()[1] = 24;
    return t;
  }());
  Value* h = g.add_node("Neg", "neg", {x}, 1, {"h"})->output(0);
  Value* v = g.add_node("Reshape", "reshape", {h, shape}, 1, {"v"})->output(0);
  Value* f = g.add_node("Flatten", "flatten", {v}, 1, {"f"})->output(0);
  Value* e = g.add_node("Exp", "exp", {v}, 1, {"e"})->output(0);
  Value* r = g.add_node("Reshape", "reshape_x", {x, shape}, 1, {"r"})->output(0);
  Value* a = g.add_node("Add", "add", {f, e}, 1, {"a"})->output(0);
  Value* s2 = g.add_node("Add", "add2", {a, r}, 1, {"s"})->output(0);
  g.add_output(s2);
  ASSERT_TRUE(infer_shapes(g).ok());
  Result<ActivationPlan> p = plan_activations(g, {{"batch", 5}});
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  expect_disjoint(*p);
  EXPECT_EQ(p->find("v")->in_place_of, "h");  // h's only reader
  EXPECT_EQ(p->find("f")->in_place_of, "");   // v is read again by Exp
  EXPECT_EQ(p->find("e")->in_place_of, "v");  // element-wise, v's last reader
  EXPECT_EQ(p->find("r")->in_place_of, "");   // x is a graph input
  EXPECT_EQ(p->find("v")->size, 5 * 24 * 4);

  PlanOptions no_reuse;
  no_reuse.in_place = false;
  Result<ActivationPlan> q = plan_activations(g, {{"batch", 5}}, no_reuse);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->find("v")->in_place_of, "");
}

TEST(PlannerGraphTest, LiveInputsAreNotOverwritten) {
  // h feeds Relu and, later, Add: Relu may not overwrite it. Add may overwrite r (dies at Add)
  // but not the graph input x. A graph output is never overwritten.
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), 16});
  Value* h = g.add_node("Neg", "neg", {x}, 1, {"h"})->output(0);
  Value* r = g.add_node("Relu", "relu", {h}, 1, {"r"})->output(0);
  Value* a = g.add_node("Add", "add", {x, r}, 1, {"a"})->output(0);
  Value* e = g.add_node("Exp", "exp", {h}, 1, {"e"})->output(0);
  g.add_output(a);
  Value* t = g.add_node("Tanh", "tanh", {a}, 1, {"t"})->output(0);
  g.add_output(t);
  g.add_output(e);
  ASSERT_TRUE(infer_shapes(g).ok());
  Result<ActivationPlan> p = plan_activations(g, {{"batch", 3}}, {});
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  expect_disjoint(*p);
  EXPECT_EQ(p->find("r")->in_place_of, "");   // h is read again by Exp
  EXPECT_EQ(p->find("a")->in_place_of, "r");  // x is a graph input: skipped
  EXPECT_EQ(p->find("e")->in_place_of, "h");  // Exp is h's last reader
  EXPECT_EQ(p->find("t")->in_place_of, "");   // a is a graph output
  EXPECT_EQ(p->find("a")->last_use, 4);       // graph outputs live to the end
  EXPECT_EQ(p->find("h")->size, 3 * 16 * 4);
}

TEST(PlannerGraphTest, ResidualAddReusesTheOlderInput) {
  // s = Exp(h) + h: both inputs die at the Add; the older one (h, the residual stream) is reused.
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), 32});
  Value* h = g.add_node("Neg", "neg", {x}, 1, {"h"})->output(0);
  Value* f = g.add_node("Exp", "exp", {h}, 1, {"f"})->output(0);
  Value* s = g.add_node("Add", "add", {f, h}, 1, {"s"})->output(0);
  g.add_output(s);
  ASSERT_TRUE(infer_shapes(g).ok());
  Result<ActivationPlan> p = plan_activations(g, {{"batch", 2}});
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  expect_disjoint(*p);
  EXPECT_EQ(p->find("f")->in_place_of, "");  // h is still read by the Add
  EXPECT_EQ(p->find("s")->in_place_of, "h");
  EXPECT_EQ(p->arena_bytes, 2 * 256);
  EXPECT_EQ(p->lower_bound_bytes, 2 * 256);
}

TEST(PlannerGraphTest, SymbolLeftUnboundIsAnError) {
  Graph g = mlp_graph();
  ASSERT_TRUE(infer_shapes(g).ok());
  Result<ActivationPlan> p = plan_activations(g, {{"seq", 128}});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  const std::string& m = p.status().message();
  EXPECT_NE(m.find("value 'h'"), std::string::npos) << m;
  EXPECT_NE(m.find("dim 0 'batch' is still symbolic"), std::string::npos) << m;
  EXPECT_NE(m.find("{seq=128}"), std::string::npos) << m;

  Graph no_shapes = mlp_graph();  // shapes never inferred
  Result<ActivationPlan> q = plan_activations(no_shapes, {{"batch", 8}});
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.status().message().find("no inferred shape"), std::string::npos);

  Result<ActivationPlan> neg = plan_activations(g, {{"batch", -2}});
  ASSERT_FALSE(neg.ok());
  EXPECT_NE(neg.status().message().find("is -2"), std::string::npos) << neg.status().message();
}

TEST(PlannerGraphTest, InPlaceOpList) {
  EXPECT_TRUE(op_supports_in_place("Relu"));
  EXPECT_TRUE(op_supports_in_place("Add"));
  EXPECT_FALSE(op_supports_in_place("MatMul"));
  EXPECT_FALSE(op_supports_in_place("Softmax"));  // reads the whole row after writing
  EXPECT_FALSE(op_supports_in_place("Transpose"));
  for (const char* op : {"Relu", "Add", "Mul", "Sigmoid", "Where", "Clip"}) {
    EXPECT_TRUE(is_supported_op(op)) << op;
  }
}

using testing::model_cache;

class PlannerModelTest : public ::testing::TestWithParam<const char*> {};

TEST_P(PlannerModelTest, PlannedWithinTenPercentOfLowerBound) {
  const std::string path = model_cache() + "/" + GetParam() + "/model.onnx";
  if (model_cache().empty() || !std::filesystem::exists(path)) {
    // ctest's planner_model_ratios runs after the models are exported and sets this: there a
    // missing model is a failure, not a skip.
    if (std::getenv("SLIMRT_REQUIRE_MODELS")) FAIL() << "no " << path;
    GTEST_SKIP() << "no " << path << " (set SLIMRT_MODEL_CACHE)";
  }
  Result<Graph> g = import_onnx_file(path);
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  Result<ActivationPlan> p = plan_activations(*g, {{"batch", 8}, {"seq", 128}});
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  expect_disjoint(*p);
  std::printf("%-14s %s\n", GetParam(), p->to_string().c_str());
  EXPECT_LE(p->arena_bytes, p->sum_bytes);
  EXPECT_GE(p->arena_bytes, p->lower_bound_bytes);
  EXPECT_LE(p->ratio(), 1.10);
}

INSTANTIATE_TEST_SUITE_P(Models, PlannerModelTest,
                         ::testing::Values("resnet50", "vit_b_16", "bert_tiny", "llama_tiny",
                                           "mobilenet_v2", "resnet18"));

}  // namespace
}  // namespace slimrt
