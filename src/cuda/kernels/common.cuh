// Device-side helpers shared by the kernel families (.cu files only; host .cpp files never
// include this header).
//
//   Status s = dispatch_float(dtype, [&](auto tag) {
//     using T = typename decltype(tag)::type;          // float, __half, __nv_bfloat16 (, double)
//     my_kernel<T><<<grid_for(n), kBlock, 0, stream>>>(...);
//   });
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "cuda/kernel.h"
#include "slimrt/dtype.h"

namespace slimrt::cuda {

inline constexpr int kBlock = 256;

template <typename T> struct TypeTag { using type = T; };

// V elements moved as one aligned load/store.
template <typename T, int V> struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

// Grid size for a grid-stride loop over n elements (capped; the loop covers the rest).
inline unsigned grid_for(int64_t n, int block = kBlock) {
  const int64_t g = (n + block - 1) / block;
  return static_cast<unsigned>(std::clamp<int64_t>(g, 1, 65535LL * 8));
}

// ---- scalar conversions ---------------------------------------------------------------------
template <typename T> __device__ __forceinline__ float to_f32(T v) { return static_cast<float>(v); }
template <> __device__ __forceinline__ float to_f32<__half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float to_f32<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T> __device__ __forceinline__ T from_f32(float v) { return static_cast<T>(v); }
template <> __device__ __forceinline__ __half from_f32<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// The type arithmetic is done in: float for half types, the type itself otherwise.
template <typename T> struct Compute { using type = T; };
template <> struct Compute<__half> { using type = float; };
template <> struct Compute<__nv_bfloat16> { using type = float; };
template <typename T> using compute_t = typename Compute<T>::type;

template <typename T> __device__ __forceinline__ compute_t<T> load_c(const T* p, int64_t i) {
  if constexpr (std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>) return to_f32(p[i]);
  else return p[i];
}
template <typename T> __device__ __forceinline__ void store_c(T* p, int64_t i, compute_t<T> v) {
  if constexpr (std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>) p[i] = from_f32<T>(v);
  else p[i] = v;
}

// ---- dtype dispatch (host) -------------------------------------------------------------------
// Calls f(TypeTag<T>{}) for the C++ type of `t`; kUnsupported naming the dtype otherwise.
template <typename F> Status dispatch_float(DataType t, F&& f, bool with_double = true) {
  switch (t) {
    case DataType::kFloat32: f(TypeTag<float>{}); return Status::OK();
    case DataType::kFloat16: f(TypeTag<__half>{}); return Status::OK();
    case DataType::kBFloat16: f(TypeTag<__nv_bfloat16>{}); return Status::OK();
    case DataType::kFloat64:
      if (with_double) { f(TypeTag<double>{}); return Status::OK(); }
      break;
    default: break;
  }
  return unsupported(std::string("dtype ") + std::string(dtype_name(t)) + " is not supported by this CUDA kernel");
}
template <typename F> Status dispatch_int(DataType t, F&& f) {
  switch (t) {
    case DataType::kInt8: f(TypeTag<int8_t>{}); return Status::OK();
    case DataType::kUInt8: f(TypeTag<uint8_t>{}); return Status::OK();
    case DataType::kInt32: f(TypeTag<int32_t>{}); return Status::OK();
    case DataType::kInt64: f(TypeTag<int64_t>{}); return Status::OK();
    default: break;
  }
  return unsupported(std::string("dtype ") + std::string(dtype_name(t)) + " is not supported by this CUDA kernel");
}
// Floats, then integers, then bool (as bool).
template <typename F> Status dispatch_all(DataType t, F&& f) {
  if (t == DataType::kBool) { f(TypeTag<bool>{}); return Status::OK(); }
  if (dtype_is_float(t)) return dispatch_float(t, f);
  return dispatch_int(t, f);
}
// By element size only (data movement): uint8_t, uint16_t, uint32_t, uint64_t; false for other sizes.
template <typename F> bool dispatch_size(size_t bytes, F&& f) {
  switch (bytes) {
    case 1: f(TypeTag<uint8_t>{}); return true;
    case 2: f(TypeTag<uint16_t>{}); return true;
    case 4: f(TypeTag<uint32_t>{}); return true;
    case 8: f(TypeTag<uint64_t>{}); return true;
    default: return false;
  }
}
template <typename F> Status dispatch_bytes(DataType t, F&& f) {
  if (dispatch_size(dtype_size(t), f)) return Status::OK();
  return unsupported(std::string("dtype ") + std::string(dtype_name(t)) + " has an element size this CUDA kernel does not move");
}

// ---- shapes and strides, passed by value to kernels -----------------------------------------
struct Dims {
  int rank = 0;
  int64_t d[kMaxRank] = {};
};
// Row-major strides of `dims`; when broadcasting `in` to `out` (numpy rules, right-aligned),
// broadcast dims get stride 0. Both are padded on the left to out's rank.
struct BroadcastStrides {
  int rank = 0;
  int64_t out_dims[kMaxRank] = {};
  int64_t in_strides[kMaxRank] = {};
};
inline BroadcastStrides broadcast_strides(const std::vector<int64_t>& in, const std::vector<int64_t>& out) {
  BroadcastStrides b;
  b.rank = static_cast<int>(out.size());
  const int off = static_cast<int>(out.size() - in.size());
  int64_t stride = 1;
  for (int i = b.rank - 1; i >= 0; --i) {
    b.out_dims[i] = out[i];
    const int j = i - off;
    const int64_t d = j >= 0 ? in[j] : 1;
    b.in_strides[i] = (d == 1) ? 0 : stride;
    stride *= d;
  }
  return b;
}
// Offset into `in` of linear output index `idx`.
__device__ __forceinline__ int64_t broadcast_offset(const BroadcastStrides& b, int64_t idx) {
  int64_t off = 0;
  for (int i = b.rank - 1; i >= 0; --i) {
    const int64_t q = idx / b.out_dims[i];
    off += (idx - q * b.out_dims[i]) * b.in_strides[i];
    idx = q;
  }
  return off;
}

}  // namespace slimrt::cuda
