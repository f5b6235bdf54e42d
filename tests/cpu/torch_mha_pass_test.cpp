// Multi-head attention canonicalization (src/passes/canonicalize_mha.cpp): graphs written the
// way torch exports nn.MultiheadAttention (2.x batch_first and seq-first, 1.13's sliced form,
// symbolic batch, the shape arithmetic feeding every Reshape) and BERT-style separate Q, K, V
// projections run on the CPU backend before and after run_passes on fresh random inputs; after
// it no Transpose, Gather, Squeeze, Unsqueeze or Slice of activations is left. Batch-first blocks
// get one packed QKV projection (Attention qkv_packed = 1); seq-first ones, cross-attention, a V
// head dim unlike Q's and pack_qkv = false keep three. Blocks the rewrite cannot prove exact stay
// as they were.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "slimrt/builder/onnx_importer.h"
#include "slimrt/builder/passes.h"
#include "slimrt/builder/precision.h"
#include "slimrt/graph.h"
#include "support/model_cache.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

using testing::count_op;
using testing::make_rng;
using testing::random_tensor;
using testing::rel_l2;
using testing::run_graph;

struct Config {
  bool batch_first = true;   // x [batch, S, E] (else [S, batch, E])
  bool legacy = false;       // torch 1.13: three Slices of the packed projection, rank-3 Attention
  bool mask = false;         // an additive [1, 1, S, S] mask input
  bool in_bias = true;
  // Breakers: each must leave the block alone.
  bool k_side_reader = false;    // K's head split is also read by a graph output
  bool weight_input = false;     // W_in is a graph input
  bool dim_outer = false;        // Q, K, V split as [S, B, Dh, H]: the columns are not [heads, dim]
  bool out_side_reader = false;  // the attention output is also read by a graph output
  bool no_back_transpose = false;  // batch_first, but the block's output stays [S, B, E]
};

constexpr int64_t kSeq = 5, kEmbed = 16, kHeads = 2, kDim = kEmbed / kHeads;

class Builder {
 public:
  Builder(Graph& g, std::mt19937_64& rng) : g_(g), rng_(rng) {}

  Value* ints(const std::vector<int64_t>& v, bool scalar = false) {
    std::vector<int64_t> shape;
    if (!scalar) shape.push_back(static_cast<int64_t>(v.size()));
    return g_.add_initializer(name("c"), Tensor::from_vector<int64_t>(DataType::kInt64, shape, v));
  }
  Value* floats(const std::vector<int64_t>& shape, double lo = -0.5, double hi = 0.5) {
    return g_.add_initializer(name("w"), random_tensor(DataType::kFloat32, shape, rng_, lo, hi));
  }
  Node* node(const std::string& op, const std::vector<Value*>& ins) { return g_.add_node(op, name(op), ins, 1); }
  Value* op(const std::string& op, const std::vector<Value*>& ins) { return node(op, ins)->output(0); }
  Value* perm(Value* x, const std::vector<int64_t>& p) {
    Node* n = node("Transpose", {x});
    n->set_attr("perm", p);
    return n->output(0);
  }
  // Shape(v)[i] as [1], the way torch exports x.size(i) feeding a view.
  Value* dim(Value* v, int64_t i) { return op("Unsqueeze", {scalar_dim(v, i), ints({0})}); }
  Value* scalar_dim(Value* v, int64_t i) {
    Node* n = node("Gather", {op("Shape", {v}), ints({i}, true)});
    n->set_attr("axis", int64_t{0});
    return n->output(0);
  }
  Value* cat(const std::vector<Value*>& parts) {
    Node* n = node("Concat", parts);
    n->set_attr("axis", int64_t{0});
    return n->output(0);
  }
  Value* reshape(Value* x, Value* shape) { return op("Reshape", {x, shape}); }

 private:
  std::string name(const std::string& hint) { return hint + "_" + std::to_string(counter_++); }
  Graph& g_;
  std::mt19937_64& rng_;
  int counter_ = 0;
};

// One encoder attention block as torch exports it, y = x + MHA(LN(x)).
Graph torch_mha(const Config& c, std::mt19937_64& rng) {
  Graph g;
  Builder b(g, rng);
  const Dim batch = Dim::symbol("batch");
  Value* x = g.add_input("x", DataType::kFloat32, c.batch_first ? Shape{batch, kSeq, kEmbed} : Shape{kSeq, batch, kEmbed});
  Node* ln = b.node("LayerNormalization", {x, b.floats({kEmbed}, 0.5, 1.5), b.floats({kEmbed})});
  ln->set_attr("axis", int64_t{-1});
  // nn.MultiheadAttention works seq-first: a batch_first module swaps its input once.
  Value* t0 = c.batch_first ? b.perm(ln->output(0), {1, 0, 2}) : ln->output(0);
  Value* w_in = c.weight_input ? g.add_input("w_in", DataType::kFloat32, Shape{kEmbed, 3 * kEmbed})
                               : b.floats({kEmbed, 3 * kEmbed});
  Value* p = b.op("MatMul", {t0, w_in});
  if (c.in_bias) p = b.op("Add", {b.floats({3 * kEmbed}), p});
  Value* bh = b.op("Mul", {b.dim(t0, 1), b.ints({kHeads})});
  std::vector<Value*> qkv;
  Value* packed = nullptr;
  for (int64_t i = 0; i < 3; ++i) {
    Value* part = nullptr;
    if (c.legacy) {
      part = b.op("Slice", {p, b.ints({i * kEmbed}), b.ints({(i + 1) * kEmbed}), b.ints({-1})});
    } else {
      // proj.unflatten(-1, (3, E)).unsqueeze(0).transpose(0, -2).squeeze(-2)[i]
      if (i == 0) {
        Value* r = b.reshape(p, b.cat({b.dim(p, 0), b.dim(p, 1), b.ints({3, kEmbed})}));
        Value* u = b.op("Unsqueeze", {r, b.ints({0})});
        packed = b.op("Squeeze", {b.perm(u, {3, 1, 2, 0, 4}), b.ints({3})});
      }
      Node* gather = b.node("Gather", {packed, b.ints({i}, true)});
      gather->set_attr("axis", int64_t{0});
      part = gather->output(0);
    }
    if (c.k_side_reader && i == 1) g.add_output(b.op("Sigmoid", {part}));
    Value* heads_major = nullptr;
    if (c.dim_outer) {
      Value* split = b.reshape(part, b.cat({b.ints({kSeq}), b.dim(t0, 1), b.ints({kDim, kHeads})}));
      heads_major = b.perm(split, {1, 3, 0, 2});
    } else {
      // q.view(S, B*H, Dh).transpose(0, 1) [then .view(B, H, S, Dh) in torch 2.x]
      Value* split = b.perm(b.reshape(part, b.cat({b.ints({kSeq}), bh, b.ints({kDim})})), {1, 0, 2});
      heads_major = c.legacy ? split : b.reshape(split, b.cat({b.dim(t0, 1), b.ints({kHeads, kSeq, kDim})}));
    }
    qkv.push_back(heads_major);
  }
  // Scaled dot product, as the exporters decompose it; pattern recognition fuses it.
  const size_t rank = c.legacy ? 3 : 4;
  const float s = 1.0f / std::sqrt(std::sqrt(static_cast<float>(kDim)));
  auto scalar = [&](float v) { return g.add_initializer("scale_" + std::to_string(v), Tensor::from_vector<float>(DataType::kFloat32, {}, {v})); };
  Value* q = b.op("Mul", {qkv[0], scalar(s)});
  Value* kt = b.op("Mul", {b.perm(qkv[1], rank == 4 ? std::vector<int64_t>{0, 1, 3, 2} : std::vector<int64_t>{0, 2, 1}), scalar(s)});
  Value* scores = b.op("MatMul", {q, kt});
  if (c.mask) scores = b.op("Add", {scores, g.add_input("mask", DataType::kFloat32, Shape{1, 1, kSeq, kSeq})});
  Node* sm = b.node("Softmax", {scores});
  sm->set_attr("axis", int64_t{-1});
  Value* o = b.op("MatMul", {sm->output(0), qkv[2]});
  if (c.out_side_reader) g.add_output(b.op("Sigmoid", {o}));
  // attn.permute(2, 0, 1, 3).view(B*S, E) [1.13: transpose(0, 1)], out_proj, view(S, B, E)
  Value* rows = b.perm(o, rank == 4 ? std::vector<int64_t>{2, 0, 1, 3} : std::vector<int64_t>{1, 0, 2});
  Value* sb = b.op("Mul", {b.dim(t0, 1), b.dim(t0, 0)});
  rows = b.reshape(rows, b.cat({sb, b.ints({kEmbed})}));
  Node* gemm = b.node("Gemm", {rows, b.floats({kEmbed, kEmbed}), b.floats({kEmbed})});
  gemm->set_attr("transB", int64_t{1});
  Value* out = b.reshape(gemm->output(0), b.cat({b.dim(t0, 0), b.dim(t0, 1), b.dim(gemm->output(0), 1)}));
  if (c.batch_first && !c.no_back_transpose) out = b.perm(out, {1, 0, 2});
  if (c.no_back_transpose) {
    g.add_output(b.op("Sigmoid", {out}));
  } else {
    g.add_output(g.add_node("Add", "residual", {out, x}, 1, {"y"})->output(0));
  }
  return g;
}

std::string lines(const PassReport& r) { return r.to_string(); }

const Node* only_attention(const Graph& g) {
  const Node* a = nullptr;
  for (const Node* n : g.nodes()) {
    if (n->op_type() == "Attention") {
      EXPECT_EQ(a, nullptr) << "more than one Attention";
      a = n;
    }
  }
  return a;
}

// run_passes on `g`, comparing the CPU outputs before and after on batch 1 and 3.
PassReport expect_same_outputs(Graph& g, const PassOptions& options = {}) {
  EXPECT_TRUE(infer_shapes(g).ok());
  auto rng = make_rng(7);
  std::vector<std::vector<NamedTensor>> inputs;
  for (int64_t batch : {1, 3}) inputs.push_back(testing::random_inputs(g, rng, {{"batch", batch}}, 3, -2.0, 2.0));
  PassReport report;
  testing::expect_pass_keeps_outputs(
      g, inputs, [&](Graph& gr) { return run_passes(gr, options, &report); }, 1e-5, [&] { return lines(report); });
  return report;
}

// The pass leaves `c`'s block alone: the graph equals the one built without it, and a `kept`
// line says `why`.
void expect_kept(const Config& c, const std::string& why) {
  auto rng = make_rng(3);
  Graph with = torch_mha(c, rng);
  rng = make_rng(3);
  Graph without = torch_mha(c, rng);
  PassReport r = expect_same_outputs(with);
  PassOptions off;
  off.canonicalize_mha = false;
  ASSERT_TRUE(infer_shapes(without).ok());
  ASSERT_TRUE(run_passes(without, off, nullptr).ok());
  EXPECT_EQ(with.num_nodes(), without.num_nodes()) << lines(r);
  for (const char* op : {"Transpose", "Gather", "Reshape", "Attention", "FusedMatMul", "Gemm", "MatMul"})
    EXPECT_EQ(count_op(with, op), count_op(without, op)) << op;
  EXPECT_NE(lines(r).find(why), std::string::npos) << lines(r);
}

// Packed: Attention(QKV [B,S,3,H,D], <absent>, <absent>, mask?; qkv_packed = 1) reading ONE
// projection of x; otherwise three projections feeding Attention(Q, K, V) of rank `rank`.
void expect_canonical(const Graph& g, const PassReport& r, size_t rank, bool packed) {
  for (const char* op : {"Transpose", "Gather", "Squeeze", "Unsqueeze", "Slice", "Shape", "Concat", "Gemm"})
    EXPECT_EQ(count_op(g, op), 0u) << op << "\n" << lines(r);
  // The QKV projection(s) with their biases, the output projection with bias and residual.
  EXPECT_EQ(count_op(g, "FusedMatMul"), packed ? 2u : 4u) << lines(r);
  EXPECT_EQ(count_op(g, "MatMul"), 0u) << lines(r);
  const Node* a = only_attention(g);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->attr_int("seq_major", 0), 1);
  EXPECT_EQ(a->attr_int("qkv_packed", 0), packed ? 1 : 0);
  EXPECT_EQ(a->input(0)->shape().size(), packed ? 5u : rank);
  EXPECT_EQ(a->input(1) == nullptr, packed);
  EXPECT_EQ(a->input(2) == nullptr, packed);
  EXPECT_EQ(lines(r).find(packed ? "three projections" : "one packed QKV projection"), std::string::npos) << lines(r);
  // The scale pattern recognition found (Q and K^T each times d^-1/4) is kept.
  EXPECT_NEAR(a->attr_float("scale", 0.0f), 1.0 / std::sqrt(static_cast<double>(kDim)), 1e-6);
  for (const Node* n : g.nodes()) {
    if (n->op_type() == "FusedMatMul" && n->output(0)->is_graph_output()) {
      EXPECT_NE(n->input(3), nullptr) << "the residual add fused into the output projection";
    }
  }
}

// Runs the passes; the block must come out with three projections (Attention of rank `rank`)
// for the reason `why`, as the pass reports it.
PassReport expect_three_projections(Graph& g, size_t rank, const std::string& why, const PassOptions& o = {}) {
  PassReport r = expect_same_outputs(g, o);
  expect_canonical(g, r, rank, false);
  EXPECT_NE(lines(r).find("three projections: " + why), std::string::npos) << lines(r);
  return r;
}

// The constant weight [E, N] the FusedMatMul reading `a`'s input 0 (through its Reshape) uses.
const Value* packed_weight(const Node* a) {
  const Node* reshape = a->input(0)->producer();
  if (!reshape || reshape->op_type() != "Reshape") return nullptr;
  const Node* mm = reshape->input(0)->producer();
  return mm && mm->op_type() == "FusedMatMul" ? mm->input(1) : nullptr;
}

TEST(TorchMhaPass, Torch2BatchFirstBecomesPackedSequenceMajor) {
  auto rng = make_rng(1);
  Graph g = torch_mha(Config{}, rng);
  PassReport r = expect_same_outputs(g);
  expect_canonical(g, r, 4, true);
  EXPECT_NE(lines(r).find("mha_canonicalization"), std::string::npos);
  EXPECT_NE(lines(r).find("rewrote the projections"), std::string::npos) << lines(r);
  EXPECT_NE(lines(r).find("one packed QKV projection"), std::string::npos) << lines(r);
  const Node* a = only_attention(g);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->num_inputs(), 3u);
  EXPECT_EQ(a->input(0)->shape(), (Shape{Dim::symbol("batch"), kSeq, 3, kHeads, kDim}));
  EXPECT_EQ(a->output(0)->shape(), (Shape{Dim::symbol("batch"), kSeq, kHeads, kDim}));
  // torch's in_proj weight is [W_q | W_k | W_v] already: the GEMM reads it whole, nothing copied.
  const Value* w = packed_weight(a);
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->shape(), (Shape{kEmbed, 3 * kEmbed}));
  EXPECT_EQ(w->name().find('+'), std::string::npos) << w->name();
  EXPECT_EQ(g.outputs()[0]->name(), "y");
  // LayerNorm, QKV projection, its Reshape view, Attention, the merge Reshape, output projection.
  EXPECT_EQ(g.num_nodes(), 6u) << lines(r);
}

TEST(TorchMhaPass, PackQkvOffKeepsThreeProjections) {
  auto rng = make_rng(1);
  Graph g = torch_mha(Config{}, rng);
  PassOptions o;
  o.pack_qkv = false;
  PassReport r = expect_three_projections(g, 4, "pack_qkv is off", o);
  const Node* a = only_attention(g);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->input(0)->shape(), (Shape{Dim::symbol("batch"), kSeq, kHeads, kDim}));
  EXPECT_EQ(g.num_nodes(), 10u) << lines(r);  // three projections and three Reshapes for one of each
}

TEST(TorchMhaPass, SeqFirstUsesTheRank3Form) {
  Config c;
  c.batch_first = false;
  auto rng = make_rng(2);
  Graph g = torch_mha(c, rng);
  expect_three_projections(g, 3, "x is seq-first");
  const Node* a = only_attention(g);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->input(0)->shape(), (Shape{kSeq, Dim::symbol("batch") * Dim(kHeads), kDim}));
}

TEST(TorchMhaPass, Torch113SlicedProjection) {
  for (bool batch_first : {true, false}) {
    SCOPED_TRACE(batch_first ? "batch_first" : "seq first");
    Config c;
    c.legacy = true;
    c.batch_first = batch_first;
    auto rng = make_rng(3);
    Graph g = torch_mha(c, rng);
    PassReport r = expect_same_outputs(g);
    expect_canonical(g, r, batch_first ? 4 : 3, batch_first);
  }
}

TEST(TorchMhaPass, MaskAndNoBiasAreCarried) {
  for (bool pack : {true, false}) {
    SCOPED_TRACE(pack ? "packed" : "pack_qkv off");
    Config c;
    c.mask = true;
    c.in_bias = false;
    auto rng = make_rng(4);
    Graph g = torch_mha(c, rng);
    PassOptions o;
    o.pack_qkv = pack;
    PassReport r = expect_same_outputs(g, o);
    for (const char* op : {"Transpose", "Gather", "Squeeze", "Unsqueeze", "Shape"}) EXPECT_EQ(count_op(g, op), 0u) << op;
    const Node* a = only_attention(g);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->attr_int("seq_major", 0), 1);
    EXPECT_EQ(a->attr_int("qkv_packed", 0), pack ? 1 : 0);
    ASSERT_EQ(a->num_inputs(), 4u);
    ASSERT_NE(a->input(3), nullptr);
    EXPECT_EQ(a->input(3)->name(), "mask");
  }
}

// ---- BERT-style: separate Q, K, V weights -------------------------------------------------

struct SeparateConfig {
  std::array<bool, 3> bias = {true, true, true};
  bool cross = false;  // K and V project another input (cross-attention)
  int64_t dv = kDim;   // V's head dim
  bool mask = false;   // an additive [batch, 1, 1, S] padding mask input
};

// x [batch, S, E] -> per Q, K, V: MatMul(W [E, H*D]) (+ b) -> Reshape [B,S,H,D] ->
// Transpose(0,2,1,3) -> Attention -> Transpose(0,2,1,3) -> Reshape [B,S,H*Dv] -> MatMul(W_o) + b_o
// -> + x, as BERT exports with its shapes folded.
Graph separate_mha(const SeparateConfig& c, std::mt19937_64& rng) {
  Graph g;
  Builder b(g, rng);
  const Dim batch = Dim::symbol("batch");
  Value* x = g.add_input("x", DataType::kFloat32, Shape{batch, kSeq, kEmbed});
  Value* mem = c.cross ? g.add_input("mem", DataType::kFloat32, Shape{batch, kSeq, kEmbed}) : x;
  std::vector<Value*> qkv;
  for (size_t i = 0; i < 3; ++i) {
    const int64_t d = i == 2 ? c.dv : kDim;
    Value* p = b.op("MatMul", {i == 0 ? x : mem, b.floats({kEmbed, kHeads * d})});
    if (c.bias[i]) p = b.op("Add", {p, b.floats({kHeads * d})});
    qkv.push_back(b.perm(b.reshape(p, b.ints({0, kSeq, kHeads, d})), {0, 2, 1, 3}));
  }
  if (c.mask) qkv.push_back(g.add_input("mask", DataType::kFloat32, Shape{batch, 1, 1, kSeq}));
  Node* attn = b.node("Attention", qkv);
  attn->set_attr("scale", static_cast<float>(1.0 / std::sqrt(static_cast<double>(kDim))));
  Value* o = attn->output(0);
  Value* rows = b.reshape(b.perm(o, {0, 2, 1, 3}), b.ints({0, kSeq, kHeads * c.dv}));
  Value* y = b.op("Add", {b.op("MatMul", {rows, b.floats({kHeads * c.dv, kEmbed})}), b.floats({kEmbed})});
  g.add_output(g.add_node("Add", "residual", {y, x}, 1, {"y"})->output(0));
  return g;
}

TEST(TorchMhaPass, SeparateWeightsAreConcatenated) {
  for (bool mask : {false, true}) {
    SCOPED_TRACE(mask ? "mask" : "no mask");
    SeparateConfig c;
    c.mask = mask;
    auto rng = make_rng(6);
    Graph g = separate_mha(c, rng);
    std::vector<Tensor> w, bias;  // the sources, in graph order: W_q, b_q, W_k, ...
    for (const Node* n : g.nodes()) {
      if (n->op_type() == "MatMul" && n->input(1)->shape()[1] == Dim(kEmbed) && n->input(0)->name() == "x")
        w.push_back(*n->input(1)->constant());
      if (n->op_type() == "Add" && n->input(1)->constant() && w.size() > bias.size()) bias.push_back(*n->input(1)->constant());
    }
    ASSERT_EQ(w.size(), 3u);
    ASSERT_EQ(bias.size(), 3u);
    PassReport r = expect_same_outputs(g);
    expect_canonical(g, r, 4, true);
    const Node* a = only_attention(g);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->num_inputs(), mask ? 4u : 3u);
    const Node* proj = a->input(0)->producer()->input(0)->producer();
    ASSERT_EQ(proj->op_type(), "FusedMatMul");
    const Tensor& packed = *proj->input(1)->constant();
    ASSERT_EQ(packed.shape(), (std::vector<int64_t>{kEmbed, 3 * kEmbed}));
    for (int64_t row = 0; row < kEmbed; ++row)
      for (int64_t col = 0; col < 3 * kEmbed; ++col)
        ASSERT_EQ(packed.data<float>()[row * 3 * kEmbed + col],
                  w[static_cast<size_t>(col / kEmbed)].data<float>()[row * kEmbed + col % kEmbed]);
    const Tensor& pb = *proj->input(2)->constant();
    ASSERT_EQ(pb.numel(), 3 * kEmbed);
    for (int64_t col = 0; col < 3 * kEmbed; ++col)
      ASSERT_EQ(pb.data<float>()[col], bias[static_cast<size_t>(col / kEmbed)].data<float>()[col % kEmbed]);
  }
}

TEST(TorchMhaPass, AMissingBiasPacksAsZeros) {
  SeparateConfig c;
  c.bias = {true, false, true};  // Whisper's k_proj has no bias
  auto rng = make_rng(7);
  Graph g = separate_mha(c, rng);
  PassReport r = expect_same_outputs(g);
  expect_canonical(g, r, 4, true);
  const Node* a = only_attention(g);
  ASSERT_NE(a, nullptr);
  const Node* proj = a->input(0)->producer()->input(0)->producer();
  ASSERT_EQ(proj->op_type(), "FusedMatMul");
  ASSERT_NE(proj->input(2), nullptr);
  const Tensor& pb = *proj->input(2)->constant();
  ASSERT_EQ(pb.numel(), 3 * kEmbed);
  for (int64_t col = kEmbed; col < 2 * kEmbed; ++col) EXPECT_EQ(pb.data<float>()[col], 0.0f) << col;
  EXPECT_NE(proj->input(2)->name().find("zeros"), std::string::npos) << proj->input(2)->name();
}

TEST(TorchMhaPass, CrossAttentionKeepsThreeProjections) {
  SeparateConfig c;
  c.cross = true;
  auto rng = make_rng(8);
  Graph g = separate_mha(c, rng);
  expect_three_projections(g, 4, "Q, K and V are projected from different tensors");
}

TEST(TorchMhaPass, OtherValueDimKeepsThreeProjections) {
  SeparateConfig c;
  c.dv = kDim / 2;
  auto rng = make_rng(9);
  Graph g = separate_mha(c, rng);
  expect_three_projections(g, 4, "the head dims differ (Q 8, K 8, V 4)");
}

TEST(TorchMhaPass, DeferredHalfWeightsStayDeferred) {
  // Run after precision conversion (the builder does not, but the weights it splits may then be
  // marked for the writer): the split columns stay marked, with the fp32 source's values.
  auto rng = make_rng(5);
  Graph g = torch_mha(Config{}, rng);
  ASSERT_TRUE(infer_shapes(g).ok());
  PassOptions before;
  before.canonicalize_mha = before.fuse_epilogues = before.fuse_elementwise = before.seq_major_attention = false;
  ASSERT_TRUE(run_passes(g, before, nullptr).ok());
  PrecisionOptions po;
  po.eager_weight_bytes = 0;
  ASSERT_TRUE(convert_precision(g, Precision::kFp16, po).ok());
  const Value* w_in = nullptr;
  for (const Node* n : g.nodes()) {
    if (n->op_type() == "MatMul" && n->input(1)->constant() && n->input(1)->shape()[1] == Dim(3 * kEmbed)) w_in = n->input(1);
  }
  ASSERT_NE(w_in, nullptr);
  ASSERT_TRUE(is_deferred_conversion(*w_in));
  const Tensor src = *w_in->constant();
  PassStats st;
  Status s = canonicalize_mha(g, &st, /*pack_qkv=*/false);
  ASSERT_TRUE(s.ok()) << s.to_string();
  const Node* a = only_attention(g);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->attr_int("seq_major", 0), 1);
  size_t split = 0;
  for (const Node* n : g.nodes()) {
    if (n->op_type() != "MatMul" || !n->input(1)->constant() || n->input(1)->shape()[1] != Dim(kEmbed)) continue;
    const Value* w = n->input(1);
    if (w->name().find("/cols") == std::string::npos) continue;
    ++split;
    EXPECT_TRUE(is_deferred_conversion(*w)) << w->name();
    EXPECT_EQ(w->dtype(), DataType::kFloat16);
    const int64_t c0 = std::stoll(w->name().substr(w->name().find("/cols") + 5));  // ".../cols16_32"
    for (int64_t r = 0; r < kEmbed; ++r)
      for (int64_t j = 0; j < kEmbed; ++j)
        ASSERT_EQ(w->constant()->data<float>()[r * kEmbed + j], src.data<float>()[r * 3 * kEmbed + c0 + j]);
  }
  EXPECT_EQ(split, 3u);
}

TEST(TorchMhaPass, DeferredHalfWeightsStayDeferredWhenPacked) {
  // The packed projection of torch's in_proj reads W_in itself, still marked for the writer; a
  // concatenation of separate weights is marked like them.
  for (bool separate : {false, true}) {
    SCOPED_TRACE(separate ? "separate weights" : "torch in_proj");
    auto rng = make_rng(5);
    Graph g = separate ? separate_mha(SeparateConfig{}, rng) : torch_mha(Config{}, rng);
    ASSERT_TRUE(infer_shapes(g).ok());
    PassOptions before;
    before.canonicalize_mha = before.fuse_epilogues = before.fuse_elementwise = before.seq_major_attention = false;
    ASSERT_TRUE(run_passes(g, before, nullptr).ok());
    PrecisionOptions po;
    po.eager_weight_bytes = 0;
    ASSERT_TRUE(convert_precision(g, Precision::kFp16, po).ok());
    std::vector<std::pair<const Value*, Tensor>> sources;  // the projection weights reading x
    for (const Node* n : g.nodes()) {
      const Value* w = n->op_type() == "MatMul" ? n->input(1) : nullptr;
      const Node* from = w ? n->input(0)->producer() : nullptr;
      if (w && w->constant() && w->shape()[0] == Dim(kEmbed) && (!from || from->op_type() != "Reshape"))
        sources.push_back({w, *w->constant()});
    }
    ASSERT_EQ(sources.size(), separate ? 3u : 1u);
    PassStats st;
    Status s = canonicalize_mha(g, &st);
    ASSERT_TRUE(s.ok()) << s.to_string();
    const Node* a = only_attention(g);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->attr_int("qkv_packed", 0), 1);
    const Node* proj = a->input(0)->producer()->input(0)->producer();
    if (proj->op_type() == "Add") proj = proj->input(0)->producer();
    ASSERT_EQ(proj->op_type(), "MatMul");
    const Value* w = proj->input(1);
    EXPECT_TRUE(is_deferred_conversion(*w)) << w->name();
    EXPECT_EQ(w->dtype(), DataType::kFloat16);
    if (!separate) {
      EXPECT_EQ(w, sources[0].first);
      continue;
    }
    for (int64_t r = 0; r < kEmbed; ++r)
      for (int64_t j = 0; j < 3 * kEmbed; ++j)
        ASSERT_EQ(w->constant()->data<float>()[r * 3 * kEmbed + j],
                  sources[static_cast<size_t>(j / kEmbed)].second.data<float>()[r * kEmbed + j % kEmbed]);
  }
}

TEST(TorchMhaPass, OtherReaderOfAnIntermediateKeepsTheBlock) {
  Config c;
  c.k_side_reader = true;
  expect_kept(c, "is also read by");
}

TEST(TorchMhaPass, NonConstantWeightKeepsTheBlock) {
  Config c;
  c.weight_input = true;
  expect_kept(c, "not a constant matrix");
}

TEST(TorchMhaPass, ColumnsNotHeadsThenDimKeepTheBlock) {
  Config c;
  c.dim_outer = true;
  expect_kept(c, "not contiguous [heads, dim] columns");
}

TEST(TorchMhaPass, OtherReaderOfTheOutputKeepsTheBlock) {
  Config c;
  c.out_side_reader = true;
  expect_kept(c, "has other readers");
}

TEST(TorchMhaPass, OutputNotInTheInputsLayoutKeepsTheBlock) {
  Config c;
  c.no_back_transpose = true;
  expect_kept(c, "never has x's layout");
}

// The exported ViT-B/16 (torch 1.13, scripts/export_models.py): too slow for the reference
// backend here, so the op counts only. Every attention block is rewritten; the one Transpose left
// is the patch gather of the stem (patchify_conv).
TEST(TorchMhaPass, CachedVitHasNoActivationTransposes) {
  const std::string path = testing::model_cache() + "/vit_b_16/model.onnx";
  if (testing::model_cache().empty() || !std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  Result<Graph> g = import_onnx_file(path);
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  PassReport r;
  ASSERT_TRUE(run_passes(*g, PassOptions{}, &r).ok());
  std::printf("vit_b_16 nodes %zu -> %zu: Attention=%zu FusedMatMul=%zu Transpose=%zu Reshape=%zu\n", r.nodes_before,
              r.nodes_after, count_op(*g, "Attention"), count_op(*g, "FusedMatMul"), count_op(*g, "Transpose"),
              count_op(*g, "Reshape"));
  EXPECT_EQ(count_op(*g, "Attention"), 12u);
  for (const Node* n : g->nodes()) {
    if (n->op_type() == "Attention") {
      EXPECT_EQ(n->attr_int("seq_major", 0), 1) << n->name();
      EXPECT_EQ(n->attr_int("qkv_packed", 0), 1) << n->name();
    }
    if (n->op_type() == "Transpose") {
      EXPECT_EQ(n->input(0)->shape().size(), 6u) << n->name() << " transposes an activation";
    }
  }
  for (const char* op : {"Slice", "Squeeze", "Conv"}) EXPECT_EQ(count_op(*g, op), 0u) << op;
  EXPECT_EQ(count_op(*g, "Transpose"), 1u) << lines(r);
  EXPECT_EQ(count_op(*g, "Gemm"), 1u);                // the classification head
  EXPECT_EQ(count_op(*g, "FusedMatMul"), 12u * 4 + 1);  // packed QKV, out, FFN x2 per layer; the stem
}

}  // namespace
}  // namespace slimrt
