// Shared by the tensor family's CUDA kernels (tensor*.cu): a prepared strided copy.
//
// Most ops of the family (Transpose, Slice, Expand, Tile, DepthToSpace, SpaceToDepth) are one
// strided gather: out[i] = in[base + sum_k idx_k(i) * stride_k] over the output's dims. A
// CopyPlan is built once in `create` from that description; it collapses mergeable axes, drops
// size-1 axes, widens the element to up to 16 bytes when the innermost run is contiguous, and
// picks the launch: a plain memcpy, a shared-memory tiled transpose when the input's contiguous
// axis is not the output's innermost, or the generic gather. enqueue only launches.
#pragma once

#include <cstdint>
#include <vector>

#include "cuda/kernels/common.cuh"

namespace slimrt::cuda::tensor {

// Rank of a collapsed gather (Tile doubles the rank before collapsing).
inline constexpr int kMaxGatherRank = 2 * kMaxRank;

// A strided view of the input, laid out like the output: dims are the output's, strides (in
// elements, may be negative or 0) and base address the input element each output index reads.
struct StridedView {
  std::vector<int64_t> dims;
  std::vector<int64_t> strides;
  int64_t base = 0;
};

// Row-major strides of `dims`, in elements.
std::vector<int64_t> row_major_strides(const std::vector<int64_t>& dims);

// Per-output-axis launch parameters of the generic gather, passed by value.
template <typename I> struct GatherParams {
  int rank = 0;
  I n = 0;  // output elements (of the widened type)
  I base = 0;
  I dims[kMaxGatherRank] = {};
  I strides[kMaxGatherRank] = {};
};

// The tiled transpose: the input's stride-1 axis `a` (output stride out_a) against the output's
// innermost axis `b` (input stride in_b), for every index of the remaining batch axes.
template <typename I> struct TileParams {
  I da = 0, db = 0, in_b = 0, out_a = 0;
  I base = 0;
  I batch = 1;
  int nb = 0;
  I bdims[kMaxGatherRank] = {};
  I bin[kMaxGatherRank] = {};
  I bout[kMaxGatherRank] = {};
};

// One prepared launch. `elem` is the byte size of the (possibly widened) element.
struct CopyLaunch {
  enum class Kind { kNothing, kMemcpy, kGather, kTiled };
  Kind kind = Kind::kNothing;
  int elem = 1;
  bool wide_index = false;  // 64-bit offsets
  uint64_t memcpy_bytes = 0;
  int64_t memcpy_offset = 0;  // bytes into the input
  GatherParams<int32_t> g32;
  GatherParams<int64_t> g64;
  TileParams<int32_t> t32;
  TileParams<int64_t> t64;
  unsigned tiles_a = 0, tiles_b = 0, grid_z = 0;
};

class CopyPlan {
 public:
  // Returns false (with *why set) when the collapsed view needs more than kMaxGatherRank axes.
  bool build(const StridedView& view, int elem_bytes, std::string* why);
  // Launches out = gather(in); `in`/`out` are the tensors' base pointers.
  void enqueue(const void* in, void* out, cudaStream_t stream) const;
  bool empty() const { return base_.kind == CopyLaunch::Kind::kNothing; }

 private:
  CopyLaunch base_;  // element-sized, any alignment
  CopyLaunch wide_;  // widened; used when both pointers are aligned to wide_.elem
  bool has_wide_ = false;
};

// rows x row_bytes, reading with src_pitch and writing with dst_pitch bytes between rows; the
// vector width is chosen per call from the pointers' and pitches' alignment.
void copy_2d(const void* src, int64_t src_pitch, void* dst, int64_t dst_pitch, int64_t row_bytes, int64_t rows,
             cudaStream_t stream);

// Normalized axis attribute; shape inference validated the range.
inline int64_t axis_attr(const Node& n, const char* name, int64_t def, int64_t rank) {
  const int64_t a = n.attr_int(name, def);
  return a < 0 ? a + rank : a;
}

inline int64_t product(const std::vector<int64_t>& d, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t k = from; k < to && k < d.size(); ++k) p *= d[k];
  return p;
}

// Registration of the parts in other files.
void register_tensor_layout_kernels(KernelRegistry& r);  // tensor_layout.cu
void register_tensor_pad_kernels(KernelRegistry& r);     // tensor_pad.cu

}  // namespace slimrt::cuda::tensor
