// CPU reference kernels for MatMul and Gemm. Float products go through the shared double-
// accumulating gemm(); integer products use a plain loop with int64 accumulation (wrapping like
// the stored type).
#include <algorithm>
#include <type_traits>
#include <vector>

#include "cpu/dispatch.h"
#include "cpu/gemm.h"
#include "cpu/kernel_registry.h"

namespace slimrt::cpu {
namespace {

// C[m x n] = A[m x k] * B[k x n] for integers; all row-major, contiguous.
template <typename T>
void int_matmul(int64_t m, int64_t n, int64_t k, const T* a, const T* b, T* c) {
  std::vector<uint64_t> acc(static_cast<size_t>(n));
  for (int64_t i = 0; i < m; ++i) {
    std::fill(acc.begin(), acc.end(), 0);
    for (int64_t p = 0; p < k; ++p) {
      const uint64_t x = static_cast<uint64_t>(static_cast<int64_t>(a[i * k + p]));
      const T* row = b + p * n;
      for (int64_t j = 0; j < n; ++j) acc[static_cast<size_t>(j)] += x * static_cast<uint64_t>(static_cast<int64_t>(row[j]));
    }
    for (int64_t j = 0; j < n; ++j) c[i * n + j] = static_cast<T>(acc[static_cast<size_t>(j)]);
  }
}

template <typename T>
void matmul_2d(int64_t m, int64_t n, int64_t k, const T* a, const T* b, T* c) {
  if constexpr (std::is_floating_point_v<T>) {
    gemm(false, false, m, n, k, T(1), a, k, b, n, T(0), c, n);
  } else {
    int_matmul(m, n, k, a, b, c);
  }
}

Status matmul_kernel(KernelContext& ctx) {
  const Tensor& ta = *ctx.input(0);
  const Tensor& tb = *ctx.input(1);
  Tensor& y = ctx.output(0);
  std::vector<int64_t> as = ta.shape(), bs = tb.shape();
  if (as.empty() || bs.empty()) return ctx.invalid("MatMul inputs must have rank >= 1");
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  if (bs[bs.size() - 2] != k) return ctx.invalid("inner dimensions do not match");
  // Batch dims, right-aligned to a common rank with 1s in front.
  const size_t rank = std::max(as.size(), bs.size()) - 2;
  std::vector<int64_t> ab(rank, 1), bb(rank, 1), ob(rank, 1);
  for (size_t d = 0; d + 2 < as.size(); ++d) ab[rank - (as.size() - 2) + d] = as[d];
  for (size_t d = 0; d + 2 < bs.size(); ++d) bb[rank - (bs.size() - 2) + d] = bs[d];
  int64_t batch = 1, a_batch = 1, b_batch = 1;
  for (size_t d = 0; d < rank; ++d) {
    if (ab[d] != bb[d] && ab[d] != 1 && bb[d] != 1) return ctx.invalid("batch dimensions do not broadcast");
    ob[d] = std::max(ab[d], bb[d]);
    if (ab[d] == 0 || bb[d] == 0) ob[d] = 0;
    batch *= ob[d];
    a_batch *= ab[d];
    b_batch *= bb[d];
  }
  if (y.numel() != batch * m * n) return ctx.invalid("output size does not match the product");
  return dispatch_numeric(ta.dtype(), [&]<typename T>() {
    const T* a = ta.data<T>();
    const T* b = tb.data<T>();
    T* c = y.data<T>();
    if (batch == 0 || m == 0 || n == 0) return Status::OK();
    // One shared B: the batch folds into the rows of a single product.
    if (b_batch == 1 && a_batch == batch) {
      matmul_2d<T>(batch * m, n, k, a, b, c);
      return Status::OK();
    }
    // Element strides of each batch dim, 0 where broadcast.
    std::vector<int64_t> sa(rank, 0), sb(rank, 0);
    int64_t stride_a = m * k, stride_b = k * n;
    for (size_t d = rank; d-- > 0;) {
      sa[d] = ab[d] == 1 ? 0 : stride_a;
      sb[d] = bb[d] == 1 ? 0 : stride_b;
      stride_a *= ab[d];
      stride_b *= bb[d];
    }
    std::vector<int64_t> idx(rank, 0);
    int64_t off_a = 0, off_b = 0;
    for (int64_t t = 0; t < batch; ++t) {
      matmul_2d<T>(m, n, k, a + off_a, b + off_b, c + t * m * n);
      for (size_t d = rank; d-- > 0;) {
        off_a += sa[d];
        off_b += sb[d];
        if (++idx[d] < ob[d]) break;
        off_a -= sa[d] * ob[d];
        off_b -= sb[d] * ob[d];
        idx[d] = 0;
      }
    }
    return Status::OK();
  });
}

Status gemm_kernel(KernelContext& ctx) {
  const Tensor& ta = *ctx.input(0);
  const Tensor& tb = *ctx.input(1);
  const Tensor* tc = ctx.input(2);
  Tensor& y = ctx.output(0);
  if (ta.rank() != 2 || tb.rank() != 2) return ctx.invalid("Gemm needs 2-D A and B");
  const bool trans_a = ctx.node.attr_int("transA", 0) != 0, trans_b = ctx.node.attr_int("transB", 0) != 0;
  const double alpha = ctx.node.attr_float("alpha", 1.0f), beta = ctx.node.attr_float("beta", 1.0f);
  const int64_t m = trans_a ? ta.dim(1) : ta.dim(0), k = trans_a ? ta.dim(0) : ta.dim(1);
  const int64_t n = trans_b ? tb.dim(0) : tb.dim(1);
  if ((trans_b ? tb.dim(1) : tb.dim(0)) != k) return ctx.invalid("inner dimensions do not match");
  if (y.numel() != m * n) return ctx.invalid("output size does not match [M, N]");
  // C broadcast to [M, N]: the strides of its (right-aligned) rows and columns.
  int64_t c_rs = 0, c_cs = 0;
  const bool use_c = tc && beta != 0.0;
  if (use_c) {
    const auto& cs = tc->shape();
    if (cs.size() > 2) return ctx.invalid("C must have rank <= 2");
    const int64_t cr = cs.size() == 2 ? cs[0] : 1, cc = cs.empty() ? 1 : cs.back();
    if ((cr != 1 && cr != m) || (cc != 1 && cc != n)) return ctx.invalid("C does not broadcast to [M, N]");
    c_cs = cc == 1 ? 0 : 1;
    c_rs = cr == 1 ? 0 : cc;
  }
  return dispatch_numeric(ta.dtype(), [&]<typename T>() {
    T* out = y.data<T>();
    if (use_c) {
      const T* c = tc->data<T>();
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) out[i * n + j] = c[i * c_rs + j * c_cs];
      }
    }
    const T* a = ta.data<T>();
    const T* b = tb.data<T>();
    if constexpr (std::is_floating_point_v<T>) {
      gemm(trans_a, trans_b, m, n, k, static_cast<T>(alpha), a, ta.dim(1), b, tb.dim(1),
           static_cast<T>(use_c ? beta : 0.0), out, n);
    } else {
      const int64_t ia = static_cast<int64_t>(alpha), ib = static_cast<int64_t>(beta);
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          uint64_t acc = 0;
          for (int64_t p = 0; p < k; ++p) {
            const int64_t x = static_cast<int64_t>(trans_a ? a[p * m + i] : a[i * k + p]);
            const int64_t w = static_cast<int64_t>(trans_b ? b[j * k + p] : b[p * n + j]);
            acc += static_cast<uint64_t>(x) * static_cast<uint64_t>(w);
          }
          uint64_t v = acc * static_cast<uint64_t>(ia);
          if (use_c) v += static_cast<uint64_t>(ib) * static_cast<uint64_t>(static_cast<int64_t>(out[i * n + j]));
          out[i * n + j] = static_cast<T>(v);
        }
      }
    }
    return Status::OK();
  });
}

}  // namespace

Status einsum_kernel(KernelContext& ctx);  // linalg_einsum.cpp

void register_linalg_kernels(KernelRegistry& r) {
  r.add({"MatMul", matmul_kernel, true});
  r.add({"Gemm", gemm_kernel, true});
  r.add({"Einsum", einsum_kernel, true});
}

}  // namespace slimrt::cpu
