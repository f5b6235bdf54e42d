// CUDA linalg family (MatMul, Gemm, FusedMatMul, Einsum) against the CPU reference.
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
using Shape = std::vector<int64_t>;

const DataType kFloatTypes[] = {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16};

std::string shape_str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

void check_matmul(DataType t, const Shape& a, const Shape& b, bool b_const = false) {
  auto rng = testing::make_rng();
  OpCheck c;
  c.op_type = "MatMul";
  c.inputs = {testing::random_tensor(t, a, rng), testing::random_tensor(t, b, rng)};
  if (b_const) c.constant_inputs = {1};
  SCOPED_TRACE(std::string(dtype_name(t)) + " " + shape_str(a) + " x " + shape_str(b));
  testing::expect_cuda_matches_cpu(c);
}

TEST(CudaLinalg, MatMul2D) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    check_matmul(t, {17, 65}, {65, 33});
    check_matmul(t, {1, 257}, {257, 3});
    check_matmul(t, {64, 128}, {128, 96}, true);
    check_matmul(t, {3, 1}, {1, 5});
  }
}

TEST(CudaLinalg, MatMulBatched) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    check_matmul(t, {4, 9, 64}, {64, 48}, true);         // shared B folds into M
    check_matmul(t, {2, 3, 17, 65}, {65, 33});           // shared B, rank 4
    check_matmul(t, {4, 9, 64}, {1, 64, 48});            // B batch of 1 folds too
    check_matmul(t, {2, 4, 9, 16}, {2, 4, 16, 9});       // strided batch (attention scores)
    check_matmul(t, {2, 3, 5, 7}, {2, 3, 7, 6});
    check_matmul(t, {5, 7}, {4, 7, 6});                  // shared A: batch stride 0
    check_matmul(t, {1, 5, 7}, {3, 2, 7, 6});            // shared A over two dims
    check_matmul(t, {2, 1, 5, 7}, {1, 3, 7, 6});         // both broadcast: list of calls
    check_matmul(t, {3, 1, 5, 7}, {3, 4, 7, 6});         // B batched, A broadcast inside
    check_matmul(t, {2, 3, 1, 5, 7}, {3, 4, 7, 6});
  }
}

TEST(CudaLinalg, MatMulVectors) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    check_matmul(t, {3, 5, 7}, {7});      // 1-D B
    check_matmul(t, {7}, {3, 7, 5});      // 1-D A
    check_matmul(t, {33}, {33, 17});
    check_matmul(t, {65}, {65});          // dot product: scalar output
  }
}

TEST(CudaLinalg, MatMulZeroSize) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    check_matmul(t, {0, 7}, {7, 5});
    check_matmul(t, {2, 0, 3, 4}, {4, 5});
    check_matmul(t, {3, 0}, {0, 4});      // K = 0: zeros
    check_matmul(t, {2, 3, 0}, {2, 0, 4});
  }
}

TEST(CudaLinalg, MatMulDouble) {
  SLIMRT_SKIP_WITHOUT_GPU();
  check_matmul(DataType::kFloat64, {17, 65}, {65, 33});
  check_matmul(DataType::kFloat64, {2, 1, 5, 7}, {1, 3, 7, 6});
}

TEST(CudaLinalg, MatMulIntegers) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : {DataType::kInt32, DataType::kInt64, DataType::kInt8, DataType::kUInt8}) {
    for (const auto& [a, b] : std::vector<std::pair<Shape, Shape>>{
             {{5, 7}, {7, 6}}, {{2, 1, 5, 7}, {1, 3, 7, 6}}, {{3, 5, 7}, {7}}, {{7}, {7}}, {{3, 0}, {0, 4}}}) {
      auto rng = testing::make_rng();
      OpCheck c;
      c.op_type = "MatMul";
      c.inputs = {testing::random_tensor(t, a, rng, 0, 9), testing::random_tensor(t, b, rng, 0, 9)};
      SCOPED_TRACE(std::string(dtype_name(t)) + " " + shape_str(a) + " x " + shape_str(b));
      testing::expect_cuda_matches_cpu(c);
    }
  }
}

TEST(CudaLinalg, GemmIntegers) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : {DataType::kInt32, DataType::kInt64}) {
    for (bool ta : {false, true}) {
      for (bool tb : {false, true}) {
        auto rng = testing::make_rng();
        OpCheck c;
        c.op_type = "Gemm";
        c.inputs = {testing::random_tensor(t, ta ? Shape{7, 5} : Shape{5, 7}, rng, -9, 9),
                    testing::random_tensor(t, tb ? Shape{6, 7} : Shape{7, 6}, rng, -9, 9),
                    testing::random_tensor(t, {5, 1}, rng, -9, 9)};
        c.attrs = {{"transA", int64_t{ta}}, {"transB", int64_t{tb}}, {"alpha", 2.0f}, {"beta", 3.0f}};
        SCOPED_TRACE(std::string(dtype_name(t)) + " tA" + std::to_string(ta) + " tB" + std::to_string(tb));
        testing::expect_cuda_matches_cpu(c);
      }
    }
  }
}

void check_gemm(DataType t, int64_t m, int64_t n, int64_t k, bool ta, bool tb, const Shape* c_shape, float alpha,
                float beta) {
  auto rng = testing::make_rng();
  OpCheck c;
  c.op_type = "Gemm";
  c.inputs = {testing::random_tensor(t, ta ? Shape{k, m} : Shape{m, k}, rng),
              testing::random_tensor(t, tb ? Shape{n, k} : Shape{k, n}, rng)};
  if (c_shape) c.inputs.push_back(testing::random_tensor(t, *c_shape, rng));
  c.attrs = {{"transA", int64_t{ta}}, {"transB", int64_t{tb}}, {"alpha", alpha}, {"beta", beta}};
  c.constant_inputs = {1};
  SCOPED_TRACE(std::string(dtype_name(t)) + " M" + std::to_string(m) + " N" + std::to_string(n) + " K" +
               std::to_string(k) + " tA" + std::to_string(ta) + " tB" + std::to_string(tb) + " C" +
               (c_shape ? shape_str(*c_shape) : "none") + " alpha " + std::to_string(alpha) + " beta " +
               std::to_string(beta));
  testing::expect_cuda_matches_cpu(c);
}

TEST(CudaLinalg, GemmTransposes) {
  SLIMRT_SKIP_WITHOUT_GPU();
  const Shape bias{33};
  for (DataType t : kFloatTypes) {
    for (bool ta : {false, true}) {
      for (bool tb : {false, true}) {
        check_gemm(t, 17, 33, 65, ta, tb, nullptr, 1.0f, 1.0f);
        check_gemm(t, 17, 33, 65, ta, tb, &bias, 1.0f, 1.0f);
      }
    }
  }
}

TEST(CudaLinalg, GemmAlphaBetaC) {
  SLIMRT_SKIP_WITHOUT_GPU();
  const int64_t m = 9, n = 33, k = 20;
  const std::vector<Shape> cs = {{n}, {1, n}, {m, 1}, {m, n}, {}, {1}, {1, 1}};
  for (DataType t : kFloatTypes) {
    for (const Shape& s : cs) {
      check_gemm(t, m, n, k, false, true, &s, 1.0f, 1.0f);
      check_gemm(t, m, n, k, false, true, &s, 0.7f, 1.0f);  // bias epilogue still applies
      check_gemm(t, m, n, k, true, false, &s, 1.0f, 0.5f);
      check_gemm(t, m, n, k, false, false, &s, -1.5f, 0.0f);  // C ignored
    }
    check_gemm(t, 8, 64, 128, false, true, nullptr, 0.25f, 1.0f);
  }
}

TEST(CudaLinalg, GemmZeroSize) {
  SLIMRT_SKIP_WITHOUT_GPU();
  const Shape mn{5, 6}, row{6};
  for (DataType t : kFloatTypes) {
    check_gemm(t, 0, 6, 4, false, false, &row, 1.0f, 1.0f);
    check_gemm(t, 5, 6, 0, false, false, &mn, 1.0f, 0.5f);  // K = 0: beta * C
    check_gemm(t, 5, 6, 0, true, true, &row, 2.0f, 1.0f);
    check_gemm(t, 5, 6, 0, false, false, nullptr, 1.0f, 1.0f);
  }
}

struct FusedCase {
  Shape a, b;
  Shape bias;      // empty + !has_bias: none
  bool has_bias = false;
  Shape residual;  // empty + !has_residual: none
  bool has_residual = false;
};

void check_fused(DataType t, const FusedCase& fc, const std::string& act, bool residual_first, Attrs extra = {},
                 bool gemm = false) {
  auto rng = testing::make_rng();
  OpCheck c;
  c.op_type = "FusedMatMul";
  c.inputs = {testing::random_tensor(t, fc.a, rng), testing::random_tensor(t, fc.b, rng)};
  c.inputs.push_back(fc.has_bias ? testing::random_tensor(t, fc.bias, rng) : Tensor());
  if (fc.has_residual) c.inputs.push_back(testing::random_tensor(t, fc.residual, rng));
  c.attrs = {{"activation", act}, {"residual_before_activation", int64_t{residual_first}}, {"gemm", int64_t{gemm}}};
  for (auto& kv : extra) c.attrs.push_back(kv);
  c.constant_inputs = {1};
  SCOPED_TRACE(std::string(dtype_name(t)) + " " + shape_str(fc.a) + " x " + shape_str(fc.b) + " bias " +
               (fc.has_bias ? shape_str(fc.bias) : "none") + " residual " +
               (fc.has_residual ? shape_str(fc.residual) : "none") + " act '" + act + "' first " +
               std::to_string(residual_first) + (gemm ? " gemm" : ""));
  testing::expect_cuda_matches_cpu(c);
}

const char* const kActs[] = {"", "Relu", "Gelu", "GeluTanh", "SiLU", "Sigmoid", "Tanh", "LeakyRelu"};

TEST(CudaLinalg, FusedMatMulActivations) {
  SLIMRT_SKIP_WITHOUT_GPU();
  const FusedCase cases[] = {
      {{2, 9, 64}, {64, 48}, {48}, true, {}, false},             // bias epilogue, vector path
      {{17, 65}, {65, 33}, {33}, true, {}, false},               // odd N
      {{2, 9, 64}, {64, 48}, {}, false, {}, false},              // no bias
      {{2, 9, 16}, {2, 16, 33}, {9, 1}, true, {}, false},        // bias along M: own epilogue
  };
  for (DataType t : kFloatTypes) {
    for (const FusedCase& fc : cases) {
      for (const char* act : kActs) check_fused(t, fc, act, false, {{"alpha", 0.2f}});
    }
  }
}

TEST(CudaLinalg, FusedMatMulResidual) {
  SLIMRT_SKIP_WITHOUT_GPU();
  const FusedCase cases[] = {
      {{2, 9, 64}, {64, 48}, {48}, true, {2, 9, 48}, true},      // BERT: bias + residual
      {{17, 65}, {65, 33}, {33}, true, {33}, true},              // residual broadcast along rows
      {{3, 5, 7}, {7, 6}, {}, false, {5, 1}, true},              // residual broadcast along M
      {{3, 5, 7}, {3, 7, 6}, {1, 5, 6}, true, {3, 5, 6}, true},  // general bias, batched
      {{3, 5, 7}, {7}, {1}, true, {3, 5}, true},                 // 1-D B
  };
  for (DataType t : kFloatTypes) {
    for (const FusedCase& fc : cases) {
      for (const char* act : {"", "Relu", "Gelu", "GeluTanh", "Sigmoid"}) {
        check_fused(t, fc, act, false);
        check_fused(t, fc, act, true);
      }
    }
  }
}

TEST(CudaLinalg, FusedMatMulClip) {
  SLIMRT_SKIP_WITHOUT_GPU();
  // fp32 only: the CPU reference passes Clip's bounds as fp32 scalars whatever the data type.
  const FusedCase fc{{4, 9, 32}, {32, 24}, {24}, true, {4, 9, 24}, true};
  check_fused(DataType::kFloat32, fc, "Clip", false, {{"min", -0.25f}, {"max", 0.5f}});
  check_fused(DataType::kFloat32, fc, "Clip", true, {{"max", 0.3f}});
  check_fused(DataType::kFloat32, fc, "Clip", true, {{"min", 0.0f}});
}

TEST(CudaLinalg, FusedMatMulGemmForm) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    for (const char* act : {"", "Relu", "Gelu", "GeluTanh", "Tanh"}) {
      // C along N with beta 1: cuBLASLt bias epilogue.
      check_fused(t, {{9, 64}, {48, 64}, {48}, true, {}, false}, act, false,
                  {{"transB", int64_t{1}}, {"beta", 1.0f}}, true);
      // Full C with beta, residual after the activation.
      check_fused(t, {{17, 33}, {33, 20}, {17, 20}, true, {17, 20}, true}, act, false,
                  {{"alpha", 0.5f}, {"beta", 0.5f}}, true);
      // Broadcast C copied first, residual before the activation.
      check_fused(t, {{33, 17}, {33, 20}, {17, 1}, true, {20}, true}, act, true,
                  {{"transA", int64_t{1}}, {"beta", 2.0f}}, true);
      // No C, residual before the activation rides in C.
      check_fused(t, {{17, 33}, {33, 20}, {}, false, {17, 20}, true}, act, true, {}, true);
    }
  }
}

TEST(CudaLinalg, FusedMatMulZeroSize) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    check_fused(t, {{0, 9, 8}, {8, 6}, {6}, true, {0, 9, 6}, true}, "Relu", false);
    check_fused(t, {{3, 5, 0}, {0, 6}, {6}, true, {3, 5, 6}, true}, "Gelu", true);  // K = 0
  }
}

void check_einsum(DataType t, const std::string& eq, const Shape& a, const Shape& b) {
  auto rng = testing::make_rng();
  OpCheck c;
  c.op_type = "Einsum";
  c.inputs = {testing::random_tensor(t, a, rng), testing::random_tensor(t, b, rng)};
  c.attrs = {{"equation", eq}};
  SCOPED_TRACE(std::string(dtype_name(t)) + " '" + eq + "' " + shape_str(a) + " " + shape_str(b));
  testing::expect_cuda_matches_cpu(c);
}

TEST(CudaLinalg, EinsumGemmForms) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    check_einsum(t, "ij,jk->ik", {17, 65}, {65, 33});
    check_einsum(t, "ij,kj->ik", {17, 65}, {33, 65});
    check_einsum(t, "ji,jk->ik", {65, 17}, {65, 33});
    check_einsum(t, "ij,jk", {5, 7}, {7, 3});                       // implicit output
    check_einsum(t, "bij,bjk->bik", {3, 5, 7}, {3, 7, 6});
    check_einsum(t, "bhqd,bhkd->bhqk", {2, 3, 9, 16}, {2, 3, 11, 16});  // attention scores
    check_einsum(t, "bhqk,bhkd->bhqd", {2, 3, 9, 11}, {2, 3, 11, 16});
    check_einsum(t, "...ij,...jk->...ik", {2, 3, 5, 7}, {2, 3, 7, 4});
    check_einsum(t, "bid,de->bie", {2, 5, 7}, {7, 6});               // batch folds into M
    check_einsum(t, "ik,jk->ji", {5, 7}, {6, 7});                    // output [N][M]
    check_einsum(t, "i,i->", {33}, {33});                             // dot
    check_einsum(t, "i,j->ij", {5}, {7});                             // outer product
    check_einsum(t, "bij,bjk->bik", {0, 5, 7}, {0, 7, 6});           // zero-size
  }
}

// Any number of operands; integers are small (sums of products still wrap for 8-bit types,
// which the CPU reference does too).
void check_einsum_n(DataType t, const std::string& eq, const std::vector<Shape>& shapes) {
  auto rng = testing::make_rng();
  OpCheck c;
  c.op_type = "Einsum";
  std::string trace = std::string(dtype_name(t)) + " '" + eq + "'";
  const bool ints = !dtype_is_float(t);
  const double lo = t == DataType::kUInt8 ? 0 : -4;
  for (const Shape& s : shapes) {
    c.inputs.push_back(ints ? testing::random_tensor(t, s, rng, lo, lo + 9) : testing::random_tensor(t, s, rng));
    trace += " " + shape_str(s);
  }
  c.attrs = {{"equation", eq}};
  SCOPED_TRACE(trace);
  testing::expect_cuda_matches_cpu(c);
}

// Equations the GEMM path does not take: the generic kernel.
TEST(CudaLinalg, EinsumGeneric) {
  SLIMRT_SKIP_WITHOUT_GPU();
  // The ONNX conformance cases.
  check_einsum_n(DataType::kFloat64, "...ii ->...i", {{3, 5, 5}});
  check_einsum_n(DataType::kFloat64, "ij->i", {{3, 4}});
  check_einsum_n(DataType::kFloat64, "ij->ji", {{3, 4}});
  for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kFloat64}) {
    check_einsum_n(t, "...ii->...i", {{2, 3, 7, 7}});
    check_einsum_n(t, "ij->i", {{5, 33}});
    check_einsum_n(t, "ij->j", {{1001, 65}});                       // long sums: block per output
    check_einsum_n(t, "ij->ji", {{7, 33}});
    check_einsum_n(t, "ji", {{7, 33}});                              // implicit output: transpose
    check_einsum_n(t, "ii->i", {{17, 17}});
    check_einsum_n(t, "ii->", {{17, 17}});
    check_einsum_n(t, "ij,ij->ij", {{5, 7}, {5, 7}});
    check_einsum_n(t, "bij,bjk,bkl->bil", {{3, 5, 7}, {3, 7, 6}, {3, 6, 4}});
    check_einsum_n(t, "i,i,i->", {{257}, {257}, {257}});
    check_einsum_n(t, "...ij->...ji", {{2, 3, 5, 7}});
    check_einsum_n(t, "ijk->", {{7, 9, 11}});
    check_einsum_n(t, "ijk->", {{33, 65, 129}});                    // one long sum
    check_einsum_n(t, "ijk->kj", {{33, 5, 7}});                     // summed outer axis
    check_einsum_n(t, "iij->j", {{9, 9, 13}});                       // diagonal, then summed
    check_einsum_n(t, "ij,jk->ikj", {{5, 7}, {7, 3}});               // no contraction, reordered
    check_einsum_n(t, "...ij,...jk->...ik", {{2, 1, 5, 7}, {1, 3, 7, 6}});  // ellipsis broadcast
    check_einsum_n(t, "...i,i->...", {{3, 5, 9}, {9}});              // ellipsis only in one operand
    check_einsum_n(t, "ij->i", {{0, 5}});                            // zero-size output
    check_einsum_n(t, "ij->i", {{5, 0}});                            // empty sum: zeros
  }
}

TEST(CudaLinalg, EinsumGenericIntegers) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : {DataType::kInt32, DataType::kInt64, DataType::kInt8, DataType::kUInt8}) {
    check_einsum_n(t, "ij->i", {{5, 33}});
    check_einsum_n(t, "ij->j", {{301, 65}});
    check_einsum_n(t, "ii->i", {{17, 17}});
    check_einsum_n(t, "bij,bjk,bkl->bil", {{3, 5, 7}, {3, 7, 6}, {3, 6, 4}});
    check_einsum_n(t, "...ij->...ji", {{2, 3, 5, 7}});
  }
}

}  // namespace
}  // namespace slimrt
