// Symbolic shape propagation through exporter-style shape subgraphs: graphs built by hand with
// dynamic batch and seq, asserting every intermediate shape is expressed in batch and seq, then
// run on the CPU backend to check the concrete shapes agree with the symbolic ones.
#include <gtest/gtest.h>

#include <limits>
#include <map>

#include "slimrt/backend.h"
#include "slimrt/graph.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

using testing::make_rng;
using testing::random_tensor;

const Dim kBatch = Dim::symbol("batch");
const Dim kSeq = Dim::symbol("seq");

Tensor i64(std::vector<int64_t> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::from_vector<int64_t>(DataType::kInt64, {n}, v);
}
Tensor scalar_i64(int64_t v) { return Tensor::from_vector<int64_t>(DataType::kInt64, {}, {v}); }

// A graph under construction with terse helpers for one-output nodes.
class Builder {
 public:
  Graph g;
  Value* node(const std::string& op, std::vector<Value*> in, std::vector<std::pair<std::string, Attribute>> attrs = {}) {
    Node* n = g.add_node(op, op + std::to_string(count_++), in, 1);
    for (auto& [k, v] : attrs) n->set_attr(k, v);
    return n->output(0);
  }
  std::vector<Value*> node_n(const std::string& op, std::vector<Value*> in, size_t outs,
                             std::vector<std::pair<std::string, Attribute>> attrs = {}) {
    Node* n = g.add_node(op, op + std::to_string(count_++), in, outs);
    for (auto& [k, v] : attrs) n->set_attr(k, v);
    return n->outputs();
  }
  Value* constant(Tensor t) { return g.add_initializer("c" + std::to_string(count_++), std::move(t)); }
  Value* ints(std::vector<int64_t> v) { return constant(i64(std::move(v))); }

 private:
  int count_ = 0;
};

void expect_shape(const Value* v, const Shape& want) {
  ASSERT_TRUE(v->has_shape()) << v->name();
  EXPECT_EQ(shape_to_string(v->shape()), shape_to_string(want)) << v->name();
}

void expect_value(const Value* v, const std::vector<Dim>& want) {
  ASSERT_NE(v->known_value(), nullptr) << v->name();
  EXPECT_EQ(shape_to_string(*v->known_value()), shape_to_string(want)) << v->name();
}

// Concrete shape of a symbolic one for batch=2, seq=5.
std::vector<int64_t> concrete(const Shape& s) {
  std::vector<int64_t> out;
  for (const Dim& d : s) out.push_back(*dim_substitute(d, {{"batch", 2}, {"seq", 5}}).value());
  return out;
}

// Runs the graph with batch=2, seq=5 and checks each graph output's concrete shape.
void run_and_check_shapes(Graph& g) {
  auto rng = make_rng();
  std::vector<NamedTensor> feeds;
  for (const Value* in : g.inputs()) {
    if (in->constant()) continue;
    feeds.push_back({in->name(), random_tensor(in->dtype(), concrete(in->shape()), rng, 0, 2)});
  }
  auto backend = create_backend("cpu");
  ASSERT_TRUE(backend.ok());
  auto exe = backend.value()->prepare(g);
  ASSERT_TRUE(exe.ok()) << exe.status().to_string();
  std::vector<NamedTensor> outs;
  RunOptions opts;
  opts.poison_outputs = true;
  Status s = exe.value()->run(feeds, &outs, opts);
  ASSERT_TRUE(s.ok()) << s.to_string();
  ASSERT_EQ(outs.size(), g.outputs().size());
  for (size_t i = 0; i < outs.size(); ++i) {
    const Value* v = g.outputs()[i];
    bool data_dependent = false;
    for (const Dim& d : v->shape()) {
      for (const std::string& sym : d.symbols()) data_dependent |= sym != "batch" && sym != "seq";
    }
    if (!data_dependent) {
      EXPECT_EQ(outs[i].tensor.shape(), concrete(v->shape())) << v->name();
    }
  }
}

// The attention reshape chain GPT-2 exports, using only tensor-family ops.
TEST(SymbolicShapes, Gpt2AttentionReshapeChain) {
  auto rng = make_rng();
  Builder b;
  Value* x = b.g.add_input("x", DataType::kFloat32, Shape{kBatch, kSeq, 2304});
  Value* ids = b.g.add_input("ids", DataType::kInt64, Shape{kBatch, kSeq});
  Value* wpe = b.constant(random_tensor(DataType::kFloat32, {16, 8}, rng));

  auto qkv = b.node_n("Split", {x}, 3, {{"axis", int64_t{2}}, {"num_outputs", int64_t{3}}});
  Value* shape_q = b.node("Shape", {qkv[0]});
  Value* front = b.node("Slice", {shape_q, b.ints({0}), b.ints({-1})});        // [batch, seq]
  Value* heads = b.node("Concat", {front, b.ints({12, 64})}, {{"axis", int64_t{0}}});
  Value* q = b.node("Reshape", {qkv[0], heads});
  Value* qt = b.node("Transpose", {q}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  Value* kt = b.node("Transpose", {b.node("Reshape", {qkv[1], heads})}, {{"perm", std::vector<int64_t>{0, 2, 3, 1}}});
  // Merge heads back: Shape(qt)[:-2] ++ [768] after transposing back.
  Value* back = b.node("Transpose", {qt}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  Value* merged_shape = b.node("Concat", {b.node("Slice", {b.node("Shape", {back}), b.ints({0}), b.ints({-2})}), b.ints({-1})},
                               {{"axis", int64_t{0}}});
  Value* merged = b.node("Reshape", {back, merged_shape});

  // Position ids: Range(0, seq) unsqueezed, gathered from the position table, expanded.
  Value* shape_ids = b.node("Shape", {ids});
  Value* seq = b.node("Gather", {shape_ids, b.constant(scalar_i64(-1))});
  Value* pos = b.node("Range", {b.constant(scalar_i64(0)), seq, b.constant(scalar_i64(1))});
  Value* pos2 = b.node("Unsqueeze", {pos, b.ints({0})});
  Value* pos_b = b.node("Expand", {pos2, shape_ids});
  Value* pos_emb = b.node("Gather", {wpe, pos2});
  // Causal mask: ConstantOfShape([seq, seq]) -> Trilu.
  Value* seq1 = b.node("Unsqueeze", {seq, b.ints({0})});
  Value* square = b.node("Concat", {seq1, seq1}, {{"axis", int64_t{0}}});
  Tensor one = Tensor::from_vector<uint8_t>(DataType::kBool, {1}, {1});
  Value* causal = b.node("Trilu", {b.node("ConstantOfShape", {square}, {{"value", one}})}, {{"upper", int64_t{0}}});
  // Last token: x[:, -1:, :] and x[:, :-1]; past ++ current.
  Value* last = b.node("Slice", {x, b.ints({-1}), b.ints({std::numeric_limits<int64_t>::max()}), b.ints({1})});
  Value* head = b.node("Slice", {x, b.ints({0}), b.ints({-1}), b.ints({1})});
  Value* total = b.node("Concat", {head, last}, {{"axis", int64_t{1}}});
  Value* flat = b.node("Flatten", {qkv[2]}, {{"axis", int64_t{2}}});
  Value* tokens = b.node("Reshape", {qkv[2], b.ints({-1, 768})});
  Value* same = b.node("Reshape", {qkv[2], b.ints({0, 0, -1})});
  Value* size = b.node("Size", {ids});
  Value* tiled = b.node("Tile", {pos2, b.node("Concat", {b.node("Unsqueeze", {b.node("Gather", {shape_ids, b.constant(scalar_i64(0))}), b.ints({0})}), b.ints({1})}, {{"axis", int64_t{0}}})});
  Value* nz = b.node("NonZero", {ids});
  Value* squeezed = b.node("Squeeze", {b.node("Unsqueeze", {qt, b.ints({-1})}), b.ints({4})});
  for (Value* v : {q, qt, kt, merged, pos_b, pos_emb, causal, last, head, total, flat, tokens, same, tiled, nz, squeezed})
    b.g.add_output(v);

  Status s = infer_shapes(b.g);
  ASSERT_TRUE(s.ok()) << s.to_string();
  for (Value* v : qkv) expect_shape(v, {kBatch, kSeq, 768});
  expect_value(shape_q, {kBatch, kSeq, 768});
  expect_value(front, {kBatch, kSeq});
  expect_value(heads, {kBatch, kSeq, 12, 64});
  expect_shape(q, {kBatch, kSeq, 12, 64});
  expect_shape(qt, {kBatch, 12, kSeq, 64});
  expect_shape(kt, {kBatch, 12, 64, kSeq});
  expect_value(merged_shape, {kBatch, kSeq, -1});
  expect_shape(merged, {kBatch, kSeq, 768});
  expect_value(seq, {kSeq});
  expect_shape(seq, {});
  expect_shape(pos, {kSeq});
  expect_shape(pos2, {1, kSeq});
  expect_shape(pos_b, {kBatch, kSeq});
  expect_shape(pos_emb, {1, kSeq, 8});
  expect_shape(causal, {kSeq, kSeq});
  expect_shape(last, {kBatch, 1, 2304});
  expect_shape(head, {kBatch, kSeq - Dim(1), 2304});
  expect_shape(total, {kBatch, (kSeq - Dim(1)) + Dim(1), 2304});
  expect_shape(flat, {kBatch * kSeq, 768});
  expect_shape(tokens, {kBatch * kSeq, 768});
  expect_shape(same, {kBatch, kSeq, 768});
  expect_value(size, {kBatch * kSeq});
  expect_shape(tiled, {kBatch, kSeq});
  ASSERT_EQ(nz->rank(), 2);  // data-dependent count: a fresh symbol
  EXPECT_EQ(nz->shape()[0], Dim(2));
  EXPECT_FALSE(nz->shape()[1].is_static());
  expect_shape(squeezed, {kBatch, 12, kSeq, 64});
  run_and_check_shapes(b.g);
}

// A BERT-like self-attention block, using other families' ops (MatMul, Add, Div, Softmax,
// Cast, Sub, Mul) around the tensor-family shape subgraph.
TEST(SymbolicShapes, BertSelfAttention) {
  auto rng = make_rng();
  Builder b;
  Value* x = b.g.add_input("x", DataType::kFloat32, Shape{kBatch, kSeq, 64});
  Value* mask = b.g.add_input("mask", DataType::kInt64, Shape{kBatch, kSeq});
  Value* shape_x = b.node("Shape", {x});
  Value* bsz = b.node("Unsqueeze", {b.node("Gather", {shape_x, b.constant(scalar_i64(0))}), b.ints({0})});
  Value* len = b.node("Unsqueeze", {b.node("Gather", {shape_x, b.constant(scalar_i64(1))}), b.ints({0})});
  Value* split_shape = b.node("Concat", {bsz, len, b.ints({4}), b.ints({16})}, {{"axis", int64_t{0}}});
  auto project = [&](const char* name) {
    Value* w = b.constant(random_tensor(DataType::kFloat32, {64, 64}, rng));
    Value* bias = b.constant(random_tensor(DataType::kFloat32, {64}, rng));
    Value* y = b.node("Add", {b.node("MatMul", {x, w}), bias});
    (void)name;
    return b.node("Reshape", {y, split_shape});
  };
  Value* q = b.node("Transpose", {project("q")}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  Value* k = b.node("Transpose", {project("k")}, {{"perm", std::vector<int64_t>{0, 2, 3, 1}}});
  Value* v = b.node("Transpose", {project("v")}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  Value* scores = b.node("Div", {b.node("MatMul", {q, k}), b.constant(Tensor::from_vector<float>(DataType::kFloat32, {}, {4.0f}))});
  Value* m = b.node("Cast", {b.node("Unsqueeze", {mask, b.ints({1, 2})})}, {{"to", static_cast<int64_t>(DataType::kFloat32)}});
  Value* one = b.constant(Tensor::from_vector<float>(DataType::kFloat32, {}, {1.0f}));
  Value* neg = b.constant(Tensor::from_vector<float>(DataType::kFloat32, {}, {-10000.0f}));
  Value* bias = b.node("Mul", {b.node("Sub", {one, m}), neg});
  Value* probs = b.node("Softmax", {b.node("Add", {scores, bias})}, {{"axis", int64_t{-1}}});
  Value* ctx = b.node("Transpose", {b.node("MatMul", {probs, v})}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  Value* merge_shape = b.node("Concat", {bsz, len, b.ints({64})}, {{"axis", int64_t{0}}});
  Value* out = b.node("Reshape", {ctx, merge_shape});
  b.g.add_output(out);
  b.g.add_output(probs);

  Status s = infer_shapes(b.g);
  ASSERT_TRUE(s.ok()) << s.to_string();
  expect_value(split_shape, {kBatch, kSeq, 4, 16});
  expect_shape(q, {kBatch, 4, kSeq, 16});
  expect_shape(k, {kBatch, 4, 16, kSeq});
  expect_shape(scores, {kBatch, 4, kSeq, kSeq});
  expect_shape(m, {kBatch, 1, 1, kSeq});
  expect_shape(probs, {kBatch, 4, kSeq, kSeq});
  expect_shape(ctx, {kBatch, kSeq, 4, 16});
  expect_value(merge_shape, {kBatch, kSeq, 64});
  expect_shape(out, {kBatch, kSeq, 64});
  run_and_check_shapes(b.g);
}

// Value propagation through the less common shape ops, and slicing patterns exporters emit.
TEST(SymbolicShapes, ValuesThroughSplitSqueezeRangeAndSlices) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  Builder b;
  Value* x = b.g.add_input("x", DataType::kFloat32, Shape{kBatch, kSeq, 6});
  Value* shape = b.node("Shape", {x});
  auto parts = b.node_n("Split", {shape, b.ints({1, 2})}, 2);
  Value* seq = b.node("Squeeze", {b.node("Slice", {parts[1], b.ints({0}), b.ints({1})}), b.ints({0})});
  Value* tail = b.node("Shape", {x}, {{"start", int64_t{-2}}});
  Value* size = b.node("Size", {x});
  Value* range2 = b.node("Range", {b.constant(scalar_i64(0)), seq, b.constant(scalar_i64(2))});
  Value* small = b.node("Range", {b.constant(scalar_i64(1)), b.constant(scalar_i64(7)), b.constant(scalar_i64(2))});
  Value* ones = b.node("ConstantOfShape", {b.ints({3})}, {{"value", i64({1})}});
  Value* tiled = b.node("Tile", {parts[0], b.ints({2})});
  Value* expanded = b.node("Expand", {b.constant(i64({7})), b.ints({3})});
  Value* flipped = b.node("Slice", {x, b.ints({-1}), b.ints({-kMax}), b.ints({1}), b.ints({-1})});
  Value* reversed = b.node("Slice", {x, b.ints({kMax}), b.ints({std::numeric_limits<int64_t>::min()}), b.ints({-2}), b.ints({-1})});
  Value* every2 = b.node("Slice", {x, b.ints({0}), b.ints({kMax}), b.ints({-1}), b.ints({2})});
  Value* past = b.node("Slice", {x, b.node("Unsqueeze", {seq, b.ints({0})}), b.ints({kMax}), b.ints({1})});
  Value* from2 = b.node("Slice", {x, b.ints({2}), b.ints({kMax}), b.ints({1})});
  Value* hidden = b.node("Gather", {shape, b.ints({-1, 0})});
  Status s = infer_shapes(b.g);
  ASSERT_TRUE(s.ok()) << s.to_string();
  expect_value(parts[0], {kBatch});
  expect_value(parts[1], {kSeq, 6});
  expect_value(seq, {kSeq});
  expect_shape(seq, {});
  expect_value(tail, {kSeq, 6});
  expect_value(size, {Dim(6) * kBatch * kSeq});
  ASSERT_EQ(range2->rank(), 1);  // ceil(seq / 2) is not a monomial: a fresh symbol
  EXPECT_FALSE(range2->shape()[0].is_static());
  expect_shape(small, {3});
  expect_value(small, {1, 3, 5});
  expect_value(ones, {1, 1, 1});
  expect_value(tiled, {kBatch, kBatch});
  expect_value(expanded, {7, 7, 7});
  expect_shape(flipped, {kBatch, kSeq, 6});
  expect_shape(reversed, {kBatch, kSeq, 6});
  expect_shape(every2, {kBatch, kSeq, 3});
  expect_shape(past, {kBatch, 0, 6});  // x[:, seq:] is empty
  expect_shape(from2, {kBatch, kSeq - Dim(2), 6});
  expect_value(hidden, {6, kBatch});
}

// With the CPU constant evaluator, static shape subgraphs fold to constants.
TEST(SymbolicShapes, StaticShapeSubgraphsFold) {
  Builder b;
  Value* x = b.g.add_input("x", DataType::kFloat32, Shape{2, 3, 4});
  Value* w = b.constant(Tensor::allocate(DataType::kFloat32, {5, 12}).value());
  Value* shape = b.node("Shape", {w});
  Value* cols = b.node("Gather", {shape, b.constant(scalar_i64(1))});
  Value* target = b.node("Concat", {b.ints({-1}), b.node("Unsqueeze", {cols, b.ints({0})})}, {{"axis", int64_t{0}}});
  Value* y = b.node("Reshape", {x, target});
  b.g.add_output(y);
  auto eval = make_cpu_constant_evaluator();
  ShapeInferenceOptions opts;
  opts.evaluator = eval.get();
  Status s = infer_shapes(b.g, opts);
  ASSERT_TRUE(s.ok()) << s.to_string();
  ASSERT_NE(target->constant(), nullptr);
  EXPECT_EQ(target->constant()->to_int64_vector(), (std::vector<int64_t>{-1, 12}));
  expect_shape(y, {2, 12});
  EXPECT_EQ(y->constant(), nullptr);  // a graph output stays computed at run time
}

// Shape-like inputs whose values are unknown still give the output rank.
TEST(SymbolicShapes, UnknownShapeValuesGiveFreshDims) {
  Builder b;
  Value* x = b.g.add_input("x", DataType::kFloat32, Shape{kBatch, kSeq, 768});
  Value* target = b.g.add_input("target", DataType::kInt64, Shape{4});
  Value* r = b.node("Reshape", {x, target});
  Value* e = b.node("Expand", {b.g.add_input("y", DataType::kFloat32, Shape{3, 1}), target});
  Value* c = b.node("ConstantOfShape", {target});
  Value* t = b.node("Tile", {x, b.g.add_input("reps", DataType::kInt64, Shape{3})});
  Status s = infer_shapes(b.g);
  ASSERT_TRUE(s.ok()) << s.to_string();
  ASSERT_EQ(r->rank(), 4);
  for (const Dim& d : r->shape()) EXPECT_FALSE(d.is_static());
  ASSERT_EQ(e->rank(), 4);
  EXPECT_EQ(e->shape()[2], Dim(3));  // the static 3 survives any broadcast
  EXPECT_FALSE(e->shape()[3].is_static());
  EXPECT_EQ(c->rank(), 4);
  EXPECT_EQ(c->dtype(), DataType::kFloat32);
  EXPECT_EQ(t->rank(), 3);
}

TEST(SymbolicShapes, InconsistentReshapeNamesNodeAndShapes) {
  Builder b;
  Value* x = b.g.add_input("x", DataType::kFloat32, Shape{kBatch, 10});
  b.node("Reshape", {x, b.ints({0, 3, -1})});
  Status s = infer_shapes(b.g);
  // batch*10 / (batch*3) is not exact: the -1 stays symbolic rather than erroring...
  ASSERT_TRUE(s.ok()) << s.to_string();
  Builder c;
  Value* y = c.g.add_input("y", DataType::kFloat32, Shape{4, 10});
  c.node("Reshape", {y, c.ints({3, -1})});
  s = infer_shapes(c.g);
  // ...but all-static shapes that do not divide are an error naming the node and input shapes.
  EXPECT_EQ(s.code(), StatusCode::kShapeError);
  EXPECT_NE(s.message().find("(Reshape): cannot infer output shape: cannot reshape [4,10] to [3,-1]"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("'y' float32[4,10]"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace slimrt

namespace slimrt {
namespace {

// torch.arange(seq) exports as Range(0.0, Cast<float>(Gather(Shape(x), 1)), 1.0), and
// x.expand(batch, -1, -1) as Expand(x, Where(Equal(shape, -1), Shape(x), shape)). Both must keep
// batch and seq rather than fall back to fresh run-time dims.
TEST(SymbolicShapes, FloatArangeAndExpandMinusOne) {
  Builder b;
  Value* ids = b.g.add_input("ids", DataType::kInt64, Shape{kBatch, kSeq});
  Value* shape = b.node("Shape", {ids});
  Value* seq = b.node("Gather", {shape, b.constant(scalar_i64(1))}, {{"axis", int64_t{0}}});
  Value* seq_f = b.node("Cast", {seq}, {{"to", static_cast<int64_t>(DataType::kFloat32)}});
  Value* zero = b.constant(Tensor::from_vector<float>(DataType::kFloat32, {}, {0.0f}));
  Value* one = b.constant(Tensor::from_vector<float>(DataType::kFloat32, {}, {1.0f}));
  Value* pos = b.node("Range", {zero, seq_f, one});
  Value* pos3 = b.node("Unsqueeze", {pos, b.ints({0, 2})});                   // [1, seq, 1]
  Value* target = b.node("Concat", {b.node("Unsqueeze", {b.node("Gather", {shape, b.constant(scalar_i64(0))}), b.ints({0})}),
                                    b.ints({-1, -1})}, {{"axis", int64_t{0}}});  // [batch, -1, -1]
  Value* keep = b.node("Equal", {target, b.ints({-1, -1, -1})});
  Value* dims = b.node("Where", {keep, b.node("Shape", {pos3}), target});
  Value* expanded = b.node("Expand", {pos3, dims});
  b.g.add_output(expanded);
  ASSERT_TRUE(infer_shapes(b.g).ok());
  expect_value(seq_f, {kSeq});
  expect_shape(pos, {kSeq});
  expect_value(keep, {Dim(0), Dim(1), Dim(1)});
  expect_shape(expanded, {kBatch, kSeq, Dim(1)});

  auto exe = create_backend("cpu").value()->prepare(b.g);
  ASSERT_TRUE(exe.ok());
  auto rng = make_rng();
  std::vector<NamedTensor> outs;
  ASSERT_TRUE(exe.value()->run({{"ids", random_tensor(DataType::kInt64, {2, 5}, rng, 0, 9)}}, &outs).ok());
  ASSERT_EQ(outs[0].tensor.shape(), (std::vector<int64_t>{2, 5, 1}));
  for (int64_t bi = 0; bi < 2; ++bi) {
    for (int64_t s = 0; s < 5; ++s) EXPECT_EQ(outs[0].tensor.data<float>()[bi * 5 + s], static_cast<float>(s));
  }
}

// A float Range whose bounds are not exact integers keeps a fresh dim at build time and gets the
// exact length at run time; an int -> float Cast of a value too large for float32 drops it.
TEST(SymbolicShapes, InexactFloatValuesAreNotPropagated) {
  Builder b;
  Value* x = b.g.add_input("x", DataType::kFloat32, Shape{kSeq});
  Value* half = b.constant(Tensor::from_vector<float>(DataType::kFloat32, {}, {0.5f}));
  Value* limit = b.node("Cast", {b.node("Gather", {b.node("Shape", {x}), b.constant(scalar_i64(0))})},
                        {{"to", static_cast<int64_t>(DataType::kFloat32)}});
  Value* r = b.node("Range", {half, limit, b.constant(Tensor::from_vector<float>(DataType::kFloat32, {}, {1.0f}))});
  Value* big = b.node("Cast", {b.constant(scalar_i64((int64_t{1} << 24) + 1))}, {{"to", static_cast<int64_t>(DataType::kFloat32)}});
  b.g.add_output(r);
  b.g.add_output(big);
  ASSERT_TRUE(infer_shapes(b.g).ok());
  ASSERT_TRUE(r->has_shape());
  EXPECT_FALSE(r->shape()[0].is_static());
  EXPECT_NE(r->shape()[0], kSeq);
  EXPECT_EQ(big->known_value(), nullptr);
  auto exe = create_backend("cpu").value()->prepare(b.g);
  std::vector<NamedTensor> outs;
  auto rng = make_rng();
  ASSERT_TRUE(exe.value()->run({{"x", random_tensor(DataType::kFloat32, {4}, rng)}}, &outs).ok());
  EXPECT_EQ(outs[0].tensor.shape(), (std::vector<int64_t>{4}));  // 0.5, 1.5, 2.5, 3.5
  EXPECT_EQ(outs[0].tensor.data<float>()[3], 3.5f);
}

}  // namespace
}  // namespace slimrt
