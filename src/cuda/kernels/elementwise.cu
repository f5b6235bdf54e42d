// CUDA kernels: elementwise family (see src/cuda/kernel.h). This file has the unary ops (math,
// activations, SiLU, Clip, IsNaN, IsInf, Not) and the family's registration; binary and variadic
// ops are in elementwise_binary.cu, comparisons and logic in elementwise_compare.cu, Cast,
// CastLike and Dropout in elementwise_cast.cu.
//
// Semantics follow the CPU reference (src/cpu/kernels/elementwise.cpp): fp16/bf16 compute in
// float and round once; fp32 uses float math (within an ulp or two of the CPU's double-then-round).
#include "cuda/kernels/device_math.cuh"
#include "cuda/kernels/elementwise_common.cuh"
#include "cuda/kernels/elementwise_ops.cuh"
#include "ir/ops/op_lists.h"

namespace slimrt::cuda {

void register_elementwise_binary_kernels(KernelRegistry& r);   // elementwise_binary.cu
void register_elementwise_compare_kernels(KernelRegistry& r);  // elementwise_compare.cu
void register_elementwise_cast_kernels(KernelRegistry& r);     // elementwise_cast.cu

namespace {

using namespace ew;

// ---- float math ------------------------------------------------------------------------------
#define SLIMRT_EW_MATH(Name, expr)                               \
  struct Name {                                                  \
    explicit Name(const Node&) {}                                \
    template <typename C> __device__ C operator()(C v) const {   \
      return expr;                                               \
    }                                                            \
  };

SLIMRT_EW_MATH(ExpOp, m_exp(v))
SLIMRT_EW_MATH(LogOp, m_log(v))
SLIMRT_EW_MATH(SinOp, m_sin(v))
SLIMRT_EW_MATH(CosOp, m_cos(v))
SLIMRT_EW_MATH(TanOp, m_tan(v))
SLIMRT_EW_MATH(AsinOp, m_asin(v))
SLIMRT_EW_MATH(AcosOp, m_acos(v))
SLIMRT_EW_MATH(AtanOp, m_atan(v))
SLIMRT_EW_MATH(SinhOp, m_sinh(v))
SLIMRT_EW_MATH(CoshOp, m_cosh(v))
SLIMRT_EW_MATH(AsinhOp, m_asinh(v))
SLIMRT_EW_MATH(AcoshOp, m_acosh(v))
SLIMRT_EW_MATH(AtanhOp, m_atanh(v))
SLIMRT_EW_MATH(TanhOp, m_tanh(v))
SLIMRT_EW_MATH(ErfOp, m_erf(v))
SLIMRT_EW_MATH(SqrtOp, m_sqrt(v))
SLIMRT_EW_MATH(CeilOp, m_ceil(v))
SLIMRT_EW_MATH(FloorOp, m_floor(v))
SLIMRT_EW_MATH(RoundOp, m_rint(v))  // half to even
SLIMRT_EW_MATH(ReciprocalOp, C(1) / v)
SLIMRT_EW_MATH(SigmoidOp, sigmoid(v))
SLIMRT_EW_MATH(SoftplusOp, softplus(v))
SLIMRT_EW_MATH(SoftsignOp, v / (C(1) + m_fabs(v)))
SLIMRT_EW_MATH(HardSwishOp, v * clamp_nan(v / C(6) + C(0.5), C(0), C(1)))
SLIMRT_EW_MATH(MishOp, v * m_tanh(softplus(v)))
SLIMRT_EW_MATH(SiluOp, v / (C(1) + m_exp(-v)))
#undef SLIMRT_EW_MATH

struct EluOp {
  float alpha;
  explicit EluOp(const Node& n) : alpha(n.attr_float("alpha", 1.0f)) {}
  template <typename C> __device__ C operator()(C v) const { return v >= C(0) ? v : C(alpha) * m_expm1(v); }
};
struct SeluOp {
  float alpha, gamma;
  explicit SeluOp(const Node& n)
      : alpha(n.attr_float("alpha", 1.67326319217681884765625f)), gamma(n.attr_float("gamma", 1.05070102214813232421875f)) {}
  template <typename C> __device__ C operator()(C v) const {
    return v > C(0) ? C(gamma) * v : C(gamma) * C(alpha) * m_expm1(v);
  }
};
struct CeluOp {
  float alpha;
  explicit CeluOp(const Node& n) : alpha(n.attr_float("alpha", 1.0f)) {}
  template <typename C> __device__ C operator()(C v) const { return v > C(0) ? v : C(alpha) * m_expm1(v / C(alpha)); }
};
struct LeakyReluOp {
  float alpha;
  explicit LeakyReluOp(const Node& n) : alpha(n.attr_float("alpha", 0.01f)) {}
  template <typename C> __device__ C operator()(C v) const { return v < C(0) ? C(alpha) * v : v; }
};
struct HardSigmoidOp {
  float alpha, beta;
  explicit HardSigmoidOp(const Node& n) : alpha(n.attr_float("alpha", 0.2f)), beta(n.attr_float("beta", 0.5f)) {}
  template <typename C> __device__ C operator()(C v) const { return clamp_nan(C(alpha) * v + C(beta), C(0), C(1)); }
};
struct ThresholdedReluOp {
  float alpha;
  explicit ThresholdedReluOp(const Node& n) : alpha(n.attr_float("alpha", 1.0f)) {}
  template <typename C> __device__ C operator()(C v) const {
    return static_cast<double>(v) > static_cast<double>(alpha) || v != v ? v : C(0);
  }
};
struct GeluOp {
  bool tanh_approx;
  explicit GeluOp(const Node& n) : tanh_approx(n.attr_string("approximate", "none") == "tanh") {}
  template <typename C> __device__ C operator()(C v) const {
    if (tanh_approx) return gelu_tanh(v);
    // erfc keeps precision for negative v, where 1 + erf(v / sqrt 2) cancels.
    return C(0.5) * v * m_erfc(v * C(-0.7071067811865476));
  }
};

// ---- numeric (floats and integers) ------------------------------------------------------------
struct AbsOp {
  explicit AbsOp(const Node&) {}
  template <typename C> __device__ C operator()(C v) const {
    if constexpr (std::is_floating_point_v<C>) return m_fabs(v);
    else if constexpr (std::is_unsigned_v<C>) return v;
    else return v < C(0) ? wrap_neg(v) : v;
  }
};
struct NegOp {
  explicit NegOp(const Node&) {}
  template <typename C> __device__ C operator()(C v) const { return wrap_neg(v); }
};
struct SignOp {
  explicit SignOp(const Node&) {}
  template <typename C> __device__ C operator()(C v) const {
    if constexpr (std::is_floating_point_v<C>) {
      if (v != v) return v;
    }
    if constexpr (std::is_unsigned_v<C>) return static_cast<C>(v != 0 ? 1 : 0);
    else return static_cast<C>(v > C(0) ? 1 : (v < C(0) ? -1 : 0));
  }
};
struct ReluOp {
  explicit ReluOp(const Node&) {}
  template <typename C> __device__ C operator()(C v) const {
    if constexpr (std::is_unsigned_v<C>) return v;
    else return v < C(0) ? C(0) : v;
  }
};
struct ShrinkOp {
  double bias, lambd;
  explicit ShrinkOp(const Node& n) : bias(n.attr_float("bias", 0.0f)), lambd(n.attr_float("lambd", 0.5f)) {}
  template <typename C> __device__ C operator()(C x) const {
    const double v = static_cast<double>(x);
    const double r = v < -lambd ? v + bias : (v > lambd ? v - bias : 0.0);
    if constexpr (std::is_integral_v<C>) return static_cast<C>(static_cast<int64_t>(r));
    else return static_cast<C>(r);
  }
};

// Clip with host-known min/max (absent: the compute type's range, as the CPU kernel does).
template <typename C> struct ClipOp {
  C lo, hi;
  __device__ C operator()(C v) const {
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
  }
};

struct IsNanOp {
  template <typename C> __device__ uint8_t operator()(C v) const { return v != v ? 1 : 0; }
};
struct IsInfOp {
  bool neg, pos;
  template <typename C> __device__ uint8_t operator()(C v) const {
    return m_isinf(v) && (v > C(0) ? pos : neg) ? 1 : 0;
  }
};
struct NotOp {
  __device__ uint8_t operator()(uint8_t v) const { return v ? 0 : 1; }
};

// ---- factories -------------------------------------------------------------------------------
template <typename Op, bool kInts>
Result<std::unique_ptr<Kernel>> unary_create(const PrepareArgs& a) {
  std::unique_ptr<Kernel> k;
  const Op op(a.node);
  const Status s = dispatch_numeric<kInts>(a.input(0).dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    k = make_ew<Op, T, T>(a, {0}, op);
  });
  if (!s.ok()) return a.unsupported(s.message());
  return std::move(k);
}

template <typename C> C host_scalar(const TensorInfo& t, C def) {
  if (!t.present() || !t.host || t.host->numel() != 1) return def;
  if constexpr (std::is_integral_v<C>) return static_cast<C>(t.host->get_as_int64(0));
  else return static_cast<C>(t.host->get_as_double(0));
}

Result<std::unique_ptr<Kernel>> clip_create(const PrepareArgs& a) {
  for (size_t i : {size_t{1}, size_t{2}}) {
    if (!a.has_input(i)) continue;
    if (!a.input(i).host) return a.unsupported("Clip min/max must be known at prepare time");
    if (a.input(i).host->numel() != 1) return a.invalid("Clip min and max must have one element");
  }
  std::unique_ptr<Kernel> k;
  const Status s = dispatch_numeric<true>(a.input(0).dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    ClipOp<C> op{host_scalar<C>(a.inputs.size() > 1 ? a.input(1) : TensorInfo{}, std::numeric_limits<C>::lowest()),
                 host_scalar<C>(a.inputs.size() > 2 ? a.input(2) : TensorInfo{}, std::numeric_limits<C>::max())};
    k = make_ew<ClipOp<C>, T, T>(a, {0}, op);
  });
  if (!s.ok()) return a.unsupported(s.message());
  return std::move(k);
}

template <typename Op>
Result<std::unique_ptr<Kernel>> predicate_create(const PrepareArgs& a, Op op) {
  std::unique_ptr<Kernel> k;
  const Status s = dispatch_float(a.input(0).dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    k = make_ew<Op, uint8_t, T>(a, {0}, op);
  });
  if (!s.ok()) return a.unsupported(s.message());
  return std::move(k);
}

Result<std::unique_ptr<Kernel>> isnan_create(const PrepareArgs& a) { return predicate_create(a, IsNanOp{}); }
Result<std::unique_ptr<Kernel>> isinf_create(const PrepareArgs& a) {
  return predicate_create(a, IsInfOp{a.node.attr_int("detect_negative", 1) != 0, a.node.attr_int("detect_positive", 1) != 0});
}
Result<std::unique_ptr<Kernel>> not_create(const PrepareArgs& a) {
  if (a.input(0).dtype != DataType::kBool) return a.unsupported("Not takes bool");
  return make_ew<NotOp, uint8_t, uint8_t>(a, {0}, NotOp{});
}

template <typename Op> void add_float(KernelRegistry& r, const char* name) { r.add({name, &unary_create<Op, false>, 0}); }
template <typename Op> void add_numeric(KernelRegistry& r, const char* name) { r.add({name, &unary_create<Op, true>, 0}); }

}  // namespace

void register_elementwise_kernels(KernelRegistry& r) {
#define SLIMRT_ADD(Name) add_float<Name##Op>(r, #Name);
  SLIMRT_FLOAT_UNARY_OPS(SLIMRT_ADD)
#undef SLIMRT_ADD
  add_float<SiluOp>(r, "SiLU");  // on the CPU a fused-pattern op (src/cpu/kernels/fused_pattern.cpp)
#define SLIMRT_ADD(Name) add_numeric<Name##Op>(r, #Name);
  SLIMRT_NUMERIC_UNARY_OPS(SLIMRT_ADD)
#undef SLIMRT_ADD
  r.add({"Clip", &clip_create, 0b110});
  r.add({"IsNaN", &isnan_create, 0});
  r.add({"IsInf", &isinf_create, 0});
  r.add({"Not", &not_create, 0});
  register_elementwise_binary_kernels(r);
  register_elementwise_compare_kernels(r);
  register_elementwise_cast_kernels(r);
}

}  // namespace slimrt::cuda
