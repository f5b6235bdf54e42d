// Shared pieces of the elementwise CPU kernels: a numpy-broadcasting iterator and the
// registration functions of the family's source files.
//
// The iterator collapses the output's dims into the fewest runs over which every input is
// either contiguous or constant, so the common cases become tight inner loops:
//   same shapes          -> one row of numel elements, every input stride 1;
//   scalar operand       -> one row, that input stride 0;
//   [N,C] + [C]          -> N rows of C, inner strides (1, 1), the second input restarting;
//   [N,C,H,W] + [C,1,1]  -> N*C rows of H*W, inner strides (1, 0).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "cpu/kernel_registry.h"
#include "ir/broadcast_plan.h"

namespace slimrt::cpu {

void register_elementwise_unary_kernels(KernelRegistry& r);   // elementwise.cpp
void register_elementwise_binary_kernels(KernelRegistry& r);  // elementwise_binary.cpp
void register_elementwise_cast_kernels(KernelRegistry& r);    // elementwise_cast.cpp

namespace ew {

using slimrt::BroadcastPlan;
using slimrt::make_broadcast_plan;

// Calls row(out_offset, in_offsets, length, inner_strides) for every innermost run. Inner strides
// are 0 or 1.
template <size_t N, typename Row>
void for_each_row(const BroadcastPlan<N>& p, Row&& row) {
  const size_t r = p.dims.size();
  const int64_t len = p.dims[r - 1];
  const std::array<int64_t, N> inner = p.strides[r - 1];
  int64_t rows = 1;
  for (size_t k = 0; k + 1 < r; ++k) rows *= p.dims[k];
  if (rows == 0 || len == 0) return;
  std::vector<int64_t> idx(r, 0);
  std::array<int64_t, N> off{};
  for (int64_t i = 0; i < rows; ++i) {
    row(i * len, off, len, inner);
    for (size_t k = r - 1; k-- > 0;) {
      for (size_t j = 0; j < N; ++j) off[j] += p.strides[k][j];
      if (++idx[k] < p.dims[k]) break;
      for (size_t j = 0; j < N; ++j) off[j] -= p.strides[k][j] * p.dims[k];
      idx[k] = 0;
    }
  }
}

// out[i] = op(a[ia], b[ib]) with broadcasting; `out` may alias `a` when a has out's shape.
template <typename A, typename B, typename O, typename Op>
void binary_loop(const A* a, const std::vector<int64_t>& a_shape, const B* b, const std::vector<int64_t>& b_shape,
                 O* out, const std::vector<int64_t>& out_shape, Op op) {
  const BroadcastPlan<2> plan = make_broadcast_plan<2>(out_shape, {&a_shape, &b_shape});
  for_each_row(plan, [&](int64_t o, const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
    const A* x = a + off[0];
    const B* y = b + off[1];
    O* z = out + o;
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t i = 0; i < n; ++i) z[i] = op(x[i], y[i]);
    } else if (st[0] == 1) {
      const B yv = *y;
      for (int64_t i = 0; i < n; ++i) z[i] = op(x[i], yv);
    } else if (st[1] == 1) {
      const A xv = *x;
      for (int64_t i = 0; i < n; ++i) z[i] = op(xv, y[i]);
    } else {
      const O v = op(*x, *y);
      for (int64_t i = 0; i < n; ++i) z[i] = v;
    }
  });
}

}  // namespace ew
}  // namespace slimrt::cpu
