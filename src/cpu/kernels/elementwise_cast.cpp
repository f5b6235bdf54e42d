// CPU kernels for Cast, CastLike and Identity, on all nine slimrt dtypes.
//
// Conversions are exact where the target can hold the value and otherwise rounded once, to
// nearest even: double and large integers reach fp16/bf16 through float32 with round-to-odd,
// which makes the second rounding correct. Float -> integer truncates toward zero; NaN gives 0
// and values outside int64 saturate; the int64 value then wraps into narrower integer types (as
// numpy's casts do on common platforms). Anything -> bool is "!= 0" (NaN is true).
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "cpu/kernel_registry.h"
#include "cpu/kernels/elementwise_common.h"

namespace slimrt::cpu {

namespace {

// Nearest float32 toward zero, with the last mantissa bit set when inexact ("round to odd"), so
// a later rounding to fewer bits (fp16, bf16) is the correct rounding of `d`.
float round_to_odd_float(double d) {
  float f = static_cast<float>(d);
  if (std::isnan(d) || static_cast<double>(f) == d) return f;
  if (std::fabs(static_cast<double>(f)) > std::fabs(d)) f = std::nextafter(f, 0.0f);
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  bits |= 1u;
  std::memcpy(&f, &bits, sizeof(bits));
  return f;
}

float round_to_odd_float(int64_t v) {
  const uint64_t mag = v < 0 ? uint64_t{0} - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  if (mag < (uint64_t{1} << 24)) return static_cast<float>(v);  // exact
  const int shift = std::bit_width(mag) - 24;
  uint64_t m = mag >> shift;
  if (mag & ((uint64_t{1} << shift) - 1)) m |= 1;
  const float f = std::ldexp(static_cast<float>(m), shift);
  return v < 0 ? -f : f;
}

template <typename T>
T float_to_int(double v) {
  if (std::isnan(v)) return T(0);
  const double t = std::trunc(v);
  int64_t i;
  if (t >= 9223372036854775808.0) {
    i = std::numeric_limits<int64_t>::max();
  } else if (t < -9223372036854775808.0) {
    i = std::numeric_limits<int64_t>::min();
  } else {
    i = static_cast<int64_t>(t);
  }
  return static_cast<T>(i);  // modular for narrower types
}

// Loads element i as double (float sources) or int64 (integer and bool sources): both exact.
template <DataType S>
auto load(const void* p, int64_t i) {
  if constexpr (S == DataType::kFloat32) return static_cast<double>(static_cast<const float*>(p)[i]);
  else if constexpr (S == DataType::kFloat64) return static_cast<const double*>(p)[i];
  else if constexpr (S == DataType::kFloat16) return static_cast<double>(half_to_float(static_cast<const uint16_t*>(p)[i]));
  else if constexpr (S == DataType::kBFloat16) return static_cast<double>(bfloat16_to_float(static_cast<const uint16_t*>(p)[i]));
  else if constexpr (S == DataType::kInt8) return static_cast<int64_t>(static_cast<const int8_t*>(p)[i]);
  else if constexpr (S == DataType::kUInt8) return static_cast<int64_t>(static_cast<const uint8_t*>(p)[i]);
  else if constexpr (S == DataType::kInt32) return static_cast<int64_t>(static_cast<const int32_t*>(p)[i]);
  else if constexpr (S == DataType::kInt64) return static_cast<const int64_t*>(p)[i];
  else return static_cast<int64_t>(static_cast<const uint8_t*>(p)[i] != 0);  // bool
}

template <DataType D, typename V>
void store(void* p, int64_t i, V v) {
  constexpr bool kFromFloat = std::is_same_v<V, double>;
  if constexpr (D == DataType::kFloat32) {
    static_cast<float*>(p)[i] = static_cast<float>(v);  // one correctly rounded conversion
  } else if constexpr (D == DataType::kFloat64) {
    static_cast<double*>(p)[i] = static_cast<double>(v);
  } else if constexpr (D == DataType::kFloat16) {
    static_cast<uint16_t*>(p)[i] = float_to_half(round_to_odd_float(v));
  } else if constexpr (D == DataType::kBFloat16) {
    static_cast<uint16_t*>(p)[i] = float_to_bfloat16(round_to_odd_float(v));
  } else if constexpr (D == DataType::kBool) {
    static_cast<uint8_t*>(p)[i] = v != 0 ? 1 : 0;
  } else {
    using T = std::conditional_t<D == DataType::kInt8, int8_t,
              std::conditional_t<D == DataType::kUInt8, uint8_t,
              std::conditional_t<D == DataType::kInt32, int32_t, int64_t>>>;
    if constexpr (kFromFloat) {
      static_cast<T*>(p)[i] = float_to_int<T>(v);
    } else {
      static_cast<T*>(p)[i] = static_cast<T>(v);  // modular
    }
  }
}

template <DataType S, DataType D>
void cast_loop(const void* src, void* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) store<D>(dst, i, load<S>(src, i));
}

template <DataType S>
Status cast_from(const void* src, void* dst, int64_t n, DataType to) {
  switch (to) {
    case DataType::kFloat32: cast_loop<S, DataType::kFloat32>(src, dst, n); break;
    case DataType::kFloat16: cast_loop<S, DataType::kFloat16>(src, dst, n); break;
    case DataType::kBFloat16: cast_loop<S, DataType::kBFloat16>(src, dst, n); break;
    case DataType::kFloat64: cast_loop<S, DataType::kFloat64>(src, dst, n); break;
    case DataType::kInt8: cast_loop<S, DataType::kInt8>(src, dst, n); break;
    case DataType::kUInt8: cast_loop<S, DataType::kUInt8>(src, dst, n); break;
    case DataType::kInt32: cast_loop<S, DataType::kInt32>(src, dst, n); break;
    case DataType::kInt64: cast_loop<S, DataType::kInt64>(src, dst, n); break;
    case DataType::kBool: cast_loop<S, DataType::kBool>(src, dst, n); break;
    default: return unsupported("Cast to dtype " + std::string(dtype_name(to)));
  }
  return Status::OK();
}

Status cast_tensor(const Tensor& in, Tensor& out) {
  const int64_t n = in.numel();
  if (in.dtype() == out.dtype()) {
    if (n > 0) std::memcpy(out.raw(), in.raw(), in.bytes());
    return Status::OK();
  }
  const void* s = in.raw();
  void* d = out.raw();
  const DataType to = out.dtype();
  switch (in.dtype()) {
    case DataType::kFloat32: return cast_from<DataType::kFloat32>(s, d, n, to);
    case DataType::kFloat16: return cast_from<DataType::kFloat16>(s, d, n, to);
    case DataType::kBFloat16: return cast_from<DataType::kBFloat16>(s, d, n, to);
    case DataType::kFloat64: return cast_from<DataType::kFloat64>(s, d, n, to);
    case DataType::kInt8: return cast_from<DataType::kInt8>(s, d, n, to);
    case DataType::kUInt8: return cast_from<DataType::kUInt8>(s, d, n, to);
    case DataType::kInt32: return cast_from<DataType::kInt32>(s, d, n, to);
    case DataType::kInt64: return cast_from<DataType::kInt64>(s, d, n, to);
    case DataType::kBool: return cast_from<DataType::kBool>(s, d, n, to);
    default: return unsupported("Cast from dtype " + std::string(dtype_name(in.dtype())));
  }
}

// Cast and CastLike: the output's dtype (set by shape inference) is the target.
Status cast_kernel(KernelContext& ctx) {
  Status s = cast_tensor(*ctx.input(0), ctx.output(0));
  return s.ok() ? s : s.with_context(ctx.node.describe());
}

Status identity_kernel(KernelContext& ctx) {
  const Tensor& in = *ctx.input(0);
  if (in.numel() > 0) std::memcpy(ctx.output(0).raw(), in.raw(), in.bytes());
  return Status::OK();
}

}  // namespace

void register_elementwise_cast_kernels(KernelRegistry& r) {
  r.add({"Cast", &cast_kernel, false});
  r.add({"CastLike", &cast_kernel, false});
  r.add({"Identity", &identity_kernel, false});
}

}  // namespace slimrt::cpu
