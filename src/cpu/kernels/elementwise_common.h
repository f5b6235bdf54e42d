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

namespace slimrt::cpu {

void register_elementwise_unary_kernels(KernelRegistry& r);   // elementwise.cpp
void register_elementwise_binary_kernels(KernelRegistry& r);  // elementwise_binary.cpp
void register_elementwise_cast_kernels(KernelRegistry& r);    // elementwise_cast.cpp

namespace ew {

// How to walk a contiguous output of shape `dims` while reading N broadcast inputs.
template <size_t N>
struct BroadcastPlan {
  std::vector<int64_t> dims;                    // collapsed, outermost first, never empty
  std::vector<std::array<int64_t, N>> strides;  // element strides per dim and input; 0 = broadcast
};

// `ins` are the inputs' shapes, each broadcastable to `out` (shape inference checked that).
template <size_t N>
BroadcastPlan<N> make_broadcast_plan(const std::vector<int64_t>& out,
                                     const std::array<const std::vector<int64_t>*, N>& ins) {
  // Built innermost first, then reversed.
  BroadcastPlan<N> p;
  std::array<int64_t, N> running;
  running.fill(1);
  for (size_t k = out.size(); k-- > 0;) {
    std::array<int64_t, N> s{};
    for (size_t j = 0; j < N; ++j) {
      const std::vector<int64_t>& in = *ins[j];
      const size_t lead = out.size() - in.size();
      const int64_t d = k >= lead ? in[k - lead] : 1;
      s[j] = d == 1 ? 0 : running[j];
      running[j] *= d;
    }
    if (out[k] == 1) continue;
    if (!p.dims.empty()) {
      // Merge into the inner run when every input continues it (or stays broadcast).
      bool merge = true;
      for (size_t j = 0; j < N; ++j) merge = merge && s[j] == p.strides.back()[j] * p.dims.back();
      if (merge) {
        p.dims.back() *= out[k];
        continue;
      }
    }
    p.dims.push_back(out[k]);
    p.strides.push_back(s);
  }
  if (p.dims.empty()) {
    p.dims.push_back(1);
    p.strides.push_back(std::array<int64_t, N>{});
  }
  std::reverse(p.dims.begin(), p.dims.end());
  std::reverse(p.strides.begin(), p.strides.end());
  return p;
}

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
