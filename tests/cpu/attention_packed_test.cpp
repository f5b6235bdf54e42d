// The packed-QKV form of Attention (qkv_packed = 1, src/ir/ops/fused_pattern.cpp): QKV
// [B, S, 3, H, D] with inputs 1 and 2 absent. On fresh random inputs (fp32 and fp16, odd sizes,
// with and without masks, causal) the CPU reference must give exactly what the unpacked
// sequence-major and heads-major forms give when fed the slices of the same data; outputs are
// poisoned before every run (run_single_op). Malformed packed nodes fail shape inference naming
// what is wrong, and a packed node (absent middle inputs included) round-trips through an engine.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "engine_test_util.h"
#include "slimrt/backend.h"
#include "slimrt/builder/onnx_importer.h"
#include "slimrt/builder/passes.h"
#include "slimrt/graph.h"
#include "slimrt/npy.h"
#include "support/model_cache.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

using testing::make_rng;
using testing::random_tensor;
using testing::run_single_op;

using Attrs = std::vector<std::pair<std::string, Attribute>>;

constexpr int64_t kB = 2, kS = 7, kH = 3, kD = 20;

// Part p of QKV [B, S, 3, H, D]: sequence-major [B, S, H, D], or heads-major [B, H, S, D].
Tensor slice(const Tensor& qkv, int64_t p, bool heads_major) {
  const int64_t b = qkv.dim(0), s = qkv.dim(1), h = qkv.dim(3), d = qkv.dim(4);
  Tensor out = Tensor::allocate(qkv.dtype(), heads_major ? std::vector<int64_t>{b, h, s, d} : std::vector<int64_t>{b, s, h, d}).value();
  const size_t es = dtype_size(qkv.dtype());
  const auto* src = static_cast<const unsigned char*>(qkv.raw());
  auto* dst = static_cast<unsigned char*>(out.raw());
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t si = 0; si < s; ++si)
      for (int64_t hi = 0; hi < h; ++hi)
        for (int64_t di = 0; di < d; ++di) {
          const int64_t from = (((bi * s + si) * 3 + p) * h + hi) * d + di;
          const int64_t to = heads_major ? ((bi * h + hi) * s + si) * d + di : ((bi * s + si) * h + hi) * d + di;
          std::memcpy(dst + static_cast<size_t>(to) * es, src + static_cast<size_t>(from) * es, es);
        }
  return out;
}

// [B, H, S, D] -> [B, S, H, D].
Tensor to_seq_major(const Tensor& t) {
  Tensor out = Tensor::allocate(t.dtype(), {t.dim(0), t.dim(2), t.dim(1), t.dim(3)}).value();
  const size_t es = dtype_size(t.dtype());
  for (int64_t b = 0; b < t.dim(0); ++b)
    for (int64_t h = 0; h < t.dim(1); ++h)
      for (int64_t s = 0; s < t.dim(2); ++s)
        std::memcpy(static_cast<unsigned char*>(out.raw()) + static_cast<size_t>(((b * t.dim(2) + s) * t.dim(1) + h) * t.dim(3)) * es,
                    static_cast<const unsigned char*>(t.raw()) + static_cast<size_t>(((b * t.dim(1) + h) * t.dim(2) + s) * t.dim(3)) * es,
                    static_cast<size_t>(t.dim(3)) * es);
  return out;
}

void expect_identical(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  ASSERT_EQ(got.shape(), want.shape()) << what;
  EXPECT_EQ(std::memcmp(got.raw(), want.raw(), got.bytes()), 0) << what << ": rel L2 " << testing::rel_l2(got, want);
}

struct Case {
  const char* name;
  DataType dtype;
  const char* mask;  // "", "float" ([B, 1, S, S]), "bool" ([S, S]), "heads" (float [1, H, S, S])
  bool causal;
};

class PackedAttentionTest : public ::testing::TestWithParam<Case> {};

TEST_P(PackedAttentionTest, EqualsTheUnpackedForms) {
  const Case c = GetParam();
  auto rng = make_rng(31);
  const Tensor qkv = random_tensor(c.dtype, {kB, kS, 3, kH, kD}, rng, -2.0, 2.0);
  Tensor mask;
  const std::string m = c.mask;
  if (m == "float") mask = random_tensor(c.dtype, {kB, 1, kS, kS}, rng, -3.0, 1.0);
  if (m == "heads") mask = random_tensor(c.dtype, {1, kH, kS, kS}, rng, -3.0, 1.0);
  if (m == "bool") {
    std::vector<uint8_t> keep(static_cast<size_t>(kS * kS));
    for (int64_t i = 0; i < kS; ++i)
      for (int64_t j = 0; j < kS; ++j) keep[static_cast<size_t>(i * kS + j)] = i == j || (i * 3 + j * 5) % 4 != 0;
    mask = Tensor::from_vector<uint8_t>(DataType::kBool, {kS, kS}, keep);
  }
  Attrs attrs;
  if (c.causal) attrs.push_back({"is_causal", int64_t{1}});
  if (m == "heads") attrs.push_back({"scale", 0.3f});  // a non-default scale on one case
  Attrs packed_attrs = attrs, seq_attrs = attrs;
  packed_attrs.push_back({"seq_major", int64_t{1}});
  packed_attrs.push_back({"qkv_packed", int64_t{1}});
  seq_attrs.push_back({"seq_major", int64_t{1}});

  std::vector<Tensor> packed_in = {qkv, Tensor(), Tensor()};
  std::vector<Tensor> seq_in = {slice(qkv, 0, false), slice(qkv, 1, false), slice(qkv, 2, false)};
  std::vector<Tensor> heads_in = {slice(qkv, 0, true), slice(qkv, 1, true), slice(qkv, 2, true)};
  if (mask.defined()) {
    for (auto* ins : {&packed_in, &seq_in, &heads_in}) ins->push_back(mask);
  }
  auto packed = run_single_op("Attention", packed_in, packed_attrs);
  ASSERT_TRUE(packed.status.ok()) << packed.status.to_string();
  auto seq = run_single_op("Attention", seq_in, seq_attrs);
  ASSERT_TRUE(seq.status.ok()) << seq.status.to_string();
  auto heads = run_single_op("Attention", heads_in, attrs);
  ASSERT_TRUE(heads.status.ok()) << heads.status.to_string();
  ASSERT_EQ(packed.outputs.size(), 1u);
  EXPECT_EQ(packed.outputs[0].shape(), (std::vector<int64_t>{kB, kS, kH, kD}));
  // Same kernel on the same heads-major data: bit for bit.
  expect_identical(packed.outputs[0], seq.outputs[0], "packed vs seq_major");
  expect_identical(packed.outputs[0], to_seq_major(heads.outputs[0]), "packed vs heads-major");
}

INSTANTIATE_TEST_SUITE_P(
    Forms, PackedAttentionTest,
    ::testing::Values(Case{"fp32", DataType::kFloat32, "", false}, Case{"fp16", DataType::kFloat16, "", false},
                      Case{"fp32_float_mask", DataType::kFloat32, "float", false},
                      Case{"fp16_float_mask", DataType::kFloat16, "float", false},
                      Case{"fp32_bool_mask", DataType::kFloat32, "bool", false},
                      Case{"fp16_heads_mask_scale", DataType::kFloat16, "heads", false},
                      Case{"fp32_causal", DataType::kFloat32, "", true}, Case{"fp16_causal", DataType::kFloat16, "", true},
                      Case{"fp32_causal_bool_mask", DataType::kFloat32, "bool", true}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

// ---- shape inference ----------------------------------------------------------------------

struct Slot {
  std::optional<Shape> shape;  // nullopt: the slot is absent
  DataType dtype = DataType::kFloat32;
};

// One Attention node over graph inputs (nullptr for absent slots); returns infer_shapes' status.
Status infer_attention(const std::vector<Slot>& slots, const Attrs& attrs, Shape* out = nullptr) {
  Graph g;
  std::vector<Value*> ins;
  for (size_t i = 0; i < slots.size(); ++i)
    ins.push_back(slots[i].shape ? g.add_input("in" + std::to_string(i), slots[i].dtype, *slots[i].shape) : nullptr);
  Node* n = g.add_node("Attention", "attn", ins, 1);
  for (const auto& [k, v] : attrs) n->set_attr(k, v);
  g.add_output(n->output(0));
  Status s = infer_shapes(g);
  if (s.ok() && out) *out = n->output(0)->shape();
  return s;
}

const Attrs kPacked = {{"seq_major", int64_t{1}}, {"qkv_packed", int64_t{1}}};

void expect_shape_error(const Status& s, const std::string& fragment) {
  EXPECT_EQ(s.code(), StatusCode::kShapeError) << s.to_string();
  EXPECT_NE(s.to_string().find(fragment), std::string::npos) << s.to_string();
  EXPECT_NE(s.to_string().find("'attn'"), std::string::npos) << s.to_string();
}

TEST(PackedAttentionShapes, SymbolicShapesAndMask) {
  const Dim b = Dim::symbol("batch"), s = Dim::symbol("seq");
  Shape out;
  Status st = infer_attention({{Shape{b, s, 3, kH, kD}}, {}, {}}, kPacked, &out);
  ASSERT_TRUE(st.ok()) << st.to_string();
  EXPECT_EQ(out, (Shape{b, s, kH, kD}));
  st = infer_attention({{Shape{b, s, 3, kH, kD}}, {}, {}, {Shape{b, 1, s, s}}}, kPacked, &out);
  ASSERT_TRUE(st.ok()) << st.to_string();
  EXPECT_EQ(out, (Shape{b, s, kH, kD}));
  st = infer_attention({{Shape{b, s, 3, kH, kD}, DataType::kFloat16}, {}, {}, {Shape{s, s}, DataType::kBool}}, kPacked, &out);
  ASSERT_TRUE(st.ok()) << st.to_string();
}

TEST(PackedAttentionShapes, MalformedNodesAreRefused) {
  const Shape good{kB, kS, 3, kH, kD};
  expect_shape_error(infer_attention({{Shape{kB, kS, 3 * kH, kD}}, {}, {}}, kPacked), "must have rank 5");
  expect_shape_error(infer_attention({{Shape{kB, kS, 4, kH, kD}}, {}, {}}, kPacked), "axis 2 of QKV");
  expect_shape_error(infer_attention({{good}, {}, {}}, {{"qkv_packed", int64_t{1}}}), "only valid with seq_major = 1");
  expect_shape_error(infer_attention({{good}, {Shape{kB, kS, kH, kD}}, {}}, kPacked), "inputs 1 and 2 must be absent");
  expect_shape_error(infer_attention({{good}, {}, {Shape{kB, kS, kH, kD}}}, kPacked), "inputs 1 and 2 must be absent");
  expect_shape_error(infer_attention({{good}}, kPacked), "absent slots");
  expect_shape_error(infer_attention({{good}, {}, {}, {Shape{kB, kH, kS, kS + 1}}}, kPacked), "do not broadcast");
  expect_shape_error(infer_attention({{good}, {}, {}, {Shape{kB, 1, 1, kS, kS}}}, kPacked),
                     "does not broadcast to the scores [2,3,7,7]");
  expect_shape_error(infer_attention({{good, DataType::kInt64}, {}, {}}, kPacked), "QKV must be a float tensor");
  // Outside the packed form Q, K and V are all required.
  const Shape q{kB, kH, kS, kD};
  expect_shape_error(infer_attention({{q}, {}, {q}}, {}), "K (input 1) is missing");
  expect_shape_error(infer_attention({{q}}, {{"seq_major", int64_t{1}}}), "K (input 1) is missing");
}

// ---- engine round trip --------------------------------------------------------------------

// qkv [batch, S, 3, H, D] -> packed Attention with a mask (4 slots) and a causal one without
// (3 slots, both middle ones absent) -> two outputs.
Graph packed_graph() {
  Graph g;
  g.name = "packed_attention";
  Value* qkv = g.add_input("qkv", DataType::kFloat32, Shape{Dim::symbol("batch"), kS, 3, kH, kD});
  Value* mask = g.add_input("mask", DataType::kFloat32, Shape{1, 1, kS, kS});
  Node* a = g.add_node("Attention", "masked", {qkv, nullptr, nullptr, mask}, 1, {"y_masked"});
  Node* c = g.add_node("Attention", "causal", {qkv, nullptr, nullptr}, 1, {"y_causal"});
  for (Node* n : {a, c}) {
    n->set_attr("seq_major", int64_t{1});
    n->set_attr("qkv_packed", int64_t{1});
  }
  c->set_attr("is_causal", int64_t{1});
  g.add_output(a->output(0));
  g.add_output(c->output(0));
  return g;
}

std::vector<Tensor> run_cpu(const Graph& g, const std::vector<NamedTensor>& feeds) {
  Result<std::vector<NamedTensor>> r = testing::run_on_cpu(g, feeds);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  std::vector<Tensor> out;
  if (r.ok()) {
    for (NamedTensor& t : *r) out.push_back(t.tensor);
  }
  return out;
}

Result<Graph> round_trip(const Graph& g) {
  const std::vector<uint8_t> bytes = engine_test::write_to_bytes(g, EngineOptions{});
  engine_test::ByteReader reader(bytes);
  SLIMRT_ASSIGN_OR_RETURN(EngineInfo info, parse_engine(reader));
  return read_engine_graph(reader, info);
}

TEST(PackedAttentionEngine, AbsentMiddleInputsRoundTrip) {
  Graph g = packed_graph();
  ASSERT_TRUE(infer_shapes(g).ok());
  Result<Graph> loaded = round_trip(g);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  ASSERT_TRUE(infer_shapes(*loaded).ok());
  size_t seen = 0;
  for (const Node* n : loaded->nodes()) {
    if (n->op_type() != "Attention") continue;
    ++seen;
    SCOPED_TRACE(n->name());
    EXPECT_EQ(n->num_inputs(), n->name() == "masked" ? 4u : 3u);
    ASSERT_NE(n->input(0), nullptr);
    EXPECT_EQ(n->input(0)->name(), "qkv");
    EXPECT_EQ(n->input(1), nullptr);
    EXPECT_EQ(n->input(2), nullptr);
    EXPECT_EQ(n->attr_int("qkv_packed", 0), 1);
    EXPECT_EQ(n->attr_int("seq_major", 0), 1);
    EXPECT_EQ(n->output(0)->shape(), (Shape{Dim::symbol("batch"), kS, kH, kD}));
  }
  EXPECT_EQ(seen, 2u);
  auto rng = make_rng(32);
  const std::vector<NamedTensor> feeds = testing::random_inputs(g, rng, {{"batch", 3}}, 3, -2.0, 2.0);
  const std::vector<Tensor> want = run_cpu(g, feeds), got = run_cpu(*loaded, feeds);
  ASSERT_EQ(got.size(), 2u);
  ASSERT_EQ(want.size(), 2u);
  for (size_t i = 0; i < 2; ++i) expect_identical(got[i], want[i], "output " + std::to_string(i));
}

// The exported BERT-tiny through every pass (packed attention) and an engine file: the loaded
// graph carries the packed form and matches the ONNX model on its recorded inputs.
TEST(PackedAttentionEngine, BertTinyEngineRunsPacked) {
  const std::string dir = testing::model_cache() + "/bert_tiny";
  if (testing::model_cache().empty() || !std::filesystem::exists(dir + "/model.onnx")) GTEST_SKIP() << "no " << dir;
  Result<Graph> onnx = import_onnx_file(dir + "/model.onnx");
  ASSERT_TRUE(onnx.ok()) << onnx.status().to_string();
  std::vector<NamedTensor> feeds;
  for (const Value* in : onnx->inputs()) {
    Result<Tensor> t = read_npy(dir + "/input_" + in->name() + ".npy");
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    feeds.push_back({in->name(), *t});
  }
  const std::vector<Tensor> want = run_cpu(*onnx, feeds);
  Result<Graph> g = import_onnx_file(dir + "/model.onnx");
  ASSERT_TRUE(g.ok());
  PassReport report;
  ASSERT_TRUE(run_passes(*g, PassOptions{}, &report).ok());
  Result<Graph> loaded = round_trip(*g);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  size_t packed = 0;
  for (const Node* n : loaded->nodes()) {
    if (n->op_type() != "Attention") continue;
    EXPECT_EQ(n->attr_int("qkv_packed", 0), 1) << n->name() << "\n" << report.to_string();
    if (n->attr_int("qkv_packed", 0) == 0) continue;
    ++packed;
    EXPECT_EQ(n->input(0)->shape().size(), 5u);
    EXPECT_EQ(n->input(1), nullptr);
    EXPECT_EQ(n->input(2), nullptr);
    EXPECT_NE(n->input(3), nullptr) << "the padding mask";
  }
  EXPECT_EQ(packed, 2u);
  const std::vector<Tensor> got = run_cpu(*loaded, feeds);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_LT(testing::rel_l2(got[i], want[i]), 1e-5) << "output " << i;
}

}  // namespace
}  // namespace slimrt
