// Pattern recognition (src/passes/recognize_patterns.cpp): decomposed LayerNorm, RMSNorm, GELU,
// SiLU and attention become one fused op each. Every test runs the graph on the CPU backend
// before and after the pass on fresh random inputs (outputs poisoned), requires relative L2 <
// 1e-6, and checks that the fused op appeared and the decomposed ops are gone (or, for the
// refusal tests, that nothing changed and the refusal was reported). Graphs come from the Graph
// API, from real PyTorch modules exported at test time (SLIMRT_PYTHON, torch 1.13) and from the
// exported model cache.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
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

namespace fs = std::filesystem;
using testing::make_rng;
using testing::random_tensor;
using testing::rel_l2;

using Inputs = std::vector<NamedTensor>;

using testing::run_graph;

// Random inputs for every graph input; symbolic dims bind by name (others to 7); integers are
// ids in [0, 10).
Inputs random_inputs(const Graph& g, std::mt19937_64& rng, const std::map<std::string, int64_t>& dims) {
  return testing::random_inputs(g, rng, dims, 7);
}

using testing::count_op;

std::string stats_text(const PassStats& st) {
  std::string s;
  for (const std::string& l : st.lines) s += l + "\n";
  return s;
}

using InputFn = std::function<Inputs(std::mt19937_64&)>;

// Runs recognize_patterns on `g` and checks outputs before == after (rel L2 < tol) on two fresh
// random input sets; returns the pass stats.
PassStats expect_same_outputs(Graph& g, const InputFn& make_inputs, double tol = 1e-6) {
  auto rng = make_rng();
  std::vector<Inputs> inputs = {make_inputs(rng), make_inputs(rng)};
  PassStats st;
  testing::expect_pass_keeps_outputs(
      g, inputs, [&](Graph& gr) { return recognize_patterns(gr, &st); }, tol, [&] { return stats_text(st); });
  return st;
}

PassStats expect_same_outputs(Graph& g, double tol = 1e-6) {
  return expect_same_outputs(g, [&](std::mt19937_64& rng) { return random_inputs(g, rng, {{"batch", 2}, {"seq", 7}}); }, tol);
}

// ---- graph building ----

Value* scalar(Graph& g, const std::string& name, float v) {
  return g.add_initializer(name, Tensor::from_vector(DataType::kFloat32, {}, std::vector<float>{v}));
}
Value* axes(Graph& g, const std::string& name, std::vector<int64_t> a) {
  const int64_t n = static_cast<int64_t>(a.size());
  return g.add_initializer(name, Tensor::from_vector(DataType::kInt64, {n}, a));
}
Value* op(Graph& g, const std::string& type, const std::string& name, const std::vector<Value*>& in) {
  return g.add_node(type, name, in, 1)->output(0);
}
Value* param(Graph& g, const std::string& name, const std::vector<int64_t>& shape, std::mt19937_64& rng, double lo = -1,
             double hi = 1) {
  return g.add_initializer(name, random_tensor(DataType::kFloat32, shape, rng, lo, hi));
}
void finish(Graph& g, Value* y) {
  g.add_output(y);
  Status s = infer_shapes(g);
  ASSERT_TRUE(s.ok()) << s.to_string();
}

// ---- LayerNorm ----

struct LnCase {
  const char* name;
  bool mul_self;      // Mul(d, d) instead of Pow(d, 2)
  int inv;            // 0: Div(d, s); 1: Mul(d, Reciprocal(s)); 2: Mul(d, Div(1, s))
  bool gamma, beta;
  int norm_axes;      // 1: last axis; 2: last two
};

class LayerNormTest : public ::testing::TestWithParam<LnCase> {};

TEST_P(LayerNormTest, Fused) {
  const LnCase c = GetParam();
  auto rng = make_rng(1);
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), 5, 16});
  std::vector<int64_t> ax = c.norm_axes == 1 ? std::vector<int64_t>{-1} : std::vector<int64_t>{1, 2};
  Value* mu = op(g, "ReduceMean", "rm1", {x, axes(g, "ax1", ax)});
  Value* d = op(g, "Sub", "sub", {x, mu});
  Value* sq = c.mul_self ? op(g, "Mul", "sq", {d, d}) : op(g, "Pow", "sq", {d, scalar(g, "two", 2)});
  Value* var = op(g, "ReduceMean", "rm2", {sq, axes(g, "ax2", ax)});
  Value* s = op(g, "Sqrt", "sqrt", {op(g, "Add", "addeps", {var, scalar(g, "eps", 1e-5f)})});
  Value* n = nullptr;
  if (c.inv == 0) n = op(g, "Div", "norm", {d, s});
  if (c.inv == 1) n = op(g, "Mul", "norm", {op(g, "Reciprocal", "rcp", {s}), d});
  if (c.inv == 2) n = op(g, "Mul", "norm", {d, op(g, "Div", "rcp", {scalar(g, "one", 1), s})});
  const std::vector<int64_t> pshape = c.norm_axes == 1 ? std::vector<int64_t>{16} : std::vector<int64_t>{5, 16};
  if (c.gamma) n = op(g, "Mul", "gamma_mul", {n, param(g, "gamma", pshape, rng, 0.5, 1.5)});
  if (c.beta) n = op(g, "Add", "beta_add", {param(g, "beta", pshape, rng), n});
  Node* last = n->producer();
  const std::string last_name = last->name();
  finish(g, n);
  PassStats st = expect_same_outputs(g);
  EXPECT_EQ(count_op(g, "LayerNormalization"), 1u) << stats_text(st);
  EXPECT_EQ(count_op(g, "ReduceMean"), 0u);
  EXPECT_EQ(count_op(g, "Sqrt"), 0u);
  EXPECT_EQ(g.num_nodes(), 1u);
  ASSERT_EQ(g.outputs().size(), 1u);
  EXPECT_EQ(g.outputs()[0]->producer()->name(), last_name);
  EXPECT_EQ(g.outputs()[0]->producer()->attr_int("axis", 0), c.norm_axes == 1 ? 2 : 1);
  ASSERT_EQ(st.lines.size(), 1u);
  EXPECT_NE(st.lines[0].find("fused LayerNorm"), std::string::npos) << st.lines[0];
}

INSTANTIATE_TEST_SUITE_P(RecognizePatterns, LayerNormTest,
                         ::testing::Values(LnCase{"torch", false, 0, true, true, 1},
                                           LnCase{"mul_self", true, 0, true, true, 1},
                                           LnCase{"reciprocal", false, 1, true, true, 1},
                                           LnCase{"div_one", true, 2, true, false, 1},
                                           LnCase{"no_affine", false, 0, false, false, 1},
                                           LnCase{"beta_only", false, 0, false, true, 1},
                                           LnCase{"two_axes", false, 0, true, true, 2}),
                         [](const ::testing::TestParamInfo<LnCase>& i) { return std::string(i.param.name); });

// ---- RMSNorm ----

struct RmsCase {
  const char* name;
  bool mul_self;
  int inv;  // 0: Mul(x, Div(1, s)) (LLaMA); 1: Mul(Reciprocal(s), x); 2: Div(x, s)
  bool weight;
  bool casts;  // Cast to float before, Cast back after (HF)
};

class RmsNormTest : public ::testing::TestWithParam<RmsCase> {};

TEST_P(RmsNormTest, Fused) {
  const RmsCase c = GetParam();
  auto rng = make_rng(2);
  Graph g;
  Value* x0 = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), Dim::symbol("seq"), 32});
  Value* x = x0;
  if (c.casts) {
    Node* cast = g.add_node("Cast", "cast_in", {x0}, 1);
    cast->set_attr("to", int64_t{1});
    x = cast->output(0);
  }
  Value* sq = c.mul_self ? op(g, "Mul", "sq", {x, x}) : op(g, "Pow", "sq", {x, scalar(g, "two", 2)});
  Value* ms = op(g, "ReduceMean", "rm", {sq, axes(g, "ax", {-1})});
  Value* s = op(g, "Sqrt", "sqrt", {op(g, "Add", "addeps", {scalar(g, "eps", 1e-6f), ms})});
  Value* n = nullptr;
  if (c.inv == 0) n = op(g, "Mul", "norm", {x, op(g, "Div", "rcp", {scalar(g, "one", 1), s})});
  if (c.inv == 1) n = op(g, "Mul", "norm", {op(g, "Reciprocal", "rcp", {s}), x});
  if (c.inv == 2) n = op(g, "Div", "norm", {x, s});
  if (c.casts) {
    Node* cast = g.add_node("Cast", "cast_out", {n}, 1);
    cast->set_attr("to", int64_t{1});
    n = cast->output(0);
  }
  if (c.weight) n = op(g, "Mul", "weight_mul", {param(g, "w", {32}, rng, 0.5, 1.5), n});
  finish(g, n);
  PassStats st = expect_same_outputs(g);
  EXPECT_EQ(count_op(g, "RMSNormalization"), 1u) << stats_text(st);
  EXPECT_EQ(g.num_nodes(), 1u) << stats_text(st);
  const Node* f = g.outputs()[0]->producer();
  EXPECT_EQ(f->input(0), g.inputs()[0]);
  EXPECT_FLOAT_EQ(f->attr_float("epsilon", 0), 1e-6f);
  EXPECT_EQ(f->attr_int("axis", 0), 2);
}

INSTANTIATE_TEST_SUITE_P(RecognizePatterns, RmsNormTest,
                         ::testing::Values(RmsCase{"llama", false, 0, true, false}, RmsCase{"hf_casts", false, 0, true, true},
                                           RmsCase{"reciprocal", true, 1, true, false},
                                           RmsCase{"div", false, 2, true, false}, RmsCase{"no_weight", false, 0, false, false}),
                         [](const ::testing::TestParamInfo<RmsCase>& i) { return std::string(i.param.name); });

// ---- GELU and SiLU ----

enum class GeluForm { kTorchErf, kHfErfMul, kHalfFirstErf, kTorchTanh, kNewGeluPow };

class GeluTest : public ::testing::TestWithParam<GeluForm> {};

TEST_P(GeluTest, Fused) {
  const GeluForm form = GetParam();
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), 9, 24});
  Value* y = nullptr;
  bool tanh = false;
  switch (form) {
    case GeluForm::kTorchErf: {  // Mul(Mul(x, 1 + erf(x / 1.4142135)), 0.5)
      Value* a = op(g, "Add", "a", {op(g, "Erf", "erf", {op(g, "Div", "d", {x, scalar(g, "sqrt2", 1.4142135f)})}), scalar(g, "one", 1)});
      y = op(g, "Mul", "gelu_out", {op(g, "Mul", "m", {x, a}), scalar(g, "half", 0.5f)});
      break;
    }
    case GeluForm::kHfErfMul: {  // Mul(Mul(x, 0.5), 1 + erf(x * 0.70710677))
      Value* a = op(g, "Add", "a", {scalar(g, "one", 1), op(g, "Erf", "erf", {op(g, "Mul", "d", {scalar(g, "isqrt2", 0.70710677f), x})})});
      y = op(g, "Mul", "gelu_out", {op(g, "Mul", "m", {x, scalar(g, "half", 0.5f)}), a});
      break;
    }
    case GeluForm::kHalfFirstErf: {  // Mul(x, Mul(0.5, 1 + erf(x / sqrt2)))
      Value* a = op(g, "Add", "a", {op(g, "Erf", "erf", {op(g, "Div", "d", {x, scalar(g, "sqrt2", 1.41421f)})}), scalar(g, "one", 1)});
      y = op(g, "Mul", "gelu_out", {x, op(g, "Mul", "m", {scalar(g, "half", 0.5f), a})});
      break;
    }
    case GeluForm::kTorchTanh:  // nn.GELU('tanh') in torch 1.13: x*x*x, constant first
    case GeluForm::kNewGeluPow: {
      tanh = true;
      Value* cube = form == GeluForm::kTorchTanh ? op(g, "Mul", "cube", {x, op(g, "Mul", "sq", {x, x})})
                                                 : op(g, "Pow", "cube", {x, scalar(g, "three", 3)});
      Value* inner = op(g, "Add", "inner", {x, op(g, "Mul", "c3", {scalar(g, "k3", 0.044715f), cube})});
      Value* t = op(g, "Tanh", "tanh", {op(g, "Mul", "scaled", {scalar(g, "k", 0.7978846f), inner})});
      Value* a = op(g, "Add", "a", {scalar(g, "one", 1), t});
      y = form == GeluForm::kTorchTanh ? op(g, "Mul", "gelu_out", {scalar(g, "half", 0.5f), op(g, "Mul", "m", {x, a})})
                                       : op(g, "Mul", "gelu_out", {op(g, "Mul", "m", {x, scalar(g, "half", 0.5f)}), a});
      break;
    }
  }
  finish(g, y);
  const std::string y_name = y->name();  // y itself is replaced by the pass
  PassStats st = expect_same_outputs(g);
  ASSERT_EQ(g.num_nodes(), 1u) << stats_text(st);
  const Node* f = g.outputs()[0]->producer();
  EXPECT_EQ(f->op_type(), "Gelu");
  EXPECT_EQ(f->name(), "gelu_out");
  EXPECT_EQ(g.outputs()[0]->name(), y_name);
  EXPECT_EQ(f->attr_string("approximate", "none"), tanh ? "tanh" : "none");
}

INSTANTIATE_TEST_SUITE_P(RecognizePatterns, GeluTest,
                         ::testing::Values(GeluForm::kTorchErf, GeluForm::kHfErfMul, GeluForm::kHalfFirstErf,
                                           GeluForm::kTorchTanh, GeluForm::kNewGeluPow));

TEST(RecognizePatterns, SiLUBothOperandOrders) {
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), 40});
  Value* a = op(g, "Mul", "silu_a", {x, op(g, "Sigmoid", "sig_a", {x})});
  Value* b = op(g, "Mul", "silu_b", {op(g, "Sigmoid", "sig_b", {a}), a});
  finish(g, b);
  PassStats st = expect_same_outputs(g);
  EXPECT_EQ(count_op(g, "SiLU"), 2u) << stats_text(st);
  EXPECT_EQ(count_op(g, "Sigmoid"), 0u);
  EXPECT_EQ(count_op(g, "Mul"), 0u);
}

// ---- attention ----

enum class MaskForm {
  kNone,
  kPaddingInput,   // Add(scores, pad [B,1,1,S]) from a graph input
  kCausalAdd,      // Add(scores, constant upper-triangular -inf)
  kCausalWhere,    // Where(constant bool triu, -inf, scores)
  kCausalTrilu,    // Where(Cast(Trilu(ConstantOfShape([S, S]), 1)), -inf, scores): symbolic S
  kBoolMaskInput,  // Where(mask input, -inf, scores): true = masked
  kBoolKeepInput,  // Where(mask input, scores, -inf): true = kept
};

struct AttnCase {
  const char* name;
  MaskForm mask;
  int scale_form;  // 0: Div(scores, sqrt d); 1: Mul(scores, 1/sqrt d); 2: Mul(Q, d^-1/4), Mul(K^T, d^-1/4); 3: none
  int k_form;      // 0: Transpose(K, [0,1,3,2]); 1: Transpose(K_bshd, [0,2,3,1]); 2: K^T is a graph input
};

class AttentionTest : public ::testing::TestWithParam<AttnCase> {};

TEST_P(AttentionTest, Fused) {
  const AttnCase c = GetParam();
  const int64_t h = 3, d = 8;
  const bool symbolic_seq = c.mask == MaskForm::kCausalTrilu || c.mask == MaskForm::kPaddingInput ||
                            c.mask == MaskForm::kNone;
  const Dim seq = symbolic_seq ? Dim::symbol("seq") : Dim(7);
  const Dim batch = Dim::symbol("batch");
  Graph g;
  Value* q = g.add_input("q", DataType::kFloat32, Shape{batch, h, seq, d});
  Value* kt = nullptr;
  if (c.k_form == 0) {
    Node* t = g.add_node("Transpose", "kt", {g.add_input("k", DataType::kFloat32, Shape{batch, h, seq, d})}, 1);
    t->set_attr("perm", std::vector<int64_t>{0, 1, 3, 2});
    kt = t->output(0);
  } else if (c.k_form == 1) {
    Node* t = g.add_node("Transpose", "kt", {g.add_input("k", DataType::kFloat32, Shape{batch, seq, h, d})}, 1);
    t->set_attr("perm", std::vector<int64_t>{0, 2, 3, 1});
    kt = t->output(0);
  } else {
    kt = g.add_input("kt", DataType::kFloat32, Shape{batch, h, d, seq});
  }
  Value* v = g.add_input("v", DataType::kFloat32, Shape{batch, h, seq, 5});
  const float sd = std::sqrt(static_cast<float>(d));
  if (c.scale_form == 2) {
    q = op(g, "Mul", "q_scale", {q, scalar(g, "qs", 1.0f / std::sqrt(sd))});
    kt = op(g, "Mul", "k_scale", {scalar(g, "ks", 1.0f / std::sqrt(sd)), kt});
  }
  Value* s = op(g, "MatMul", "qk", {q, kt});
  if (c.scale_form == 0) s = op(g, "Div", "scale", {s, scalar(g, "sd", sd)});
  if (c.scale_form == 1) s = op(g, "Mul", "scale", {scalar(g, "isd", 1.0f / sd), s});
  const float ninf = -std::numeric_limits<float>::infinity();
  auto triu = [&](bool masked_true) {
    std::vector<uint8_t> m(49);
    for (int i = 0; i < 7; ++i)
      for (int j = 0; j < 7; ++j) m[static_cast<size_t>(i * 7 + j)] = (j > i) == masked_true ? 1 : 0;
    return Tensor::from_vector(DataType::kBool, {7, 7}, m);
  };
  switch (c.mask) {
    case MaskForm::kNone: break;
    case MaskForm::kPaddingInput:
      s = op(g, "Add", "mask_add", {s, g.add_input("pad", DataType::kFloat32, Shape{batch, 1, 1, seq})});
      break;
    case MaskForm::kCausalAdd: {
      std::vector<float> m(49);
      for (int i = 0; i < 7; ++i)
        for (int j = 0; j < 7; ++j) m[static_cast<size_t>(i * 7 + j)] = j > i ? ninf : 0.0f;
      s = op(g, "Add", "mask_add", {g.add_initializer("causal", Tensor::from_vector(DataType::kFloat32, {1, 1, 7, 7}, m)), s});
      break;
    }
    case MaskForm::kCausalWhere:
      s = op(g, "Where", "mask_where", {g.add_initializer("causal", triu(true)), scalar(g, "ninf", ninf), s});
      break;
    case MaskForm::kCausalTrilu: {
      Value* shp = op(g, "Shape", "shp", {v});
      Value* sl = op(g, "Gather", "sl", {shp, g.add_initializer("two", Tensor::from_vector(DataType::kInt64, {1}, std::vector<int64_t>{2}))});
      Node* cat = g.add_node("Concat", "ss", {sl, sl}, 1);
      cat->set_attr("axis", int64_t{0});
      Node* ones = g.add_node("ConstantOfShape", "ones", {cat->output(0)}, 1);
      ones->set_attr("value", Tensor::from_vector(DataType::kBool, {1}, std::vector<uint8_t>{1}));
      Node* tri = g.add_node("Trilu", "tri", {ones->output(0), g.add_initializer("k1", Tensor::from_vector(DataType::kInt64, {}, std::vector<int64_t>{1}))}, 1);
      tri->set_attr("upper", int64_t{1});
      Node* cast = g.add_node("Cast", "tri_cast", {tri->output(0)}, 1);
      cast->set_attr("to", int64_t{9});
      s = op(g, "Where", "mask_where", {cast->output(0), scalar(g, "ninf", ninf), s});
      break;
    }
    case MaskForm::kBoolMaskInput:
      s = op(g, "Where", "mask_where", {g.add_input("m", DataType::kBool, Shape{batch, 1, 7, 7}), scalar(g, "ninf", ninf), s});
      break;
    case MaskForm::kBoolKeepInput:
      s = op(g, "Where", "mask_where", {g.add_input("m", DataType::kBool, Shape{batch, 1, 7, 7}), s, scalar(g, "ninf", ninf)});
      break;
  }
  Node* sm = g.add_node("Softmax", "softmax", {s}, 1);
  sm->set_attr("axis", int64_t{-1});
  Value* y = op(g, "MatMul", "attn_out", {sm->output(0), v});
  finish(g, y);
  // Bool masks keep the diagonal so that no row is fully masked (NaN on both sides).
  auto inputs = [&](std::mt19937_64& rng) {
    Inputs in = random_inputs(g, rng, {{"batch", 2}, {"seq", 7}});
    for (NamedTensor& t : in) {
      if (t.tensor.dtype() != DataType::kBool) continue;
      uint8_t* m = t.tensor.data<uint8_t>();
      for (int64_t b = 0; b < 2; ++b)
        for (int i = 0; i < 7; ++i) m[b * 49 + i * 7 + i] = c.mask == MaskForm::kBoolKeepInput ? 1 : 0;
    }
    return in;
  };
  PassStats st = expect_same_outputs(g, inputs);
  ASSERT_EQ(count_op(g, "Attention"), 1u) << stats_text(st);
  EXPECT_EQ(count_op(g, "Softmax"), 0u);
  EXPECT_EQ(count_op(g, "MatMul"), 0u);
  EXPECT_EQ(count_op(g, "Where"), 0u);
  const Node* f = g.outputs()[0]->producer();
  EXPECT_EQ(f->name(), "attn_out");
  const bool causal = c.mask == MaskForm::kCausalAdd || c.mask == MaskForm::kCausalWhere || c.mask == MaskForm::kCausalTrilu;
  EXPECT_EQ(f->attr_int("is_causal", -1), causal ? 1 : 0);
  const bool has_mask = c.mask == MaskForm::kPaddingInput || c.mask == MaskForm::kBoolMaskInput || c.mask == MaskForm::kBoolKeepInput;
  EXPECT_EQ(f->input(3) != nullptr, has_mask);
  EXPECT_NEAR(f->attr_float("scale", 0), c.scale_form == 3 ? 1.0f : 1.0f / sd, 1e-6);
  // K^T = Transpose(K, [0,1,3,2]) is undone without a new node.
  EXPECT_EQ(count_op(g, "Transpose"), c.k_form == 0 ? 0u : 1u);
}

INSTANTIATE_TEST_SUITE_P(
    RecognizePatterns, AttentionTest,
    ::testing::Values(AttnCase{"plain_div", MaskForm::kNone, 0, 0}, AttnCase{"plain_mul", MaskForm::kNone, 1, 0},
                      AttnCase{"unscaled", MaskForm::kNone, 3, 0}, AttnCase{"split_scale", MaskForm::kNone, 2, 0},
                      AttnCase{"bert_padding", MaskForm::kPaddingInput, 0, 1},
                      AttnCase{"causal_add", MaskForm::kCausalAdd, 0, 0},
                      AttnCase{"causal_where", MaskForm::kCausalWhere, 1, 0},
                      AttnCase{"causal_trilu", MaskForm::kCausalTrilu, 0, 0},
                      AttnCase{"bool_masked", MaskForm::kBoolMaskInput, 0, 2},
                      AttnCase{"bool_kept", MaskForm::kBoolKeepInput, 2, 1}),
    [](const ::testing::TestParamInfo<AttnCase>& i) { return std::string(i.param.name); });

// ViT / nn.MultiheadAttention: rank 3 [batch*heads, seq, dim], Q divided by sqrt(d) before the
// MatMul, K^T = Transpose(K [seq, batch*heads, dim], [1, 2, 0]).
TEST(RecognizePatterns, AttentionRank3ScaledQuery) {
  Graph g;
  Value* q = g.add_input("q", DataType::kFloat32, Shape{6, Dim::symbol("seq"), 16});
  Node* t = g.add_node("Transpose", "kt", {g.add_input("k", DataType::kFloat32, Shape{Dim::symbol("seq"), 6, 16})}, 1);
  t->set_attr("perm", std::vector<int64_t>{1, 2, 0});
  Value* v = g.add_input("v", DataType::kFloat32, Shape{6, Dim::symbol("seq"), 16});
  Value* s = op(g, "MatMul", "qk", {op(g, "Div", "qdiv", {q, scalar(g, "eight", 4.0f)}), t->output(0)});
  Value* p = op(g, "Softmax", "softmax", {s});
  Value* y = op(g, "MatMul", "attn_out", {p, v});
  finish(g, y);
  PassStats st = expect_same_outputs(g);
  ASSERT_EQ(count_op(g, "Attention"), 1u) << stats_text(st);
  EXPECT_EQ(count_op(g, "Transpose"), 1u);
  EXPECT_FLOAT_EQ(g.outputs()[0]->producer()->attr_float("scale", 0), 0.25f);
}

// ---- refusals: the graph must stay as it is, with the reason reported ----

void expect_unchanged(Graph& g, const std::string& reason) {
  const size_t n = g.num_nodes();
  PassStats st = expect_same_outputs(g);
  EXPECT_EQ(g.num_nodes(), n) << stats_text(st);
  EXPECT_EQ(count_op(g, "LayerNormalization") + count_op(g, "RMSNormalization") + count_op(g, "Gelu") +
                count_op(g, "Attention"),
            0u);
  EXPECT_NE(stats_text(st).find(reason), std::string::npos) << stats_text(st);
}

// The decomposed LayerNorm of a rank-3 x; `variant` breaks one condition.
void build_layer_norm(Graph& g, const std::string& variant) {
  auto rng = make_rng(3);
  Value* x = g.add_input("x", DataType::kFloat32, Shape{2, 5, 16});
  const std::vector<int64_t> ax = variant == "axis" ? std::vector<int64_t>{1} : std::vector<int64_t>{-1};
  Value* mu = op(g, "ReduceMean", "rm1", {x, axes(g, "ax1", ax)});
  Value* d = op(g, "Sub", "sub", {x, mu});
  Value* var = op(g, "ReduceMean", "rm2", {op(g, "Pow", "sq", {d, scalar(g, "two", 2)}), axes(g, "ax2", ax)});
  Value* s = variant == "eps_after_sqrt"
                 ? op(g, "Add", "addeps", {op(g, "Sqrt", "sqrt", {var}), scalar(g, "eps", 1e-5f)})
                 : op(g, "Sqrt", "sqrt", {op(g, "Add", "addeps", {var, scalar(g, "eps", 1e-5f)})});
  Value* n = op(g, "Div", "norm", {d, s});
  Value* y = op(g, "Add", "beta_add", {op(g, "Mul", "gamma_mul", {n, param(g, "gamma", {16}, rng)}), param(g, "beta", {16}, rng)});
  g.add_output(y);
  if (variant == "extra_consumer") g.add_output(op(g, "Neg", "peek", {var}));
  if (variant == "intermediate_output") g.add_output(d);
  ASSERT_TRUE(infer_shapes(g).ok());
}

TEST(RecognizePatterns, RefusesEpsilonAfterSqrt) {
  Graph g;
  build_layer_norm(g, "eps_after_sqrt");
  expect_unchanged(g, "epsilon is not added");
}

TEST(RecognizePatterns, RefusesNonLastAxis) {
  Graph g;
  build_layer_norm(g, "axis");
  expect_unchanged(g, "are not the trailing axes");
}

TEST(RecognizePatterns, RefusesIntermediateWithExtraConsumer) {
  Graph g;
  build_layer_norm(g, "extra_consumer");
  expect_unchanged(g, "is also read by node 'peek'");
}

TEST(RecognizePatterns, RefusesIntermediateGraphOutput) {
  Graph g;
  build_layer_norm(g, "intermediate_output");
  const size_t n = g.num_nodes();
  PassStats st = expect_same_outputs(g);
  // The LayerNorm is refused; the centered input d is then a plain RMSNorm input, which is a
  // valid (and exact) rewrite of the tail.
  EXPECT_NE(stats_text(st).find("kept LayerNorm"), std::string::npos) << stats_text(st);
  EXPECT_NE(stats_text(st).find("is a graph output"), std::string::npos) << stats_text(st);
  EXPECT_EQ(count_op(g, "LayerNormalization"), 0u);
  EXPECT_LT(g.num_nodes(), n);
}

TEST(RecognizePatterns, RefusesWrongGeluConstant) {
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{4, 24});
  Value* a = op(g, "Add", "a", {op(g, "Erf", "erf", {op(g, "Div", "d", {x, scalar(g, "c", 1.5f)})}), scalar(g, "one", 1)});
  g.add_output(op(g, "Mul", "out", {op(g, "Mul", "m", {x, a}), scalar(g, "half", 0.5f)}));
  ASSERT_TRUE(infer_shapes(g).ok());
  expect_unchanged(g, "not 1/sqrt(2)");
}

TEST(RecognizePatterns, RefusesSoftmaxOverNonLastAxis) {
  Graph g;
  Value* q = g.add_input("q", DataType::kFloat32, Shape{2, 3, 7, 8});
  Value* k = g.add_input("kt", DataType::kFloat32, Shape{2, 3, 8, 7});
  Value* v = g.add_input("v", DataType::kFloat32, Shape{2, 3, 7, 8});
  Node* sm = g.add_node("Softmax", "softmax", {op(g, "MatMul", "qk", {q, k})}, 1);
  sm->set_attr("axis", int64_t{2});
  g.add_output(op(g, "MatMul", "out", {sm->output(0), v}));
  ASSERT_TRUE(infer_shapes(g).ok());
  expect_unchanged(g, "is not the last axis");
}

// Where(mask, finfo.min, scores) with a mask from an input: a fully masked row is uniform in the
// graph but would be NaN in Attention's bool-mask semantics, so the pattern is kept.
TEST(RecognizePatterns, RefusesFiniteWhereFillWithInputMask) {
  Graph g;
  Value* q = g.add_input("q", DataType::kFloat32, Shape{2, 3, 7, 8});
  Value* k = g.add_input("kt", DataType::kFloat32, Shape{2, 3, 8, 7});
  Value* v = g.add_input("v", DataType::kFloat32, Shape{2, 3, 7, 8});
  Value* m = g.add_input("m", DataType::kBool, Shape{2, 1, 7, 7});
  Value* s = op(g, "Where", "mask_where", {m, scalar(g, "fill", -3.4028235e38f), op(g, "MatMul", "qk", {q, k})});
  g.add_output(op(g, "MatMul", "out", {op(g, "Softmax", "softmax", {s}), v}));
  ASSERT_TRUE(infer_shapes(g).ok());
  expect_unchanged(g, "is finite and the mask is not causal");
}

// ---- modules exported by PyTorch 1.13 at test time ----

constexpr const char* kTorchScript = R"PY(
import sys, math, warnings
warnings.filterwarnings("ignore")
import torch, torch.nn as nn
torch.manual_seed(0)
class RMSNorm(nn.Module):  # LLaMA / HF LlamaRMSNorm
    def __init__(s, d, eps=1e-6):
        super().__init__(); s.weight = nn.Parameter(torch.rand(d) + 0.5); s.eps = eps
    def forward(s, x):
        h = x.to(torch.float32)
        v = h.pow(2).mean(-1, keepdim=True)
        return s.weight * (h * torch.rsqrt(v + s.eps)).to(x.dtype)
class Attn(nn.Module):  # F.scaled_dot_product_attention is not in torch 1.13
    def __init__(s, causal): super().__init__(); s.causal = causal
    def forward(s, q, k, v, pad):
        sc = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        if s.causal:
            L = q.shape[-2]
            sc = sc.masked_fill(torch.triu(torch.ones(L, L, dtype=torch.bool), diagonal=1), float("-inf"))
        else:
            sc = sc + (1.0 - pad[:, None, None, :]) * -10000.0
        return torch.matmul(torch.softmax(sc, dim=-1), v)
class NewGelu(nn.Module):  # GPT-2 / HF NewGELUActivation
    def forward(s, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
ln = nn.LayerNorm(16); ln.weight.data.uniform_(0.5, 1.5); ln.bias.data.uniform_(-1, 1)
x = torch.randn(2, 5, 16)
qkv = [torch.randn(2, 3, 7, 8) for _ in range(3)]
cases = {"layernorm": (ln, (x,)), "rmsnorm": (RMSNorm(16), (x,)), "gelu": (nn.GELU(), (x,)),
         "gelu_tanh": (nn.GELU("tanh"), (x,)), "new_gelu": (NewGelu(), (x,)), "silu": (nn.SiLU(), (x,)),
         "attn_causal": (Attn(True), (*qkv, torch.ones(2, 7))), "attn_pad": (Attn(False), (*qkv, torch.ones(2, 7)))}
out, opset = sys.argv[1], int(sys.argv[2])
for name, (mod, args) in cases.items():
    mod.eval()
    names = ["x"] if len(args) == 1 else ["q", "k", "v", "pad"]
    dyn = {"x": {0: "batch"}} if len(args) == 1 else {"q": {0: "batch", 2: "seq"}, "k": {0: "batch", 2: "seq"},
                                                       "v": {0: "batch", 2: "seq"}, "pad": {0: "batch", 1: "seq"}}
    torch.onnx.export(mod, args, f"{out}/{name}_{opset}.onnx", input_names=names, output_names=["y"],
                      opset_version=opset, dynamic_axes=dyn)
)PY";

class TorchExportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::path(SLIMRT_BINARY_DIR) / ("patterns_fixture." + std::to_string(::getpid()));
    fs::create_directories(dir_);
    const std::string script = (dir_ / "export.py").string();
    std::ofstream(script) << kTorchScript;
    ok_ = true;
    for (int opset : {14, 16}) {
      const std::string cmd = std::string(SLIMRT_PYTHON) + " " + script + " " + dir_.string() + " " + std::to_string(opset) +
                              " > " + (dir_ / "export.log").string() + " 2>&1";
      ok_ = ok_ && std::system(cmd.c_str()) == 0;
    }
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  // Imports <name>_<opset>.onnx (static shapes: batch 2, seq 7 fixed), runs recognize_patterns
  // and checks the outputs and that `fused` appeared and `gone` vanished.
  static void check(const std::string& name, int opset, bool static_shapes, const std::string& fused,
                    const std::vector<std::string>& gone) {
    ASSERT_TRUE(ok_) << "torch export failed; see " << (dir_ / "export.log");
    const std::string path = (dir_ / (name + "_" + std::to_string(opset) + ".onnx")).string();
    ImportOptions io;
    if (static_shapes) {
      Result<Graph> probe = import_onnx_file(path);
      ASSERT_TRUE(probe.ok()) << probe.status().to_string();
      for (const Value* in : probe->inputs())
        io.input_shapes.emplace_back(in->name(), in->rank() == 2   ? std::vector<int64_t>{2, 7}
                                                 : in->rank() == 3 ? std::vector<int64_t>{2, 5, 16}
                                                                   : std::vector<int64_t>{2, 3, 7, 8});
    }
    Result<Graph> g = import_onnx_file(path, io);
    ASSERT_TRUE(g.ok()) << g.status().to_string();
    // The padding input holds 0/1 like a real attention mask.
    auto inputs = [&](std::mt19937_64& rng) {
      Inputs in = random_inputs(*g, rng, {{"batch", 2}, {"seq", 7}});
      for (NamedTensor& t : in) {
        if (t.name != "pad") continue;
        float* p = t.tensor.data<float>();
        for (int64_t i = 0; i < t.tensor.numel(); ++i) p[i] = p[i] > -0.5f ? 1.0f : 0.0f;
      }
      return in;
    };
    PassStats st = expect_same_outputs(*g, inputs);
    EXPECT_EQ(count_op(*g, fused), 1u) << name << " opset " << opset << "\n" << stats_text(st);
    for (const std::string& op_type : gone) EXPECT_EQ(count_op(*g, op_type), 0u) << op_type << "\n" << stats_text(st);
  }

  static inline fs::path dir_;
  static inline bool ok_ = false;
};

TEST_F(TorchExportTest, LayerNorm) {
  for (int opset : {14, 16}) check("layernorm", opset, false, "LayerNormalization", {"ReduceMean", "Sqrt", "Pow", "Div"});
}
TEST_F(TorchExportTest, RMSNorm) {
  for (int opset : {14, 16}) check("rmsnorm", opset, false, "RMSNormalization", {"ReduceMean", "Sqrt", "Pow", "Mul"});
}
TEST_F(TorchExportTest, GeluErf) {
  for (int opset : {14, 16}) check("gelu", opset, false, "Gelu", {"Erf", "Mul", "Div"});
}
TEST_F(TorchExportTest, GeluTanh) {
  for (int opset : {14, 16}) {
    check("gelu_tanh", opset, false, "Gelu", {"Tanh", "Mul"});
    check("new_gelu", opset, false, "Gelu", {"Tanh", "Mul", "Pow"});
  }
}
TEST_F(TorchExportTest, SiLU) {
  for (int opset : {14, 16}) check("silu", opset, false, "SiLU", {"Sigmoid", "Mul"});
}
TEST_F(TorchExportTest, AttentionCausal) {
  for (int opset : {14, 16}) {
    check("attn_causal", opset, false, "Attention", {"Softmax", "MatMul", "Where"});
    check("attn_causal", opset, true, "Attention", {"Softmax", "MatMul", "Where"});
  }
}
TEST_F(TorchExportTest, AttentionPadding) {
  for (int opset : {14, 16}) {
    check("attn_pad", opset, false, "Attention", {"Softmax", "MatMul"});
    check("attn_pad", opset, true, "Attention", {"Softmax", "MatMul"});
  }
}

// ---- the exported model cache ----

using testing::model_cache;

struct ModelCase {
  const char* name;
  bool static_shapes;
  std::map<std::string, size_t> at_least;  // fused op -> minimum count after the pass
  std::vector<std::string> gone;          // decomposed ops that must be gone
};

class RecognizePatternsModelTest : public ::testing::TestWithParam<ModelCase> {};

TEST_P(RecognizePatternsModelTest, FusedOpsFoundOutputsUnchanged) {
  const ModelCase& p = GetParam();
  const std::string path = model_cache() + "/" + p.name + "/model.onnx";
  if (model_cache().empty() || !fs::exists(path)) GTEST_SKIP() << "no " << path << " (set SLIMRT_MODEL_CACHE)";
  ImportOptions io;
  if (p.static_shapes) {
    Result<Graph> probe = import_onnx_file(path);
    ASSERT_TRUE(probe.ok()) << probe.status().to_string();
    auto rng = make_rng();
    for (const NamedTensor& t : random_inputs(*probe, rng, {{"batch", 2}, {"seq", 11}}))
      io.input_shapes.emplace_back(t.name, t.tensor.shape());
  }
  Result<Graph> g = import_onnx_file(path, io);
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  // The passes before pattern recognition (folding, dead code, identity), as run_passes runs them.
  PassOptions before_opts;
  before_opts.recognize_patterns = false;
  before_opts.fuse_epilogues = false;
  before_opts.fuse_elementwise = false;
  ASSERT_TRUE(run_passes(*g, before_opts, nullptr).ok());
  // BERT's attention_mask holds 0/1 with the first token kept, as a tokenizer gives
  // (PassesModelTest in passes_test.cpp covers ids in [0, 10), where the additive mask reaches
  // +80000: the Attention kernel rounds its scores where the unfused graph does, so that matches
  // too).
  auto inputs = [&](std::mt19937_64& rng) {
    Inputs in = random_inputs(*g, rng, {{"batch", 2}, {"seq", 11}});
    for (NamedTensor& t : in) {
      if (t.name != "attention_mask") continue;
      int64_t* m = t.tensor.data<int64_t>();
      const int64_t seq = t.tensor.dim(1);
      for (int64_t i = 0; i < t.tensor.numel(); ++i) m[i] = (i % seq == 0 || m[i] < 7) ? 1 : 0;
    }
    return in;
  };
  PassStats st = expect_same_outputs(*g, inputs);
  std::printf("%-10s %-7s", p.name, p.static_shapes ? "static" : "dynamic");
  for (const char* op_type : {"LayerNormalization", "RMSNormalization", "Gelu", "SiLU", "Attention"})
    std::printf(" %s=%zu", op_type, count_op(*g, op_type));
  std::printf("\n");
  for (const auto& [op_type, n] : p.at_least) EXPECT_GE(count_op(*g, op_type), n) << op_type << "\n" << stats_text(st);
  for (const std::string& op_type : p.gone) EXPECT_EQ(count_op(*g, op_type), 0u) << op_type << "\n" << stats_text(st);
  EXPECT_EQ(stats_text(st).find("kept"), std::string::npos) << stats_text(st);
  // LLaMA's Trilu mask is proved causal (symbolically or by value); BERT's padding mask is kept.
  for (const Node* n : g->nodes()) {
    if (n->op_type() != "Attention") continue;
    const bool llama = std::string(p.name) == "llama_tiny";
    EXPECT_EQ(n->attr_int("is_causal", -1), llama ? 1 : 0) << n->name();
    EXPECT_EQ(n->input(3) == nullptr, llama) << n->name();
  }
}

// ViT-B/16 is too slow to run on the reference backend here: count the fused ops only.
TEST(RecognizePatterns, VitModelCounts) {
  const std::string path = model_cache() + "/vit_b_16/model.onnx";
  if (model_cache().empty() || !fs::exists(path)) GTEST_SKIP() << "no " << path << " (set SLIMRT_MODEL_CACHE)";
  Result<Graph> g = import_onnx_file(path);
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  PassOptions opts;
  opts.fuse_epilogues = false;
  opts.fuse_elementwise = false;
  PassReport report;
  ASSERT_TRUE(run_passes(*g, opts, &report).ok());
  std::printf("vit_b_16 nodes %zu -> %zu: Attention=%zu Gelu=%zu LayerNormalization=%zu\n", report.nodes_before,
              report.nodes_after, count_op(*g, "Attention"), count_op(*g, "Gelu"), count_op(*g, "LayerNormalization"));
  EXPECT_EQ(count_op(*g, "Attention"), 12u) << report.to_string();
  EXPECT_EQ(count_op(*g, "Gelu"), 12u) << report.to_string();
  EXPECT_EQ(count_op(*g, "Softmax"), 0u);
  EXPECT_EQ(count_op(*g, "Erf"), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    RecognizePatterns, RecognizePatternsModelTest,
    ::testing::Values(
        ModelCase{"bert_tiny", false, {{"LayerNormalization", 5}, {"Gelu", 2}, {"Attention", 2}}, {"Softmax", "Erf"}},
        ModelCase{"bert_tiny", true, {{"LayerNormalization", 5}, {"Gelu", 2}, {"Attention", 2}}, {"Softmax", "Erf"}},
        ModelCase{"llama_tiny", false, {{"RMSNormalization", 5}, {"SiLU", 2}, {"Attention", 2}},
                  {"Softmax", "Sigmoid", "Sqrt", "ReduceMean", "Where"}},
        ModelCase{"llama_tiny", true, {{"RMSNormalization", 5}, {"SiLU", 2}, {"Attention", 2}},
                  {"Softmax", "Sigmoid", "Sqrt", "ReduceMean", "Where"}}),
    [](const ::testing::TestParamInfo<ModelCase>& info) {
      return std::string(info.param.name) + (info.param.static_shapes ? "_static" : "_dynamic");
    });

}  // namespace
}  // namespace slimrt
