// CUDA kernels for the broadcasting comparisons (Equal, Greater, GreaterOrEqual, Less,
// LessOrEqual) and logic ops (And, Or, Xor). Outputs are bool (one byte, 0/1); bools compare by
// truth value, fp16/bf16 compare exactly after widening to float, as on the CPU.
#include "cuda/kernels/elementwise_common.cuh"
#include "ir/ops/op_lists.h"

namespace slimrt::cuda {

void register_elementwise_compare_kernels(KernelRegistry& r);

namespace {

using namespace ew;

enum class Cmp { kEq, kGt, kGe, kLt, kLe };

template <Cmp kOp> struct CompareOp {
  template <typename C> __device__ uint8_t operator()(C x, C y) const {
    if constexpr (kOp == Cmp::kEq) return x == y;
    if constexpr (kOp == Cmp::kGt) return x > y;
    if constexpr (kOp == Cmp::kGe) return x >= y;
    if constexpr (kOp == Cmp::kLt) return x < y;
    return x <= y;
  }
};

// Bool operands: compared by truth value whatever byte holds them.
template <Cmp kOp> struct BoolCompareOp {
  __device__ uint8_t operator()(uint8_t x, uint8_t y) const { return CompareOp<kOp>{}(x != 0, y != 0); }
};

enum class Logic { kAnd, kOr, kXor };

template <Logic kOp> struct LogicOp {
  __device__ uint8_t operator()(uint8_t x, uint8_t y) const {
    const bool p = x != 0, q = y != 0;
    if constexpr (kOp == Logic::kAnd) return p && q;
    if constexpr (kOp == Logic::kOr) return p || q;
    return p != q;
  }
};

template <Cmp kOp> Result<std::unique_ptr<Kernel>> compare_create(const PrepareArgs& a) {
  const DataType t = a.input(0).dtype;
  if (a.input(1).dtype != t) return a.invalid("inputs differ in dtype");
  if (t == DataType::kBool) return make_ew<BoolCompareOp<kOp>, uint8_t, uint8_t, uint8_t>(a, {0, 1}, BoolCompareOp<kOp>{});
  std::unique_ptr<Kernel> k;
  const Status s = dispatch_numeric<true>(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    k = make_ew<CompareOp<kOp>, uint8_t, T, T>(a, {0, 1}, CompareOp<kOp>{});
  });
  if (!s.ok()) return a.unsupported(s.message());
  return std::move(k);
}

template <Logic kOp> Result<std::unique_ptr<Kernel>> logic_create(const PrepareArgs& a) {
  if (a.input(0).dtype != DataType::kBool || a.input(1).dtype != DataType::kBool) return a.unsupported("logic ops take bool");
  return make_ew<LogicOp<kOp>, uint8_t, uint8_t, uint8_t>(a, {0, 1}, LogicOp<kOp>{});
}

}  // namespace

void register_elementwise_compare_kernels(KernelRegistry& r) {
#define SLIMRT_ADD(Name, Kind) r.add({#Name, &compare_create<Cmp::k##Kind>, 0});
  SLIMRT_COMPARE_OPS(SLIMRT_ADD)
#undef SLIMRT_ADD
#define SLIMRT_ADD(Name) r.add({#Name, &logic_create<Logic::k##Name>, 0});
  SLIMRT_LOGIC_OPS(SLIMRT_ADD)
#undef SLIMRT_ADD
}

}  // namespace slimrt::cuda
