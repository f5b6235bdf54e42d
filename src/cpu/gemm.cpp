// Single-threaded GEMM with double accumulation.
//
// Both operands are packed once into double-precision panels (A into MR-row panels, B into
// NR-column panels, each k-major), so the transposes cost nothing in the inner loop and the
// float->double conversion happens once per element instead of once per multiply. The product
// is computed in blocks of MC x NC; each block accumulates its k-sum in a double tile (KC
// steps at a time) and is written out once, so C only ever sees the fully accumulated value.
// The MR x NR micro-kernel keeps its tile in SSE2 registers (baseline x86-64, no -march).
#include "cpu/gemm.h"

#include <algorithm>
#include <cstring>
#include <memory>

namespace slimrt::cpu {
namespace {

constexpr int64_t kMr = 4;    // rows of the register tile
constexpr int64_t kNr = 4;    // columns of the register tile
constexpr int64_t kMc = 64;   // rows per block (multiple of kMr)
constexpr int64_t kNc = 256;  // columns per block (multiple of kNr)
constexpr int64_t kKc = 256;  // k steps per pass over the double tile

// Below this many multiply-adds the packing overhead dominates: use the plain loop.
constexpr int64_t kSmallWork = 4096;

// Two doubles: GCC and Clang lower this to SSE2 on x86-64 and to NEON/scalar elsewhere.
typedef double V2 __attribute__((vector_size(16)));

inline V2 load2(const double* p) {
  V2 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void store2(double* p, V2 v) { std::memcpy(p, &v, sizeof(v)); }

// c[kMr x kNr] (row stride ldc) += a_panel^T * b_panel over kc steps. a holds kMr doubles per
// step, b holds kNr doubles per step.
void micro_kernel(int64_t kc, const double* __restrict a, const double* __restrict b,
                  double* __restrict c, int64_t ldc) {
  V2 c00 = {0, 0}, c01 = {0, 0}, c10 = {0, 0}, c11 = {0, 0};
  V2 c20 = {0, 0}, c21 = {0, 0}, c30 = {0, 0}, c31 = {0, 0};
  for (int64_t p = 0; p < kc; ++p) {
    const V2 b0 = load2(b), b1 = load2(b + 2);
    V2 av = {a[0], a[0]};
    c00 += av * b0;
    c01 += av * b1;
    av = V2{a[1], a[1]};
    c10 += av * b0;
    c11 += av * b1;
    av = V2{a[2], a[2]};
    c20 += av * b0;
    c21 += av * b1;
    av = V2{a[3], a[3]};
    c30 += av * b0;
    c31 += av * b1;
    a += kMr;
    b += kNr;
  }
  double* r = c;
  store2(r, load2(r) + c00);
  store2(r + 2, load2(r + 2) + c01);
  r += ldc;
  store2(r, load2(r) + c10);
  store2(r + 2, load2(r + 2) + c11);
  r += ldc;
  store2(r, load2(r) + c20);
  store2(r + 2, load2(r + 2) + c21);
  r += ldc;
  store2(r, load2(r) + c30);
  store2(r + 2, load2(r + 2) + c31);
}

// Packs op(A) (m x k) into ceil(m/kMr) panels of k x kMr doubles; rows past m are zero.
template <typename T>
void pack_a(bool trans, int64_t m, int64_t k, const T* a, int64_t lda, double* dst) {
  for (int64_t i0 = 0; i0 < m; i0 += kMr) {
    const int64_t rows = std::min(kMr, m - i0);
    double* panel = dst + i0 * k;
    if (!trans) {
      for (int64_t r = 0; r < rows; ++r) {
        const T* src = a + (i0 + r) * lda;
        for (int64_t p = 0; p < k; ++p) panel[p * kMr + r] = static_cast<double>(src[p]);
      }
    } else {
      for (int64_t p = 0; p < k; ++p) {
        const T* src = a + p * lda + i0;
        for (int64_t r = 0; r < rows; ++r) panel[p * kMr + r] = static_cast<double>(src[r]);
      }
    }
    for (int64_t r = rows; r < kMr; ++r) {
      for (int64_t p = 0; p < k; ++p) panel[p * kMr + r] = 0.0;
    }
  }
}

// Packs op(B) (k x n) into ceil(n/kNr) panels of k x kNr doubles; columns past n are zero.
template <typename T>
void pack_b(bool trans, int64_t n, int64_t k, const T* b, int64_t ldb, double* dst) {
  for (int64_t j0 = 0; j0 < n; j0 += kNr) {
    const int64_t cols = std::min(kNr, n - j0);
    double* panel = dst + j0 * k;
    if (!trans) {
      for (int64_t p = 0; p < k; ++p) {
        const T* src = b + p * ldb + j0;
        double* d = panel + p * kNr;
        int64_t c = 0;
        for (; c < cols; ++c) d[c] = static_cast<double>(src[c]);
        for (; c < kNr; ++c) d[c] = 0.0;
      }
    } else {
      for (int64_t c = 0; c < cols; ++c) {
        const T* src = b + (j0 + c) * ldb;
        for (int64_t p = 0; p < k; ++p) panel[p * kNr + c] = static_cast<double>(src[p]);
      }
      for (int64_t c = cols; c < kNr; ++c) {
        for (int64_t p = 0; p < k; ++p) panel[p * kNr + c] = 0.0;
      }
    }
  }
}

template <typename T>
void store_c(double acc, T alpha, T beta, T* c) {
  const double v = static_cast<double>(alpha) * acc;
  *c = beta == T(0) ? static_cast<T>(v) : static_cast<T>(v + static_cast<double>(beta) * static_cast<double>(*c));
}

// Plain triple loop for tiny products (and the reference the packed path must match).
template <typename T>
void gemm_small(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < k; ++p) {
        const double x = static_cast<double>(trans_a ? a[p * lda + i] : a[i * lda + p]);
        const double y = static_cast<double>(trans_b ? b[j * ldb + p] : b[p * ldb + j]);
        acc += x * y;
      }
      store_c(acc, alpha, beta, c + i * ldc + j);
    }
  }
}

// One row of op(A) times B (m == 1, B not transposed): streams B's rows into a double row.
template <typename T>
void gemv_row(bool trans_a, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
              int64_t ldb, T beta, T* c) {
  std::unique_ptr<double[]> acc(new double[static_cast<size_t>(n)]);
  std::fill(acc.get(), acc.get() + n, 0.0);
  for (int64_t p = 0; p < k; ++p) {
    const double x = static_cast<double>(trans_a ? a[p * lda] : a[p]);
    if (x == 0.0) continue;
    const T* row = b + p * ldb;
    double* __restrict r = acc.get();
    for (int64_t j = 0; j < n; ++j) r[j] += x * static_cast<double>(row[j]);
  }
  for (int64_t j = 0; j < n; ++j) store_c(acc[j], alpha, beta, c + j);
}

template <typename T>
void gemm_impl(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
               int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == T(0)) {
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) store_c(0.0, alpha, beta, c + i * ldc + j);
    }
    return;
  }
  // Tiny products, and matrix-vector products where every output is one dot product over
  // contiguous or strided memory: packing would cost as much as the arithmetic.
  if (m * n * k <= kSmallWork || n == 1 || (m == 1 && trans_b)) {
    gemm_small(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  if (m == 1 && !trans_b) {
    gemv_row(trans_a, n, k, alpha, a, lda, b, ldb, beta, c);
    return;
  }

  const int64_t m_pad = (m + kMr - 1) / kMr * kMr;
  const int64_t n_pad = (n + kNr - 1) / kNr * kNr;
  std::unique_ptr<double[]> pa(new double[static_cast<size_t>(m_pad * k)]);
  std::unique_ptr<double[]> pb(new double[static_cast<size_t>(n_pad * k)]);
  pack_a(trans_a, m, k, a, lda, pa.get());
  pack_b(trans_b, n, k, b, ldb, pb.get());

  std::unique_ptr<double[]> tile(new double[static_cast<size_t>(kMc * kNc)]);
  for (int64_t ic = 0; ic < m_pad; ic += kMc) {
    const int64_t mc = std::min(kMc, m_pad - ic);
    for (int64_t jc = 0; jc < n_pad; jc += kNc) {
      const int64_t nc = std::min(kNc, n_pad - jc);
      double* t = tile.get();
      std::fill(t, t + mc * nc, 0.0);
      for (int64_t pc = 0; pc < k; pc += kKc) {
        const int64_t kc = std::min(kKc, k - pc);
        for (int64_t jr = 0; jr < nc; jr += kNr) {
          const double* bp = pb.get() + (jc + jr) * k + pc * kNr;
          for (int64_t ir = 0; ir < mc; ir += kMr) {
            const double* ap = pa.get() + (ic + ir) * k + pc * kMr;
            micro_kernel(kc, ap, bp, t + ir * nc + jr, nc);
          }
        }
      }
      const int64_t rows = std::min(mc, m - ic);
      const int64_t cols = std::min(nc, n - jc);
      for (int64_t i = 0; i < rows; ++i) {
        T* crow = c + (ic + i) * ldc + jc;
        const double* trow = t + i * nc;
        for (int64_t j = 0; j < cols; ++j) store_c(trow[j], alpha, beta, crow + j);
      }
    }
  }
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  gemm_impl<float>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
          int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  gemm_impl<double>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace slimrt::cpu
