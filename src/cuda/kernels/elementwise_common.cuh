// The elementwise family's launch machinery: one output, K inputs of (possibly different) storage
// types, numpy broadcasting, and an op functor applied in the compute type (float for fp16/bf16).
//
//   auto k = make_elementwise<Add, __half>(args, {0, 1}, Add{});  // in create
//   k->enqueue(launch_args);                                       // hot path
//
// Two kernels serve every op. `ew_vec_kernel` handles the hot layouts with 16-byte loads: each
// input is either the full output shape, a contiguous row repeating along the output (a bias
// [C] against [N, C]), or a value constant over runs of the output (a scalar, [C,1,1] against
// [N,C,H,W]); input j's element for output index i is (i / inner_j) % mid_j. Everything else
// (or unaligned pointers) goes through `ew_strided_kernel`, which walks the collapsed broadcast
// strides, in 32-bit arithmetic when the sizes allow.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "cuda/kernels/common.cuh"
#include "ir/broadcast_plan.h"

namespace slimrt::cuda::ew {

// ---- storage <-> compute --------------------------------------------------------------------
// Bool tensors are stored as uint8_t (0/1); ops see them as uint8_t and test `!= 0`.
template <typename T> constexpr bool kIsHalf = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;
template <typename T> constexpr bool kIsFloat = kIsHalf<T> || std::is_floating_point_v<T>;

template <typename T> __device__ __forceinline__ compute_t<T> to_c(T v) {
  if constexpr (kIsHalf<T>) return to_f32(v);
  else return v;
}
template <typename O, typename V> __device__ __forceinline__ O from_c(V v) {
  if constexpr (std::is_same_v<O, V>) return v;
  else if constexpr (kIsHalf<O>) return from_f32<O>(static_cast<float>(v));
  else return static_cast<O>(v);
}


// ---- parameters (by value) --------------------------------------------------------------------
enum class Mode : int32_t { kFull, kRow, kConst };

template <int K> struct VecParams {
  int64_t n = 0;           // output elements
  int64_t chunks = 0;      // n / V
  bool small = true;       // n < 2^31: 32-bit index arithmetic
  bool all_full = true;    // every input has the output's shape
  Mode mode[K > 0 ? K : 1] = {};
  int64_t inner[K > 0 ? K : 1] = {};
  int64_t mid[K > 0 ? K : 1] = {};
};

template <int K> struct StridedParams {
  int64_t n = 0;
  bool small = true;
  int rank = 1;                                // collapsed dims, outermost first
  int64_t dims[kMaxRank] = {};
  int64_t strides[kMaxRank][K > 0 ? K : 1] = {};  // 0 where the input broadcasts
};

// ---- device helpers ---------------------------------------------------------------------------
// Host and device: tests evaluate the addressing on the host (elementwise_addressing.h).
template <typename I> __host__ __device__ __forceinline__ I pattern_index(I i, I inner, I mid) { return (i / inner) % mid; }

// Where ew_vec_kernel reads input j for output index i: i itself for an input of the output's
// shape, else its pattern index (32-bit arithmetic when the sizes allow). A kRow chunk reads V
// elements from there, a kConst chunk repeats the one element there. Host and device.
template <int K>
__host__ __device__ __forceinline__ int64_t vec_source_index(const VecParams<K>& a, int j, int64_t i) {
  if (a.all_full || a.mode[j] == Mode::kFull) return i;
  return a.small ? static_cast<int64_t>(pattern_index<uint32_t>(static_cast<uint32_t>(i), static_cast<uint32_t>(a.inner[j]),
                                                                static_cast<uint32_t>(a.mid[j])))
                 : pattern_index<int64_t>(i, a.inner[j], a.mid[j]);
}
template <int K> __host__ __device__ __forceinline__ bool vec_repeats(const VecParams<K>& a, int j) {
  return !a.all_full && a.mode[j] == Mode::kConst;
}

template <int V, typename T, int K>
__device__ __forceinline__ Pack<T, V> load_chunk(const T* p, int64_t i, const VecParams<K>& a, int j) {
  const int64_t at = vec_source_index(a, j, i);
  if (vec_repeats(a, j)) {
    Pack<T, V> pk;
    const T s = p[at];
#pragma unroll
    for (int e = 0; e < V; ++e) pk.v[e] = s;
    return pk;
  }
  return *reinterpret_cast<const Pack<T, V>*>(p + at);
}

template <typename T, int K>
__device__ __forceinline__ T load_one(const T* p, int64_t i, const VecParams<K>& a, int j) {
  return p[vec_source_index(a, j, i)];
}

template <int V, typename Op, typename O, typename... In>
__device__ __forceinline__ void apply_chunk(const Op& op, O* out, int64_t i, const Pack<In, V>&... p) {
  Pack<O, V> r;
#pragma unroll
  for (int e = 0; e < V; ++e) r.v[e] = from_c<O>(op(to_c(p.v[e])...));
  *reinterpret_cast<Pack<O, V>*>(out + i) = r;
}

template <int V, typename Op, typename O, typename... In, size_t... J>
__device__ __forceinline__ void vec_body(const Op& op, const VecParams<sizeof...(In)>& a, O* out, int64_t t,
                                         std::index_sequence<J...>, const In*... in) {
  if (t < a.chunks) {
    const int64_t i = t * V;
    apply_chunk<V, Op, O, In...>(op, out, i, load_chunk<V>(in, i, a, static_cast<int>(J))...);
  } else {
    const int64_t i = a.chunks * V + (t - a.chunks);
    out[i] = from_c<O>(op(to_c(load_one(in, i, a, static_cast<int>(J)))...));
  }
}

template <int V, typename Op, typename O, typename... In>
__global__ void ew_vec_kernel(Op op, VecParams<sizeof...(In)> a, O* out, const In*... in) {
  const int64_t items = a.chunks + (a.n - a.chunks * V);
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < items;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    vec_body<V>(op, a, out, t, std::index_sequence_for<In...>{}, in...);
  }
}

template <typename I, int K>
__host__ __device__ __forceinline__ void strided_offsets(const StridedParams<K>& p, I idx, I (&off)[K > 0 ? K : 1]) {
#pragma unroll
  for (int j = 0; j < K; ++j) off[j] = 0;
#pragma unroll
  for (int d = kMaxRank - 1; d >= 0; --d) {
    if (d < p.rank) {
      const I dim = static_cast<I>(p.dims[d]);
      const I q = idx / dim;
      const I r = idx - q * dim;
#pragma unroll
      for (int j = 0; j < K; ++j) off[j] += r * static_cast<I>(p.strides[d][j]);
      idx = q;
    }
  }
}

template <typename I, typename Op, typename O, typename... In, size_t... J>
__device__ __forceinline__ void strided_loop(const Op& op, const StridedParams<sizeof...(In)>& p, O* out,
                                             std::index_sequence<J...>, const In*... in) {
  constexpr int K = sizeof...(In);
  const I n = static_cast<I>(p.n);
  for (I i = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; i < n; i += static_cast<I>(gridDim.x) * blockDim.x) {
    I off[K > 0 ? K : 1];
    strided_offsets<I, K>(p, i, off);
    out[i] = from_c<O>(op(to_c(in[off[J]])...));
  }
}

template <typename Op, typename O, typename... In>
__global__ void ew_strided_kernel(Op op, StridedParams<sizeof...(In)> p, O* out, const In*... in) {
  if (p.small) strided_loop<uint32_t>(op, p, out, std::index_sequence_for<In...>{}, in...);
  else strided_loop<int64_t>(op, p, out, std::index_sequence_for<In...>{}, in...);
}

// ---- host planning ----------------------------------------------------------------------------
// Collapses `out` into the fewest dims over which every input's stride pattern continues.
template <int K>
StridedParams<K> make_strided(const std::vector<int64_t>& out, const std::array<const std::vector<int64_t>*, K>& ins) {
  StridedParams<K> p;
  int64_t n = 1;
  for (int64_t d : out) n *= d;
  p.n = n;
  p.small = n < (int64_t{1} << 31);
  const BroadcastPlan<static_cast<size_t>(K)> plan = make_broadcast_plan<static_cast<size_t>(K)>(out, ins);
  // StridedParams holds the dims outermost first, as the plan does.
  p.rank = static_cast<int>(plan.dims.size());
  for (int d = 0; d < p.rank; ++d) {
    p.dims[d] = plan.dims[static_cast<size_t>(d)];
    for (int j = 0; j < K; ++j) p.strides[d][j] = plan.strides[static_cast<size_t>(d)][static_cast<size_t>(j)];
  }
  return p;
}

// Fills the vectorised plan from the collapsed one; false when some input fits no pattern.
template <int K>
bool make_vec(const StridedParams<K>& s, int v, VecParams<K>& a) {
  a.n = s.n;
  a.chunks = s.n / v;
  a.small = s.small;
  a.all_full = true;
  for (int j = 0; j < K; ++j) {
    // The input's non-broadcast dims must be one contiguous block [lo, hi] of collapsed dims.
    int lo = -1, hi = -1;
    for (int d = 0; d < s.rank; ++d) {
      if (s.strides[d][j] != 0) {
        if (lo < 0) lo = d;
        else if (hi != d - 1) return false;
        hi = d;
      }
    }
    int64_t inner = 1, mid = 1;
    if (lo >= 0) {
      for (int d = hi + 1; d < s.rank; ++d) inner *= s.dims[d];
      for (int d = lo; d <= hi; ++d) mid *= s.dims[d];
      // Row-major within the block (collapsing guarantees it unless an input has a stride gap).
      int64_t expect = 1;
      for (int d = hi; d >= lo; --d) {
        if (s.strides[d][j] != expect) return false;
        expect *= s.dims[d];
      }
    }
    a.inner[j] = inner;
    a.mid[j] = mid;
    if (mid == s.n) {
      a.mode[j] = Mode::kFull;
    } else if (mid == 1) {
      a.mode[j] = Mode::kConst;
      a.inner[j] = 1;
      a.all_full = false;
    } else if (inner == 1 && mid % v == 0) {
      a.mode[j] = Mode::kRow;
      a.all_full = false;
    } else if (inner % v == 0) {
      a.mode[j] = Mode::kConst;
      a.all_full = false;
    } else {
      return false;
    }
  }
  return true;
}

// One launch of `op` over input pointers / output pointer given at enqueue time.
template <typename Op, typename O, typename... In>
class Launch {
 public:
  static constexpr int K = sizeof...(In);
  static constexpr int kVec = 16 / std::max({static_cast<int>(sizeof(O)), static_cast<int>(sizeof(In))...});

  Launch(Op op, const std::vector<int64_t>& out, const std::array<const std::vector<int64_t>*, K>& ins)
      : op_(op), strided_(make_strided<K>(out, ins)) {
    can_vec_ = make_vec<K>(strided_, kVec, vec_);
  }

  int64_t numel() const { return strided_.n; }

  void run(cudaStream_t stream, O* out, const In*... in) const {
    if (strided_.n == 0) return;
    if (can_vec_ && aligned(out) && (aligned(in) && ...)) {
      const int64_t items = vec_.chunks + (vec_.n - vec_.chunks * kVec);
      ew_vec_kernel<kVec, Op, O, In...><<<grid_for(items), kBlock, 0, stream>>>(op_, vec_, out, in...);
    } else {
      ew_strided_kernel<Op, O, In...><<<grid_for(strided_.n), kBlock, 0, stream>>>(op_, strided_, out, in...);
    }
  }

 private:
  template <typename T> static bool aligned(const T* p) {
    return reinterpret_cast<uintptr_t>(p) % (sizeof(T) * kVec) == 0;
  }

  Op op_;
  StridedParams<K> strided_;
  VecParams<K> vec_;
  bool can_vec_ = false;
};

// A Kernel applying `op` to inputs `idx` of the node (output 0).
template <typename Op, typename O, typename... In>
class EwKernel final : public Kernel {
 public:
  static constexpr int K = sizeof...(In);
  EwKernel(const PrepareArgs& args, std::array<int, K> idx, Op op) : idx_(idx), launch_(op, args.output(0).dims, shapes(args, idx)) {}

  Status enqueue(const LaunchArgs& args) const override {
    run(args, std::index_sequence_for<In...>{});
    return Status::OK();
  }

 private:
  static std::array<const std::vector<int64_t>*, K> shapes(const PrepareArgs& args, std::array<int, K> idx) {
    std::array<const std::vector<int64_t>*, K> s{};
    for (int j = 0; j < K; ++j) s[j] = &args.input(idx[j]).dims;
    return s;
  }
  template <size_t... J> void run(const LaunchArgs& args, std::index_sequence<J...>) const {
    launch_.run(args.stream, args.out<O>(0), args.in<In>(idx_[J])...);
  }

  std::array<int, K> idx_;
  Launch<Op, O, In...> launch_;
};

template <typename Op, typename O, typename... In>
std::unique_ptr<Kernel> make_ew(const PrepareArgs& args, std::array<int, sizeof...(In)> idx, Op op) {
  return std::make_unique<EwKernel<Op, O, In...>>(args, idx, op);
}

// ---- dtype dispatch with bool as uint8_t ----------------------------------------------------------
// Floats (fp32/fp16/bf16/fp64), then integers when kInts.
template <bool kInts, typename F> Status dispatch_numeric(DataType t, F&& f) {
  if (dtype_is_float(t)) return dispatch_float(t, f);
  if constexpr (kInts) return dispatch_int(t, f);
  return unsupported(std::string("dtype ") + std::string(dtype_name(t)) + " is not supported by this CUDA kernel");
}

}  // namespace slimrt::cuda::ew
