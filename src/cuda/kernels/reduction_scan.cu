// CUDA kernels: CumSum and TopK, viewed as [outer, len, inner] around their axis.
#include <cmath>
#include <utility>

#include "cuda/kernels/reduction_common.cuh"

namespace slimrt::cuda {
namespace {

template <typename F> Status dispatch_numeric(DataType t, F&& f) {
  if (dtype_is_float(t)) return dispatch_float(t, f);
  return dispatch_int(t, f);
}

// ---- CumSum ---------------------------------------------------------------------------------
// The reference sums floats in double and integers in uint64 (wrapping). fp32 and fp64 keep the
// double accumulator (long fp32 scans drift otherwise); half types sum in fp32.

template <typename T>
using scan_acc_t = std::conditional_t<std::is_integral_v<T>, uint64_t, std::conditional_t<kIsHalfType<T>, float, double>>;

template <typename T> __device__ __forceinline__ scan_acc_t<T> scan_load(const T* p, int64_t i) {
  if constexpr (kIsHalfType<T>) return to_f32(p[i]);
  else return static_cast<scan_acc_t<T>>(p[i]);
}
template <typename T> __device__ __forceinline__ void scan_store(T* p, int64_t i, scan_acc_t<T> v) {
  if constexpr (kIsHalfType<T>) p[i] = from_f32<T>(v);
  else p[i] = static_cast<T>(v);
}

struct ScanParams {
  AxisView v;
  bool exclusive = false, reverse = false;
};

// inner == 1: one block per row, tiles of blockDim.x elements scanned with warp shuffles and a
// carry between tiles.
template <typename T> __global__ void cumsum_rows_kernel(const T* __restrict__ x, T* __restrict__ y, ScanParams p) {
  using A = scan_acc_t<T>;
  __shared__ A warp_totals[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  const int64_t len = p.v.len;
  for (int64_t row = blockIdx.x; row < p.v.outer; row += gridDim.x) {
    const int64_t base = row * len;
    A carry = 0;
    for (int64_t tile = 0; tile < len; tile += blockDim.x) {
      const int64_t k = tile + threadIdx.x;
      const int64_t at = base + (p.reverse ? len - 1 - k : k);
      const A v = k < len ? scan_load(x, at) : A(0);
      A incl = v;
#pragma unroll
      for (int o = 1; o < 32; o <<= 1) {
        const A t = __shfl_up_sync(0xffffffffu, incl, o);
        if (lane >= o) incl += t;
      }
      A excl = __shfl_up_sync(0xffffffffu, incl, 1);
      if (lane == 0) excl = 0;
      if (lane == 31) warp_totals[warp] = incl;
      __syncthreads();
      if (warp == 0) {
        A w = lane < warps ? warp_totals[lane] : A(0);
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
          const A t = __shfl_up_sync(0xffffffffu, w, o);
          if (lane >= o) w += t;
        }
        if (lane < warps) warp_totals[lane] = w;  // inclusive prefix over warps
      }
      __syncthreads();
      const A offset = carry + (warp > 0 ? warp_totals[warp - 1] : A(0));
      if (k < len) scan_store(y, at, offset + (p.exclusive ? excl : incl));
      carry += warp_totals[warps - 1];
      __syncthreads();  // warp_totals is rewritten by the next tile
    }
  }
}

// inner > 1: one thread per (outer, inner) lane, walking the axis; neighbours read neighbours.
template <typename T> __global__ void cumsum_strided_kernel(const T* __restrict__ x, T* __restrict__ y, ScanParams p) {
  using A = scan_acc_t<T>;
  const AxisView& v = p.v;
  const int64_t lanes = v.outer * v.inner;
  for (int64_t l = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; l < lanes;
       l += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t o = l / v.inner;
    const int64_t base = o * v.len * v.inner + (l - o * v.inner);
    A acc = 0;
    for (int64_t s = 0; s < v.len; ++s) {
      const int64_t at = base + (p.reverse ? v.len - 1 - s : s) * v.inner;
      const A e = scan_load(x, at);
      if (!p.exclusive) acc += e;
      scan_store(y, at, acc);
      if (p.exclusive) acc += e;
    }
  }
}

template <typename T> class CumSumKernel final : public Kernel {
 public:
  explicit CumSumKernel(ScanParams p) : p_(p) {
    if (p_.v.inner == 1) {
      const int64_t threads = std::clamp<int64_t>((p_.v.len + 31) / 32 * 32, 32, 512);
      block_ = dim3(static_cast<unsigned>(threads));
      grid_ = dim3(grid_cap(p_.v.outer));
    } else {
      block_ = dim3(kBlock);
      grid_ = dim3(grid_for(p_.v.outer * p_.v.inner));
    }
  }

  Status enqueue(const LaunchArgs& a) const override {
    if (p_.v.outer == 0 || p_.v.len == 0 || p_.v.inner == 0) return Status::OK();
    if (p_.v.inner == 1) cumsum_rows_kernel<T><<<grid_, block_, 0, a.stream>>>(a.in<T>(0), a.out<T>(0), p_);
    else cumsum_strided_kernel<T><<<grid_, block_, 0, a.stream>>>(a.in<T>(0), a.out<T>(0), p_);
    return Status::OK();
  }

 private:
  ScanParams p_;
  dim3 grid_, block_;
};

Result<std::unique_ptr<Kernel>> create_cumsum(const PrepareArgs& a) {
  const TensorInfo& axis = a.input(1);
  if (!axis.host) return a.unsupported("axis must be known before the run");
  if (axis.host->numel() != 1) return a.invalid("axis must hold exactly one value");
  ScanParams p;
  SLIMRT_RETURN_IF_ERROR(axis_view(a, a.input(0).dims, axis.host->get_as_int64(0), false, &p.v));
  p.exclusive = a.node.attr_int("exclusive", 0) != 0;
  p.reverse = a.node.attr_int("reverse", 0) != 0;
  std::unique_ptr<Kernel> kernel;
  Status s = dispatch_numeric(a.input(0).dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernel = std::make_unique<CumSumKernel<T>>(p);
  });
  if (!s.ok()) return a.unsupported(s.message());
  return std::move(kernel);
}

// ---- TopK -----------------------------------------------------------------------------------
// One block per (outer, inner) lane sorts the whole lane in shared memory (bitonic, padded to a
// power of two) and writes the first K. Values become unsigned keys whose order is the
// reference's: NaN above every number, -0 equal to +0, ties by lower index; `largest = 0`
// inverts the key so that one descending sort serves both.

template <typename T> using sort_key_t = std::conditional_t<sizeof(T) == 8, uint64_t, uint32_t>;

template <typename T> __device__ __forceinline__ sort_key_t<T> topk_key(const T* p, int64_t i, bool largest) {
  using K = sort_key_t<T>;
  K key;
  if constexpr (std::is_integral_v<T>) {
    // Signed order -> unsigned order: flip the sign bit.
    using S = std::make_signed_t<K>;
    const S v = static_cast<S>(p[i]);
    key = static_cast<K>(v) ^ (K(1) << (sizeof(K) * 8 - 1));
  } else {
    constexpr K kSign = K(1) << (sizeof(K) * 8 - 1);
    using F = std::conditional_t<sizeof(K) == 8, double, float>;
    F v = static_cast<F>(load_c(p, i));
    if (v != v) {
      key = ~K(0);
    } else {
      if (v == F(0)) v = F(0);  // -0 sorts with +0
      K bits;
      memcpy(&bits, &v, sizeof(bits));
      key = (bits & kSign) ? ~bits : (bits | kSign);
    }
  }
  return largest ? key : ~key;
}

struct TopKParams {
  AxisView v;
  int64_t k = 0;
  int n = 1;  // len padded to a power of two
  bool largest = true;
};

template <typename T>
__global__ void topk_kernel(const T* __restrict__ x, T* __restrict__ values, int64_t* __restrict__ indices,
                            TopKParams p) {
  using K = sort_key_t<T>;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  K* keys = reinterpret_cast<K*>(smem_raw);
  int32_t* idx = reinterpret_cast<int32_t*>(keys + p.n);
  const int64_t lanes = p.v.outer * p.v.inner;
  for (int64_t l = blockIdx.x; l < lanes; l += gridDim.x) {
    const int64_t o = l / p.v.inner;
    const int64_t i = l - o * p.v.inner;
    const int64_t base = o * p.v.len * p.v.inner + i;
    for (int s = threadIdx.x; s < p.n; s += blockDim.x) {
      if (s < p.v.len) {
        keys[s] = topk_key(x, base + s * p.v.inner, p.largest);
        idx[s] = s;
      } else {
        keys[s] = 0;  // padding: the lowest key and the highest index, so it sorts last
        idx[s] = INT32_MAX;
      }
    }
    __syncthreads();
    // Bitonic sort, "first" = larger key, then lower index.
    for (int size = 2; size <= p.n; size <<= 1) {
      for (int stride = size >> 1; stride > 0; stride >>= 1) {
        for (int t = threadIdx.x; t < p.n / 2; t += blockDim.x) {
          const int lo = 2 * t - (t & (stride - 1));
          const int hi = lo + stride;
          const K klo = keys[lo], khi = keys[hi];
          const int32_t ilo = idx[lo], ihi = idx[hi];
          const bool hi_first = khi > klo || (khi == klo && ihi < ilo);
          const bool forward = (lo & size) == 0;
          if (hi_first == forward) {
            keys[lo] = khi;
            keys[hi] = klo;
            idx[lo] = ihi;
            idx[hi] = ilo;
          }
        }
        __syncthreads();
      }
    }
    const int64_t obase = o * p.k * p.v.inner + i;
    for (int64_t s = threadIdx.x; s < p.k; s += blockDim.x) {
      const int64_t src = idx[s];
      values[obase + s * p.v.inner] = x[base + src * p.v.inner];
      if (indices) indices[obase + s * p.v.inner] = src;
    }
    __syncthreads();  // the next lane overwrites keys/idx
  }
}

template <typename T> class TopKKernel final : public Kernel {
 public:
  TopKKernel(TopKParams p, size_t smem, bool has_indices) : p_(p), smem_(smem), has_indices_(has_indices) {
    threads_ = static_cast<unsigned>(std::clamp(p_.n / 2, 32, 1024));
  }

  Status enqueue(const LaunchArgs& a) const override {
    const int64_t lanes = p_.v.outer * p_.v.inner;
    if (lanes == 0 || p_.k == 0) return Status::OK();
    int64_t* indices = has_indices_ && a.num_outputs > 1 ? a.out<int64_t>(1) : nullptr;
    topk_kernel<T><<<grid_cap(lanes), threads_, smem_, a.stream>>>(a.in<T>(0), a.out<T>(0), indices, p_);
    return Status::OK();
  }

 private:
  TopKParams p_;
  size_t smem_;
  bool has_indices_;
  unsigned threads_ = 32;
};

Result<std::unique_ptr<Kernel>> create_topk(const PrepareArgs& a) {
  const TensorInfo& kt = a.input(1);
  if (!kt.host) return a.unsupported("K must be known before the run");
  if (kt.host->numel() != 1) return a.invalid("K must hold exactly one value");
  TopKParams p;
  p.k = kt.host->get_as_int64(0);
  SLIMRT_RETURN_IF_ERROR(axis_view(a, a.input(0).dims, a.node.attr_int("axis", -1), false, &p.v));
  if (p.k < 0 || p.k > p.v.len)
    return a.invalid("K = " + std::to_string(p.k) + " outside [0, " + std::to_string(p.v.len) + "]");
  p.largest = a.node.attr_int("largest", 1) != 0;
  while (p.n < p.v.len) p.n *= 2;
  const bool has_indices = a.outputs.size() > 1 && a.output(1).present();
  const uint64_t limit = a.device.max_shared_per_block_optin > 0 ? a.device.max_shared_per_block_optin : 48 * 1024;
  std::unique_ptr<Kernel> kernel;
  size_t smem = 0;
  Status attr;
  Status s = dispatch_numeric(a.input(0).dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    smem = static_cast<size_t>(p.n) * (sizeof(sort_key_t<T>) + sizeof(int32_t));
    if (smem > limit) return;
    if (smem > 48 * 1024) {
      Status r = SLIMRT_CUDA(
          cudaFuncSetAttribute(topk_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)),
          "TopK shared memory");
      std::swap(attr, r);  // not assigned: nvcc warns that operator='s Status& is discarded
      if (!attr.ok()) return;
    }
    kernel = std::make_unique<TopKKernel<T>>(p, smem, has_indices);
  });
  if (!s.ok()) return a.unsupported(s.message());
  if (smem > limit) {
    return a.unsupported("axis length " + std::to_string(p.v.len) + " needs " + std::to_string(smem) +
                         " bytes of shared memory to sort; the device offers " + std::to_string(limit));
  }
  SLIMRT_RETURN_IF_ERROR(attr);
  return std::move(kernel);
}

}  // namespace

void register_scan_kernels(KernelRegistry& r) {
  constexpr uint32_t kSecondOnHost = 1u << 1;
  r.add({"CumSum", create_cumsum, kSecondOnHost});
  r.add({"TopK", create_topk, kSecondOnHost});
}

}  // namespace slimrt::cuda
