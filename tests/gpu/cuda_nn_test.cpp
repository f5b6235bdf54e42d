// CUDA nn family (convolutions, pools, BatchNormalization, LRN, MaxUnpool) against the CPU
// reference.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "gpu_test_util.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

using testing::OpCheck;
using Attrs = std::vector<std::pair<std::string, Attribute>>;
using Ints = std::vector<int64_t>;

const DataType kFloatTypes[] = {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16};

OpCheck make_check(std::string op) {
  OpCheck c;
  c.op_type = std::move(op);
  return c;
}

std::string trace(DataType t, const std::string& what) { return std::string(dtype_name(t)) + " " + what; }

// ---- Conv ------------------------------------------------------------------------------------------

void check_conv(DataType t, const Ints& x, const Ints& w, bool bias, const Attrs& attrs, const std::string& what) {
  auto rng = testing::make_rng();
  OpCheck c = make_check("Conv");
  c.inputs = {testing::random_tensor(t, x, rng), testing::random_tensor(t, w, rng)};
  if (bias) c.inputs.push_back(testing::random_tensor(t, {w[0]}, rng));
  c.attrs = attrs;
  c.constant_inputs = {1, 2};
  SCOPED_TRACE(trace(t, what));
  testing::expect_cuda_matches_cpu(c);
}

TEST(CudaNn, Conv2dShapes) {
  SLIMRT_SKIP_WITHOUT_GPU();
  const Ints x = {2, 3, 17, 17};
  for (DataType t : kFloatTypes) {
    check_conv(t, x, {5, 3, 3, 3}, true, {{"pads", Ints{1, 1, 1, 1}}}, "3x3 pad 1");
    check_conv(t, x, {5, 3, 1, 1}, false, {}, "1x1");
    check_conv(t, x, {5, 3, 1, 1}, true, {{"strides", Ints{2, 2}}}, "1x1 stride 2");
    check_conv(t, x, {5, 3, 7, 7}, true, {{"strides", Ints{2, 2}}, {"pads", Ints{3, 3, 3, 3}}}, "7x7 stride 2");
    check_conv(t, x, {5, 3, 3, 3}, true, {{"dilations", Ints{2, 2}}, {"pads", Ints{2, 2, 2, 2}}}, "dilation 2");
    check_conv(t, x, {5, 3, 3, 3}, true, {{"pads", Ints{0, 1, 2, 0}}}, "asymmetric pads");
    check_conv(t, x, {5, 3, 4, 4}, false, {{"auto_pad", std::string("SAME_UPPER")}, {"strides", Ints{2, 2}}},
               "SAME_UPPER 4x4 stride 2");
    check_conv(t, x, {5, 3, 4, 2}, true, {{"auto_pad", std::string("SAME_LOWER")}}, "SAME_LOWER 4x2");
    check_conv(t, x, {5, 3, 3, 5}, true, {{"auto_pad", std::string("VALID")}, {"strides", Ints{1, 3}}}, "VALID");
  }
}

TEST(CudaNn, ConvGroups) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    check_conv(t, {2, 6, 17, 15}, {9, 2, 3, 3}, true, {{"group", int64_t{3}}, {"pads", Ints{1, 1, 1, 1}}}, "group 3");
    check_conv(t, {2, 8, 17, 17}, {8, 1, 3, 3}, true, {{"group", int64_t{8}}, {"pads", Ints{1, 1, 1, 1}}}, "depthwise");
    check_conv(t, {2, 8, 17, 17}, {8, 1, 3, 3}, false,
               {{"group", int64_t{8}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}}, "depthwise stride 2");
    check_conv(t, {1, 4, 13, 11}, {8, 1, 5, 5}, true, {{"group", int64_t{4}}, {"pads", Ints{2, 1, 1, 2}}},
               "depthwise multiplier 2, asymmetric pads");
  }
}

TEST(CudaNn, Conv1dAnd3d) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    check_conv(t, {2, 3, 33}, {5, 3, 3}, true, {{"strides", Ints{2}}, {"pads", Ints{2, 1}}}, "1-D");
    check_conv(t, {2, 4, 31}, {6, 2, 5}, false, {{"group", int64_t{2}}, {"dilations", Ints{2}}}, "1-D grouped dilated");
    check_conv(t, {1, 3, 7, 9, 5}, {4, 3, 3, 3, 3}, true, {{"pads", Ints{1, 1, 1, 1, 1, 1}}}, "3-D");
    check_conv(t, {2, 2, 6, 7, 5}, {3, 2, 2, 3, 1}, true, {{"strides", Ints{2, 1, 2}}, {"pads", Ints{0, 1, 0, 1, 0, 0}}},
               "3-D strided asymmetric");
  }
}

TEST(CudaNn, ConvDoubleAndZeroSize) {
  SLIMRT_SKIP_WITHOUT_GPU();
  check_conv(DataType::kFloat64, {2, 3, 9, 11}, {4, 3, 3, 3}, true, {{"pads", Ints{1, 1, 1, 1}}}, "fp64");
  check_conv(DataType::kFloat32, {0, 3, 9, 11}, {4, 3, 3, 3}, true, {{"pads", Ints{1, 1, 1, 1}}}, "empty batch");
}

// ---- FusedConv -------------------------------------------------------------------------------------

// residual: 0 none, 1 full shape, 2 broadcast [M, 1, 1].
void check_fused_conv(DataType t, const std::string& act, int residual, bool before, bool bias = true) {
  auto rng = testing::make_rng();
  const Ints x = {2, 3, 17, 17}, w = {5, 3, 3, 3}, y = {2, 5, 17, 17};
  OpCheck c = make_check("FusedConv");
  c.inputs = {testing::random_tensor(t, x, rng, -2, 2), testing::random_tensor(t, w, rng)};
  c.inputs.push_back(bias ? testing::random_tensor(t, {w[0]}, rng) : Tensor());
  if (residual == 1) c.inputs.push_back(testing::random_tensor(t, y, rng));
  if (residual == 2) c.inputs.push_back(testing::random_tensor(t, {5, 1, 1}, rng));
  c.attrs = {{"pads", Ints{1, 1, 1, 1}}, {"activation", act}, {"residual_before_activation", int64_t{before ? 1 : 0}}};
  if (act == "LeakyRelu") c.attrs.push_back({"alpha", 0.2f});
  if (act == "Clip") {
    c.attrs.push_back({"min", -0.5f});
    c.attrs.push_back({"max", 1.5f});
  }
  c.constant_inputs = {1, 2};
  SCOPED_TRACE(trace(t, act + " residual " + std::to_string(residual) + (before ? " before" : " after")));
  testing::expect_cuda_matches_cpu(c);
}

TEST(CudaNn, FusedConvActivations) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (const char* act : {"", "Relu", "Gelu", "GeluTanh", "SiLU", "Sigmoid", "Tanh", "LeakyRelu", "Clip"}) {
    for (int residual : {0, 1, 2}) {
      for (bool before : {true, false}) check_fused_conv(DataType::kFloat32, act, residual, before);
    }
  }
  check_fused_conv(DataType::kFloat32, "Relu", 0, false, false);
  check_fused_conv(DataType::kFloat32, "Relu", 1, true, false);
}

TEST(CudaNn, FusedConvHalfTypes) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : {DataType::kFloat16, DataType::kBFloat16}) {
    for (int residual : {0, 1}) {
      for (bool before : {true, false}) {
        check_fused_conv(t, "Relu", residual, before);
        check_fused_conv(t, "SiLU", residual, before);
      }
    }
  }
}

// ---- deep chains: rounding differences compound over the depth of random-weight CNNs --------------

struct ChainLayer {
  std::string op;             // "Conv" or "FusedConv"
  std::string activation;     // FusedConv only
  bool residual_from_input = false;  // FusedConv: R = this layer's input, added before the activation
};

// A chain of 3x3 pad-1 convolutions with bias over `channels` channels, weights scaled to keep
// activations O(1) (He-style), compared to the CPU reference as one graph.
void check_conv_chain(DataType t, int64_t channels, const Ints& spatial, const std::vector<ChainLayer>& layers,
                      double tolerance) {
  auto rng = testing::make_rng();
  Graph g;
  Ints x_dims = {2, channels};
  x_dims.insert(x_dims.end(), spatial.begin(), spatial.end());
  const Tensor x = testing::random_tensor(t, x_dims, rng);
  Value* cur = g.add_input("x", t, shape_from_static(x_dims));
  const double w_scale = std::sqrt(6.0 / static_cast<double>(channels * 9));
  for (size_t i = 0; i < layers.size(); ++i) {
    const ChainLayer& l = layers[i];
    const std::string id = std::to_string(i);
    Value* w = g.add_initializer("w" + id, testing::random_tensor(t, {channels, channels, 3, 3}, rng, -w_scale, w_scale));
    Value* b = g.add_initializer("b" + id, testing::random_tensor(t, {channels}, rng, -0.2, 0.2));
    std::vector<Value*> ins = {cur, w, b};
    if (l.residual_from_input) ins.push_back(cur);
    Node* n = g.add_node(l.op, "conv" + id, ins, 1);
    n->set_attr("pads", Ints{1, 1, 1, 1});
    if (l.op == "FusedConv") {
      n->set_attr("activation", l.activation);
      n->set_attr("residual_before_activation", int64_t{1});
      if (l.activation == "Clip") {
        n->set_attr("min", 0.0f);
        n->set_attr("max", 6.0f);
      }
    }
    cur = n->output(0);
  }
  g.add_output(cur);
  const Status s = infer_shapes(g);
  ASSERT_TRUE(s.ok()) << s.to_string();
  SCOPED_TRACE(trace(t, std::to_string(layers.size()) + "-layer chain, " + std::to_string(channels) + " channels"));
  testing::expect_graph_cuda_matches_cpu(g, {{"x", x}}, tolerance);
}

// MobileNetV2-style: Clip(0, 6) after conv + bias, one residual before the activation. The CPU
// rounds conv + bias once, then after the residual add; the CUDA path must round the same way.
TEST(CudaNn, FusedConvChainHalf) {
  SLIMRT_SKIP_WITHOUT_GPU();
  std::vector<ChainLayer> layers(6, ChainLayer{"FusedConv", "Clip", false});
  layers[3].residual_from_input = true;
  for (DataType t : {DataType::kFloat16, DataType::kBFloat16})
    check_conv_chain(t, 32, {15, 17}, layers, testing::cuda_tolerance(t));
}

// ResNet-style fp32: Relu convs, plain convs with bias, a residual; 1e-5 needs accurate
// algorithms (no FFT / Winograd) all the way down.
TEST(CudaNn, ConvChainFloat32) {
  SLIMRT_SKIP_WITHOUT_GPU();
  std::vector<ChainLayer> layers(8, ChainLayer{"FusedConv", "Relu", false});
  layers[2] = ChainLayer{"Conv", "", false};
  layers[5] = ChainLayer{"Conv", "", false};
  layers[6].residual_from_input = true;
  check_conv_chain(DataType::kFloat32, 64, {14, 13}, layers, 1e-5);
}

// One fp16 conv + bias with a large fan-in: rounding the product and then product + bias (two
// roundings) differs from the CPU's single rounding by ~3e-4 rel L2; rounding once leaves only
// the flips from fp32 vs double accumulation (~5e-5). The bound sits between the two.
TEST(CudaNn, ConvHalfBiasRoundsOnce) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  for (const char* op : {"Conv", "FusedConv"}) {
    OpCheck c = make_check(op);
    c.inputs = {testing::random_tensor(DataType::kFloat16, {2, 32, 15, 17}, rng),
                testing::random_tensor(DataType::kFloat16, {32, 32, 3, 3}, rng, -0.15, 0.15),
                testing::random_tensor(DataType::kFloat16, {32}, rng)};
    c.attrs = {{"pads", Ints{1, 1, 1, 1}}};
    if (std::string(op) == "FusedConv") {
      c.attrs.push_back({"activation", std::string("Clip")});
      c.attrs.push_back({"min", 0.0f});
      c.attrs.push_back({"max", 6.0f});
    }
    c.constant_inputs = {1, 2};
    c.tolerance = 1.5e-4;
    SCOPED_TRACE(op);
    testing::expect_cuda_matches_cpu(c);
  }
}

// ---- ConvTranspose -----------------------------------------------------------------------------

void check_conv_transpose(DataType t, const Ints& x, const Ints& w, bool bias, const Attrs& attrs, const std::string& what) {
  auto rng = testing::make_rng();
  OpCheck c = make_check("ConvTranspose");
  c.inputs = {testing::random_tensor(t, x, rng), testing::random_tensor(t, w, rng)};
  const int64_t group = [&] {
    for (const auto& [k, v] : attrs) {
      if (k == "group") return std::get<int64_t>(v);
    }
    return int64_t{1};
  }();
  if (bias) c.inputs.push_back(testing::random_tensor(t, {w[1] * group}, rng));
  c.attrs = attrs;
  c.constant_inputs = {1, 2};
  SCOPED_TRACE(trace(t, what));
  testing::expect_cuda_matches_cpu(c);
}

TEST(CudaNn, ConvTranspose) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    check_conv_transpose(t, {2, 3, 9, 11}, {3, 5, 3, 3}, true, {}, "plain");
    check_conv_transpose(t, {2, 3, 9, 11}, {3, 5, 3, 3}, true,
                         {{"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}, {"output_padding", Ints{1, 1}}},
                         "stride 2 output_padding");
    check_conv_transpose(t, {2, 4, 7, 5}, {4, 3, 3, 3}, true, {{"group", int64_t{2}}, {"strides", Ints{2, 1}}}, "group 2");
    check_conv_transpose(t, {1, 3, 8, 8}, {3, 2, 4, 4}, false,
                         {{"strides", Ints{2, 2}}, {"output_shape", Ints{17, 18}}}, "output_shape");
    check_conv_transpose(t, {1, 3, 8, 7}, {3, 2, 3, 3}, true, {{"strides", Ints{2, 2}}, {"pads", Ints{0, 1, 2, 1}}},
                         "asymmetric pads");
    check_conv_transpose(t, {2, 3, 8, 7}, {3, 2, 4, 3}, true,
                         {{"strides", Ints{2, 2}}, {"auto_pad", std::string("SAME_UPPER")}}, "SAME_UPPER");
    check_conv_transpose(t, {2, 3, 6, 6}, {3, 2, 3, 3}, true, {{"dilations", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}},
                         "dilation 2");
    check_conv_transpose(t, {2, 3, 19}, {3, 4, 5}, true, {{"strides", Ints{3}}, {"pads", Ints{1, 2}}}, "1-D");
    check_conv_transpose(t, {1, 2, 4, 5, 3}, {2, 3, 3, 3, 2}, true, {{"strides", Ints{2, 1, 2}}}, "3-D");
  }
  check_conv_transpose(DataType::kFloat32, {0, 3, 9, 11}, {3, 5, 3, 3}, true, {}, "empty batch");
}

// ---- pools ---------------------------------------------------------------------------------------

void check_pool(DataType t, const std::string& op, const Ints& x, const Attrs& attrs, const std::string& what,
                size_t outputs = 1) {
  auto rng = testing::make_rng();
  OpCheck c = make_check(op);
  c.inputs = {dtype_is_float(t) ? testing::random_tensor(t, x, rng) : testing::random_tensor(t, x, rng, 0, 100)};
  c.attrs = attrs;
  c.num_outputs = outputs;
  SCOPED_TRACE(trace(t, op + " " + what));
  testing::expect_cuda_matches_cpu(c);
}

TEST(CudaNn, MaxPool) {
  SLIMRT_SKIP_WITHOUT_GPU();
  const Ints x = {2, 3, 17, 17};
  for (DataType t : kFloatTypes) {
    check_pool(t, "MaxPool", x, {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}},
               "3x3 s2 p1");
    check_pool(t, "MaxPool", x, {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}, {"ceil_mode", int64_t{1}}},
               "ceil_mode");
    check_pool(t, "MaxPool", x, {{"kernel_shape", Ints{3, 2}}, {"dilations", Ints{2, 2}}, {"pads", Ints{0, 1, 1, 0}}},
               "dilated asymmetric");
    check_pool(t, "MaxPool", x, {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}}, "indices", 2);
    check_pool(t, "MaxPool", x,
               {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 1}}, {"pads", Ints{1, 1, 1, 1}}, {"storage_order", int64_t{1}}},
               "indices column-major", 2);
    check_pool(t, "MaxPool", {2, 3, 33}, {{"kernel_shape", Ints{4}}, {"strides", Ints{3}}, {"ceil_mode", int64_t{1}}}, "1-D",
               2);
    check_pool(t, "MaxPool", {1, 2, 7, 6, 5}, {{"kernel_shape", Ints{2, 3, 2}}, {"strides", Ints{2, 2, 2}}}, "3-D", 2);
  }
  for (DataType t : {DataType::kInt32, DataType::kInt8, DataType::kUInt8, DataType::kInt64})
    check_pool(t, "MaxPool", x, {{"kernel_shape", Ints{3, 3}}, {"auto_pad", std::string("SAME_UPPER")}}, "int");
  check_pool(DataType::kFloat32, "MaxPool", {0, 3, 8, 8}, {{"kernel_shape", Ints{2, 2}}}, "empty", 2);
}

TEST(CudaNn, AveragePool) {
  SLIMRT_SKIP_WITHOUT_GPU();
  const Ints x = {2, 3, 17, 17};
  for (DataType t : kFloatTypes) {
    for (int64_t include : {0, 1}) {
      const std::string inc = include ? " count_include_pad" : "";
      check_pool(t, "AveragePool", x,
                 {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}},
                  {"count_include_pad", include}},
                 "3x3 s2 p1" + inc);
      check_pool(t, "AveragePool", x,
                 {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"pads", Ints{0, 1, 1, 0}},
                  {"ceil_mode", int64_t{1}}, {"count_include_pad", include}},
                 "ceil_mode asymmetric" + inc);
      check_pool(t, "AveragePool", {2, 3, 33}, {{"kernel_shape", Ints{5}}, {"pads", Ints{2, 2}}, {"count_include_pad", include}},
                 "1-D" + inc);
    }
    check_pool(t, "AveragePool", {1, 2, 7, 6, 5}, {{"kernel_shape", Ints{3, 3, 3}}, {"auto_pad", std::string("SAME_LOWER")}},
               "3-D SAME_LOWER");
  }
}

TEST(CudaNn, LpPool) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    check_pool(t, "LpPool", {2, 3, 17, 17}, {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"p", int64_t{2}}}, "p 2");
    check_pool(t, "LpPool", {2, 3, 17, 17}, {{"kernel_shape", Ints{2, 3}}, {"pads", Ints{1, 1, 0, 1}}, {"p", int64_t{3}}},
               "p 3 pads");
  }
}

TEST(CudaNn, GlobalPools) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    for (const char* op : {"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"}) {
      check_pool(t, op, {2, 5, 7, 7}, {}, "7x7");
      check_pool(t, op, {3, 33, 1, 1}, {}, "1x1");
      check_pool(t, op, {1, 3, 40, 41}, {}, "block per plane");
      check_pool(t, op, {2, 3, 257}, {}, "1-D");
    }
  }
  check_pool(DataType::kFloat32, "GlobalLpPool", {2, 5, 7, 7}, {{"p", int64_t{3}}}, "p 3");
  check_pool(DataType::kInt32, "GlobalMaxPool", {2, 5, 9, 9}, {}, "int");
  check_pool(DataType::kFloat32, "GlobalAveragePool", {0, 5, 9, 9}, {}, "empty");
}

// ---- MaxUnpool -----------------------------------------------------------------------------------

TEST(CudaNn, MaxUnpool) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    auto rng = testing::make_rng();
    const Attrs attrs = {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}};
    auto pooled = testing::run_single_op("MaxPool", {testing::random_tensor(t, {2, 3, 8, 10}, rng)}, attrs, 2);
    ASSERT_TRUE(pooled.status.ok()) << pooled.status.to_string();
    OpCheck c = make_check("MaxUnpool");
    c.inputs = {pooled.outputs[0], pooled.outputs[1]};
    c.attrs = attrs;
    SCOPED_TRACE(trace(t, "default shape"));
    testing::expect_cuda_matches_cpu(c);
    OpCheck big = c;
    big.inputs.push_back(Tensor::from_vector<int64_t>(DataType::kInt64, {4}, {2, 3, 10, 11}));
    big.constant_inputs = {2};
    SCOPED_TRACE(trace(t, "output_shape"));
    testing::expect_cuda_matches_cpu(big);
  }
}

// ---- BatchNormalization, LRN ---------------------------------------------------------------------

TEST(CudaNn, BatchNormalization) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    for (const Ints& x : {Ints{2, 5, 7, 9}, Ints{3, 17}, Ints{1, 3, 4, 5, 6}, Ints{0, 5, 3}}) {
      for (DataType stats : {t, DataType::kFloat32}) {
        auto rng = testing::make_rng();
        const int64_t ch = x[1];
        OpCheck c = make_check("BatchNormalization");
        c.inputs = {testing::random_tensor(t, x, rng, -2, 2), testing::random_tensor(stats, {ch}, rng, 0.5, 1.5),
                    testing::random_tensor(stats, {ch}, rng), testing::random_tensor(stats, {ch}, rng),
                    testing::random_tensor(stats, {ch}, rng, 0.5, 2.0)};
        c.attrs = {{"epsilon", 1e-3f}};
        c.constant_inputs = {1, 2, 3, 4};
        SCOPED_TRACE(trace(t, "stats " + std::string(dtype_name(stats)) + " rank " + std::to_string(x.size())));
        testing::expect_cuda_matches_cpu(c);
      }
    }
  }
}

TEST(CudaNn, Lrn) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    for (int64_t size : {3, 4, 5}) {
      auto rng = testing::make_rng();
      OpCheck c = make_check("LRN");
      c.inputs = {testing::random_tensor(t, {2, 7, 5, 9}, rng, -2, 2)};
      c.attrs = {{"size", size}, {"alpha", 0.01f}, {"beta", 0.75f}, {"bias", 1.5f}};
      SCOPED_TRACE(trace(t, "size " + std::to_string(size)));
      testing::expect_cuda_matches_cpu(c);
    }
  }
}

}  // namespace
}  // namespace slimrt
