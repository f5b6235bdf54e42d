// CUDA kernels for the broadcasting arithmetic ops: Add, Sub, Mul, Div, Mod, Pow, PRelu, BitShift,
// the variadic Max/Min/Sum/Mean and Where. Semantics follow src/cpu/kernels/elementwise_binary.cpp:
// integer arithmetic wraps; integer division by zero (an error on the CPU) is not checked here.
#include "cuda/kernels/elementwise_common.cuh"
#include "cuda/kernels/elementwise_ops.cuh"
#include "ir/ops/op_lists.h"

namespace slimrt::cuda {

void register_elementwise_binary_kernels(KernelRegistry& r);

namespace {

using namespace ew;

// ---- functors (compute types) -------------------------------------------------------------------
struct AddOp {
  template <typename C> __device__ C operator()(C a, C b) const { return wrap_add(a, b); }
};
struct SubOp {
  template <typename C> __device__ C operator()(C a, C b) const { return wrap_sub(a, b); }
};
struct MulOp {
  template <typename C> __device__ C operator()(C a, C b) const { return wrap_mul(a, b); }
};
struct DivOp {
  template <typename C> __device__ C operator()(C a, C b) const {
    if constexpr (std::is_integral_v<C>) {
      if constexpr (std::is_signed_v<C>) {
        if (b == C(-1)) return wrap_neg(a);  // MIN / -1 wraps
      }
      return b == C(0) ? C(0) : static_cast<C>(a / b);
    } else {
      return a / b;
    }
  }
};

struct ModOp {
  bool c_fmod;
  template <typename C> __device__ C operator()(C a, C b) const {
    if constexpr (std::is_integral_v<C>) {
      if (b == C(0)) return C(0);
      C r;
      if constexpr (std::is_signed_v<C>) r = b == C(-1) ? C(0) : static_cast<C>(a % b);
      else r = static_cast<C>(a % b);
      if constexpr (std::is_signed_v<C>) {
        if (!c_fmod && r != 0 && ((r < 0) != (b < 0))) r = static_cast<C>(r + b);
      }
      return r;
    } else {
      C r;
      if constexpr (std::is_same_v<C, float>) r = fmodf(a, b);
      else r = fmod(a, b);
      if (c_fmod) return r;
      if (r == C(0)) return copysign(C(0), b);
      return (r < C(0)) != (b < C(0)) ? r + b : r;
    }
  }
};

template <typename C> __device__ C int_pow(C base, uint64_t e) {
  C result = 1;
  while (e) {
    if (e & 1) result = wrap_mul(result, base);
    e >>= 1;
    if (e) base = wrap_mul(base, base);
  }
  return result;
}

// Truncation toward zero, NaN -> 0, saturating at the type's range.
template <typename C> __device__ C saturate_cast(double v) {
  if (v != v) return C(0);
  if (v <= static_cast<double>(std::numeric_limits<C>::lowest())) return std::numeric_limits<C>::lowest();
  if (v >= static_cast<double>(std::numeric_limits<C>::max())) return std::numeric_limits<C>::max();
  return static_cast<C>(v);
}

struct PowOp {
  template <typename C, typename E> __device__ C operator()(C x, E y) const {
    if constexpr (std::is_floating_point_v<C>) {
      if constexpr (std::is_same_v<C, float>) return powf(x, static_cast<float>(y));
      else return pow(x, static_cast<double>(y));
    } else {
      if constexpr (std::is_unsigned_v<E>) {
        return int_pow(x, static_cast<uint64_t>(y));
      } else if constexpr (std::is_integral_v<E>) {
        if (y >= 0) return int_pow(x, static_cast<uint64_t>(y));
      }
      return saturate_cast<C>(trunc(pow(static_cast<double>(x), static_cast<double>(y))));
    }
  }
};

struct PReluOp {
  template <typename C> __device__ C operator()(C v, C s) const {
    if constexpr (std::is_unsigned_v<C>) return v;
    else return v < C(0) ? wrap_mul(v, s) : v;
  }
};

struct BitShiftOp {
  bool left;
  __device__ uint8_t operator()(uint8_t v, uint8_t n) const {
    if (n >= 8) return 0;
    return left ? static_cast<uint8_t>((v << n) & 0xff) : static_cast<uint8_t>(v >> n);
  }
};

struct WhereOp {
  template <typename C> __device__ C operator()(uint8_t c, C x, C y) const { return c ? x : y; }
};

enum class Fold { kMax, kMin, kSum };

// One step of a variadic fold; the last step of Mean divides by the input count.
template <Fold kOp> struct FoldOp {
  double divisor = 1;
  template <typename C> __device__ C operator()(C acc, C v) const {
    C r;
    if constexpr (kOp == Fold::kSum) {
      r = wrap_add(acc, v);
    } else {
      if constexpr (std::is_floating_point_v<C>) {
        if (acc != acc || v != v) return acc != acc ? acc : v;  // NaN propagates
      }
      if constexpr (kOp == Fold::kMax) r = v > acc ? v : acc;
      else r = v < acc ? v : acc;
    }
    if (divisor != 1) r = static_cast<C>(r / static_cast<C>(divisor));
    return r;
  }
};

// ---- factories ---------------------------------------------------------------------------------
template <typename Op, bool kInts>
Result<std::unique_ptr<Kernel>> same_type_create(const PrepareArgs& a, Op op) {
  if (a.input(1).dtype != a.input(0).dtype) return a.invalid("inputs differ in dtype");
  std::unique_ptr<Kernel> k;
  const Status s = dispatch_numeric<kInts>(a.input(0).dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    k = make_ew<Op, T, T, T>(a, {0, 1}, op);
  });
  if (!s.ok()) return a.unsupported(s.message());
  return std::move(k);
}

template <typename Op> Result<std::unique_ptr<Kernel>> arith_create(const PrepareArgs& a) {
  return same_type_create<Op, true>(a, Op{});
}
Result<std::unique_ptr<Kernel>> mod_create(const PrepareArgs& a) {
  return same_type_create<ModOp, true>(a, ModOp{a.node.attr_int("fmod", 0) != 0});
}
Result<std::unique_ptr<Kernel>> prelu_create(const PrepareArgs& a) { return same_type_create<PReluOp, true>(a, PReluOp{}); }

Result<std::unique_ptr<Kernel>> bitshift_create(const PrepareArgs& a) {
  if (a.input(0).dtype != DataType::kUInt8 || a.input(1).dtype != DataType::kUInt8)
    return a.unsupported("BitShift supports uint8 only (as the CPU reference does)");
  return make_ew<BitShiftOp, uint8_t, uint8_t, uint8_t>(a, {0, 1}, BitShiftOp{a.node.attr_string("direction", "") == "LEFT"});
}

// Exponents: the base's own type, float32, int32 or int64 (and double for integer bases).
Result<std::unique_ptr<Kernel>> pow_create(const PrepareArgs& a) {
  const DataType bt = a.input(0).dtype, et = a.input(1).dtype;
  std::unique_ptr<Kernel> k;
  const Status s = dispatch_numeric<true>(bt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (et == bt) k = make_ew<PowOp, T, T, T>(a, {0, 1}, PowOp{});
    else if (et == DataType::kFloat32) k = make_ew<PowOp, T, T, float>(a, {0, 1}, PowOp{});
    else if (et == DataType::kInt64) k = make_ew<PowOp, T, T, int64_t>(a, {0, 1}, PowOp{});
    else if (et == DataType::kInt32) k = make_ew<PowOp, T, T, int32_t>(a, {0, 1}, PowOp{});
    else if constexpr (std::is_integral_v<T>) {
      if (et == DataType::kFloat64) k = make_ew<PowOp, T, T, double>(a, {0, 1}, PowOp{});
    }
  });
  if (!s.ok()) return a.unsupported(s.message());
  if (!k) return a.unsupported("Pow with this exponent dtype");
  return std::move(k);
}

// Where moves bytes only: every dtype by its element size.
Result<std::unique_ptr<Kernel>> where_create(const PrepareArgs& a) {
  if (a.input(0).dtype != DataType::kBool) return a.invalid("Where's condition must be bool");
  std::unique_ptr<Kernel> k;
  const Status s = dispatch_bytes(a.input(1).dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    k = make_ew<WhereOp, T, uint8_t, T, T>(a, {0, 1, 2}, WhereOp{});
  });
  if (!s.ok()) return a.unsupported(s.message());
  return std::move(k);
}

// Variadic ops fold pairwise into the output: out = op(in0, in1), then out = op(out, in_i).
template <Fold kOp, typename T> class VariadicKernel final : public Kernel {
 public:
  using Step = Launch<FoldOp<kOp>, T, T, T>;
  VariadicKernel(const PrepareArgs& a, bool mean) : inputs_(a.inputs.size()), bytes_(a.output(0).bytes()) {
    const std::vector<int64_t>& out = a.output(0).dims;
    for (size_t i = 1; i < inputs_; ++i) {
      FoldOp<kOp> op;
      if (mean && i + 1 == inputs_) op.divisor = static_cast<double>(inputs_);
      steps_.emplace_back(op, out, std::array<const std::vector<int64_t>*, 2>{i == 1 ? &a.input(0).dims : &out, &a.input(i).dims});
    }
  }
  Status enqueue(const LaunchArgs& args) const override {
    T* out = args.out<T>(0);
    if (inputs_ == 1) {
      if (bytes_ == 0) return Status::OK();
      return SLIMRT_CUDA(cudaMemcpyAsync(out, args.input(0), bytes_, cudaMemcpyDeviceToDevice, args.stream), "Variadic copy");
    }
    for (size_t i = 1; i < inputs_; ++i) steps_[i - 1].run(args.stream, out, i == 1 ? args.in<T>(0) : out, args.in<T>(i));
    return Status::OK();
  }

 private:
  size_t inputs_;
  uint64_t bytes_;
  std::vector<Step> steps_;
};

template <Fold kOp, bool kMean> Result<std::unique_ptr<Kernel>> variadic_create(const PrepareArgs& a) {
  if (a.inputs.empty()) return a.invalid("no inputs");
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    if (!a.has_input(i)) return a.invalid("input " + std::to_string(i) + " is absent");
    if (a.input(i).dtype != a.input(0).dtype) return a.invalid("inputs differ in dtype");
  }
  std::unique_ptr<Kernel> k;
  const Status s = dispatch_numeric<true>(a.input(0).dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    k = std::make_unique<VariadicKernel<kOp, T>>(a, kMean);
  });
  if (!s.ok()) return a.unsupported(s.message());
  return std::move(k);
}

}  // namespace

void register_elementwise_binary_kernels(KernelRegistry& r) {
#define SLIMRT_ADD(Name) r.add({#Name, &arith_create<Name##Op>, 0});
  SLIMRT_ARITH_BINARY_OPS(SLIMRT_ADD)
#undef SLIMRT_ADD
  r.add({"Mod", &mod_create, 0});
  r.add({"Pow", &pow_create, 0});
  r.add({"PRelu", &prelu_create, 0});
  r.add({"BitShift", &bitshift_create, 0});
  r.add({"Where", &where_create, 0});
  r.add({"Max", &variadic_create<Fold::kMax, false>, 0});
  r.add({"Min", &variadic_create<Fold::kMin, false>, 0});
  r.add({"Sum", &variadic_create<Fold::kSum, false>, 0});
  r.add({"Mean", &variadic_create<Fold::kSum, true>, 0});
}

}  // namespace slimrt::cuda
