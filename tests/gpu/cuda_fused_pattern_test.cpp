// CUDA fused_pattern family (normalizations and Attention) against the CPU reference.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "gpu_test_util.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

using testing::OpCheck;
using Attrs = std::vector<std::pair<std::string, Attribute>>;

const DataType kFloatTypes[] = {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16};

// ---- LayerNormalization -----------------------------------------------------------------------

void check_layer_norm(DataType t, const std::vector<int64_t>& x, int64_t axis, const std::vector<int64_t>& scale,
                      const std::vector<int64_t>& bias, size_t outputs = 1, int64_t stash = 1) {
  auto rng = testing::make_rng();
  OpCheck c;
  c.op_type = "LayerNormalization";
  c.inputs = {testing::random_tensor(t, x, rng, -2.0, 3.0), testing::random_tensor(t, scale, rng, 0.5, 1.5)};
  if (!bias.empty()) c.inputs.push_back(testing::random_tensor(t, bias, rng));
  c.attrs = {{"axis", axis}, {"epsilon", 1e-5f}, {"stash_type", stash}};
  c.num_outputs = outputs;
  c.constant_inputs = {1};
  SCOPED_TRACE(std::string(dtype_name(t)) + " axis " + std::to_string(axis));
  testing::expect_cuda_matches_cpu(c);
}

TEST(CudaFusedPattern, LayerNormHotShapes) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    check_layer_norm(t, {2, 9, 768}, -1, {768}, {768});
    check_layer_norm(t, {3, 4096}, -1, {4096}, {4096});
    // Register-resident rows: 1 .. 4 vectors per lane, partial last lanes.
    check_layer_norm(t, {197, 768}, -1, {768}, {768});
    check_layer_norm(t, {5, 8}, -1, {8}, {8});
    check_layer_norm(t, {3, 1000}, -1, {1000}, {1000});
    check_layer_norm(t, {2, 1000}, -1, {1000}, {});
    check_layer_norm(t, {2, 3, 33, 64}, -2, {1, 64}, {64});  // broadcast scale: scalar parameter loads
  }
}

TEST(CudaFusedPattern, LayerNormOddShapes) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    check_layer_norm(t, {3, 5, 7}, -1, {7}, {7});
    check_layer_norm(t, {1, 257}, -1, {257}, {});
    check_layer_norm(t, {2, 3, 33, 65}, 2, {33, 65}, {65});  // bias broadcasts over the norm dims
    check_layer_norm(t, {2, 3, 33, 65}, -2, {1, 65}, {33, 1});
    check_layer_norm(t, {4, 5000}, 1, {5000}, {5000});      // block-per-row path
    check_layer_norm(t, {2, 3, 5, 7}, 0, {3, 5, 7}, {3, 5, 7});
  }
}

TEST(CudaFusedPattern, LayerNormStatsOutputs) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    check_layer_norm(t, {3, 5, 64}, -1, {64}, {64}, 3);
    check_layer_norm(t, {3, 5, 7}, 1, {5, 7}, {}, 3, 11);  // double stats
  }
}

TEST(CudaFusedPattern, LayerNormZeroSize) {
  SLIMRT_SKIP_WITHOUT_GPU();
  check_layer_norm(DataType::kFloat32, {0, 16}, -1, {16}, {16});
}

// ---- RMSNormalization -------------------------------------------------------------------------

void check_rms_norm(DataType t, DataType scale_t, const std::vector<int64_t>& x, int64_t axis,
                    const std::vector<int64_t>& scale) {
  auto rng = testing::make_rng();
  OpCheck c;
  c.op_type = "RMSNormalization";
  c.inputs = {testing::random_tensor(t, x, rng, -2.0, 2.0), testing::random_tensor(scale_t, scale, rng, 0.5, 1.5)};
  c.attrs = {{"axis", axis}, {"epsilon", 1e-6f}};
  c.constant_inputs = {1};
  SCOPED_TRACE(std::string(dtype_name(t)) + " scale " + std::string(dtype_name(scale_t)));
  testing::expect_cuda_matches_cpu(c);
}

TEST(CudaFusedPattern, RMSNorm) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    check_rms_norm(t, t, {2, 11, 4096}, -1, {4096});
    check_rms_norm(t, DataType::kFloat32, {4, 768}, -1, {768});  // registers, fp32 scale read element-wise
    check_rms_norm(t, t, {3, 5, 7}, -1, {7});
    check_rms_norm(t, t, {2, 3, 33, 65}, 2, {65});
    check_rms_norm(t, DataType::kFloat32, {5, 129}, -1, {129});
    check_rms_norm(t, t, {2, 3000}, -1, {3000});
  }
  check_rms_norm(DataType::kFloat32, DataType::kFloat32, {0, 8}, -1, {8});
}

// ---- GroupNormalization / InstanceNormalization ----------------------------------------------

void check_group_norm(DataType t, const std::vector<int64_t>& x, int64_t groups, int64_t params) {
  auto rng = testing::make_rng();
  OpCheck c;
  c.op_type = "GroupNormalization";
  c.inputs = {testing::random_tensor(t, x, rng, -1.0, 3.0), testing::random_tensor(t, {params}, rng, 0.5, 1.5),
              testing::random_tensor(t, {params}, rng)};
  c.attrs = {{"num_groups", groups}, {"epsilon", 1e-5f}};
  c.constant_inputs = {1, 2};
  SCOPED_TRACE(std::string(dtype_name(t)) + " groups " + std::to_string(groups));
  testing::expect_cuda_matches_cpu(c);
}

TEST(CudaFusedPattern, GroupNorm) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    check_group_norm(t, {2, 6, 7, 9}, 3, 6);    // per-channel (opset 21)
    check_group_norm(t, {2, 6, 7, 9}, 3, 3);    // per-group (opset 18)
    check_group_norm(t, {1, 64, 32, 32}, 32, 64);
    check_group_norm(t, {3, 4, 5}, 4, 4);
  }
  check_group_norm(DataType::kFloat32, {0, 4, 5}, 2, 4);
}

void check_instance_norm(DataType t, const std::vector<int64_t>& x) {
  auto rng = testing::make_rng();
  OpCheck c;
  c.op_type = "InstanceNormalization";
  c.inputs = {testing::random_tensor(t, x, rng, -1.0, 3.0), testing::random_tensor(t, {x[1]}, rng, 0.5, 1.5),
              testing::random_tensor(t, {x[1]}, rng)};
  c.attrs = {{"epsilon", 1e-5f}};
  c.constant_inputs = {1, 2};
  SCOPED_TRACE(dtype_name(t));
  testing::expect_cuda_matches_cpu(c);
}

TEST(CudaFusedPattern, InstanceNorm) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    check_instance_norm(t, {2, 3, 7, 9});
    check_instance_norm(t, {1, 5, 64, 64});
    check_instance_norm(t, {3, 4, 33});
  }
  check_instance_norm(DataType::kFloat32, {0, 3, 4});
}

// ---- MeanVarianceNormalization ----------------------------------------------------------------

void check_mvn(DataType t, const std::vector<int64_t>& x, const std::vector<int64_t>& axes) {
  auto rng = testing::make_rng();
  OpCheck c;
  c.op_type = "MeanVarianceNormalization";
  c.inputs = {testing::random_tensor(t, x, rng, -1.0, 3.0)};
  if (!axes.empty()) c.attrs = {{"axes", axes}};
  SCOPED_TRACE(dtype_name(t));
  testing::expect_cuda_matches_cpu(c);
}

TEST(CudaFusedPattern, MeanVarianceNorm) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    check_mvn(t, {2, 3, 5, 7}, {});          // default {0, 2, 3}: general addressing
    check_mvn(t, {2, 3, 5, 7}, {2, 3});      // trailing: contiguous rows
    check_mvn(t, {3, 5, 33}, {-1});
    check_mvn(t, {4, 3, 17}, {0});
    check_mvn(t, {1, 3, 8, 8}, {0, 2, 3});   // leading size-1 dim: contiguous rows
  }
  check_mvn(DataType::kFloat32, {2, 0, 3, 4}, {});
}

// ---- Attention --------------------------------------------------------------------------------

struct AttentionCase {
  AttentionCase(std::vector<int64_t> q_, std::vector<int64_t> k_, std::vector<int64_t> v_,
                std::vector<int64_t> mask_ = {}, bool bool_mask_ = false, bool causal_ = false, float scale_ = 0.0f)
      : q(std::move(q_)), k(std::move(k_)), v(std::move(v_)), mask(std::move(mask_)), bool_mask(bool_mask_),
        causal(causal_), scale(scale_) {}
  std::vector<int64_t> q, k, v;
  std::vector<int64_t> mask;  // empty: none
  bool bool_mask = false;
  bool causal = false;
  float scale = 0.0f;  // 0: default 1/sqrt(D)
};

void check_attention(DataType t, const AttentionCase& a) {
  auto rng = testing::make_rng();
  OpCheck c;
  c.op_type = "Attention";
  c.inputs = {testing::random_tensor(t, a.q, rng), testing::random_tensor(t, a.k, rng), testing::random_tensor(t, a.v, rng)};
  if (!a.mask.empty()) {
    if (a.bool_mask) {
      Tensor m = testing::random_tensor(DataType::kBool, a.mask, rng, 0, 2);
      // Keep key 0 everywhere so that no row is fully masked (which gives NaN on both sides).
      const int64_t sk = a.mask.back();
      for (int64_t i = 0; i < m.numel(); i += sk) m.data<uint8_t>()[i] = 1;
      c.inputs.push_back(m);
    } else {
      c.inputs.push_back(testing::random_tensor(t, a.mask, rng, -3.0, 1.0));
    }
  }
  if (a.causal) c.attrs.push_back({"is_causal", int64_t{1}});
  if (a.scale != 0.0f) c.attrs.push_back({"scale", a.scale});
  SCOPED_TRACE(std::string(dtype_name(t)) + " q " + std::to_string(a.q.size()) + "d Sq " +
               std::to_string(a.q[a.q.size() - 2]) + " Sk " + std::to_string(a.k[a.k.size() - 2]) + " D " +
               std::to_string(a.q.back()) + (a.causal ? " causal" : "") + (a.mask.empty() ? "" : " mask"));
  testing::expect_cuda_matches_cpu(c);
}

TEST(CudaFusedPattern, AttentionNoMask) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    check_attention(t, {{2, 3, 37, 64}, {2, 3, 37, 64}, {2, 3, 37, 64}});
    check_attention(t, {{2, 2, 129, 128}, {2, 2, 129, 128}, {2, 2, 129, 128}});
    check_attention(t, {{6, 7, 64}, {6, 50, 64}, {6, 50, 64}});          // rank 3, Sq != Sk
    check_attention(t, {{2, 1, 1, 128}, {2, 1, 70, 128}, {2, 1, 70, 128}});  // decode step
    check_attention(t, {{1, 2, 9, 80}, {1, 2, 33, 80}, {1, 2, 33, 80}});
    check_attention(t, {{3, 17, 32}, {3, 17, 32}, {3, 17, 48}});  // Dv != D
    check_attention(t, {{2, 5, 64}, {2, 5, 64}, {2, 5, 64}, {}, false, false, 0.3f});
    // ViT-B/16 shapes: one-warp blocks at batch 1, four-warp blocks at batch 8; several key tiles.
    check_attention(t, {{1, 12, 197, 64}, {1, 12, 197, 64}, {1, 12, 197, 64}});
    check_attention(t, {{8, 12, 197, 64}, {8, 12, 197, 64}, {8, 12, 197, 64}});
    check_attention(t, {{2, 3, 45, 20}, {2, 3, 45, 20}, {2, 3, 45, 20}});  // D % 8 != 0: element loads
    check_attention(t, {{1, 2, 70, 96}, {1, 2, 130, 96}, {1, 2, 130, 96}});
    // Large scores: the exp2-domain softmax subtracts the row maximum before exponentiating.
    // (Not bf16: the reference rounds scores near 10 to bf16's 1/16 steps, the kernel does not.)
    if (t != DataType::kBFloat16) check_attention(t, {{2, 3, 50, 64}, {2, 3, 50, 64}, {2, 3, 50, 64}, {}, false, false, 2.5f});
  }
}

TEST(CudaFusedPattern, AttentionAdditiveMask) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    // BERT-style key padding mask broadcast over heads and queries.
    check_attention(t, {{2, 3, 33, 64}, {2, 3, 33, 64}, {2, 3, 33, 64}, {2, 1, 1, 33}});
    check_attention(t, {{2, 2, 7, 128}, {2, 2, 40, 128}, {2, 2, 40, 128}, {7, 40}});
    check_attention(t, {{4, 9, 64}, {4, 9, 64}, {4, 9, 64}, {4, 9, 9}});
    check_attention(t, {{2, 3, 5, 64}, {2, 3, 5, 64}, {2, 3, 5, 64}, {3, 1, 5}});
  }
}

TEST(CudaFusedPattern, AttentionBoolMask) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    check_attention(t, {{2, 3, 33, 64}, {2, 3, 33, 64}, {2, 3, 33, 64}, {2, 1, 1, 33}, true});
    check_attention(t, {{2, 2, 7, 128}, {2, 2, 40, 128}, {2, 2, 40, 128}, {2, 2, 7, 40}, true});
    check_attention(t, {{3, 65, 64}, {3, 65, 64}, {3, 65, 64}, {65}, true});
  }
}

TEST(CudaFusedPattern, AttentionCausal) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    check_attention(t, {{2, 4, 129, 128}, {2, 4, 129, 128}, {2, 4, 129, 128}, {}, false, true});
    check_attention(t, {{3, 7, 64}, {3, 7, 64}, {3, 7, 64}, {}, false, true});
    check_attention(t, {{2, 2, 5, 64}, {2, 2, 40, 64}, {2, 2, 40, 64}, {}, false, true});   // Sq < Sk
    check_attention(t, {{2, 2, 40, 64}, {2, 2, 19, 64}, {2, 2, 19, 64}, {}, false, true});  // Sq > Sk
    check_attention(t, {{2, 2, 33, 64}, {2, 2, 33, 64}, {2, 2, 33, 64}, {2, 1, 1, 33}, false, true});
    check_attention(t, {{4, 16, 300, 64}, {4, 16, 300, 64}, {4, 16, 300, 64}, {}, false, true});  // four-warp blocks
    check_attention(t, {{6, 12, 203, 64}, {6, 12, 90, 64}, {6, 12, 90, 64}, {}, false, true});  // four-warp, Sq > Sk
  }
}

TEST(CudaFusedPattern, AttentionZeroSize) {
  SLIMRT_SKIP_WITHOUT_GPU();
  check_attention(DataType::kFloat16, {{0, 2, 5, 64}, {0, 2, 5, 64}, {0, 2, 5, 64}});
  check_attention(DataType::kFloat32, {{2, 0, 64}, {2, 7, 64}, {2, 7, 64}});
}

}  // namespace
}  // namespace slimrt
