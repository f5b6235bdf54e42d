// FusedElementwise on CUDA (fp32 registers) against the CPU reference (double): every opcode,
// broadcast inputs, odd sizes; and graphs fused by the pass.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gpu_test_util.h"
#include "ir/elementwise_program.h"
#include "slimrt/builder/passes.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

using testing::OpCheck;

// The attributes write_ew_program gives a node.
std::vector<std::pair<std::string, Attribute>> program_attrs(const std::vector<EwInstr>& code) {
  Graph g;
  Node* n = g.add_node("FusedElementwise", "scratch", {}, 1);
  write_ew_program(n, code);
  return {n->attributes().begin(), n->attributes().end()};
}

// One program over three inputs: x [2, 37, 9], a [9] (broadcast), b [2, 1, 9] (broadcast).
OpCheck program_check(DataType t, const std::vector<EwInstr>& code, std::mt19937_64& rng) {
  OpCheck c("FusedElementwise");
  c.inputs = {testing::random_tensor(t, {2, 37, 9}, rng, -2, 2), testing::random_tensor(t, {9}, rng, 0.5, 2),
              testing::random_tensor(t, {2, 1, 9}, rng, -2, 2)};
  c.attrs = program_attrs(code);
  return c;
}

TEST(CudaFusedElementwise, EveryOpcode) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16}) {
    for (int op = 0; op < static_cast<int>(EwOp::kCount); ++op) {
      const EwOp o = static_cast<EwOp>(op);
      std::vector<EwInstr> code;
      // x op a (binary) or op(x) (unary), then + b, then op again on the result with a.
      if (ew_is_binary(o)) {
        code = {{o, 0, 1, 0, 0}, {EwOp::kAdd, 3, 2, 0, 0}, {o, 4, 1, 0, 0}};
      } else {
        // Sqrt and Reciprocal on |x| + a > 0.
        code = {{EwOp::kAbs, 0, -1, 0, 0}, {EwOp::kAdd, 3, 1, 0, 0}, {o, 4, -1, 0.3f, 0.6f}, {EwOp::kMul, 5, 2, 0, 0}};
        if (o == EwOp::kClip) code[2].alpha = 0.7f, code[2].beta = 1.9f;
      }
      SCOPED_TRACE(std::string(dtype_name(t)) + " " + std::string(ew_op_name(o)));
      testing::expect_cuda_matches_cpu(program_check(t, code, rng));
    }
  }
}

TEST(CudaFusedElementwise, LongProgramAndEightInputs) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  // Registers live in shared memory: 40 of them x 256 threads is 80 KB for double (opt-in size).
  for (DataType t : {DataType::kFloat32, DataType::kFloat64}) {
    OpCheck c("FusedElementwise");
    for (int i = 0; i < kMaxEwInputs; ++i) c.inputs.push_back(testing::random_tensor(t, {3, 1001}, rng));
    std::vector<EwInstr> code;
    int32_t last = 0;
    for (int32_t k = 0; k < kMaxEwOps; ++k) {
      const bool bin = k % 2 == 0;
      code.push_back({bin ? EwOp::kAdd : EwOp::kTanh, last, bin ? (k / 2) % kMaxEwInputs : -1, 0, 0});
      last = kMaxEwInputs + k;
    }
    c.attrs = program_attrs(code);
    SCOPED_TRACE(dtype_name(t));
    testing::expect_cuda_matches_cpu(c);
  }
}

// LLaMA's SwiGLU and rotary combination, fused by the pass, as one graph on both backends.
TEST(CudaFusedElementwise, PassFusedGraph) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : {DataType::kFloat32, DataType::kFloat16}) {
    auto rng = testing::make_rng();
    Graph g;
    Value* gate = g.add_input("gate", t, Shape{Dim::symbol("n"), 344});
    Value* up = g.add_input("up", t, Shape{Dim::symbol("n"), 344});
    Value* cos = g.add_initializer("cos", testing::random_tensor(t, {344}, rng));
    Value* s = g.add_node("Sigmoid", "sig", {gate}, 1)->output(0);
    Value* silu = g.add_node("Mul", "silu", {gate, s}, 1)->output(0);
    Value* m = g.add_node("Mul", "swiglu", {silu, up}, 1)->output(0);
    Value* r = g.add_node("Mul", "rot", {m, cos}, 1)->output(0);
    g.add_output(g.add_node("Add", "res", {r, up}, 1, {"y"})->output(0));
    ASSERT_TRUE(infer_shapes(g).ok());
    ASSERT_TRUE(fuse_elementwise(g, nullptr).ok());
    ASSERT_EQ(testing::count_op(g, "FusedElementwise"), 1u);
    for (int64_t n : {1, 77}) {
      SCOPED_TRACE(std::string(dtype_name(t)) + " n " + std::to_string(n));
      testing::expect_graph_cuda_matches_cpu(
          g, {{"gate", testing::random_tensor(t, {n, 344}, rng, -3, 3)}, {"up", testing::random_tensor(t, {n, 344}, rng)}});
    }
  }
}

}  // namespace
}  // namespace slimrt
