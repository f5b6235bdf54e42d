// CPU reference kernels for the elementwise op family: the unary ops (math, activations, IsNaN,
// IsInf, Not) live here; binary/variadic ops are in elementwise_binary.cpp and Cast, CastLike,
// Identity in elementwise_cast.cpp.
//
// Float math that is not exact in the storage type is evaluated in double and rounded once, so
// float32 results are as close to correctly rounded as libm allows. fp16/bf16 inputs arrive
// widened to float32 (KernelDef::widen_half).
#include <cmath>
#include <cstring>
#include <numbers>
#include <string>
#include <type_traits>

#include "cpu/dispatch.h"
#include "cpu/kernel_registry.h"
#include "cpu/kernels/elementwise_common.h"
#include "ir/ops/op_lists.h"

namespace slimrt::cpu {

namespace {

// -x with two's-complement wrap for integers (-INT_MIN == INT_MIN, no UB).
template <typename T>
T wrap_neg(T x) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(U{0} - static_cast<U>(x)));
  } else {
    return -x;
  }
}

// Clamps preserving NaN (std::min/std::max would drop it depending on argument order).
inline double clamp_nan(double v, double lo, double hi) { return v < lo ? lo : (v > hi ? hi : v); }

// 1 / (1 + exp(-v)) with one exp and no overflow for either sign.
inline double sigmoid(double v) {
  const double e = std::exp(-std::fabs(v));
  return v >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

// Numerically stable log(1 + exp(v)).
inline double softplus(double v) { return v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)); }

// ---- op functors: constructed from the node (attributes), applied per element ---------------

#define SLIMRT_EW_DOUBLE_OP(Name, expr)                         \
  struct Name {                                                 \
    explicit Name(const Node&) {}                               \
    template <typename T>                                       \
    T operator()(T x) const {                                   \
      const double v = static_cast<double>(x);                  \
      return static_cast<T>(expr);                              \
    }                                                           \
  };

SLIMRT_EW_DOUBLE_OP(ExpOp, std::exp(v))
SLIMRT_EW_DOUBLE_OP(LogOp, std::log(v))
SLIMRT_EW_DOUBLE_OP(SinOp, std::sin(v))
SLIMRT_EW_DOUBLE_OP(CosOp, std::cos(v))
SLIMRT_EW_DOUBLE_OP(TanOp, std::tan(v))
SLIMRT_EW_DOUBLE_OP(AsinOp, std::asin(v))
SLIMRT_EW_DOUBLE_OP(AcosOp, std::acos(v))
SLIMRT_EW_DOUBLE_OP(AtanOp, std::atan(v))
SLIMRT_EW_DOUBLE_OP(SinhOp, std::sinh(v))
SLIMRT_EW_DOUBLE_OP(CoshOp, std::cosh(v))
SLIMRT_EW_DOUBLE_OP(AsinhOp, std::asinh(v))
SLIMRT_EW_DOUBLE_OP(AcoshOp, std::acosh(v))
SLIMRT_EW_DOUBLE_OP(AtanhOp, std::atanh(v))
SLIMRT_EW_DOUBLE_OP(TanhOp, std::tanh(v))
SLIMRT_EW_DOUBLE_OP(ErfOp, std::erf(v))
SLIMRT_EW_DOUBLE_OP(SqrtOp, std::sqrt(v))
SLIMRT_EW_DOUBLE_OP(SigmoidOp, sigmoid(v))
SLIMRT_EW_DOUBLE_OP(SoftplusOp, softplus(v))
SLIMRT_EW_DOUBLE_OP(SoftsignOp, v / (1.0 + std::fabs(v)))
SLIMRT_EW_DOUBLE_OP(HardSwishOp, v * clamp_nan(v / 6.0 + 0.5, 0.0, 1.0))
SLIMRT_EW_DOUBLE_OP(MishOp, v * std::tanh(softplus(v)))
#undef SLIMRT_EW_DOUBLE_OP

// Ops exact in the storage type.
struct CeilOp {
  explicit CeilOp(const Node&) {}
  template <typename T> T operator()(T x) const { return std::ceil(x); }
};
struct FloorOp {
  explicit FloorOp(const Node&) {}
  template <typename T> T operator()(T x) const { return std::floor(x); }
};
struct RoundOp {  // half to even: nearbyint under the default rounding mode
  explicit RoundOp(const Node&) {}
  template <typename T> T operator()(T x) const { return std::nearbyint(x); }
};
struct ReciprocalOp {
  explicit ReciprocalOp(const Node&) {}
  template <typename T> T operator()(T x) const { return T(1) / x; }
};

// Ops on every numeric type.
struct AbsOp {
  explicit AbsOp(const Node&) {}
  template <typename T> T operator()(T x) const {
    if constexpr (std::is_floating_point_v<T>) return std::fabs(x);
    else if constexpr (std::is_unsigned_v<T>) return x;
    else return x < 0 ? wrap_neg(x) : x;
  }
};
struct NegOp {
  explicit NegOp(const Node&) {}
  template <typename T> T operator()(T x) const { return wrap_neg(x); }
};
struct SignOp {
  explicit SignOp(const Node&) {}
  template <typename T> T operator()(T x) const {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(x)) return x;
    }
    if constexpr (std::is_unsigned_v<T>) {
      return static_cast<T>(x != 0 ? 1 : 0);
    } else {
      return static_cast<T>(x > T(0) ? 1 : (x < T(0) ? -1 : 0));
    }
  }
};
struct ReluOp {
  explicit ReluOp(const Node&) {}
  template <typename T> T operator()(T x) const {
    if constexpr (std::is_unsigned_v<T>) {
      return x;
    } else {
      return x < T(0) ? T(0) : x;  // NaN stays NaN
    }
  }
};
struct ShrinkOp {
  double bias, lambd;
  explicit ShrinkOp(const Node& n) : bias(n.attr_float("bias", 0.0f)), lambd(n.attr_float("lambd", 0.5f)) {}
  template <typename T> T operator()(T x) const {
    const double v = static_cast<double>(x);
    const double r = v < -lambd ? v + bias : (v > lambd ? v - bias : 0.0);
    if constexpr (std::is_integral_v<T>) {
      return static_cast<T>(static_cast<int64_t>(r));  // integer inputs and bias: exact, wraps
    } else {
      return static_cast<T>(r);
    }
  }
};

// Activations with attributes.
struct EluOp {
  double alpha;
  explicit EluOp(const Node& n) : alpha(n.attr_float("alpha", 1.0f)) {}
  template <typename T> T operator()(T x) const {
    const double v = x;
    return static_cast<T>(v >= 0 ? v : alpha * std::expm1(v));
  }
};
struct SeluOp {
  double alpha, gamma;
  explicit SeluOp(const Node& n)
      : alpha(n.attr_float("alpha", 1.67326319217681884765625f)), gamma(n.attr_float("gamma", 1.05070102214813232421875f)) {}
  template <typename T> T operator()(T x) const {
    const double v = x;
    return static_cast<T>(v > 0 ? gamma * v : gamma * alpha * std::expm1(v));
  }
};
struct CeluOp {
  double alpha;
  explicit CeluOp(const Node& n) : alpha(n.attr_float("alpha", 1.0f)) {}
  template <typename T> T operator()(T x) const {
    const double v = x;
    return static_cast<T>(v > 0 ? v : alpha * std::expm1(v / alpha));
  }
};
struct LeakyReluOp {
  double alpha;
  explicit LeakyReluOp(const Node& n) : alpha(n.attr_float("alpha", 0.01f)) {}
  template <typename T> T operator()(T x) const { return x < T(0) ? static_cast<T>(alpha * x) : x; }
};
struct HardSigmoidOp {
  double alpha, beta;
  explicit HardSigmoidOp(const Node& n) : alpha(n.attr_float("alpha", 0.2f)), beta(n.attr_float("beta", 0.5f)) {}
  template <typename T> T operator()(T x) const { return static_cast<T>(clamp_nan(alpha * x + beta, 0.0, 1.0)); }
};
struct ThresholdedReluOp {
  double alpha;
  explicit ThresholdedReluOp(const Node& n) : alpha(n.attr_float("alpha", 1.0f)) {}
  template <typename T> T operator()(T x) const { return static_cast<double>(x) > alpha || std::isnan(x) ? x : T(0); }
};
struct GeluOp {
  bool tanh_approx;
  explicit GeluOp(const Node& n) : tanh_approx(n.attr_string("approximate", "none") == "tanh") {}
  template <typename T> T operator()(T x) const {
    const double v = x;
    if (tanh_approx) {
      const double k = std::sqrt(2.0 / std::numbers::pi);
      return static_cast<T>(0.5 * v * (1.0 + std::tanh(k * (v + 0.044715 * v * v * v))));
    }
    return static_cast<T>(0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))));
  }
};

enum class Types { kFloat, kNumeric };

template <typename Op, Types kTypes>
Status unary_kernel(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  Tensor& y = ctx.output(0);
  const Op op(ctx.node);
  const int64_t n = x.numel();
  auto body = [&]<typename T>() -> Status {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (int64_t i = 0; i < n; ++i) py[i] = op(px[i]);
    return Status::OK();
  };
  Status s;
  if constexpr (kTypes == Types::kNumeric) {
    s = dispatch_numeric(x.dtype(), body);
  } else {
    s = dispatch_float(x.dtype(), body);
  }
  return s.ok() ? s : s.with_context(ctx.node.describe());
}

Status isnan_kernel(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  uint8_t* out = ctx.output(0).data<uint8_t>();
  const int64_t n = x.numel();
  Status s = dispatch_float(x.dtype(), [&]<typename T>() {
    const T* p = x.data<T>();
    for (int64_t i = 0; i < n; ++i) out[i] = std::isnan(p[i]) ? 1 : 0;
    return Status::OK();
  });
  return s.ok() ? s : s.with_context(ctx.node.describe());
}

Status isinf_kernel(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  uint8_t* out = ctx.output(0).data<uint8_t>();
  const int64_t n = x.numel();
  const bool neg = ctx.node.attr_int("detect_negative", 1) != 0;
  const bool pos = ctx.node.attr_int("detect_positive", 1) != 0;
  Status s = dispatch_float(x.dtype(), [&]<typename T>() {
    const T* p = x.data<T>();
    for (int64_t i = 0; i < n; ++i) out[i] = std::isinf(p[i]) && (p[i] > 0 ? pos : neg) ? 1 : 0;
    return Status::OK();
  });
  return s.ok() ? s : s.with_context(ctx.node.describe());
}

Status not_kernel(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const uint8_t* p = x.data<uint8_t>();
  uint8_t* out = ctx.output(0).data<uint8_t>();
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) out[i] = p[i] ? 0 : 1;
  return Status::OK();
}

template <typename Op>
void add_float(KernelRegistry& r, const char* name) {
  r.add({name, &unary_kernel<Op, Types::kFloat>, true});
}

template <typename Op>
void add_numeric(KernelRegistry& r, const char* name) {
  r.add({name, &unary_kernel<Op, Types::kNumeric>, true});
}

}  // namespace

void register_elementwise_unary_kernels(KernelRegistry& r) {
#define SLIMRT_ADD(Name) add_float<Name##Op>(r, #Name);
  SLIMRT_FLOAT_UNARY_OPS(SLIMRT_ADD)
#undef SLIMRT_ADD
#define SLIMRT_ADD(Name) add_numeric<Name##Op>(r, #Name);
  SLIMRT_NUMERIC_UNARY_OPS(SLIMRT_ADD)
#undef SLIMRT_ADD
  r.add({"IsNaN", &isnan_kernel, true});
  r.add({"IsInf", &isinf_kernel, true});
  r.add({"Not", &not_kernel, false});
}

void register_elementwise_kernels(KernelRegistry& r) {
  register_elementwise_unary_kernels(r);
  register_elementwise_binary_kernels(r);
  register_elementwise_cast_kernels(r);
}

}  // namespace slimrt::cpu
