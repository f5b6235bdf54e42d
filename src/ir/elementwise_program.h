// FusedElementwise: a chain of element-wise float ops fused into one node by the builder
// (src/passes/fuse_elementwise.cpp), run as one kernel.
//
//   FusedElementwise(X0, ..., Xn-1) -> Y
//     attributes  ops    [k] opcodes (EwOp)
//                 args   [2k] register operands per op (b = -1 for unary ops)
//                 alphas [k], betas [k] per-op parameters (LeakyRelu alpha, Clip min/max,
//                                       HardSigmoid alpha/beta)
//
// Registers 0..n-1 hold the inputs (broadcast, multidirectionally, to Y's shape); op j writes
// register n + j and reads only lower registers; Y is the last register. All inputs and Y share
// one float dtype. The arithmetic is exact-as-possible: the CPU reference evaluates in double,
// the CUDA kernel in fp32 (fp64 for double), and Y is rounded once -- where the unfused ops
// rounded after every step, so half-precision graphs get slightly more accurate.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "slimrt/graph.h"
#include "slimrt/status.h"

namespace slimrt {

enum class EwOp : int32_t {
  kAdd, kSub, kMul, kDiv, kMax, kMin,                                  // binary
  kAbs, kNeg, kSqrt, kRelu, kLeakyRelu, kSigmoid, kTanh, kErf,         // unary
  kGelu, kGeluTanh, kSiLU, kClip, kHardSigmoid, kSoftplus, kReciprocal,
  kCount
};

struct EwInstr {
  EwOp op = EwOp::kAdd;
  int32_t a = 0, b = -1;  // registers
  float alpha = 0, beta = 0;
};

inline constexpr int kMaxEwInputs = 8;
inline constexpr int kMaxEwOps = 32;

bool ew_is_binary(EwOp op);
std::string_view ew_op_name(EwOp op);

// The program of a FusedElementwise node with `num_inputs` inputs, validated (opcodes known,
// operands in range and below the op's own register, sizes within the limits above).
Result<std::vector<EwInstr>> read_ew_program(const Node& n, size_t num_inputs);
// The attributes that encode `code` on node `n`.
void write_ew_program(Node* n, const std::vector<EwInstr>& code);

}  // namespace slimrt
