// Element-wise steps around the cuBLASLt product that cuBLASLt's own epilogues cannot do:
// copying a broadcast C (or residual) into the output before a beta = 1 product, and the
// FusedMatMul epilogue (bias of any broadcast shape, residual before or after, every activation
// the fusion pass emits). Included by linalg.cu only.
#pragma once

#include "cuda/kernels/common.cuh"
#include "cuda/kernels/device_math.cuh"

namespace slimrt::cuda {

enum class Act : int { kNone, kRelu, kGelu, kGeluTanh, kSiLU, kSigmoid, kTanh, kLeakyRelu, kClip };

// How an addend maps onto the output's linear index.
enum class AddMode : int { kNone, kFull, kRow, kBroadcast };  // i, i % cols, broadcast_offset

struct EpilogueParams {
  int64_t n = 0;     // output elements
  int64_t cols = 1;  // last dim of the output (kRow)
  AddMode bias = AddMode::kNone, residual = AddMode::kNone;
  bool residual_first = false;
  Act act = Act::kNone;
  float alpha = 0.01f, lo = 0, hi = 0;  // LeakyRelu slope; Clip bounds
  BroadcastStrides bias_bs, residual_bs;
};

template <typename C>
__device__ __forceinline__ C activate(C v, const EpilogueParams& p) {
  switch (p.act) {
    case Act::kNone: return v;
    case Act::kRelu: return v < C(0) ? C(0) : v;  // NaN passes through, as on the CPU
    case Act::kGelu: return gelu_erf(v);
    case Act::kGeluTanh: return gelu_tanh(v);
    case Act::kSiLU: return v / (C(1) + exp(-v));
    case Act::kSigmoid: return C(1) / (C(1) + exp(-v));
    case Act::kTanh: return tanh(v);
    case Act::kLeakyRelu: return v < C(0) ? C(p.alpha) * v : v;
    case Act::kClip: {
      C r = v < C(p.lo) ? C(p.lo) : v;  // min first, then max, as the CPU does
      return r > C(p.hi) ? C(p.hi) : r;
    }
  }
  return v;
}

template <typename T>
__device__ __forceinline__ int64_t addend_index(AddMode m, const BroadcastStrides& bs, int64_t cols, int64_t i) {
  switch (m) {
    case AddMode::kFull: return i;
    case AddMode::kRow: return i % cols;
    default: return broadcast_offset(bs, i);
  }
}

template <typename T>
__device__ __forceinline__ compute_t<T> epilogue_one(compute_t<T> v, int64_t i, const T* bias, const T* res,
                                                     const EpilogueParams& p) {
  using C = compute_t<T>;
  if (p.bias != AddMode::kNone) v += load_c(bias, addend_index<T>(p.bias, p.bias_bs, p.cols, i));
  C r = C(0);
  if (p.residual != AddMode::kNone) r = load_c(res, addend_index<T>(p.residual, p.residual_bs, p.cols, i));
  if (p.residual_first) v += r;
  v = activate<C>(v, p);
  if (!p.residual_first) v += r;
  return v;
}

// y[i] = epilogue(y[i]) in place; one element per thread-iteration.
template <typename T>
__global__ void epilogue_kernel(T* __restrict__ y, const T* __restrict__ bias, const T* __restrict__ res,
                                EpilogueParams p) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < p.n; i += int64_t(gridDim.x) * blockDim.x)
    store_c(y, i, epilogue_one<T>(load_c(y, i), i, bias, res, p));
}

// Eight 2-byte (or four 4-byte) elements per thread through 16-byte loads; needs n and, for kRow,
// cols to be multiples of kVec, and 16-byte aligned pointers (checked by the caller). Addends
// are kNone, kFull or kRow only.
template <typename T>
__global__ void epilogue_vec_kernel(T* __restrict__ y, const T* __restrict__ bias, const T* __restrict__ res,
                                    EpilogueParams p) {
  constexpr int kVec = 16 / sizeof(T);
  using Pack = cuda::Pack<T, kVec>;  // 16 bytes
  const int64_t packs = p.n / kVec;
  for (int64_t q = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; q < packs; q += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i0 = q * kVec;
    Pack yv = reinterpret_cast<const Pack*>(y)[q];
    Pack bv{}, rv{};
    if (p.bias != AddMode::kNone) bv = reinterpret_cast<const Pack*>(bias)[(p.bias == AddMode::kRow ? i0 % p.cols : i0) / kVec];
    if (p.residual != AddMode::kNone)
      rv = reinterpret_cast<const Pack*>(res)[(p.residual == AddMode::kRow ? i0 % p.cols : i0) / kVec];
#pragma unroll
    for (int e = 0; e < kVec; ++e) {
      using C = compute_t<T>;
      C v = load_c(yv.v, e);
      if (p.bias != AddMode::kNone) v += load_c(bv.v, e);
      const C r = p.residual != AddMode::kNone ? load_c(rv.v, e) : C(0);
      if (p.residual_first) v += r;
      v = activate<C>(v, p);
      if (!p.residual_first) v += r;
      store_c(yv.v, e, v);
    }
    reinterpret_cast<Pack*>(y)[q] = yv;
  }
}

// y[i] = scale * x[broadcast_offset(i)]: C or a residual laid into the output before the product.
template <typename T>
__global__ void broadcast_scale_kernel(const T* __restrict__ x, BroadcastStrides bs, int64_t n, double scale,
                                       T* __restrict__ y) {
  using C = compute_t<T>;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    store_c(y, i, static_cast<C>(scale) * load_c(x, broadcast_offset(bs, i)));
}

}  // namespace slimrt::cuda
