// How a Reduce* op sees its input, for the CPU and CUDA kernels alike (host-only header): the
// reduced axes marked, neighbouring dims of the same kind merged and size-1 dims dropped, and the
// element counts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace slimrt {

struct ReduceGeometry {
  std::vector<int64_t> dims;  // merged dims, outermost first (size-1 dims dropped)
  std::vector<bool> reduced;  // per merged dim: reduced or kept
  int64_t group = 1;          // input elements per output element
  int64_t out_numel = 1;
};

// `axes` as the op gives them (negative counts from the end; empty means every axis, or none
// with noop_with_empty_axes). False with `why` set when an axis is out of range.
inline bool reduce_geometry(const std::vector<int64_t>& shape, const std::vector<int64_t>& axes, bool noop_with_empty_axes,
                            ReduceGeometry* g, std::string* why) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  std::vector<bool> reduced(shape.size(), axes.empty() && !noop_with_empty_axes);
  for (int64_t a : axes) {
    if (a < -rank || a >= rank) {
      *why = "axis " + std::to_string(a) + " out of range";
      return false;
    }
    reduced[static_cast<size_t>(a < 0 ? a + rank : a)] = true;
  }
  *g = ReduceGeometry{};
  for (size_t d = 0; d < shape.size(); ++d) {
    const int64_t n = shape[d];
    (reduced[d] ? g->group : g->out_numel) *= n;
    if (n == 1) continue;
    if (!g->dims.empty() && g->reduced.back() == reduced[d]) {
      g->dims.back() *= n;
    } else {
      g->dims.push_back(n);
      g->reduced.push_back(reduced[d]);
    }
  }
  return true;
}

}  // namespace slimrt
