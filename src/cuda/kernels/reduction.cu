// CUDA kernels: reduction family (see src/cuda/kernel.h). This file: the Reduce* ops.
//
// The input is viewed as a few merged dims (neighbours of the same kind, reduced or kept, merge;
// size-1 dims vanish), which gives one of three shapes:
//   [kept..., reduced]          rows: one warp or block per output, contiguous reads
//   [kept..., reduced, kept]    columns: a 32x8 block per 32 outputs, coalesced across outputs
//   anything else               rows again, with offsets decoded from the merged dims
// Float types accumulate in fp32 (fp64 for double); integers in int64, wrapping like the CPU
// reference; integer L2/LogSum/LogSumExp go through double as the reference does.
#include <cmath>

#include "cuda/kernels/reduction_common.cuh"
#include "ir/ops/op_lists.h"
#include "ir/reduce_geometry.h"

namespace slimrt::cuda {
namespace {

enum class ReduceKind { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

template <ReduceKind K>
inline constexpr bool kViaDouble = K == ReduceKind::kL2 || K == ReduceKind::kLogSum || K == ReduceKind::kLogSumExp;

template <typename T, ReduceKind K>
using acc_t = std::conditional_t<std::is_integral_v<T>, std::conditional_t<kViaDouble<K>, double, int64_t>, compute_t<T>>;

// Integer sums and products wrap (through uint64), like the reference.
template <typename A> inline constexpr bool kWraps = std::is_same_v<A, int64_t>;

// Element-wise map, combine and finish of one reduction kind over accumulator type A.
template <typename T, ReduceKind K> struct Reducer {
  using A = acc_t<T, K>;

  static __device__ __forceinline__ A load(const T* x, int64_t i) {
    if constexpr (kIsHalfType<T>) return to_f32(x[i]);
    else return static_cast<A>(x[i]);
  }
  static __device__ __forceinline__ A identity() {
    if constexpr (K == ReduceKind::kMax) {
      if constexpr (std::is_integral_v<T>) return static_cast<A>(lowest_of<T>());
      else return lowest_of<A>();
    } else if constexpr (K == ReduceKind::kMin) {
      if constexpr (std::is_integral_v<T>) return static_cast<A>(highest_of<T>());
      else return highest_of<A>();
    } else if constexpr (K == ReduceKind::kProd) {
      return A(1);
    } else {
      return A(0);
    }
  }
  static __device__ __forceinline__ A map(A v) {
    if constexpr (K == ReduceKind::kL1) return v < A(0) ? A(0) - v : v;
    else if constexpr (K == ReduceKind::kL2 || K == ReduceKind::kSumSquare) return mul(v, v);
    else return v;
  }
  static __device__ __forceinline__ A mul(A a, A b) {
    if constexpr (kWraps<A>) return static_cast<A>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
    else return a * b;
  }
  __device__ __forceinline__ A operator()(A a, A b) const {
    if constexpr (K == ReduceKind::kMax) {
      return MaxOp{}(a, b);
    } else if constexpr (K == ReduceKind::kMin) {
      if (is_nan(a)) return a;
      if (is_nan(b)) return b;
      return a < b ? a : b;
    } else if constexpr (K == ReduceKind::kProd) {
      return mul(a, b);
    } else if constexpr (kWraps<A>) {
      return static_cast<A>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
    } else {
      return a + b;
    }
  }
  static __device__ __forceinline__ A finish(A v, int64_t group) {
    if constexpr (K == ReduceKind::kMean) return v / static_cast<A>(group);  // float 0/0 = NaN, ints checked
    else if constexpr (K == ReduceKind::kL2) return sqrt(v);
    else if constexpr (K == ReduceKind::kLogSum) return log(v);
    else return v;
  }
  static __device__ __forceinline__ void store(T* y, int64_t i, A v) {
    if constexpr (kIsHalfType<T>) y[i] = from_f32<T>(v);
    else y[i] = static_cast<T>(v);
  }
};

// Merged dims with their input strides, for decoding a flat index into an input offset.
struct StridedDims {
  int rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t strides[kMaxRank] = {};
};

__device__ __forceinline__ int64_t strided_offset(const StridedDims& s, int64_t idx) {
  int64_t off = 0;
  for (int d = s.rank - 1; d >= 0; --d) {
    const int64_t q = idx / s.dims[d];
    off += (idx - q * s.dims[d]) * s.strides[d];
    idx = q;
  }
  return off;
}

struct RowParams {
  int64_t rows = 0, len = 0, group = 0;
  StridedDims kept, reduced;  // read only by the strided variant
};

inline constexpr int kMaxRowsPerBlock = 8;

// One output per threadIdx.y row of the block; threadIdx.x strides along the reduced elements.
template <typename T, ReduceKind K, bool kContiguous>
__global__ void reduce_rows_kernel(const T* __restrict__ x, T* __restrict__ y, RowParams p) {
  using R = Reducer<T, K>;
  using A = typename R::A;
  __shared__ A smem[32 * kMaxRowsPerBlock];
  for (int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.y; first < p.rows;
       first += static_cast<int64_t>(gridDim.x) * blockDim.y) {
    const int64_t row = first + threadIdx.y;
    const bool active = row < p.rows;
    const int64_t len = active ? p.len : 0;
    const int64_t base = kContiguous ? row * p.len : (active ? strided_offset(p.kept, row) : 0);
    auto at = [&](int64_t k) { return kContiguous ? base + k : base + strided_offset(p.reduced, k); };
    A result;
    if constexpr (K == ReduceKind::kLogSumExp) {
      // Shift by the maximum so exp never overflows (the reference shifts by 0 when it is inf).
      A m = lowest_of<A>();
      for (int64_t k = threadIdx.x; k < len; k += blockDim.x) m = MaxOp{}(m, R::load(x, at(k)));
      m = row_reduce(m, MaxOp{}, lowest_of<A>(), smem);
      const A s = isinf(m) ? A(0) : m;
      A acc = 0;
      for (int64_t k = threadIdx.x; k < len; k += blockDim.x) acc += exp(R::load(x, at(k)) - s);
      acc = row_reduce(acc, SumOp{}, A(0), smem);
      result = log(acc) + s;
    } else {
      A acc = R::identity();
      for (int64_t k = threadIdx.x; k < len; k += blockDim.x) acc = R{}(acc, R::map(R::load(x, at(k))));
      acc = row_reduce(acc, R{}, R::identity(), smem);
      result = R::finish(acc, p.group);
    }
    if (active && threadIdx.x == 0) R::store(y, row, result);
  }
}

struct ColParams {
  int64_t outer = 0, len = 0, inner = 0, group = 0;
};

inline constexpr int kColWidth = 32, kColSplit = 8;

// Combines each thread's value over threadIdx.y (kColSplit rows); every thread gets its column's.
template <typename A, typename Op> __device__ __forceinline__ A col_reduce(A v, Op op, A* smem) {
  __syncthreads();
  smem[threadIdx.y * (kColWidth + 1) + threadIdx.x] = v;
  __syncthreads();
  A r = smem[threadIdx.x];
#pragma unroll
  for (int i = 1; i < kColSplit; ++i) r = op(r, smem[i * (kColWidth + 1) + threadIdx.x]);
  return r;
}

// [outer, len, inner]: a 32 x 8 block covers 32 neighbouring outputs; the 8 thread rows split
// the reduced axis and meet in shared memory.
template <typename T, ReduceKind K>
__global__ void reduce_cols_kernel(const T* __restrict__ x, T* __restrict__ y, ColParams p) {
  using R = Reducer<T, K>;
  using A = typename R::A;
  __shared__ A smem[kColSplit * (kColWidth + 1)];
  for (int64_t o = blockIdx.y; o < p.outer; o += gridDim.y) {
    for (int64_t c0 = static_cast<int64_t>(blockIdx.x) * kColWidth; c0 < p.inner;
         c0 += static_cast<int64_t>(gridDim.x) * kColWidth) {
      const int64_t c = c0 + threadIdx.x;
      const int64_t len = c < p.inner ? p.len : 0;
      const int64_t base = o * p.len * p.inner + c;
      A result;
      if constexpr (K == ReduceKind::kLogSumExp) {
        A m = lowest_of<A>();
        for (int64_t k = threadIdx.y; k < len; k += kColSplit) m = MaxOp{}(m, R::load(x, base + k * p.inner));
        m = col_reduce(m, MaxOp{}, smem);
        const A s = isinf(m) ? A(0) : m;
        A acc = 0;
        for (int64_t k = threadIdx.y; k < len; k += kColSplit) acc += exp(R::load(x, base + k * p.inner) - s);
        acc = col_reduce(acc, SumOp{}, smem);
        result = log(acc) + s;
      } else {
        A acc = R::identity();
        for (int64_t k = threadIdx.y; k < len; k += kColSplit) acc = R{}(acc, R::map(R::load(x, base + k * p.inner)));
        acc = col_reduce(acc, R{}, smem);
        result = R::finish(acc, p.group);
      }
      if (threadIdx.y == 0 && c < p.inner) R::store(y, o * p.inner + c, result);
    }
  }
}

enum class Layout { kEmpty, kRows, kStridedRows, kColumns };

template <typename T, ReduceKind K> class ReduceKernel final : public Kernel {
 public:
  ReduceKernel(Layout layout, RowParams rows, ColParams cols, int sm_count)
      : layout_(layout), rows_(rows), cols_(cols) {
    if (layout_ == Layout::kColumns) {
      const int64_t gx = (cols_.inner + kColWidth - 1) / kColWidth;
      grid_ = dim3(grid_cap(gx), static_cast<unsigned>(std::min<int64_t>(cols_.outer, 65535)));
      block_ = dim3(kColWidth, kColSplit);
      return;
    }
    // Short rows: a warp each, 8 per block. Long rows: a block each, 1024 threads when there
    // are too few rows to fill the GPU otherwise.
    int threads = 32, per_block = kMaxRowsPerBlock;
    if (rows_.len > 512) {
      threads = rows_.rows >= 2LL * sm_count ? 256 : 1024;
      per_block = 1;
    }
    block_ = dim3(threads, per_block);
    grid_ = dim3(grid_cap((rows_.rows + per_block - 1) / per_block));
  }

  Status enqueue(const LaunchArgs& a) const override {
    const T* x = a.in<T>(0);
    T* y = a.out<T>(0);
    switch (layout_) {
      case Layout::kEmpty: break;
      case Layout::kRows: reduce_rows_kernel<T, K, true><<<grid_, block_, 0, a.stream>>>(x, y, rows_); break;
      case Layout::kStridedRows: reduce_rows_kernel<T, K, false><<<grid_, block_, 0, a.stream>>>(x, y, rows_); break;
      case Layout::kColumns: reduce_cols_kernel<T, K><<<grid_, block_, 0, a.stream>>>(x, y, cols_); break;
    }
    return Status::OK();
  }

 private:
  Layout layout_;
  RowParams rows_;
  ColParams cols_;
  dim3 grid_, block_;
};

template <typename F> Status dispatch_numeric(DataType t, F&& f) {
  if (dtype_is_float(t)) return dispatch_float(t, f);
  return dispatch_int(t, f);
}

template <ReduceKind K> Result<std::unique_ptr<Kernel>> create_reduce(const PrepareArgs& a) {
  const TensorInfo& x = a.input(0);
  const int64_t rank = x.rank();
  if (rank > kMaxRank) return a.unsupported("rank above " + std::to_string(kMaxRank));
  std::vector<int64_t> axes;
  if (a.has_input(1)) {
    if (!a.input(1).host) return a.unsupported("axes must be known before the run");
    axes = a.input(1).host->to_int64_vector();
  }
  ReduceGeometry g;
  std::string why;
  if (!reduce_geometry(x.dims, axes, a.node.attr_int("noop_with_empty_axes", 0) != 0, &g, &why)) return a.invalid(why);
  const std::vector<int64_t>& dims = g.dims;
  const std::vector<bool>& kinds = g.reduced;
  const int64_t group = g.group, out_numel = g.out_numel;
  if (out_numel != a.output(0).numel()) return a.invalid("output size does not match the reduction");
  if (!dtype_is_float(x.dtype) && K == ReduceKind::kMean && group == 0 && out_numel > 0)
    return a.invalid("ReduceMean of an empty set of integers");

  RowParams rows;
  rows.rows = out_numel;
  rows.len = group;
  rows.group = group;
  ColParams cols;
  Layout layout = Layout::kRows;
  int reduced_groups = 0;
  for (bool k : kinds) reduced_groups += k ? 1 : 0;
  const size_t m = dims.size();
  if (out_numel == 0) {
    layout = Layout::kEmpty;
  } else if (group == 0 || reduced_groups == 0 || (reduced_groups == 1 && kinds.back())) {
    layout = Layout::kRows;
  } else if (reduced_groups == 1 && m >= 2 && kinds[m - 2] && !kinds[m - 1]) {
    layout = Layout::kColumns;
    cols.outer = out_numel / dims[m - 1];
    cols.len = group;
    cols.inner = dims[m - 1];
    cols.group = group;
  } else {
    layout = Layout::kStridedRows;
    int64_t stride = 1;
    std::vector<int64_t> strides(m);
    for (size_t d = m; d-- > 0;) {
      strides[d] = stride;
      stride *= dims[d];
    }
    for (size_t d = 0; d < m; ++d) {
      StridedDims& s = kinds[d] ? rows.reduced : rows.kept;
      s.dims[s.rank] = dims[d];
      s.strides[s.rank] = strides[d];
      ++s.rank;
    }
  }

  std::unique_ptr<Kernel> kernel;
  Status s = dispatch_numeric(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernel = std::make_unique<ReduceKernel<T, K>>(layout, rows, cols, std::max(a.device.sm_count, 1));
  });
  if (!s.ok()) return a.unsupported(s.message());
  return std::move(kernel);
}

}  // namespace

void register_reduction_kernels(KernelRegistry& r) {
  constexpr uint32_t kAxesOnHost = 1u << 1;
#define SLIMRT_ADD(Kind) r.add({"Reduce" #Kind, create_reduce<ReduceKind::k##Kind>, kAxesOnHost});
  SLIMRT_REDUCE_OPS(SLIMRT_ADD)
#undef SLIMRT_ADD
  register_softmax_kernels(r);
  register_scan_kernels(r);
}

}  // namespace slimrt::cuda
