// CPU kernels for the broadcasting elementwise ops: arithmetic, Mod, Pow, PRelu, BitShift,
// comparisons, logic, the variadic Max/Min/Sum/Mean, Where and Clip.
//
// Integer arithmetic wraps (two's complement, like numpy and ONNX Runtime) instead of invoking
// C++ undefined behaviour; integer division or modulo by zero is reported as an error naming
// the node.
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "cpu/dispatch.h"
#include "cpu/kernel_registry.h"
#include "cpu/kernels/elementwise_common.h"
#include "ir/ops/op_lists.h"

namespace slimrt::cpu {

namespace {

using ew::binary_loop;

Status named(const KernelContext& ctx, Status s) { return s.ok() ? s : s.with_context(ctx.node.describe()); }

template <typename T>
using Unsigned = std::make_unsigned_t<T>;

template <typename T>
T wrap_add(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(static_cast<Unsigned<T>>(static_cast<Unsigned<T>>(a) + static_cast<Unsigned<T>>(b)));
  } else {
    return a + b;
  }
}

template <typename T>
T wrap_sub(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(static_cast<Unsigned<T>>(static_cast<Unsigned<T>>(a) - static_cast<Unsigned<T>>(b)));
  } else {
    return a - b;
  }
}

template <typename T>
T wrap_mul(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    // uint8 promotes to int (no overflow for 8 bits); wider types multiply as unsigned.
    return static_cast<T>(static_cast<Unsigned<T>>(static_cast<Unsigned<T>>(a) * static_cast<Unsigned<T>>(b)));
  } else {
    return a * b;
  }
}

// C truncating division; b != 0 is checked by the caller. min / -1 wraps to min.
template <typename T>
T int_div(T a, T b) {
  if constexpr (std::is_signed_v<T>) {
    if (b == -1) return wrap_sub(T(0), a);
  }
  return static_cast<T>(a / b);
}

// C remainder (sign of the dividend); b != 0 is checked by the caller.
template <typename T>
T int_rem(T a, T b) {
  if constexpr (std::is_signed_v<T>) {
    if (b == -1) return T(0);
  }
  return static_cast<T>(a % b);
}

template <typename T>
bool has_zero(const Tensor& t) {
  const T* p = t.data<T>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (p[i] == T(0)) return true;
  }
  return false;
}

// ---- arithmetic ----------------------------------------------------------------------------

enum class Arith { kAdd, kSub, kMul, kDiv };

template <Arith kOp>
Status arith_kernel(KernelContext& ctx) {
  const Tensor& a = *ctx.input(0);
  const Tensor& b = *ctx.input(1);
  Tensor& out = ctx.output(0);
  return named(ctx, dispatch_numeric(a.dtype(), [&]<typename T>() -> Status {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    if constexpr (kOp == Arith::kAdd) {
      binary_loop(pa, a.shape(), pb, b.shape(), po, out.shape(), [](T x, T y) { return wrap_add(x, y); });
    } else if constexpr (kOp == Arith::kSub) {
      binary_loop(pa, a.shape(), pb, b.shape(), po, out.shape(), [](T x, T y) { return wrap_sub(x, y); });
    } else if constexpr (kOp == Arith::kMul) {
      binary_loop(pa, a.shape(), pb, b.shape(), po, out.shape(), [](T x, T y) { return wrap_mul(x, y); });
    } else if constexpr (std::is_integral_v<T>) {
      if (out.numel() > 0 && has_zero<T>(b)) return invalid_argument("integer division by zero");
      binary_loop(pa, a.shape(), pb, b.shape(), po, out.shape(), [](T x, T y) { return int_div(x, y); });
    } else {
      binary_loop(pa, a.shape(), pb, b.shape(), po, out.shape(), [](T x, T y) { return x / y; });
    }
    return Status::OK();
  }));
}

// fmod=1: C fmod (sign of the dividend). fmod=0: Python/numpy mod (sign of the divisor).
Status mod_kernel(KernelContext& ctx) {
  const Tensor& a = *ctx.input(0);
  const Tensor& b = *ctx.input(1);
  Tensor& out = ctx.output(0);
  const bool c_fmod = ctx.node.attr_int("fmod", 0) != 0;
  return named(ctx, dispatch_numeric(a.dtype(), [&]<typename T>() -> Status {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    if constexpr (std::is_integral_v<T>) {
      if (out.numel() > 0 && has_zero<T>(b)) return invalid_argument("integer modulo by zero");
      if constexpr (std::is_unsigned_v<T>) {
        binary_loop(pa, a.shape(), pb, b.shape(), po, out.shape(), [](T x, T y) { return int_rem(x, y); });
      } else if (c_fmod) {
        binary_loop(pa, a.shape(), pb, b.shape(), po, out.shape(), [](T x, T y) { return int_rem(x, y); });
      } else {
        binary_loop(pa, a.shape(), pb, b.shape(), po, out.shape(), [](T x, T y) {
          const T r = int_rem(x, y);
          return r != 0 && ((r < 0) != (y < 0)) ? static_cast<T>(r + y) : r;
        });
      }
    } else if (c_fmod) {
      binary_loop(pa, a.shape(), pb, b.shape(), po, out.shape(), [](T x, T y) { return std::fmod(x, y); });
    } else {
      binary_loop(pa, a.shape(), pb, b.shape(), po, out.shape(), [](T x, T y) {
        const T r = std::fmod(x, y);
        if (r == 0) return std::copysign(T(0), y);
        return (r < 0) != (y < 0) ? r + y : r;
      });
    }
    return Status::OK();
  }));
}

// Integer power by squaring with wrap-around; e >= 0.
template <typename T>
T int_pow(T base, uint64_t e) {
  T result = 1;
  while (e) {
    if (e & 1) result = wrap_mul(result, base);
    e >>= 1;
    if (e) base = wrap_mul(base, base);
  }
  return result;
}

// Float -> integer conversion that never invokes UB: truncation toward zero, NaN -> 0, values
// outside the type's range saturate.
template <typename T>
T saturate_cast(double v) {
  if (std::isnan(v)) return T(0);
  if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
  if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(v);
}

// The base's dtype is the output's; the exponent may be any numeric type.
Status pow_kernel(KernelContext& ctx) {
  const Tensor& a = *ctx.input(0);
  const Tensor& b = *ctx.input(1);
  Tensor& out = ctx.output(0);
  return named(ctx, dispatch_numeric(a.dtype(), [&]<typename T>() -> Status {
    return dispatch_numeric(b.dtype(), [&]<typename E>() -> Status {
      const T* pa = a.data<T>();
      const E* pb = b.data<E>();
      T* po = out.data<T>();
      if constexpr (std::is_floating_point_v<T>) {
        binary_loop(pa, a.shape(), pb, b.shape(), po, out.shape(), [](T x, E y) {
          return static_cast<T>(std::pow(static_cast<double>(x), static_cast<double>(y)));
        });
      } else {
        binary_loop(pa, a.shape(), pb, b.shape(), po, out.shape(), [](T x, E y) {
          if constexpr (std::is_unsigned_v<E>) {
            return int_pow(x, static_cast<uint64_t>(y));
          } else if constexpr (std::is_integral_v<E>) {
            if (y >= 0) return int_pow(x, static_cast<uint64_t>(y));
          }
          return saturate_cast<T>(std::trunc(std::pow(static_cast<double>(x), static_cast<double>(y))));
        });
      }
      return Status::OK();
    });
  }));
}

Status prelu_kernel(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const Tensor& slope = *ctx.input(1);
  Tensor& out = ctx.output(0);
  return named(ctx, dispatch_numeric(x.dtype(), [&]<typename T>() -> Status {
    binary_loop(x.data<T>(), x.shape(), slope.data<T>(), slope.shape(), out.data<T>(), out.shape(), [](T v, T s) {
      if constexpr (std::is_unsigned_v<T>) {
        (void)s;
        return v;
      } else {
        return v < T(0) ? wrap_mul(v, s) : v;
      }
    });
    return Status::OK();
  }));
}

Status bitshift_kernel(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const Tensor& s = *ctx.input(1);
  Tensor& out = ctx.output(0);
  if (x.dtype() != DataType::kUInt8) return ctx.unsupported("BitShift on " + std::string(dtype_name(x.dtype())));
  const bool left = ctx.node.attr_string("direction", "") == "LEFT";
  const uint8_t* px = x.data<uint8_t>();
  const uint8_t* ps = s.data<uint8_t>();
  uint8_t* po = out.data<uint8_t>();
  // Shifting by the bit width or more gives 0 (as numpy does), never UB.
  if (left) {
    binary_loop(px, x.shape(), ps, s.shape(), po, out.shape(),
                [](uint8_t v, uint8_t n) { return static_cast<uint8_t>(n >= 8 ? 0 : (v << n) & 0xff); });
  } else {
    binary_loop(px, x.shape(), ps, s.shape(), po, out.shape(),
                [](uint8_t v, uint8_t n) { return static_cast<uint8_t>(n >= 8 ? 0 : v >> n); });
  }
  return Status::OK();
}

// ---- comparisons and logic -------------------------------------------------------------------

enum class Cmp { kEq, kGt, kGe, kLt, kLe };

template <Cmp kOp, typename T>
uint8_t compare(T x, T y) {
  if constexpr (kOp == Cmp::kEq) return x == y;
  if constexpr (kOp == Cmp::kGt) return x > y;
  if constexpr (kOp == Cmp::kGe) return x >= y;
  if constexpr (kOp == Cmp::kLt) return x < y;
  return x <= y;
}

template <Cmp kOp>
Status compare_kernel(KernelContext& ctx) {
  const Tensor& a = *ctx.input(0);
  const Tensor& b = *ctx.input(1);
  Tensor& out = ctx.output(0);
  uint8_t* po = out.data<uint8_t>();
  if (a.dtype() == DataType::kBool) {  // bools compare by truth value, whatever byte holds them
    binary_loop(a.data<uint8_t>(), a.shape(), b.data<uint8_t>(), b.shape(), po, out.shape(),
                [](uint8_t x, uint8_t y) { return compare<kOp>(x != 0, y != 0); });
    return Status::OK();
  }
  return named(ctx, dispatch_numeric(a.dtype(), [&]<typename T>() -> Status {
    binary_loop(a.data<T>(), a.shape(), b.data<T>(), b.shape(), po, out.shape(),
                [](T x, T y) { return compare<kOp>(x, y); });
    return Status::OK();
  }));
}

enum class Logic { kAnd, kOr, kXor };

template <Logic kOp>
Status logic_kernel(KernelContext& ctx) {
  const Tensor& a = *ctx.input(0);
  const Tensor& b = *ctx.input(1);
  Tensor& out = ctx.output(0);
  binary_loop(a.data<uint8_t>(), a.shape(), b.data<uint8_t>(), b.shape(), out.data<uint8_t>(), out.shape(),
              [](uint8_t x, uint8_t y) -> uint8_t {
                const bool p = x != 0, q = y != 0;
                if constexpr (kOp == Logic::kAnd) return p && q;
                if constexpr (kOp == Logic::kOr) return p || q;
                return p != q;
              });
  return Status::OK();
}

// ---- variadic -----------------------------------------------------------------------------------

enum class Variadic { kMax, kMin, kSum, kMean };

template <Variadic kOp, typename T>
T fold(T acc, T v) {
  if constexpr (kOp == Variadic::kSum || kOp == Variadic::kMean) {
    return wrap_add(acc, v);
  } else {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(acc) || std::isnan(v)) return std::isnan(acc) ? acc : v;  // NaN propagates
    }
    if constexpr (kOp == Variadic::kMax) return v > acc ? v : acc;
    return v < acc ? v : acc;
  }
}

template <Variadic kOp>
Status variadic_kernel(KernelContext& ctx) {
  Tensor& out = ctx.output(0);
  const size_t n = ctx.inputs.size();
  for (size_t i = 0; i < n; ++i) {
    if (!ctx.input(i)) return ctx.invalid("input " + std::to_string(i) + " is absent");
  }
  const Tensor& first = *ctx.input(0);
  return named(ctx, dispatch_numeric(first.dtype(), [&]<typename T>() -> Status {
    T* po = out.data<T>();
    if (n == 1) {
      std::memcpy(po, first.data<T>(), static_cast<size_t>(out.numel()) * sizeof(T));
    } else {
      const Tensor& second = *ctx.input(1);
      auto op = [](T acc, T v) { return fold<kOp>(acc, v); };
      binary_loop(first.data<T>(), first.shape(), second.data<T>(), second.shape(), po, out.shape(), op);
      for (size_t i = 2; i < n; ++i) {
        const Tensor& in = *ctx.input(i);
        binary_loop(static_cast<const T*>(po), out.shape(), in.data<T>(), in.shape(), po, out.shape(), op);
      }
    }
    if constexpr (kOp == Variadic::kMean) {
      const T count = static_cast<T>(n);
      for (int64_t i = 0; i < out.numel(); ++i) po[i] = static_cast<T>(po[i] / count);
    }
    return Status::OK();
  }));
}

// ---- Where, Clip ----------------------------------------------------------------------------------

Status where_kernel(KernelContext& ctx) {
  const Tensor& c = *ctx.input(0);
  const Tensor& x = *ctx.input(1);
  const Tensor& y = *ctx.input(2);
  Tensor& out = ctx.output(0);
  // Only bytes move, so every dtype (fp16/bf16 included) is handled by its element size.
  return named(ctx, dispatch_bytes(x.dtype(), [&]<typename T>() -> Status {
    const uint8_t* pc = c.data<uint8_t>();
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    T* po = out.data<T>();
    const auto plan = ew::make_broadcast_plan<3>(out.shape(), {&c.shape(), &x.shape(), &y.shape()});
    ew::for_each_row(plan, [&](int64_t o, const std::array<int64_t, 3>& off, int64_t len,
                               const std::array<int64_t, 3>& st) {
      const uint8_t* cc = pc + off[0];
      const T* xx = px + off[1];
      const T* yy = py + off[2];
      T* z = po + o;
      if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
        for (int64_t i = 0; i < len; ++i) z[i] = cc[i] ? xx[i] : yy[i];
      } else {
        for (int64_t i = 0; i < len; ++i) z[i] = cc[i * st[0]] ? xx[i * st[1]] : yy[i * st[2]];
      }
    });
    return Status::OK();
  }));
}

Status clip_kernel(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const Tensor* lo_t = ctx.input(1);
  const Tensor* hi_t = ctx.input(2);
  Tensor& out = ctx.output(0);
  for (const Tensor* t : {lo_t, hi_t}) {
    if (t && t->numel() != 1)
      return ctx.invalid("min and max must have one element, got shape " + shape_to_string(t->shape()));
  }
  return named(ctx, dispatch_numeric(x.dtype(), [&]<typename T>() -> Status {
    const T lo = lo_t ? lo_t->data<T>()[0] : std::numeric_limits<T>::lowest();
    const T hi = hi_t ? hi_t->data<T>()[0] : std::numeric_limits<T>::max();
    const T* px = x.data<T>();
    T* po = out.data<T>();
    // min first, then max: when min > max every element becomes max, as the spec says. NaN stays.
    for (int64_t i = 0; i < x.numel(); ++i) {
      T v = px[i] < lo ? lo : px[i];
      po[i] = v > hi ? hi : v;
    }
    return Status::OK();
  }));
}

}  // namespace

void register_elementwise_binary_kernels(KernelRegistry& r) {
#define SLIMRT_ADD(Name) r.add({#Name, &arith_kernel<Arith::k##Name>, true});
  SLIMRT_ARITH_BINARY_OPS(SLIMRT_ADD)
#undef SLIMRT_ADD
  r.add({"Mod", &mod_kernel, true});
  r.add({"Pow", &pow_kernel, true});
  r.add({"PRelu", &prelu_kernel, true});
  r.add({"BitShift", &bitshift_kernel, false});
  // Widening fp16/bf16 to float32 is exact, so comparisons see the same values.
#define SLIMRT_ADD(Name, Kind) r.add({#Name, &compare_kernel<Cmp::k##Kind>, true});
  SLIMRT_COMPARE_OPS(SLIMRT_ADD)
#undef SLIMRT_ADD
#define SLIMRT_ADD(Name) r.add({#Name, &logic_kernel<Logic::k##Name>, false});
  SLIMRT_LOGIC_OPS(SLIMRT_ADD)
#undef SLIMRT_ADD
  r.add({"Max", &variadic_kernel<Variadic::kMax>, true});
  r.add({"Min", &variadic_kernel<Variadic::kMin>, true});
  r.add({"Sum", &variadic_kernel<Variadic::kSum>, true});
  r.add({"Mean", &variadic_kernel<Variadic::kMean>, true});
  r.add({"Where", &where_kernel, false});
  r.add({"Clip", &clip_kernel, true});
}

}  // namespace slimrt::cpu
