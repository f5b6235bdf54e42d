// Numpy broadcasting collapsed to the fewest dims (host-only header, for the CPU and CUDA
// element-wise kernels alike): the output's dims merged wherever every input's stride pattern
// continues, size-1 output dims dropped, each input's element stride per dim (0 = broadcast).
//   same shapes          -> one dim of numel elements, every input stride 1;
//   scalar operand       -> one dim, that input stride 0;
//   [N,C] + [C]          -> [N, C], strides (C, 1) and (0, 1);
//   [N,C,H,W] + [C,1,1]  -> [N, C, H*W], the second input's strides (0, 1, 0).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace slimrt {

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

}  // namespace slimrt
