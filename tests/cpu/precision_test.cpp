// Precision: the per-op table, convert_precision's casts and bindings, half weights in the
// engine file (converted while streaming, clamped), and fp16/bf16 engines against the fp32 run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "slimrt/backend.h"
#include "slimrt/builder/builder.h"
#include "slimrt/builder/engine_writer.h"
#include "slimrt/builder/onnx_importer.h"
#include "slimrt/builder/passes.h"
#include "slimrt/builder/precision.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

namespace fs = std::filesystem;
using testing::random_tensor;
using testing::rel_l2;

// Documented in docs/precision.md (relative L2 against the fp32 run, measured with margin).
constexpr double kFp16Tolerance = 5e-3;
constexpr double kBf16Tolerance = 4e-2;

double tolerance(Precision p) { return p == Precision::kFp16 ? kFp16Tolerance : kBf16Tolerance; }

const std::string& temp_dir() { return testing::process_temp_dir(SLIMRT_BINARY_DIR, "precision"); }


Node* op(Graph& g, const std::string& type, const std::string& name, std::vector<Value*> in,
         std::vector<std::pair<std::string, Attribute>> attrs = {}) {
  Node* n = g.add_node(type, name, in, 1);
  for (auto& a : attrs) n->set_attr(a.first, a.second);
  return n;
}

Value* weight(Graph& g, const std::string& name, std::vector<int64_t> shape, std::mt19937_64& rng, double scale) {
  return g.add_initializer(name, random_tensor(DataType::kFloat32, shape, rng, -scale, scale));
}
Value* scalar(Graph& g, const std::string& name, float v) {
  return g.add_initializer(name, Tensor::from_vector<float>(DataType::kFloat32, {}, {v}));
}
Value* axes(Graph& g, const std::string& name, std::vector<int64_t> a) {
  return g.add_initializer(name, Tensor::from_vector<int64_t>(DataType::kInt64, {static_cast<int64_t>(a.size())}, a));
}

// x[batch, 16] -> MatMul -> Add -> Relu -> MatMul -> Add = logits -> Softmax = probs.
Graph make_mlp(uint64_t seed, int64_t hidden = 64) {
  std::mt19937_64 rng(seed);
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), Dim(16)});
  Value* h = op(g, "MatMul", "fc1", {x, weight(g, "w1", {16, hidden}, rng, 0.25)})->output(0);
  h = op(g, "Add", "b1", {h, weight(g, "bias1", {hidden}, rng, 0.1)})->output(0);
  h = op(g, "Relu", "relu", {h})->output(0);
  h = op(g, "MatMul", "fc2", {h, weight(g, "w2", {hidden, 10}, rng, 0.25)})->output(0);
  Node* logits = g.add_node("Add", "b2", {h, weight(g, "bias2", {10}, rng, 0.1)}, 1, {"logits"});
  Node* probs = g.add_node("Softmax", "softmax", {logits->output(0)}, 1, {"probs"});
  probs->set_attr("axis", int64_t{-1});
  g.add_output(logits->output(0));
  g.add_output(probs->output(0));
  EXPECT_TRUE(infer_shapes(g).ok());
  return g;
}

// A pre-norm transformer block with a decomposed LayerNorm (ReduceMean, Pow, Sqrt, Div), single
// head attention and an erf GELU MLP: x[batch, seq, 32] -> y.
Graph make_transformer_block(uint64_t seed) {
  std::mt19937_64 rng(seed);
  constexpr int64_t D = 32;
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), Dim::symbol("seq"), Dim(D)});
  auto layer_norm = [&](Value* in, const std::string& p) {
    Value* mean = op(g, "ReduceMean", p + "mean", {in, axes(g, p + "ax", {-1})}, {{"keepdims", int64_t{1}}})->output(0);
    Value* d = op(g, "Sub", p + "sub", {in, mean})->output(0);
    Value* sq = op(g, "Pow", p + "pow", {d, scalar(g, p + "two", 2.0f)})->output(0);
    Value* var = op(g, "ReduceMean", p + "var", {sq, axes(g, p + "ax2", {-1})}, {{"keepdims", int64_t{1}}})->output(0);
    Value* sd = op(g, "Sqrt", p + "sqrt", {op(g, "Add", p + "eps", {var, scalar(g, p + "epsv", 1e-5f)})->output(0)})->output(0);
    Value* n = op(g, "Div", p + "div", {d, sd})->output(0);
    n = op(g, "Mul", p + "gamma", {n, weight(g, p + "g", {D}, rng, 1.0)})->output(0);
    return op(g, "Add", p + "beta", {n, weight(g, p + "b", {D}, rng, 0.1)})->output(0);
  };
  Value* h = layer_norm(x, "ln1.");
  Value* q = op(g, "MatMul", "q", {h, weight(g, "wq", {D, D}, rng, 0.3)})->output(0);
  Value* k = op(g, "MatMul", "k", {h, weight(g, "wk", {D, D}, rng, 0.3)})->output(0);
  Value* v = op(g, "MatMul", "v", {h, weight(g, "wv", {D, D}, rng, 0.3)})->output(0);
  Value* kt = op(g, "Transpose", "kt", {k}, {{"perm", std::vector<int64_t>{0, 2, 1}}})->output(0);
  Value* s = op(g, "MatMul", "scores", {q, kt})->output(0);
  s = op(g, "Div", "scale", {s, scalar(g, "sqrt_d", std::sqrt(static_cast<float>(D)))})->output(0);
  Value* p = op(g, "Softmax", "attn", {s}, {{"axis", int64_t{-1}}})->output(0);
  Value* a = op(g, "MatMul", "ctx", {p, v})->output(0);
  a = op(g, "MatMul", "o", {a, weight(g, "wo", {D, D}, rng, 0.3)})->output(0);
  Value* r1 = op(g, "Add", "res1", {x, a})->output(0);
  Value* h2 = layer_norm(r1, "ln2.");
  Value* u = op(g, "MatMul", "up", {h2, weight(g, "wup", {D, 4 * D}, rng, 0.2)})->output(0);
  Value* e = op(g, "Erf", "erf", {op(g, "Div", "gdiv", {u, scalar(g, "sqrt2", std::sqrt(2.0f))})->output(0)})->output(0);
  Value* gl = op(g, "Mul", "gmul", {u, op(g, "Add", "gadd", {e, scalar(g, "one", 1.0f)})->output(0)})->output(0);
  gl = op(g, "Mul", "ghalf", {gl, scalar(g, "half", 0.5f)})->output(0);
  Value* dn = op(g, "MatMul", "down", {gl, weight(g, "wdown", {4 * D, D}, rng, 0.1)})->output(0);
  Node* y = g.add_node("Add", "res2", {r1, dn}, 1, {"y"});
  g.add_output(y->output(0));
  EXPECT_TRUE(infer_shapes(g).ok());
  return g;
}

struct EngineGraph {
  EngineInfo info;
  Graph graph;
  EngineWriteStats stats;
};

// Builder path without the importer: passes, precision (weights deferred), plan-free write,
// read back.
Result<EngineGraph> build_and_load(Graph& g, Precision p, const std::string& name, bool passes = true) {
  if (passes) SLIMRT_RETURN_IF_ERROR(run_passes(g, PassOptions{}, nullptr));
  PrecisionOptions po;
  po.eager_weight_bytes = 0;
  SLIMRT_RETURN_IF_ERROR(convert_precision(g, p, po, nullptr));
  EngineOptions eo;
  eo.precision = p;
  const std::string path = temp_dir() + "/" + name + ".engine";
  EngineGraph out;
  SLIMRT_RETURN_IF_ERROR(write_engine(g, eo, path, EngineWriteHooks{}, &out.stats));
  SLIMRT_ASSIGN_OR_RETURN(auto reader, open_file_reader(path));
  SLIMRT_ASSIGN_OR_RETURN(out.info, parse_engine(*reader));
  SLIMRT_ASSIGN_OR_RETURN(out.graph, read_engine_graph(*reader, out.info));
  return out;
}

// Worst relative L2 over the outputs; checks names, dtypes and shapes agree.
double worst_error(const std::vector<NamedTensor>& got, const std::vector<NamedTensor>& want) {
  EXPECT_EQ(got.size(), want.size());
  double worst = 0;
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    EXPECT_EQ(got[i].name, want[i].name);
    EXPECT_EQ(got[i].tensor.dtype(), want[i].tensor.dtype()) << got[i].name;
    const double e = rel_l2(got[i].tensor, want[i].tensor);
    if (!(e <= worst)) worst = e;
  }
  return worst;
}

// ---------------------------------------------------------------------------------------------

TEST(PrecisionTable, CoversEveryRegisteredOp) {
  std::vector<std::string> missing;
  for (const std::string& name : supported_ops()) {
    if (!find_op_precision(name)) missing.push_back(name);
  }
  EXPECT_TRUE(missing.empty()) << "ops without a precision rule (add them to src/passes/precision.cpp): "
                               << ::testing::PrintToString(missing);
  // The fused ops the passes emit, whether or not their pass is registered yet.
  for (const char* fused : {"FusedConv", "FusedMatMul", "Attention", "LayerNormalization", "RMSNormalization", "Gelu",
                            "SiLU", "Softmax", "MatMul", "Gemm", "Conv"}) {
    ASSERT_NE(find_op_precision(fused), nullptr) << fused;
    EXPECT_EQ(find_op_precision(fused)->precision, OpPrecision::kHalf) << fused;
  }
  for (const char* f : {"Exp", "Log", "Pow", "ReduceSum", "ReduceSumSquare", "ReduceProd", "ReduceL2",
                        "ReduceLogSumExp", "CumSum", "Range"})
    EXPECT_EQ(op_precision(f), OpPrecision::kFloat) << f;
  for (const char* a : {"Reshape", "Transpose", "Gather", "Concat", "Slice", "Add", "Relu"})
    EXPECT_EQ(op_precision(a), OpPrecision::kAny) << a;
}

TEST(PrecisionTable, SortedUniqueJustifiedAndUnknownIsFloat) {
  const auto& t = op_precision_table();
  for (size_t i = 1; i < t.size(); ++i) EXPECT_LT(t[i - 1].op_type, t[i].op_type);
  for (const OpPrecisionEntry& e : t) EXPECT_FALSE(e.why.empty()) << e.op_type;
  EXPECT_EQ(find_op_precision("NoSuchOp"), nullptr);
  EXPECT_EQ(op_precision("NoSuchOp"), OpPrecision::kFloat);
}

// x(fp32 input) -> MatMul(w) = y (graph output) -> Exp -> Relu -> Add(., y) = z (graph output).
TEST(PrecisionPass, InsertsCastsAtBoundariesAndKeepsBindings) {
  auto build = [] {
    std::mt19937_64 rng(3);
    Graph g;
    Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim(4), Dim(8)});
    Node* mm = g.add_node("MatMul", "mm", {x, weight(g, "w", {8, 8}, rng, 0.3)}, 1, {"y"});
    Value* e = op(g, "Exp", "exp", {mm->output(0)})->output(0);
    Value* r = op(g, "Relu", "relu", {e})->output(0);
    Node* add = g.add_node("Add", "add", {r, mm->output(0)}, 1, {"z"});
    g.add_output(mm->output(0));
    g.add_output(add->output(0));
    EXPECT_TRUE(infer_shapes(g).ok());
    return g;
  };
  Graph ref = build();
  Graph g = build();
  PrecisionOptions po;
  po.eager_weight_bytes = UINT64_MAX;
  PrecisionReport rep;
  ASSERT_TRUE(convert_precision(g, Precision::kFp16, po, &rep).ok());
  // Bindings unchanged.
  ASSERT_EQ(g.inputs().size(), 1u);
  EXPECT_EQ(g.inputs()[0]->dtype(), DataType::kFloat32);
  ASSERT_EQ(g.outputs().size(), 2u);
  EXPECT_EQ(g.outputs()[0]->name(), "y");
  EXPECT_EQ(g.outputs()[1]->name(), "z");
  for (const Value* o : g.outputs()) EXPECT_EQ(o->dtype(), DataType::kFloat32) << o->name();
  // The weight is half (converted now), the MatMul runs in half, Exp in fp32, Relu follows fp32.
  EXPECT_EQ(g.find_value("w")->dtype(), DataType::kFloat16);
  EXPECT_EQ(g.find_value("w")->constant()->dtype(), DataType::kFloat16);
  int casts = 0;
  for (const Node* n : g.nodes()) {
    if (n->op_type() == "Cast") ++casts;
    if (n->op_type() == "MatMul") {
      EXPECT_EQ(n->input(0)->dtype(), DataType::kFloat16);
      EXPECT_EQ(n->output(0)->dtype(), DataType::kFloat16);
    }
    if (n->op_type() == "Exp" || n->op_type() == "Relu" || n->op_type() == "Add") {
      EXPECT_EQ(n->input(0)->dtype(), DataType::kFloat32) << n->describe();
      EXPECT_EQ(n->output(0)->dtype(), DataType::kFloat32) << n->describe();
    }
  }
  // x -> half, y -> fp32 for Exp and Add (one Cast shared), y restored as a graph output.
  EXPECT_EQ(casts, 3);
  EXPECT_EQ(rep.casts_inserted, 3);
  EXPECT_EQ(rep.half_nodes, 1);
  EXPECT_EQ(rep.float_nodes, 1);
  EXPECT_EQ(rep.weights_converted, 1);
  // Runs in memory and stays close to the fp32 graph.
  std::mt19937_64 rng = testing::make_rng();
  std::vector<NamedTensor> feeds = {{"x", random_tensor(DataType::kFloat32, {4, 8}, rng)}};
  auto want = testing::run_on_cpu(ref, feeds);
  auto got = testing::run_on_cpu(g, feeds);
  ASSERT_TRUE(want.ok() && got.ok()) << want.status().to_string() << got.status().to_string();
  EXPECT_LT(worst_error(*got, *want), kFp16Tolerance);
  EXPECT_GT(worst_error(*got, *want), 0.0);  // it really computed in half
}

TEST(PrecisionPass, HalfModelKeepsItsDtypesAndFp32IsANoOp) {
  std::mt19937_64 rng(5);
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat16, Shape{Dim(2), Dim(8)});
  Value* w = g.add_initializer("w", random_tensor(DataType::kFloat16, {8, 8}, rng));
  Value* y = op(g, "MatMul", "mm", {x, w})->output(0);
  Node* e = g.add_node("Exp", "exp", {y}, 1, {"out"});
  g.add_output(e->output(0));
  ASSERT_TRUE(infer_shapes(g).ok());
  const size_t nodes = g.num_nodes();
  ASSERT_TRUE(convert_precision(g, Precision::kFp32).ok());
  EXPECT_EQ(g.num_nodes(), nodes);
  PrecisionReport rep;
  ASSERT_TRUE(convert_precision(g, Precision::kFp16, {}, &rep).ok());
  EXPECT_EQ(g.num_nodes(), nodes);  // no cast: only float32 values are converted
  EXPECT_EQ(rep.casts_inserted, 0);
  EXPECT_EQ(g.outputs()[0]->dtype(), DataType::kFloat16);
  EXPECT_EQ(g.find_value("w")->dtype(), DataType::kFloat16);
}

// A half FusedMatMul's erf GELU takes the tanh form (fused by cuBLASLt) unless tanh_gelu is off;
// fp32 graphs keep erf, and the half result stays within the fp16 bound of the fp32 run.
TEST(PrecisionPass, FusedMatMulGeluTakesTheTanhFormInHalf) {
  auto build = [] {
    std::mt19937_64 rng(11);
    Graph g;
    Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim(5), Dim(16)});
    Node* mm = g.add_node("FusedMatMul", "fc", {x, weight(g, "w", {16, 24}, rng, 0.6), weight(g, "b", {24}, rng, 0.5)}, 1,
                          {"y"});
    mm->set_attr("activation", std::string("Gelu"));
    g.add_output(mm->output(0));
    EXPECT_TRUE(infer_shapes(g).ok());
    return g;
  };
  auto activation = [](const Graph& g) {
    for (const Node* n : g.nodes()) {
      if (n->op_type() == "FusedMatMul") return n->attr_string("activation", "");
    }
    return std::string("(none)");
  };
  PrecisionOptions po;
  po.eager_weight_bytes = UINT64_MAX;
  Graph fp32 = build();
  ASSERT_TRUE(convert_precision(fp32, Precision::kFp32, po).ok());
  EXPECT_EQ(activation(fp32), "Gelu");

  Graph half = build();
  PrecisionReport rep;
  ASSERT_TRUE(convert_precision(half, Precision::kFp16, po, &rep).ok());
  EXPECT_EQ(activation(half), "GeluTanh");
  EXPECT_EQ(rep.gelu_tanh, 1);
  bool noted = false;
  for (const std::string& l : rep.lines) noted = noted || l.find("tanh form") != std::string::npos;
  EXPECT_TRUE(noted);

  Graph exact = build();
  po.tanh_gelu = false;
  PrecisionReport rep_exact;
  ASSERT_TRUE(convert_precision(exact, Precision::kFp16, po, &rep_exact).ok());
  EXPECT_EQ(activation(exact), "Gelu");
  EXPECT_EQ(rep_exact.gelu_tanh, 0);

  // Inputs spread over [-4, 4) so that the pre-activations cover the region where the forms differ.
  std::mt19937_64 rng = testing::make_rng();
  std::vector<NamedTensor> feeds = {{"x", random_tensor(DataType::kFloat32, {5, 16}, rng, -4, 4)}};
  auto want = testing::run_on_cpu(fp32, feeds);
  auto got = testing::run_on_cpu(half, feeds);
  auto got_exact = testing::run_on_cpu(exact, feeds);
  ASSERT_TRUE(want.ok() && got.ok() && got_exact.ok());
  EXPECT_LT(worst_error(*got, *want), kFp16Tolerance);
  EXPECT_LT(worst_error(*got_exact, *want), kFp16Tolerance);
  EXPECT_NE(worst_error(*got, *want), worst_error(*got_exact, *want));  // the forms really differ
}

TEST(PrecisionPass, ConstantNeededInBothPrecisionsIsAliased) {
  std::mt19937_64 rng(9);
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim(2), Dim(8)});
  Value* c = weight(g, "c", {8}, rng, 1.0);
  // c first feeds an fp32 Add (x is an fp32 input), then a half Add after the MatMul.
  Value* a = op(g, "Add", "a", {x, c})->output(0);
  Value* m = op(g, "MatMul", "mm", {a, weight(g, "w", {8, 8}, rng, 0.3)})->output(0);
  Node* b = g.add_node("Add", "b", {m, c}, 1, {"out"});
  g.add_output(b->output(0));
  ASSERT_TRUE(infer_shapes(g).ok());
  PrecisionReport rep;
  ASSERT_TRUE(convert_precision(g, Precision::kBf16, {}, &rep).ok());
  EXPECT_EQ(rep.weights_aliased, 1);
  EXPECT_EQ(g.find_value("c")->dtype(), DataType::kFloat32);
  const Node* bn = nullptr;
  for (const Node* n : g.nodes()) {
    if (n->name() == "b") bn = n;
  }
  ASSERT_NE(bn, nullptr);
  EXPECT_EQ(bn->input(1)->dtype(), DataType::kBFloat16);
  EXPECT_EQ(bn->input(1)->constant()->dtype(), DataType::kBFloat16);  // small: converted now
  EXPECT_EQ(g.outputs()[0]->dtype(), DataType::kFloat32);
}

TEST(PrecisionEngine, WeightsInTheFileAreHalfAndConvertedWhileStreaming) {
  // hidden 4500: w1 (72,000 elements) takes two conversion blocks, the second partial, and the
  // smaller weights after it reuse the writer's buffer.
  for (const auto& [p, hidden] : {std::pair{Precision::kFp16, int64_t{64}}, std::pair{Precision::kBf16, int64_t{64}},
                                  std::pair{Precision::kFp16, int64_t{4500}}}) {
    Graph source = make_mlp(21, hidden);
    Graph g = make_mlp(21, hidden);
    PrecisionOptions po;
    po.eager_weight_bytes = 0;  // everything deferred to the writer
    PrecisionReport rep;
    ASSERT_TRUE(convert_precision(g, p, po, &rep).ok());
    EXPECT_EQ(rep.weights_deferred, 4);
    EXPECT_EQ(rep.weights_converted, 0);
    const Value* w1 = g.find_value("w1");
    ASSERT_TRUE(is_deferred_conversion(*w1));
    EXPECT_EQ(w1->constant()->dtype(), DataType::kFloat32);  // nothing materialized
    auto e = build_and_load(g, p, "mlp_weights_" + std::string(precision_name(p)) + std::to_string(hidden),
                            /*passes=*/false);
    ASSERT_TRUE(e.ok()) << e.status().to_string();
    EXPECT_EQ(e->stats.weights_converted, 4u);
    EXPECT_EQ(e->info.header.precision, p);
    const DataType half = p == Precision::kFp16 ? DataType::kFloat16 : DataType::kBFloat16;
    int float_weights = 0;
    for (const EngineWeight& w : e->info.weights) {
      const Value* src = source.find_value(w.name);
      ASSERT_NE(src, nullptr) << w.name;
      EXPECT_EQ(w.dtype, half) << w.name;
      EXPECT_EQ(w.size, static_cast<uint64_t>(src->constant()->numel()) * 2) << w.name;
      // The bytes are the round-to-nearest-even conversion of the fp32 source.
      const Tensor* t = e->graph.find_value(w.name)->constant();
      ASSERT_NE(t, nullptr);
      ASSERT_EQ(t->dtype(), half);
      const float* f = src->constant()->data<float>();
      const uint16_t* h = t->data<uint16_t>();
      for (int64_t i = 0; i < t->numel(); ++i) {
        const uint16_t want = p == Precision::kFp16 ? float_to_half(f[i]) : float_to_bfloat16(f[i]);
        ASSERT_EQ(h[i], want) << w.name << "[" << i << "]";
      }
      ++float_weights;
    }
    EXPECT_EQ(float_weights, 4);
  }
}

TEST(PrecisionEngine, OutOfRangeWeightsAreClampedAndCounted) {
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim(1), Dim(4)});
  const std::vector<float> vals = {1e6f, -1e6f, 65504.0f, 65519.0f, 1.0f, INFINITY, -2.0f, 0.5f};
  Value* w = g.add_initializer("w", Tensor::from_vector<float>(DataType::kFloat32, {4, 2}, vals));
  Node* mm = g.add_node("MatMul", "mm", {x, w}, 1, {"y"});
  g.add_output(mm->output(0));
  ASSERT_TRUE(infer_shapes(g).ok());
  auto e = build_and_load(g, Precision::kFp16, "clamp", /*passes=*/false);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  ASSERT_EQ(e->stats.clamped.size(), 1u);
  EXPECT_EQ(e->stats.clamped[0].first, "w");
  EXPECT_EQ(e->stats.clamped[0].second, 2u);  // 1e6 and -1e6; 65519 rounds to 65504; inf stays inf
  const uint16_t* h = e->graph.find_value("w")->constant()->data<uint16_t>();
  EXPECT_EQ(h[0], 0x7BFF);
  EXPECT_EQ(h[1], 0xFBFF);
  EXPECT_EQ(h[2], 0x7BFF);
  EXPECT_EQ(h[3], 0x7BFF);
  EXPECT_EQ(h[5], 0x7C00);
  // The eager path reports the same.
  Graph g2;
  Value* x2 = g2.add_input("x", DataType::kFloat32, Shape{Dim(1), Dim(4)});
  Value* w2 = g2.add_initializer("w", Tensor::from_vector<float>(DataType::kFloat32, {4, 2}, vals));
  g2.add_output(g2.add_node("MatMul", "mm", {x2, w2}, 1, {"y"})->output(0));
  ASSERT_TRUE(infer_shapes(g2).ok());
  PrecisionReport rep;
  ASSERT_TRUE(convert_precision(g2, Precision::kFp16, {}, &rep).ok());
  ASSERT_EQ(rep.lines.size(), 1u);
  EXPECT_NE(rep.lines[0].find("weight 'w': 2 values beyond the float16 range clamped"), std::string::npos) << rep.lines[0];
}

struct ModelCase {
  const char* name;
  Graph (*make)(uint64_t);
  std::vector<int64_t> input_shape;
};

class PrecisionModels : public ::testing::TestWithParam<std::tuple<int, Precision>> {};

TEST_P(PrecisionModels, HalfEngineMatchesFp32Run) {
  static const ModelCase kCases[] = {{"mlp", [](uint64_t seed) { return make_mlp(seed); }, {8, 16}}, {"transformer_block", make_transformer_block, {2, 12, 32}}};
  const ModelCase& c = kCases[std::get<0>(GetParam())];
  const Precision p = std::get<1>(GetParam());
  Graph ref = c.make(77);
  Graph g = c.make(77);
  auto e = build_and_load(g, p, std::string(c.name) + "_" + std::string(precision_name(p)));
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  for (const EngineWeight& w : e->info.weights) {
    if (dtype_is_float(w.dtype) && w.shape.size() >= 2) {
        EXPECT_NE(w.dtype, DataType::kFloat32) << w.name;
      }
  }
  std::mt19937_64 rng = testing::make_rng();
  double worst = 0;
  for (int trial = 0; trial < 3; ++trial) {
    std::vector<NamedTensor> feeds = {{"x", random_tensor(DataType::kFloat32, c.input_shape, rng, -2.0, 2.0)}};
    auto want = testing::run_on_cpu(ref, feeds);
    auto got = testing::run_on_cpu(e->graph, feeds);
    ASSERT_TRUE(want.ok()) << want.status().to_string();
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    worst = std::max(worst, worst_error(*got, *want));
  }
  std::printf("[precision] %s %s: worst rel L2 %.3g\n", c.name, std::string(precision_name(p)).c_str(), worst);
  EXPECT_LT(worst, tolerance(p));
  EXPECT_GT(worst, 0.0);
}

INSTANTIATE_TEST_SUITE_P(All, PrecisionModels,
                         ::testing::Combine(::testing::Values(0, 1), ::testing::Values(Precision::kFp16, Precision::kBf16)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) == 0 ? "mlp" : "transformer_block") + "_" +
                                  std::string(precision_name(std::get<1>(info.param)));
                         });

TEST(PrecisionEngine, TinynetThroughBuildEngine) {
  const std::string onnx = std::string(SLIMRT_SOURCE_DIR) + "/models/tinynet.onnx";
  Result<Graph> ref = import_onnx_file(onnx);
  ASSERT_TRUE(ref.ok()) << ref.status().to_string();
  for (Precision p : {Precision::kFp16, Precision::kBf16}) {
    BuildOptions o;
    o.precision = p;
    auto prof = parse_profile_args({"image:1x3x64x64"}, {"image:2x3x64x64"}, {"image:4x3x64x64"});
    ASSERT_TRUE(prof.ok());
    o.profiles = *prof;
    const std::string path = temp_dir() + "/tinynet_" + std::string(precision_name(p)) + ".engine";
    BuildReport rep;
    Status s = build_engine(onnx, o, path, &rep);
    ASSERT_TRUE(s.ok()) << s.to_string();
    EXPECT_GT(rep.half_nodes, 0);
    EXPECT_GT(rep.weights_converted, 0);
    EXPECT_GT(rep.peak_rss_bytes, 0u);
    auto reader = open_file_reader(path);
    ASSERT_TRUE(reader.ok());
    auto info = parse_engine(**reader);
    ASSERT_TRUE(info.ok()) << info.status().to_string();
    EXPECT_EQ(info->header.precision, p);
    for (const EngineWeight& w : info->weights) {
      if (dtype_is_float(w.dtype) && w.shape.size() >= 2) {
        EXPECT_NE(w.dtype, DataType::kFloat32) << w.name;
      }
    }
    // The bindings keep the model's dtypes.
    for (int32_t i : info->inputs) EXPECT_EQ(info->values[static_cast<size_t>(i)].dtype, DataType::kFloat32);
    for (int32_t i : info->outputs) EXPECT_EQ(info->values[static_cast<size_t>(i)].dtype, DataType::kFloat32);
    auto g = read_engine_graph(**reader, *info);
    ASSERT_TRUE(g.ok()) << g.status().to_string();
    std::mt19937_64 rng = testing::make_rng(static_cast<uint64_t>(p));
    std::vector<NamedTensor> feeds = {{"image", random_tensor(DataType::kFloat32, {3, 3, 64, 64}, rng)}};
    auto want = testing::run_on_cpu(*ref, feeds);
    auto got = testing::run_on_cpu(*g, feeds);
    ASSERT_TRUE(want.ok() && got.ok());
    const double err = worst_error(*got, *want);
    std::printf("[precision] tinynet %s: rel L2 %.3g\n", std::string(precision_name(p)).c_str(), err);
    EXPECT_LT(err, tolerance(p));
  }
}

}  // namespace
}  // namespace slimrt
