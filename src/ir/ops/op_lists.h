// The element-wise and reduction op families that both backends implement op for op: one list
// each, which the CPU registry (src/cpu/kernels/) and the CUDA registry (src/cuda/kernels/)
// expand. Each expansion names a per-op functor or enum case of that backend (CeilOp,
// Cmp::kEq, ReduceKind::kSum, ...), so an op added here without its kernel in one backend fails
// to compile there, and no list can drift out of step. Ops that only one backend registers in
// the family (SiLU is a fused-pattern op on the CPU), or whose kernels differ in shape (Clip,
// Pow, Where, the variadic ops), stay registered by hand beside the expansion.
#pragma once

// Float-only unary ops: X(Name) registers op type "Name" with the backend's functor NameOp.
#define SLIMRT_FLOAT_UNARY_OPS(X)                                                                 \
  X(Ceil) X(Floor) X(Round) X(Sqrt) X(Reciprocal) X(Exp) X(Log) X(Sin) X(Cos) X(Tan) X(Asin)    \
  X(Acos) X(Atan) X(Sinh) X(Cosh) X(Asinh) X(Acosh) X(Atanh) X(Tanh) X(Erf) X(Sigmoid)           \
  X(Softplus) X(Softsign) X(Elu) X(Selu) X(Celu) X(LeakyRelu) X(HardSigmoid) X(HardSwish)      \
  X(ThresholdedRelu) X(Mish) X(Gelu)

// Unary ops on floats and integers (functor NameOp).
#define SLIMRT_NUMERIC_UNARY_OPS(X) X(Abs) X(Neg) X(Sign) X(Relu) X(Shrink)

// Binary arithmetic: op type "Name", functor NameOp on the GPU, Arith::kName on the CPU.
#define SLIMRT_ARITH_BINARY_OPS(X) X(Add) X(Sub) X(Mul) X(Div)

// Comparisons: X(Name, Kind) registers op type "Name" for the backend's Cmp::kKind.
#define SLIMRT_COMPARE_OPS(X) \
  X(Equal, Eq) X(Greater, Gt) X(GreaterOrEqual, Ge) X(Less, Lt) X(LessOrEqual, Le)

// Logic on bools: op type "Name", Logic::kName.
#define SLIMRT_LOGIC_OPS(X) X(And) X(Or) X(Xor)

// Reductions over axes: X(Kind) registers op type "ReduceKind" for ReduceKind::kKind.
#define SLIMRT_REDUCE_OPS(X) \
  X(Sum) X(Mean) X(Max) X(Min) X(Prod) X(L1) X(L2) X(LogSum) X(LogSumExp) X(SumSquare)
