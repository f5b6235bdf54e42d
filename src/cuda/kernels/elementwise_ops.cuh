// Device math shared by the elementwise op functors: float/double overloads picked at compile
// time (the precise libdevice functions, not the fast intrinsics: fp32 must match the CPU
// reference to 1e-5), and integer helpers that wrap instead of invoking undefined behaviour.
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>

#include "cuda/kernels/common.cuh"

namespace slimrt::cuda::ew {

#define SLIMRT_EW_FN(name, ffn, dfn)                                         \
  template <typename C> __device__ __forceinline__ C name(C v) {             \
    if constexpr (std::is_same_v<C, float>) return ffn(v);                   \
    else return dfn(static_cast<double>(v));                                 \
  }
SLIMRT_EW_FN(m_exp, expf, exp)
SLIMRT_EW_FN(m_expm1, expm1f, expm1)
SLIMRT_EW_FN(m_log, logf, log)
SLIMRT_EW_FN(m_log1p, log1pf, log1p)
SLIMRT_EW_FN(m_sin, sinf, sin)
SLIMRT_EW_FN(m_cos, cosf, cos)
SLIMRT_EW_FN(m_tan, tanf, tan)
SLIMRT_EW_FN(m_asin, asinf, asin)
SLIMRT_EW_FN(m_acos, acosf, acos)
SLIMRT_EW_FN(m_atan, atanf, atan)
SLIMRT_EW_FN(m_sinh, sinhf, sinh)
SLIMRT_EW_FN(m_cosh, coshf, cosh)
SLIMRT_EW_FN(m_asinh, asinhf, asinh)
SLIMRT_EW_FN(m_acosh, acoshf, acosh)
SLIMRT_EW_FN(m_atanh, atanhf, atanh)
SLIMRT_EW_FN(m_tanh, tanhf, tanh)
SLIMRT_EW_FN(m_erf, erff, erf)
SLIMRT_EW_FN(m_erfc, erfcf, erfc)
SLIMRT_EW_FN(m_sqrt, sqrtf, sqrt)
SLIMRT_EW_FN(m_ceil, ceilf, ceil)
SLIMRT_EW_FN(m_floor, floorf, floor)
SLIMRT_EW_FN(m_rint, rintf, rint)
SLIMRT_EW_FN(m_fabs, fabsf, fabs)
SLIMRT_EW_FN(m_trunc, truncf, trunc)
#undef SLIMRT_EW_FN

template <typename C> __device__ __forceinline__ bool m_isinf(C v) {
  if constexpr (std::is_same_v<C, float>) return isinf(v);
  else return isinf(static_cast<double>(v));
}

// Clamps keeping NaN (fminf/fmaxf would drop it).
template <typename C> __device__ __forceinline__ C clamp_nan(C v, C lo, C hi) { return v < lo ? lo : (v > hi ? hi : v); }

// 1 / (1 + exp(-v)) with one exp and no overflow for either sign.
template <typename C> __device__ __forceinline__ C sigmoid(C v) {
  const C e = m_exp(-m_fabs(v));
  return v >= C(0) ? C(1) / (C(1) + e) : e / (C(1) + e);
}

// log(1 + exp(v)) without overflow.
template <typename C> __device__ __forceinline__ C softplus(C v) {
  return v > C(0) ? v + m_log1p(m_exp(-v)) : m_log1p(m_exp(v));
}

template <typename T> using Unsigned = std::make_unsigned_t<T>;

// Two's-complement wrap (-INT_MIN == INT_MIN) for integers; plain arithmetic for floats.
template <typename C> __device__ __forceinline__ C wrap_neg(C v) {
  if constexpr (std::is_integral_v<C>) return static_cast<C>(static_cast<Unsigned<C>>(Unsigned<C>{0} - static_cast<Unsigned<C>>(v)));
  else return -v;
}
template <typename C> __device__ __forceinline__ C wrap_add(C a, C b) {
  if constexpr (std::is_integral_v<C>) return static_cast<C>(static_cast<Unsigned<C>>(static_cast<Unsigned<C>>(a) + static_cast<Unsigned<C>>(b)));
  else return a + b;
}
template <typename C> __device__ __forceinline__ C wrap_sub(C a, C b) {
  if constexpr (std::is_integral_v<C>) return static_cast<C>(static_cast<Unsigned<C>>(static_cast<Unsigned<C>>(a) - static_cast<Unsigned<C>>(b)));
  else return a - b;
}
template <typename C> __device__ __forceinline__ C wrap_mul(C a, C b) {
  if constexpr (std::is_integral_v<C>) {
    // Narrow types promote to int; multiply as unsigned of at least 32 bits so nothing overflows signed.
    using W = std::conditional_t<(sizeof(C) < 4), uint32_t, Unsigned<C>>;
    return static_cast<C>(static_cast<W>(static_cast<W>(static_cast<Unsigned<C>>(a)) * static_cast<W>(static_cast<Unsigned<C>>(b))));
  } else {
    return a * b;
  }
}

}  // namespace slimrt::cuda::ew
