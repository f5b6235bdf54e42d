// Device math that several kernel families share: the GELU formulas and butterfly warp
// reductions. One definition each, so an activation or a reduction order cannot drift between the
// element-wise, fused and epilogue kernels. Each keeps the exact operation order of the copies it
// replaced, so results are bit-identical to before. (The vector pack type is Pack in common.cuh.)
#pragma once

#include <cmath>

namespace slimrt::cuda {

// GELU with erf, 0.5 v (1 + erf(v / sqrt 2)), in the compute type C (float or double). The
// element-wise Gelu op uses an erfc form instead (better for negative v); the fused and epilogue
// activations use this one.
template <typename C> __device__ __forceinline__ C gelu_erf(C v) {
  return C(0.5) * v * (C(1) + erf(v * C(0.70710678118654752440)));
}

// GELU with the tanh approximation, 0.5 v (1 + tanh(sqrt(2 / pi) (v + 0.044715 v^3))).
template <typename C> __device__ __forceinline__ C gelu_tanh(C v) {
  const C k = C(0.79788456080286535588);  // sqrt(2 / pi)
  return C(0.5) * v * (C(1) + tanh(k * (v + C(0.044715) * v * v * v)));
}

// Butterfly all-reduce of `v` over each group of kWidth adjacent lanes (a power of two <= 32);
// every lane of the group gets op(...) of the group's values. All 32 lanes must call it. The
// offsets run kWidth/2 down to 1, or 1 up to kWidth/2 with kLowFirst: the same for max, but a
// floating sum rounds differently, so each caller keeps the order its results were checked with.
template <int kWidth = 32, bool kLowFirst = false, typename T, typename Op>
__device__ __forceinline__ T warp_allreduce(T v, Op op) {
  static_assert(kWidth >= 2 && kWidth <= 32 && (kWidth & (kWidth - 1)) == 0, "kWidth: a power of two <= 32");
  if constexpr (kLowFirst) {
#pragma unroll
    for (int o = 1; o < kWidth; o <<= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  } else {
#pragma unroll
    for (int o = kWidth / 2; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  }
  return v;
}

// Plain sum and max (through the type's max(), fmaxf for float: NaN is dropped) for the kernels
// that do not need the reduction family's NaN-propagating MaxOp.
struct PlainSum {
  template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
struct PlainMax {
  template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return max(a, b); }
};
struct PlainOr {
  __device__ __forceinline__ int operator()(int a, int b) const { return a | b; }
};

template <typename A> __device__ __forceinline__ A warp_sum(A v) { return warp_allreduce(v, PlainSum{}); }
template <typename A> __device__ __forceinline__ A warp_max(A v) { return warp_allreduce(v, PlainMax{}); }

}  // namespace slimrt::cuda
