// Shared pieces of the reduction family (reduction*.cu): warp/row reductions, the
// [outer, len, inner] view of a tensor around one axis, and vector loads.
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>

#include "cuda/kernels/common.cuh"
#include "cuda/kernels/device_math.cuh"

namespace slimrt::cuda {

// Registered by reduction_softmax.cu and reduction_scan.cu; called by register_reduction_kernels.
void register_softmax_kernels(KernelRegistry& r);
void register_scan_kernels(KernelRegistry& r);

// The tensor around one axis: `outer` lanes before it, `len` along it, `inner` after it.
struct AxisView {
  int64_t outer = 1, len = 1, inner = 1;
};

// Splits `dims` at `axis` (negative counts from the end). A scalar is one lane of length 1 when
// `allow_scalar` (Softmax and ArgMax accept axis 0 or -1 there).
inline Status axis_view(const PrepareArgs& a, const std::vector<int64_t>& dims, int64_t axis, bool allow_scalar,
                        AxisView* v) {
  const int64_t rank = static_cast<int64_t>(dims.size());
  *v = AxisView{};
  if (rank == 0) {
    if (allow_scalar && (axis == 0 || axis == -1)) return Status::OK();
    return a.invalid("axis " + std::to_string(axis) + " out of range for a scalar");
  }
  if (axis < -rank || axis >= rank)
    return a.invalid("axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
  if (axis < 0) axis += rank;
  for (int64_t d = 0; d < rank; ++d) {
    if (d < axis) v->outer *= dims[static_cast<size_t>(d)];
    else if (d == axis) v->len = dims[static_cast<size_t>(d)];
    else v->inner *= dims[static_cast<size_t>(d)];
  }
  return Status::OK();
}

template <typename T> inline constexpr bool kIsHalfType = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

// -inf / +inf of the compute type (floats) or the extreme values of an integer type.
template <typename T> __device__ __forceinline__ T lowest_of() {
  if constexpr (std::is_floating_point_v<T>) return -std::numeric_limits<T>::infinity();
  else return std::numeric_limits<T>::lowest();
}
template <typename T> __device__ __forceinline__ T highest_of() {
  if constexpr (std::is_floating_point_v<T>) return std::numeric_limits<T>::infinity();
  else return std::numeric_limits<T>::max();
}

template <typename T> __device__ __forceinline__ bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return v != v;
  else return false;
}

// Reduces `v` over threadIdx.x for each threadIdx.y row of the block; every thread of the row
// gets the result. blockDim.x is a multiple of 32 (<= 1024); `smem` holds 32 * blockDim.y values.
// All threads of the block must call it (it synchronises when a row spans several warps).
template <typename T, typename Op> __device__ __forceinline__ T row_reduce(T v, Op op, T identity, T* smem) {
  v = warp_allreduce(v, op);
  if (blockDim.x == 32) return v;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  T* s = smem + threadIdx.y * 32;
  __syncthreads();  // the previous call's readers are done with smem
  if (lane == 0) s[warp] = v;
  __syncthreads();
  v = lane < warps ? s[lane] : identity;
  return warp_allreduce(v, op);
}

struct SumOp {
  template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
struct MaxOp {  // NaN wins, as in the CPU reference
  template <typename T> __device__ __forceinline__ T operator()(T a, T b) const {
    if (is_nan(a)) return a;
    if (is_nan(b)) return b;
    return a > b ? a : b;
  }
};


inline bool aligned_to(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

inline unsigned grid_cap(int64_t blocks) {
  return static_cast<unsigned>(std::clamp<int64_t>(blocks, 1, 65535LL * 16));
}

}  // namespace slimrt::cuda
