// Shared single-threaded GEMM used by MatMul, Gemm, Einsum and the im2col convolution.
#pragma once

#include <cstdint>

namespace slimrt::cpu {

// C = alpha * op(A) * op(B) + beta * C, op = transpose when trans_*; accumulates in double.
// When beta == 0, C is write-only (may hold NaN poison).
// Row-major; op(A) is m x k, op(B) is k x n, C is m x n; lda/ldb/ldc are row strides in
// elements of the matrices as stored (A stored k x m when trans_a, B stored n x k when trans_b).
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
          int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
          int64_t ldc);

}  // namespace slimrt::cpu
