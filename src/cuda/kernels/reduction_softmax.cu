// CUDA kernels: Softmax, LogSoftmax, Hardmax, ArgMax and ArgMin — ops along one axis, viewed as
// [outer, len, inner].
//
// Softmax along the last axis is the hot case (attention scores): rows up to 1024 long are held
// in registers by one warp each (16-byte loads when the row allows), so the input is read once;
// longer rows take a block each and read the row three times (max, sum, write) from L2. Math is
// fp32 for half types, max-subtracted.
#include <cmath>

#include "cuda/kernels/reduction_common.cuh"

namespace slimrt::cuda {
namespace {

// ---- Softmax / LogSoftmax ---------------------------------------------------------------------

inline constexpr int kWarpRowsPerBlock = 4;
inline constexpr int kMaxWarpRow = 1024;  // 32 lanes x 32 values
inline constexpr int kSoftmaxBlock = 512;

template <typename T> __device__ __forceinline__ compute_t<T> load_one(const T* p, int64_t i) { return load_c(p, i); }

// Each lane holds kCols values of the row: chunks of kVec consecutive elements at
// (chunk * 32 + lane) * kVec. len % kVec == 0 and the row pointers are kVec-aligned.
template <typename T, bool kLog, int kCols, int kVec>
__global__ void softmax_warp_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows, int len) {
  using C = compute_t<T>;
  constexpr int kChunks = kCols / kVec;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * blockDim.y + threadIdx.y;
  if (row >= rows) return;
  const int lane = threadIdx.x;
  const T* xr = x + row * len;
  T* yr = y + row * len;
  C v[kCols];
#pragma unroll
  for (int c = 0; c < kChunks; ++c) {
    const int at = (c * 32 + lane) * kVec;
    if (at < len) {
      const Pack<T, kVec> t = *reinterpret_cast<const Pack<T, kVec>*>(xr + at);
#pragma unroll
      for (int i = 0; i < kVec; ++i) v[c * kVec + i] = load_one(t.v, i);
    } else {
#pragma unroll
      for (int i = 0; i < kVec; ++i) v[c * kVec + i] = lowest_of<C>();
    }
  }
  C m = v[0];
#pragma unroll
  for (int i = 1; i < kCols; ++i) m = MaxOp{}(m, v[i]);
  m = warp_allreduce(m, MaxOp{});
  C sum = 0;
#pragma unroll
  for (int c = 0; c < kChunks; ++c) {
    if ((c * 32 + lane) * kVec >= len) continue;
#pragma unroll
    for (int i = 0; i < kVec; ++i) {
      const C e = exp(v[c * kVec + i] - m);
      if constexpr (!kLog) v[c * kVec + i] = e;
      sum += e;
    }
  }
  sum = warp_allreduce(sum, SumOp{});
  const C scale = kLog ? m + log(sum) : C(1) / sum;
#pragma unroll
  for (int c = 0; c < kChunks; ++c) {
    const int at = (c * 32 + lane) * kVec;
    if (at >= len) continue;
    Pack<T, kVec> t;
#pragma unroll
    for (int i = 0; i < kVec; ++i) {
      const C r = kLog ? v[c * kVec + i] - scale : v[c * kVec + i] * scale;
      store_c(t.v, i, r);
    }
    *reinterpret_cast<Pack<T, kVec>*>(yr + at) = t;
  }
}

// One block per row, any length.
template <typename T, bool kLog>
__global__ void softmax_block_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows, int64_t len) {
  using C = compute_t<T>;
  __shared__ C smem[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + row * len;
    T* yr = y + row * len;
    C m = lowest_of<C>();
    for (int64_t k = threadIdx.x; k < len; k += blockDim.x) m = MaxOp{}(m, load_c(xr, k));
    m = row_reduce(m, MaxOp{}, lowest_of<C>(), smem);
    C sum = 0;
    for (int64_t k = threadIdx.x; k < len; k += blockDim.x) sum += exp(load_c(xr, k) - m);
    sum = row_reduce(sum, SumOp{}, C(0), smem);
    const C scale = kLog ? m + log(sum) : C(1) / sum;
    for (int64_t k = threadIdx.x; k < len; k += blockDim.x) {
      const C v = load_c(xr, k);
      store_c(yr, k, kLog ? v - scale : exp(v - m) * scale);
    }
  }
}

// Axis not last: one thread per (outer, inner) lane; neighbouring threads read neighbouring
// elements.
template <typename T, bool kLog>
__global__ void softmax_strided_kernel(const T* __restrict__ x, T* __restrict__ y, AxisView v) {
  using C = compute_t<T>;
  const int64_t lanes = v.outer * v.inner;
  for (int64_t l = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; l < lanes;
       l += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t o = l / v.inner;
    const int64_t base = o * v.len * v.inner + (l - o * v.inner);
    C m = lowest_of<C>();
    for (int64_t k = 0; k < v.len; ++k) m = MaxOp{}(m, load_c(x, base + k * v.inner));
    C sum = 0;
    for (int64_t k = 0; k < v.len; ++k) sum += exp(load_c(x, base + k * v.inner) - m);
    const C scale = kLog ? m + log(sum) : C(1) / sum;
    for (int64_t k = 0; k < v.len; ++k) {
      const int64_t at = base + k * v.inner;
      const C e = load_c(x, at);
      store_c(y, at, kLog ? e - scale : exp(e - m) * scale);
    }
  }
}

template <typename T> using SoftmaxLaunch = void (*)(const T*, T*, const AxisView&, cudaStream_t);

template <typename T, bool kLog, int kCols, int kVec>
void launch_softmax_warp(const T* x, T* y, const AxisView& v, cudaStream_t s) {
  const dim3 block(32, kWarpRowsPerBlock);
  const int64_t blocks = (v.outer + kWarpRowsPerBlock - 1) / kWarpRowsPerBlock;
  softmax_warp_kernel<T, kLog, kCols, kVec>
      <<<static_cast<unsigned>(blocks), block, 0, s>>>(x, y, v.outer, static_cast<int>(v.len));
}
template <typename T, bool kLog> void launch_softmax_block(const T* x, T* y, const AxisView& v, cudaStream_t s) {
  softmax_block_kernel<T, kLog><<<grid_cap(v.outer), kSoftmaxBlock, 0, s>>>(x, y, v.outer, v.len);
}
template <typename T, bool kLog> void launch_softmax_strided(const T* x, T* y, const AxisView& v, cudaStream_t s) {
  softmax_strided_kernel<T, kLog><<<grid_for(v.outer * v.inner), kBlock, 0, s>>>(x, y, v);
}

// The warp variant for `cols` values per lane, vectorised by kVec (or not, kVec == 1).
template <typename T, bool kLog, int kVec> SoftmaxLaunch<T> pick_warp(int cols) {
  auto at = [&]<int kCols>() -> SoftmaxLaunch<T> {
    if constexpr (kVec > kCols) return nullptr;
    else return launch_softmax_warp<T, kLog, kCols, kVec>;
  };
  switch (cols) {
    case 1: return at.template operator()<1>();
    case 2: return at.template operator()<2>();
    case 4: return at.template operator()<4>();
    case 8: return at.template operator()<8>();
    case 16: return at.template operator()<16>();
    default: return at.template operator()<32>();
  }
}

// The warp variant for `cols` values per lane in chunks of `vec` (a power of two <= 16 bytes).
template <typename T, bool kLog> SoftmaxLaunch<T> pick_warp_vec(int vec, int cols) {
  constexpr int kMaxVec = static_cast<int>(16 / sizeof(T));
  switch (vec) {
    case 2: return pick_warp<T, kLog, 2>(cols);
    case 4:
      if constexpr (kMaxVec >= 4) return pick_warp<T, kLog, 4>(cols);
      break;
    case 8:
      if constexpr (kMaxVec >= 8) return pick_warp<T, kLog, 8>(cols);
      break;
    default: break;
  }
  return nullptr;
}

template <typename T> class SoftmaxKernel final : public Kernel {
 public:
  SoftmaxKernel(AxisView v, SoftmaxLaunch<T> scalar, SoftmaxLaunch<T> vec, size_t vec_bytes)
      : view_(v), scalar_(scalar), vec_(vec), vec_bytes_(vec_bytes) {}

  Status enqueue(const LaunchArgs& a) const override {
    if (view_.outer == 0 || view_.len == 0 || view_.inner == 0) return Status::OK();
    const T* x = a.in<T>(0);
    T* y = a.out<T>(0);
    const bool vec = vec_ && aligned_to(x, vec_bytes_) && aligned_to(y, vec_bytes_);
    (vec ? vec_ : scalar_)(x, y, view_, a.stream);
    return Status::OK();
  }

 private:
  AxisView view_;
  SoftmaxLaunch<T> scalar_, vec_;  // vec_: 16-byte accesses, used when the pointers allow
  size_t vec_bytes_;
};

template <bool kLog> Result<std::unique_ptr<Kernel>> create_softmax(const PrepareArgs& a) {
  AxisView v;
  SLIMRT_RETURN_IF_ERROR(axis_view(a, a.input(0).dims, a.node.attr_int("axis", -1), true, &v));
  std::unique_ptr<Kernel> kernel;
  Status s = dispatch_float(a.input(0).dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    SoftmaxLaunch<T> scalar = nullptr, vec_launch = nullptr;
    int vec = 1;
    if (v.inner != 1) {
      scalar = launch_softmax_strided<T, kLog>;
    } else if (v.len <= kMaxWarpRow) {
      int cols = 1;
      while (cols * 32 < v.len) cols *= 2;
      scalar = pick_warp<T, kLog, 1>(cols);
      // Widest chunk that divides the row and fits a lane's share (BERT's 128: 4 per lane).
      vec = static_cast<int>(16 / sizeof(T));
      while (vec > 1 && (vec > cols || v.len % vec != 0)) vec /= 2;
      if (vec > 1) vec_launch = pick_warp_vec<T, kLog>(vec, cols);
    } else {
      scalar = launch_softmax_block<T, kLog>;
    }
    kernel = std::make_unique<SoftmaxKernel<T>>(v, scalar, vec_launch, vec * sizeof(T));
  });
  if (!s.ok()) return a.unsupported(s.message());
  return std::move(kernel);
}

// ---- ArgMax / ArgMin / Hardmax ----------------------------------------------------------------
//
// A candidate is (value, index), index < 0 for none. NaN is never a candidate (the reference
// only moves to a strictly better value, which NaN never is), except that ArgMax/ArgMin keep
// index 0 when element 0 is NaN (the reference starts from it). Hardmax starts from -inf, so
// -inf is no candidate either and an empty result is index 0.

template <typename T> using arg_key_t = std::conditional_t<std::is_integral_v<T>, int64_t, compute_t<T>>;

template <bool kMax, bool kLast, typename V>
__device__ __forceinline__ bool arg_better(V av, int64_t ai, V bv, int64_t bi) {
  if (ai < 0) return false;
  if (bi < 0) return true;
  if (av != bv) return kMax ? av > bv : av < bv;
  return kLast ? ai > bi : ai < bi;
}

template <bool kMax, bool kLast, typename V> __device__ __forceinline__ void arg_warp(V& v, int64_t& i) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const V ov = __shfl_xor_sync(0xffffffffu, v, o);
    const int64_t oi = __shfl_xor_sync(0xffffffffu, i, o);
    if (arg_better<kMax, kLast>(ov, oi, v, i)) {
      v = ov;
      i = oi;
    }
  }
}

// The best index of the row over threadIdx.x (all threads of the block call it).
template <bool kMax, bool kLast, typename V>
__device__ __forceinline__ int64_t arg_row_reduce(V v, int64_t i, V* sv, int64_t* si) {
  arg_warp<kMax, kLast>(v, i);
  if (blockDim.x == 32) return i;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) {
    sv[threadIdx.y * 32 + warp] = v;
    si[threadIdx.y * 32 + warp] = i;
  }
  __syncthreads();
  v = sv[threadIdx.y * 32 + (lane < warps ? lane : 0)];
  i = lane < warps ? si[threadIdx.y * 32 + lane] : -1;
  arg_warp<kMax, kLast>(v, i);
  return i;
}

template <typename T, bool kHard> __device__ __forceinline__ bool arg_candidate(arg_key_t<T> v) {
  if (is_nan(v)) return false;
  if constexpr (kHard) return v != lowest_of<arg_key_t<T>>();
  return true;
}

template <typename T> __device__ __forceinline__ arg_key_t<T> load_key(const T* p, int64_t i) {
  if constexpr (std::is_integral_v<T>) return static_cast<int64_t>(p[i]);
  else return load_c(p, i);
}

// Scans elements k = first, first + step, ... < len at base + k * stride.
template <typename T, bool kMax, bool kLast, bool kHard>
__device__ __forceinline__ void arg_scan(const T* x, int64_t base, int64_t stride, int64_t first, int64_t step,
                                         int64_t len, arg_key_t<T>& best, int64_t& idx) {
  for (int64_t k = first; k < len; k += step) {
    const arg_key_t<T> c = load_key(x, base + k * stride);
    if (arg_candidate<T, kHard>(c) && arg_better<kMax, kLast>(c, k, best, idx)) {
      best = c;
      idx = k;
    }
  }
}

template <typename T, bool kHard> __device__ __forceinline__ int64_t arg_final(const T* x, int64_t base, int64_t idx) {
  if (idx < 0) return 0;
  if constexpr (!kHard && !std::is_integral_v<T>) {
    if (is_nan(load_key(x, base))) return 0;
  }
  return idx;
}

struct ArgParams {
  AxisView v;
};

inline constexpr int kArgRowsPerBlock = 8;

// inner == 1: rows of the block along threadIdx.y, threadIdx.x strides along the row.
// kHard writes the one-hot row to y; otherwise the index to idx_out.
template <typename T, bool kMax, bool kLast, bool kHard>
__global__ void arg_rows_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t* __restrict__ idx_out, AxisView v) {
  using V = arg_key_t<T>;
  __shared__ V sv[32 * kArgRowsPerBlock];
  __shared__ int64_t si[32 * kArgRowsPerBlock];
  for (int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.y; first < v.outer;
       first += static_cast<int64_t>(gridDim.x) * blockDim.y) {
    const int64_t row = first + threadIdx.y;
    const bool active = row < v.outer;
    const int64_t base = row * v.len;
    V best = V(0);
    int64_t idx = -1;
    if (active) arg_scan<T, kMax, kLast, kHard>(x, base, 1, threadIdx.x, blockDim.x, v.len, best, idx);
    idx = arg_row_reduce<kMax, kLast>(best, idx, sv, si);
    if (!active) continue;
    idx = arg_final<T, kHard>(x, base, idx);
    if constexpr (kHard) {
      for (int64_t k = threadIdx.x; k < v.len; k += blockDim.x) y[base + k] = from_f32<T>(k == idx ? 1.0f : 0.0f);
    } else if (threadIdx.x == 0) {
      idx_out[row] = idx;
    }
  }
}

// inner > 1: one thread per (outer, inner) lane.
template <typename T, bool kMax, bool kLast, bool kHard>
__global__ void arg_strided_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t* __restrict__ idx_out,
                                   AxisView v) {
  const int64_t lanes = v.outer * v.inner;
  for (int64_t l = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; l < lanes;
       l += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t o = l / v.inner;
    const int64_t base = o * v.len * v.inner + (l - o * v.inner);
    arg_key_t<T> best = arg_key_t<T>(0);
    int64_t idx = -1;
    arg_scan<T, kMax, kLast, kHard>(x, base, v.inner, 0, 1, v.len, best, idx);
    idx = arg_final<T, kHard>(x, base, idx);
    if constexpr (kHard) {
      for (int64_t k = 0; k < v.len; ++k) y[base + k * v.inner] = from_f32<T>(k == idx ? 1.0f : 0.0f);
    } else {
      idx_out[l] = idx;
    }
  }
}

template <typename T, bool kMax, bool kLast, bool kHard> class ArgKernel final : public Kernel {
 public:
  explicit ArgKernel(AxisView v) : view_(v) {
    if (view_.inner == 1) {
      const int threads = view_.len > 1024 ? 256 : 32;
      const int per_block = threads == 32 ? kArgRowsPerBlock : 1;
      block_ = dim3(threads, per_block);
      grid_ = dim3(grid_cap((view_.outer + per_block - 1) / per_block));
    } else {
      block_ = dim3(kBlock);
      grid_ = dim3(grid_for(view_.outer * view_.inner));
    }
  }

  Status enqueue(const LaunchArgs& a) const override {
    if (view_.outer == 0 || view_.len == 0 || view_.inner == 0) return Status::OK();
    const T* x = a.in<T>(0);
    T* y = kHard ? a.out<T>(0) : nullptr;
    int64_t* idx = kHard ? nullptr : a.out<int64_t>(0);
    if (view_.inner == 1) arg_rows_kernel<T, kMax, kLast, kHard><<<grid_, block_, 0, a.stream>>>(x, y, idx, view_);
    else arg_strided_kernel<T, kMax, kLast, kHard><<<grid_, block_, 0, a.stream>>>(x, y, idx, view_);
    return Status::OK();
  }

 private:
  AxisView view_;
  dim3 grid_, block_;
};

template <bool kMax> Result<std::unique_ptr<Kernel>> create_arg(const PrepareArgs& a) {
  AxisView v;
  SLIMRT_RETURN_IF_ERROR(axis_view(a, a.input(0).dims, a.node.attr_int("axis", 0), true, &v));
  if (v.len == 0 && v.outer * v.inner > 0) return a.invalid("ArgMax/ArgMin over an empty axis");
  const bool last = a.node.attr_int("select_last_index", 0) != 0;
  std::unique_ptr<Kernel> kernel;
  auto make = [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (last) kernel = std::make_unique<ArgKernel<T, kMax, true, false>>(v);
    else kernel = std::make_unique<ArgKernel<T, kMax, false, false>>(v);
  };
  const DataType t = a.input(0).dtype;
  Status s = dtype_is_float(t) ? dispatch_float(t, make) : dispatch_int(t, make);
  if (!s.ok()) return a.unsupported(s.message());
  return std::move(kernel);
}

Result<std::unique_ptr<Kernel>> create_hardmax(const PrepareArgs& a) {
  AxisView v;
  SLIMRT_RETURN_IF_ERROR(axis_view(a, a.input(0).dims, a.node.attr_int("axis", -1), true, &v));
  std::unique_ptr<Kernel> kernel;
  Status s = dispatch_float(a.input(0).dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernel = std::make_unique<ArgKernel<T, true, false, true>>(v);
  });
  if (!s.ok()) return a.unsupported(s.message());
  return std::move(kernel);
}

}  // namespace

void register_softmax_kernels(KernelRegistry& r) {
  r.add({"Softmax", create_softmax<false>, 0});
  r.add({"LogSoftmax", create_softmax<true>, 0});
  r.add({"Hardmax", create_hardmax, 0});
  r.add({"ArgMax", create_arg<true>, 0});
  r.add({"ArgMin", create_arg<false>, 0});
}

}  // namespace slimrt::cuda
