// Integer MatMul / Gemm: cuBLASLt has no wrapping integer GEMM for these types, so a plain kernel
// (one output element per thread, 64-bit accumulation wrapping like the stored type, as the CPU
// reference does). Correctness over speed: integer products are rare in inference graphs.
// Included by linalg.cu only.
#pragma once

#include "cuda/kernels/common.cuh"

namespace slimrt::cuda {

struct IntGemmParams {
  int64_t batch = 1, m = 0, n = 0, k = 0;
  int64_t lda = 0, ldb = 0;
  int64_t stride_a = 0, stride_b = 0;  // per matrix of the batch; D is contiguous
  bool trans_a = false, trans_b = false;
  int64_t alpha = 1, beta = 0;  // beta != 0: adds beta * C[broadcast] (Gemm)
  BroadcastStrides c_bs;         // C onto [M, N]
};

template <typename T>
__global__ void int_gemm_kernel(const T* __restrict__ a, const T* __restrict__ b, const T* __restrict__ c,
                                T* __restrict__ d, IntGemmParams p) {
  const int64_t total = p.batch * p.m * p.n;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = e % p.n;
    const int64_t i = (e / p.n) % p.m;
    const int64_t bi = e / (p.n * p.m);
    const T* pa = a + bi * p.stride_a;
    const T* pb = b + bi * p.stride_b;
    uint64_t acc = 0;
    for (int64_t q = 0; q < p.k; ++q) {
      const auto x = static_cast<int64_t>(p.trans_a ? pa[q * p.lda + i] : pa[i * p.lda + q]);
      const auto w = static_cast<int64_t>(p.trans_b ? pb[j * p.ldb + q] : pb[q * p.ldb + j]);
      acc += static_cast<uint64_t>(x) * static_cast<uint64_t>(w);
    }
    uint64_t v = acc * static_cast<uint64_t>(p.alpha);
    if (p.beta != 0) {
      const auto cv = static_cast<int64_t>(c[broadcast_offset(p.c_bs, i * p.n + j)]);
      v += static_cast<uint64_t>(p.beta) * static_cast<uint64_t>(cv);
    }
    d[e] = static_cast<T>(v);
  }
}

}  // namespace slimrt::cuda
