// CUDA kernels: fused_pattern family (see src/cuda/kernel.h). This file holds the
// normalizations (LayerNormalization, RMSNormalization, GroupNormalization,
// InstanceNormalization, MeanVarianceNormalization); Attention is in fused_pattern_attention.cu.
//
// Every normalization is a reduction over "rows" followed by an elementwise affine step, so one
// kernel serves them all: a row is a set of n elements (contiguous for all but
// MeanVarianceNormalization over non-trailing axes), reduced by one warp (n small) or one block.
// Statistics are two-pass (mean, then the centred sum of squares) in fp32 for float/half types
// and in fp64 for double; the row is re-read from L1/L2 for each pass, so DRAM sees one read and
// one write. Scale and bias are read with their own dtype (RMSNormalization allows a scale dtype
// other than X's) and a per-op index rule.
#include "cuda/kernels/fused_pattern.cuh"

#include <cmath>

namespace slimrt::cuda {

namespace {

enum class NormKind : int { kLayer, kRms, kMvn };
// How element i of row r finds its scale/bias entry.
enum class AffineIndex : int {
  kNone,        // absent (scale 1, bias 0)
  kDirect,      // i (the parameter covers the normalized dims)
  kBroadcast,   // broadcast_offset over the normalized dims
  kRowChannel,  // r % channels (InstanceNormalization; GroupNormalization with per-group params)
  kGroupChannel,  // (r % channels) * per_group + i / inner (GroupNormalization, per-channel params)
};
// Parameter dtypes, read at run time (uniform branch).
enum ParamType : int { kParamF32, kParamF16, kParamBF16, kParamF64 };

struct ParamRef {
  const void* ptr = nullptr;
  int dtype = kParamF32;
  AffineIndex index = AffineIndex::kNone;
  BroadcastStrides bcast;
};

struct NormParams {
  int64_t rows = 0, n = 0;
  NormKind kind = NormKind::kLayer;
  double eps = 1e-5;
  // Element addressing: contiguous rows, or (MeanVarianceNormalization over arbitrary axes) row
  // index decomposed over the kept dims and element index over the reduced dims.
  bool general = false;
  Dims kept, kept_strides, red, red_strides;
  ParamRef scale, bias;
  int64_t channels = 1, per_group = 1, inner = 1;
  // LayerNormalization's Mean / InvStdDev outputs (float or double), may be null.
  void* mean_out = nullptr;
  void* inv_out = nullptr;
  bool stats_double = false;
  bool scale_vec = false;  // scale has X's dtype and kDirect: vector loads on the fast path
};

// Element <-> accumulator: fp32 for half types, the type itself otherwise (double stays double).
template <typename T> __device__ __forceinline__ compute_t<T> to_acc(T v) {
  if constexpr (std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>) return to_f32(v);
  else return v;
}
template <typename T> __device__ __forceinline__ T from_acc(compute_t<T> v) {
  if constexpr (std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>) return from_f32<T>(v);
  else return v;
}

template <typename A> __device__ __forceinline__ A load_param(const void* p, int dtype, int64_t i) {
  switch (dtype) {
    case kParamF16: return static_cast<A>(__half2float(static_cast<const __half*>(p)[i]));
    case kParamBF16: return static_cast<A>(__bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]));
    case kParamF64: return static_cast<A>(static_cast<const double*>(p)[i]);
    default: return static_cast<A>(static_cast<const float*>(p)[i]);
  }
}

__device__ __forceinline__ int64_t param_index(const ParamRef& pr, const NormParams& p, int64_t row, int64_t i) {
  switch (pr.index) {
    case AffineIndex::kBroadcast: return broadcast_offset(pr.bcast, i);
    case AffineIndex::kRowChannel: return row % p.channels;
    case AffineIndex::kGroupChannel: return (row % p.channels) * p.per_group + i / p.inner;
    default: return i;
  }
}

__device__ __forceinline__ int64_t decompose(const Dims& dims, const Dims& strides, int64_t idx) {
  int64_t off = 0;
  for (int d = dims.rank - 1; d >= 0; --d) {
    const int64_t q = idx / dims.d[d];
    off += (idx - q * dims.d[d]) * strides.d[d];
    idx = q;
  }
  return off;
}

// Sum over the row's threads: a warp (kWarpRow) or the whole block. `shared` holds 32 entries.
template <bool kWarpRow, typename A> __device__ __forceinline__ A row_sum(A v, A* shared) {
  v = warp_sum(v);
  if constexpr (kWarpRow) {
    return v;
  } else {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    __syncthreads();  // `shared` may still be read from the previous reduction
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    A t = lane < warps ? shared[lane] : A(0);
    return warp_sum(t);
  }
}

// One row per warp (kWarpRow, 4 rows per block) or per block. V > 1: contiguous rows whose
// length is a multiple of V and whose start is 16-byte aligned.
template <typename T, int V, bool kWarpRow>
__global__ void norm_kernel(const T* __restrict__ x, T* __restrict__ y, NormParams p) {
  using A = compute_t<T>;
  __shared__ A shared[32];
  const int64_t row = kWarpRow ? static_cast<int64_t>(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5) : blockIdx.x;
  const int tid = kWarpRow ? (threadIdx.x & 31) : threadIdx.x;
  const int threads = kWarpRow ? 32 : blockDim.x;
  // Warp rows never use the shared array, so whole warps may leave.
  if (row >= p.rows) return;
  const int64_t base = p.general ? decompose(p.kept, p.kept_strides, row) : row * p.n;
  auto at = [&](int64_t i) -> int64_t { return p.general ? base + decompose(p.red, p.red_strides, i) : base + i; };
  const int64_t nv = p.n / V;

  // Pass 1: mean (not for RMS).
  A mean = 0;
  if (p.kind != NormKind::kRms) {
    A s = 0;
    for (int64_t k = tid; k < nv; k += threads) {
      if constexpr (V > 1) {
        const Pack<T, V> v = reinterpret_cast<const Pack<T, V>*>(x + base)[k];
#pragma unroll
        for (int e = 0; e < V; ++e) s += to_acc(v.v[e]);
      } else {
        s += load_c(x, at(k));
      }
    }
    mean = row_sum<kWarpRow>(s, shared) / static_cast<A>(p.n);
  }
  // Pass 2: centred sum of squares.
  A q = 0;
  for (int64_t k = tid; k < nv; k += threads) {
    if constexpr (V > 1) {
      const Pack<T, V> v = reinterpret_cast<const Pack<T, V>*>(x + base)[k];
#pragma unroll
      for (int e = 0; e < V; ++e) {
        const A d = to_acc(v.v[e]) - mean;
        q += d * d;
      }
    } else {
      const A d = static_cast<A>(load_c(x, at(k))) - mean;
      q += d * d;
    }
  }
  const A var = row_sum<kWarpRow>(q, shared) / static_cast<A>(p.n);
  A inv;
  if (p.kind == NormKind::kMvn) {
    inv = A(1) / (sqrt(var) + A(1e-9));
  } else {
    inv = A(1) / sqrt(var + static_cast<A>(p.eps));
  }
  if (tid == 0 && (p.mean_out || p.inv_out)) {
    if (p.stats_double) {
      if (p.mean_out) static_cast<double*>(p.mean_out)[row] = static_cast<double>(mean);
      if (p.inv_out) static_cast<double*>(p.inv_out)[row] = static_cast<double>(inv);
    } else {
      if (p.mean_out) static_cast<float*>(p.mean_out)[row] = static_cast<float>(mean);
      if (p.inv_out) static_cast<float*>(p.inv_out)[row] = static_cast<float>(inv);
    }
  }
  // Pass 3: normalize and apply scale/bias.
  auto affine = [&](A v, int64_t i, A s) -> A {
    A r = (v - mean) * inv * s;
    if (p.bias.index != AffineIndex::kNone)
      r += load_param<A>(p.bias.ptr, p.bias.dtype, param_index(p.bias, p, row, i));
    return r;
  };
  auto scale_of = [&](int64_t i) -> A {
    if (p.scale.index == AffineIndex::kNone) return A(1);
    return load_param<A>(p.scale.ptr, p.scale.dtype, param_index(p.scale, p, row, i));
  };
  for (int64_t k = tid; k < nv; k += threads) {
    if constexpr (V > 1) {
      const Pack<T, V> v = reinterpret_cast<const Pack<T, V>*>(x + base)[k];
      Pack<T, V> sv;
      if (p.scale_vec) sv = reinterpret_cast<const Pack<T, V>*>(p.scale.ptr)[k];
      Pack<T, V> out;
#pragma unroll
      for (int e = 0; e < V; ++e) {
        const int64_t i = k * V + e;
        const A s = p.scale_vec ? to_acc(sv.v[e]) : scale_of(i);
        out.v[e] = from_acc<T>(affine(to_acc(v.v[e]), i, s));
      }
      reinterpret_cast<Pack<T, V>*>(y + base)[k] = out;
    } else {
      const int64_t o = at(k);
      store_c(y, o, affine(static_cast<A>(load_c(x, o)), k, scale_of(k)));
    }
  }
}

// Contiguous rows of up to 32 * kPer * V elements, one warp per row (4 per block), held in
// registers: the row is read from memory once, both statistics come from the registers (still
// two-pass), and every load is issued before the first reduction. Layer norms of BERT/ViT
// widths (768, 1024 halves) take this path; longer rows, strided rows and broadcast
// scale/bias take norm_kernel. Its parameters are a small struct of its own: NormParams' arrays,
// indexed at run time, made the compiler keep a copy of it in local memory.
struct RowNormParams {
  int64_t rows = 0, n = 0;
  float eps = 1e-5f;
  bool rms = false;
  // Scale / bias: 0 absent, 1 X's dtype read 16 bytes at a time, 2 element by element in
  // `*_dtype` (a ParamType).
  int scale_mode = 0, bias_mode = 0, scale_dtype = kParamF32, bias_dtype = kParamF32;
  const void* scale = nullptr;
  const void* bias = nullptr;
  void* mean_out = nullptr;
  void* inv_out = nullptr;
  bool stats_double = false;
};

template <typename T, int V, int kPer>
__global__ void __launch_bounds__(128) norm_rows_kernel(const T* __restrict__ x, T* __restrict__ y, RowNormParams p) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * 4 + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= p.rows) return;
  const int nv = static_cast<int>(p.n / V);
  const Pack<T, V>* xr = reinterpret_cast<const Pack<T, V>*>(x + row * p.n);
  float vals[kPer][V];
#pragma unroll
  for (int j = 0; j < kPer; ++j) {
    const int k = lane + 32 * j;
    Pack<T, V> v;
    if (k < nv) v = xr[k];
#pragma unroll
    for (int e = 0; e < V; ++e) vals[j][e] = k < nv ? to_acc(v.v[e]) : 0.0f;
  }
  const float inv_n = 1.0f / static_cast<float>(p.n);
  float mean = 0.0f;
  if (!p.rms) {
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < kPer; ++j)
#pragma unroll
      for (int e = 0; e < V; ++e) s += vals[j][e];
    mean = warp_sum(s) * inv_n;
  }
  float q = 0.0f;
#pragma unroll
  for (int j = 0; j < kPer; ++j) {
    if (lane + 32 * j < nv) {
#pragma unroll
      for (int e = 0; e < V; ++e) {
        const float d = vals[j][e] - mean;
        q += d * d;
      }
    }
  }
  const float inv = 1.0f / sqrtf(warp_sum(q) * inv_n + p.eps);
  if (lane == 0 && (p.mean_out || p.inv_out)) {
    if (p.stats_double) {
      if (p.mean_out) static_cast<double*>(p.mean_out)[row] = static_cast<double>(mean);
      if (p.inv_out) static_cast<double*>(p.inv_out)[row] = static_cast<double>(inv);
    } else {
      if (p.mean_out) static_cast<float*>(p.mean_out)[row] = mean;
      if (p.inv_out) static_cast<float*>(p.inv_out)[row] = inv;
    }
  }
  Pack<T, V>* yr = reinterpret_cast<Pack<T, V>*>(y + row * p.n);
#pragma unroll
  for (int j = 0; j < kPer; ++j) {
    const int k = lane + 32 * j;
    if (k >= nv) continue;
    Pack<T, V> sv, bv, out;
    if (p.scale_mode == 1) sv = reinterpret_cast<const Pack<T, V>*>(p.scale)[k];
    if (p.bias_mode == 1) bv = reinterpret_cast<const Pack<T, V>*>(p.bias)[k];
#pragma unroll
    for (int e = 0; e < V; ++e) {
      const int i = k * V + e;
      float sc = 1.0f;
      if (p.scale_mode == 1) sc = to_acc(sv.v[e]);
      else if (p.scale_mode == 2) sc = load_param<float>(p.scale, p.scale_dtype, i);
      float r = (vals[j][e] - mean) * inv * sc;
      if (p.bias_mode == 1) r += to_acc(bv.v[e]);
      else if (p.bias_mode == 2) r += load_param<float>(p.bias, p.bias_dtype, i);
      out.v[e] = from_acc<T>(r);
    }
    yr[k] = out;
  }
}

int param_type(DataType t) {
  switch (t) {
    case DataType::kFloat16: return kParamF16;
    case DataType::kBFloat16: return kParamBF16;
    case DataType::kFloat64: return kParamF64;
    default: return kParamF32;
  }
}

// A scale/bias that broadcasts (right-aligned) to the normalized dims `norm`.
ParamRef broadcast_param(const TensorInfo& t, const std::vector<int64_t>& norm) {
  ParamRef r;
  r.dtype = param_type(t.dtype);
  int64_t inner = 1;
  for (int64_t d : norm) inner *= d;
  if (t.numel() == inner) {
    r.index = AffineIndex::kDirect;
  } else {
    r.index = AffineIndex::kBroadcast;
    r.bcast = broadcast_strides(t.dims, norm);
  }
  return r;
}

class NormKernel final : public Kernel {
 public:
  NormKernel(DataType dtype, const NormParams& p) : dtype_(dtype), p_(p) {
    const int64_t vec = 16 / static_cast<int64_t>(dtype_size(dtype));
    vectorized_ = !p.general && p.n % vec == 0;
    const int64_t units = vectorized_ ? p.n / vec : p.n;
    warp_row_ = units <= 512;
    if (warp_row_) {
      block_ = 128;
      grid_ = static_cast<unsigned>((p.rows + 3) / 4);
    } else {
      int t = 64;
      while (t < 512 && t * 4 < units) t *= 2;
      block_ = static_cast<unsigned>(t);
      grid_ = static_cast<unsigned>(p.rows);
    }
    // Direct scale of X's dtype is read 16 bytes at a time too.
    p_.scale_vec = vectorized_ && p.scale.index == AffineIndex::kDirect && p.scale.dtype == param_type(dtype);
    // Rows that fit 32 lanes x up to 16 vectors stay in registers (not fp64, not MVN's 1e-9
    // rule, scale and bias absent or covering the row).
    const bool direct = (p.scale.index == AffineIndex::kNone || p.scale.index == AffineIndex::kDirect) &&
                        (p.bias.index == AffineIndex::kNone || p.bias.index == AffineIndex::kDirect);
    if (vectorized_ && direct && dtype != DataType::kFloat64 && p.kind != NormKind::kMvn) {
      const int64_t per_lane = (units + 31) / 32;
      // Up to 4 vectors per lane (1024 halves, 512 floats): with more, the compiler keeps the
      // row in local memory.
      for (int per : {1, 2, 4}) {
        if (per_lane <= per) {
          reg_per_ = per;
          break;
        }
      }
      if (reg_per_ > 0) {
        block_ = 128;
        grid_ = static_cast<unsigned>((p.rows + 3) / 4);
      }
    }
  }

  Status enqueue(const LaunchArgs& args) const override {
    if (p_.rows == 0 || p_.n == 0) return Status::OK();
    NormParams p = p_;
    p.scale.ptr = scale_input_ >= 0 ? args.input(static_cast<size_t>(scale_input_)) : nullptr;
    p.bias.ptr = bias_input_ >= 0 ? args.input(static_cast<size_t>(bias_input_)) : nullptr;
    if (p.scale.ptr == nullptr) {
      p.scale.index = AffineIndex::kNone;
      p.scale_vec = false;
    }
    if (p.bias.ptr == nullptr) p.bias.index = AffineIndex::kNone;
    p.mean_out = args.num_outputs > 1 ? args.output(1) : nullptr;
    p.inv_out = args.num_outputs > 2 ? args.output(2) : nullptr;
    return dispatch_float(dtype_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      constexpr int kV = 16 / static_cast<int>(sizeof(T));
      const T* x = args.in<T>(0);
      T* y = args.out<T>(0);
      const bool aligned = ((reinterpret_cast<uintptr_t>(x) | reinterpret_cast<uintptr_t>(y) |
                             (p.scale_vec ? reinterpret_cast<uintptr_t>(p.scale.ptr) : 0)) & 15) == 0;
      if (vectorized_ && aligned && reg_per_ > 0) {
        if constexpr (!std::is_same_v<T, double>) {
          const RowNormParams r = row_params(p, static_cast<uintptr_t>(15));
          switch (reg_per_) {
            case 1: norm_rows_kernel<T, kV, 1><<<grid_, block_, 0, args.stream>>>(x, y, r); break;
            case 2: norm_rows_kernel<T, kV, 2><<<grid_, block_, 0, args.stream>>>(x, y, r); break;
            default: norm_rows_kernel<T, kV, 4><<<grid_, block_, 0, args.stream>>>(x, y, r); break;
          }
        }
      } else if (vectorized_ && aligned) {
        if (warp_row_) norm_kernel<T, kV, true><<<grid_, block_, 0, args.stream>>>(x, y, p);
        else norm_kernel<T, kV, false><<<grid_, block_, 0, args.stream>>>(x, y, p);
      } else {
        // Unaligned pointers (user buffers) take the scalar path.
        p.scale_vec = false;
        if (warp_row_) norm_kernel<T, 1, true><<<grid_, block_, 0, args.stream>>>(x, y, p);
        else norm_kernel<T, 1, false><<<grid_, block_, 0, args.stream>>>(x, y, p);
      }
    });
  }

  int scale_input_ = -1, bias_input_ = -1;

 private:
  // norm_rows_kernel's parameters: a kDirect scale/bias of X's dtype at a 16-byte aligned
  // address is read as vectors, any other kDirect one element by element.
  RowNormParams row_params(const NormParams& p, uintptr_t align_mask) const {
    RowNormParams r;
    r.rows = p.rows;
    r.n = p.n;
    r.eps = static_cast<float>(p.eps);
    r.rms = p.kind == NormKind::kRms;
    auto mode = [&](const ParamRef& pr) {
      if (pr.index == AffineIndex::kNone || !pr.ptr) return 0;
      const bool vec = pr.dtype == param_type(dtype_) && (reinterpret_cast<uintptr_t>(pr.ptr) & align_mask) == 0;
      return vec ? 1 : 2;
    };
    r.scale_mode = mode(p.scale);
    r.bias_mode = mode(p.bias);
    r.scale_dtype = p.scale.dtype;
    r.bias_dtype = p.bias.dtype;
    r.scale = p.scale.ptr;
    r.bias = p.bias.ptr;
    r.mean_out = p.mean_out;
    r.inv_out = p.inv_out;
    r.stats_double = p.stats_double;
    return r;
  }

  DataType dtype_;
  NormParams p_;
  bool vectorized_ = false, warp_row_ = true;
  int reg_per_ = 0;  // > 0: norm_rows_kernel with this many vectors per lane
  unsigned grid_ = 1, block_ = 128;
};

Status check_float_dtype(const PrepareArgs& a) {
  const DataType t = a.input(0).dtype;
  if (t != DataType::kFloat32 && t != DataType::kFloat16 && t != DataType::kBFloat16 && t != DataType::kFloat64)
    return a.unsupported("X must be float32, float16, bfloat16 or float64");
  for (size_t i = 1; i < a.inputs.size(); ++i) {
    if (!a.has_input(i)) continue;
    const DataType p = a.input(i).dtype;
    if (p != DataType::kFloat32 && p != DataType::kFloat16 && p != DataType::kBFloat16 && p != DataType::kFloat64)
      return a.unsupported("scale/bias must be a float tensor");
  }
  return Status::OK();
}

Result<std::unique_ptr<Kernel>> make_norm(const PrepareArgs& a, const NormParams& p, int scale_input, int bias_input) {
  auto k = std::make_unique<NormKernel>(a.input(0).dtype, p);
  k->scale_input_ = scale_input;
  k->bias_input_ = bias_input;
  return std::unique_ptr<Kernel>(std::move(k));
}

// Rows over the trailing dims from `axis` (LayerNormalization, RMSNormalization).
Result<std::unique_ptr<Kernel>> create_last_axes_norm(const PrepareArgs& a, NormKind kind) {
  SLIMRT_RETURN_IF_ERROR(check_float_dtype(a));
  const TensorInfo& x = a.input(0);
  const int64_t rank = x.rank();
  if (rank == 0) return a.invalid("X must have rank >= 1");
  int64_t axis = a.node.attr_int("axis", -1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return a.invalid("axis out of range");
  const std::vector<int64_t> norm(x.dims.begin() + axis, x.dims.end());
  NormParams p;
  p.kind = kind;
  p.eps = static_cast<double>(a.node.attr_float("epsilon", 1e-5f));
  p.n = 1;
  for (int64_t d : norm) p.n *= d;
  p.rows = p.n == 0 ? 0 : x.numel() / p.n;
  if (a.has_input(1)) {
    if (static_cast<size_t>(a.input(1).rank()) > norm.size()) return a.invalid("scale has more dims than the normalized dims");
    p.scale = broadcast_param(a.input(1), norm);
  }
  if (a.has_input(2)) {
    if (static_cast<size_t>(a.input(2).rank()) > norm.size()) return a.invalid("bias has more dims than the normalized dims");
    p.bias = broadcast_param(a.input(2), norm);
  }
  if (kind == NormKind::kLayer) {
    p.stats_double = a.outputs.size() > 1 && a.output(1).dtype == DataType::kFloat64;
    if (a.outputs.size() > 2 && a.output(2).dtype != (p.stats_double ? DataType::kFloat64 : DataType::kFloat32))
      return a.unsupported("Mean and InvStdDev outputs with different dtypes");
  }
  return make_norm(a, p, a.has_input(1) ? 1 : -1, a.has_input(2) ? 2 : -1);
}

Result<std::unique_ptr<Kernel>> create_layer_norm(const PrepareArgs& a) { return create_last_axes_norm(a, NormKind::kLayer); }
Result<std::unique_ptr<Kernel>> create_rms_norm(const PrepareArgs& a) { return create_last_axes_norm(a, NormKind::kRms); }

Result<std::unique_ptr<Kernel>> create_instance_norm(const PrepareArgs& a) {
  SLIMRT_RETURN_IF_ERROR(check_float_dtype(a));
  const TensorInfo& x = a.input(0);
  if (x.rank() < 3) return a.invalid("X must have rank >= 3");
  NormParams p;
  p.eps = static_cast<double>(a.node.attr_float("epsilon", 1e-5f));
  p.channels = x.dims[1];
  const int64_t planes = x.dims[0] * x.dims[1];
  p.n = planes == 0 ? 0 : x.numel() / planes;
  p.rows = p.n == 0 ? 0 : planes;
  if (a.input(1).numel() != p.channels || a.input(2).numel() != p.channels)
    return a.invalid("scale and B must have one entry per channel");
  p.scale.dtype = param_type(a.input(1).dtype);
  p.scale.index = AffineIndex::kRowChannel;
  p.bias.dtype = param_type(a.input(2).dtype);
  p.bias.index = AffineIndex::kRowChannel;
  return make_norm(a, p, 1, 2);
}

Result<std::unique_ptr<Kernel>> create_group_norm(const PrepareArgs& a) {
  SLIMRT_RETURN_IF_ERROR(check_float_dtype(a));
  const TensorInfo& x = a.input(0);
  if (x.rank() < 2) return a.invalid("X must have rank >= 2");
  const int64_t groups = a.node.attr_int("num_groups", 1);
  const int64_t channels = x.dims[1];
  if (groups <= 0 || channels % groups != 0) return a.invalid("channels must be divisible by num_groups");
  NormParams p;
  p.eps = static_cast<double>(a.node.attr_float("epsilon", 1e-5f));
  const int64_t bc = x.dims[0] * channels;
  p.inner = bc == 0 ? 0 : x.numel() / bc;
  p.per_group = channels / groups;
  p.n = p.per_group * p.inner;
  p.rows = p.n == 0 ? 0 : x.dims[0] * groups;
  p.channels = groups;
  // Opset 21: per-channel scale/bias; opset 18: per group.
  const bool per_group = a.input(1).numel() != channels;
  if (per_group && a.input(1).numel() != groups) return a.invalid("scale must have C or num_groups entries");
  if (a.input(2).numel() != a.input(1).numel()) return a.invalid("scale and bias must have the same size");
  const AffineIndex idx = per_group ? AffineIndex::kRowChannel : AffineIndex::kGroupChannel;
  p.scale.dtype = param_type(a.input(1).dtype);
  p.scale.index = idx;
  p.bias.dtype = param_type(a.input(2).dtype);
  p.bias.index = idx;
  if (p.inner == 0) p.inner = 1;
  return make_norm(a, p, 1, 2);
}

Result<std::unique_ptr<Kernel>> create_mvn(const PrepareArgs& a) {
  SLIMRT_RETURN_IF_ERROR(check_float_dtype(a));
  const TensorInfo& x = a.input(0);
  const int64_t rank = x.rank();
  if (rank > kMaxRank) return a.unsupported("rank > 8");
  std::vector<bool> reduced(static_cast<size_t>(rank), false);
  for (int64_t ax : a.node.attr_ints("axes", {0, 2, 3})) {
    const int64_t n = ax < 0 ? ax + rank : ax;
    if (n < 0 || n >= rank) return a.invalid("axes out of range");
    reduced[static_cast<size_t>(n)] = true;
  }
  NormParams p;
  p.kind = NormKind::kMvn;
  p.n = 1;
  p.rows = 1;
  std::vector<int64_t> strides(static_cast<size_t>(rank), 1);
  for (int64_t d = rank - 2; d >= 0; --d) strides[static_cast<size_t>(d)] = strides[static_cast<size_t>(d + 1)] * x.dims[static_cast<size_t>(d + 1)];
  // The reduced axes make contiguous rows when none of them (of size > 1) precedes a kept axis.
  bool trailing = true;
  {
    bool kept_seen = false;
    for (int64_t d = rank - 1; d >= 0; --d) {
      const size_t u = static_cast<size_t>(d);
      if (x.dims[u] == 1) continue;
      if (!reduced[u]) kept_seen = true;
      else if (kept_seen) trailing = false;
    }
  }
  for (int64_t d = 0; d < rank; ++d) {
    const size_t u = static_cast<size_t>(d);
    Dims& dims = reduced[u] ? p.red : p.kept;
    Dims& st = reduced[u] ? p.red_strides : p.kept_strides;
    dims.d[dims.rank] = x.dims[u];
    st.d[st.rank] = strides[u];
    ++dims.rank;
    ++st.rank;
    (reduced[u] ? p.n : p.rows) *= x.dims[u];
  }
  if (p.n == 0) p.rows = 0;
  p.general = !trailing;
  return make_norm(a, p, -1, -1);
}

}  // namespace

void register_fused_pattern_kernels(KernelRegistry& r) {
  r.add({"LayerNormalization", create_layer_norm, 0});
  r.add({"RMSNormalization", create_rms_norm, 0});
  r.add({"InstanceNormalization", create_instance_norm, 0});
  r.add({"GroupNormalization", create_group_norm, 0});
  r.add({"MeanVarianceNormalization", create_mvn, 0});
  register_attention_kernels(r);
}

}  // namespace slimrt::cuda
