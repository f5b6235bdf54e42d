// Channels-last (NHWC) FusedConv and pools (ir/layout.h) on CUDA against the CPU reference,
// which runs the NCHW kernels between exact permutations; and a region converted by the layout
// pass (src/passes/layout.cpp) run as one graph.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "gpu_test_util.h"
#include "ir/layout.h"
#include "slimrt/builder/passes.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

using testing::OpCheck;
using Attrs = std::vector<std::pair<std::string, Attribute>>;
using Ints = std::vector<int64_t>;

// X [2, H, W, C] (NHWC), W [M, k, k, C], bias, optional residual [2, H', W', M].
void check_nhwc_conv(DataType t, int64_t c, int64_t m, int64_t k, int64_t stride, const std::string& act, bool residual,
                     bool before = true) {
  auto rng = testing::make_rng();
  const int64_t h = 13, w = 11, pad = k / 2;
  const int64_t ho = (h + 2 * pad - k) / stride + 1, wo = (w + 2 * pad - k) / stride + 1;
  const double scale = std::sqrt(3.0 / static_cast<double>(c * k * k));
  OpCheck op("FusedConv");
  op.inputs = {testing::random_tensor(t, {2, h, w, c}, rng, -2, 2), testing::random_tensor(t, {m, k, k, c}, rng, -scale, scale),
               testing::random_tensor(t, {m}, rng)};
  if (residual) op.inputs.push_back(testing::random_tensor(t, {2, ho, wo, m}, rng));
  op.attrs = {{"channels_last", int64_t{1}},
              {"kernel_shape", Ints{k, k}},
              {"pads", Ints{pad, pad, pad, pad}},
              {"strides", Ints{stride, stride}},
              {"activation", act},
              {"residual_before_activation", int64_t{before ? 1 : 0}}};
  op.constant_inputs = {1, 2};
  SCOPED_TRACE(std::string(dtype_name(t)) + fmt::format(" NHWC conv {}->{} k{} s{} '{}' residual {}", c, m, k, stride,
                                                        act, residual));
  testing::expect_cuda_matches_cpu(op);
}

TEST(CudaLayout, FusedConvChannelsLast) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : {DataType::kFloat16, DataType::kBFloat16}) {
    check_nhwc_conv(t, 16, 24, 3, 1, "Relu", false);
    check_nhwc_conv(t, 16, 24, 3, 2, "", false);
    check_nhwc_conv(t, 32, 16, 1, 1, "Relu", true, true);   // ResNet's block end: + R, then Relu
    check_nhwc_conv(t, 32, 16, 1, 1, "SiLU", true, false);
    check_nhwc_conv(t, 24, 64, 1, 2, "", false);             // ResNet's downsample
    check_nhwc_conv(t, 8, 8, 7, 2, "Relu", false);
  }
  check_nhwc_conv(DataType::kFloat32, 16, 24, 3, 1, "Relu", true);  // fp32 accepted too (not chosen by the pass)
}

// 24 channels take the 16-byte vector path in every dtype; 12 take it in fp32 only, and 7 never.
void check_nhwc_pool(DataType t, const std::string& op_type, const Attrs& attrs, const std::string& what) {
  for (int64_t c : {24, 12, 7}) {
    auto rng = testing::make_rng();
    OpCheck op(op_type);
    op.inputs = {testing::random_tensor(t, {2, 15, 13, c}, rng, -2, 2)};
    op.attrs = attrs;
    op.attrs.push_back({"channels_last", int64_t{1}});
    SCOPED_TRACE(std::string(dtype_name(t)) + " NHWC " + op_type + " " + what + " C=" + std::to_string(c));
    testing::expect_cuda_matches_cpu(op);
  }
}

TEST(CudaLayout, PoolsChannelsLast) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16}) {
    check_nhwc_pool(t, "MaxPool", {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}},
                    "3x3 s2 p1");
    check_nhwc_pool(t, "MaxPool", {{"kernel_shape", Ints{2, 3}}, {"dilations", Ints{2, 1}}, {"ceil_mode", int64_t{1}}},
                    "dilated ceil");
    check_nhwc_pool(t, "AveragePool", {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}}, "2x2 s2");
    check_nhwc_pool(t, "AveragePool",
                    {{"kernel_shape", Ints{3, 3}}, {"pads", Ints{1, 0, 1, 2}}, {"count_include_pad", int64_t{1}}},
                    "asymmetric pads, count_include_pad");
  }
}

// A ResNet-like fp16 graph through the layout pass: one NHWC region with a MaxPool, residuals,
// a 1x1 projection and an AveragePool, a transpose at each edge, run on both backends.
TEST(CudaLayout, ConvertedRegionMatchesCpu) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : {DataType::kFloat16, DataType::kBFloat16}) {
    auto rng = testing::make_rng();
    Graph g;
    // 5 input channels: the first convolution reads X zero-padded to 8 channels.
    Value* x = g.add_input("x", t, Shape{Dim::symbol("batch"), 5, 19, 17});
    auto conv = [&](const std::string& name, Value* in, int64_t c, int64_t m, int64_t k, Value* res, const std::string& act) {
      const double s = std::sqrt(3.0 / static_cast<double>(c * k * k));
      Value* w = g.add_initializer(name + ".w", testing::random_tensor(t, {m, c, k, k}, rng, -s, s));
      Value* b = g.add_initializer(name + ".b", testing::random_tensor(t, {m}, rng, -0.2, 0.2));
      std::vector<Value*> ins = {in, w, b};
      if (res) ins.push_back(res);
      Node* n = g.add_node("FusedConv", name, ins, 1);
      n->set_attr("kernel_shape", Ints{k, k});
      n->set_attr("pads", Ints{k / 2, k / 2, k / 2, k / 2});
      n->set_attr("activation", act);
      n->set_attr("residual_before_activation", int64_t{1});
      return n->output(0);
    };
    Value* a = conv("a", x, 5, 32, 3, nullptr, "Relu");
    Node* mp = g.add_node("MaxPool", "pool", {a}, 1);
    mp->set_attr("kernel_shape", Ints{3, 3});
    mp->set_attr("strides", Ints{2, 2});
    mp->set_attr("pads", Ints{1, 1, 1, 1});
    Value* b = conv("b", mp->output(0), 32, 16, 1, nullptr, "Relu");
    Value* c = conv("c", b, 16, 32, 3, mp->output(0), "Relu");
    Value* d = conv("d", c, 32, 32, 3, c, "Relu");
    Node* ap = g.add_node("AveragePool", "avg", {d}, 1);
    ap->set_attr("kernel_shape", Ints{2, 2});
    ap->set_attr("strides", Ints{2, 2});
    g.add_output(g.add_node("GlobalAveragePool", "gap", {ap->output(0)}, 1, {"y"})->output(0));
    ASSERT_TRUE(infer_shapes(g).ok());
    PassStats stats;
    ASSERT_TRUE(convert_to_channels_last(g, &stats).ok());
    size_t nhwc = 0, matmul = 0, pad = 0;
    for (const Node* n : g.nodes()) {
      nhwc += is_channels_last(*n);
      matmul += n->op_type() == "FusedMatMul";  // the 1x1 convolution b
      pad += n->op_type() == "Pad";
    }
    ASSERT_EQ(nhwc, 5u);
    ASSERT_EQ(matmul, 1u);
    ASSERT_EQ(pad, 1u);
    for (int64_t batch : {1, 3}) {
      SCOPED_TRACE(std::string(dtype_name(t)) + " batch " + std::to_string(batch));
      testing::expect_graph_cuda_matches_cpu(g, {{"x", testing::random_tensor(t, {batch, 5, 19, 17}, rng, -2, 2)}});
    }
  }
}

// Sequence-major Attention (seq_major = 1): Q/K/V/Y as [batch, seq, heads, dim] or
// [seq, batch*heads, dim]; the tensor-core path (fp16/bf16, dim 64) and the tiled one.
void check_seq_major_attention(DataType t, bool rank3, int64_t sq, int64_t skv, int64_t d, bool causal, bool mask) {
  auto rng = testing::make_rng();
  const int64_t b = 2, h = 3;
  OpCheck op("Attention");
  auto shape = [&](int64_t s, int64_t dim) { return rank3 ? Ints{s, b * h, dim} : Ints{b, s, h, dim}; };
  op.inputs = {testing::random_tensor(t, shape(sq, d), rng, -2, 2), testing::random_tensor(t, shape(skv, d), rng, -2, 2),
               testing::random_tensor(t, shape(skv, d), rng)};
  if (mask) op.inputs.push_back(testing::random_tensor(t, rank3 ? Ints{1, sq, skv} : Ints{b, 1, sq, skv}, rng, -3, 0));
  op.attrs = {{"seq_major", int64_t{1}}, {"is_causal", int64_t{causal ? 1 : 0}}};
  SCOPED_TRACE(std::string(dtype_name(t)) + fmt::format(" seq-major attention rank {} sq {} skv {} d {}{}{}", rank3 ? 3 : 4,
                                                        sq, skv, d, causal ? " causal" : "", mask ? " mask" : ""));
  testing::expect_cuda_matches_cpu(op);
}

TEST(CudaLayout, AttentionSeqMajor) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16}) {
    check_seq_major_attention(t, false, 77, 77, 64, false, true);   // BERT-like, padding mask
    check_seq_major_attention(t, false, 33, 33, 64, true, false);   // causal
    check_seq_major_attention(t, true, 50, 50, 64, false, false);   // ViT's seq-first form
    check_seq_major_attention(t, false, 19, 45, 40, false, true);   // cross-attention, odd dim
    check_seq_major_attention(t, true, 9, 130, 32, true, true);
  }
}

// Packed projection (qkv_packed = 1): input 0 is [batch, seq, 3, heads, dim], K and V read at
// offsets heads*dim and 2*heads*dim of each row.
void check_packed_attention(DataType t, int64_t b, int64_t s, int64_t h, int64_t d, bool causal, bool mask) {
  auto rng = testing::make_rng();
  OpCheck op("Attention");
  op.inputs = {testing::random_tensor(t, {b, s, 3, h, d}, rng, -2, 2), Tensor(), Tensor()};
  if (mask) op.inputs.push_back(testing::random_tensor(t, {b, 1, 1, s}, rng, -3, 0));
  op.attrs = {{"seq_major", int64_t{1}}, {"qkv_packed", int64_t{1}}, {"is_causal", int64_t{causal ? 1 : 0}}};
  SCOPED_TRACE(std::string(dtype_name(t)) + fmt::format(" packed attention b {} s {} h {} d {}{}{}", b, s, h, d,
                                                        causal ? " causal" : "", mask ? " mask" : ""));
  testing::expect_cuda_matches_cpu(op);
}

TEST(CudaLayout, AttentionPacked) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16}) {
    check_packed_attention(t, 2, 197, 12, 64, false, false);  // ViT-B/16: one-warp blocks
    check_packed_attention(t, 8, 197, 12, 64, false, false);  // four-warp blocks
    check_packed_attention(t, 2, 77, 3, 64, false, true);     // BERT-like padding mask
    check_packed_attention(t, 3, 33, 5, 32, true, false);     // causal
    check_packed_attention(t, 2, 19, 3, 20, false, false);    // dim % 8 != 0: element loads
  }
}

}  // namespace
}  // namespace slimrt
