#include "cuda/kernels/elementwise_addressing.h"

#include <array>

#include "cuda/kernels/elementwise_common.cuh"

namespace slimrt::cuda::ew {

namespace {

// Input j's element for output index i as ew_vec_kernel reads it: whole chunks through
// load_chunk (V elements from the chunk's source index, or its one element repeated), the tail
// through load_one.
int64_t vec_offset(const VecParams<2>& a, int v, int j, int64_t i) {
  if (i >= a.chunks * v) return vec_source_index(a, j, i);
  const int64_t first = i - i % v;
  const int64_t at = vec_source_index(a, j, first);
  return vec_repeats(a, j) ? at : at + (i - first);
}

}  // namespace

BinaryAddressing binary_addressing(const std::vector<int64_t>& out, const std::vector<int64_t>& a,
                                   const std::vector<int64_t>& b, int vec_width) {
  const StridedParams<2> sp = make_strided<2>(out, std::array<const std::vector<int64_t>*, 2>{&a, &b});
  BinaryAddressing r;
  r.a.reserve(static_cast<size_t>(sp.n));
  r.b.reserve(static_cast<size_t>(sp.n));
  for (int64_t i = 0; i < sp.n; ++i) {
    int64_t off[2];
    strided_offsets<int64_t, 2>(sp, i, off);
    r.a.push_back(off[0]);
    r.b.push_back(off[1]);
  }
  VecParams<2> vp;
  r.vectorized = make_vec<2>(sp, vec_width, vp);
  if (r.vectorized) {
    for (int64_t i = 0; i < sp.n; ++i) {
      r.vec_a.push_back(vec_offset(vp, vec_width, 0, i));
      r.vec_b.push_back(vec_offset(vp, vec_width, 1, i));
    }
  }
  return r;
}

}  // namespace slimrt::cuda::ew
