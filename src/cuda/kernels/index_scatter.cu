// CUDA kernels: index family, scatters (ScatterElements, ScatterND). The data is copied to the
// output, then one thread per update element writes or combines into it. Reductions combine
// atomically (a compare-and-swap loop on the element, or on its aligned 32-bit word for 1- and
// 2-byte types) in the element's compute type, rounding back after every step like the CPU
// reference. With reduction "none" and duplicate indices the winner is unspecified (ONNX leaves
// it undefined too). Out-of-range indices are skipped.
#include "cuda/kernels/index_common.cuh"

namespace slimrt::cuda {

namespace {

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

Reduction reduction_of(const Node& n, bool* ok) {
  const std::string r = n.attr_string("reduction", "none");
  *ok = true;
  if (r == "none") return Reduction::kNone;
  if (r == "add") return Reduction::kAdd;
  if (r == "mul") return Reduction::kMul;
  if (r == "max") return Reduction::kMax;
  if (r == "min") return Reduction::kMin;
  *ok = false;
  return Reduction::kNone;
}

template <typename T> __device__ __forceinline__ T combine(T a, T b, Reduction r) {
  if constexpr (std::is_same_v<T, bool>) {
    if (r == Reduction::kNone) return b;
    return (r == Reduction::kAdd || r == Reduction::kMax) ? (a || b) : (a && b);
  } else {
    using C = compute_t<T>;
    const C x = load_c(&a, 0), y = load_c(&b, 0);
    C z = y;
    switch (r) {
      case Reduction::kNone: return b;
      case Reduction::kAdd: z = static_cast<C>(x + y); break;
      case Reduction::kMul: z = static_cast<C>(x * y); break;
      case Reduction::kMax: z = x < y ? y : x; break;
      case Reduction::kMin: z = y < x ? y : x; break;
    }
    T out;
    store_c(&out, 0, z);
    return out;
  }
}

template <typename T> __device__ __forceinline__ void atomic_combine(T* addr, T val, Reduction r) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    if (r == Reduction::kAdd) {
      atomicAdd(addr, val);
      return;
    }
  }
  if constexpr (sizeof(T) == 4 || sizeof(T) == 8) {
    using U = std::conditional_t<sizeof(T) == 4, unsigned int, unsigned long long>;
    U* p = reinterpret_cast<U*>(addr);
    U old = *p, assumed;
    do {
      assumed = old;
      T cur;
      memcpy(&cur, &assumed, sizeof(T));
      const T next = combine(cur, val, r);
      U bits;
      memcpy(&bits, &next, sizeof(T));
      old = atomicCAS(p, assumed, bits);
    } while (old != assumed);
  } else {
    const uintptr_t a = reinterpret_cast<uintptr_t>(addr);
    unsigned int* word = reinterpret_cast<unsigned int*>(a & ~uintptr_t{3});
    const unsigned shift = static_cast<unsigned>(a & 3) * 8;
    const unsigned mask = (sizeof(T) == 1 ? 0xffu : 0xffffu) << shift;
    unsigned old = *word, assumed;
    do {
      assumed = old;
      const unsigned cur_bits = (assumed & mask) >> shift;
      T cur;
      memcpy(&cur, &cur_bits, sizeof(T));  // little endian: the low bytes
      const T next = combine(cur, val, r);
      unsigned next_bits = 0;
      memcpy(&next_bits, &next, sizeof(T));
      old = atomicCAS(word, assumed, (assumed & ~mask) | ((next_bits << shift) & mask));
    } while (old != assumed);
  }
}

template <typename T> __device__ __forceinline__ void apply(T* dst, int64_t off, T v, Reduction r) {
  if (r == Reduction::kNone) dst[off] = v;
  else atomic_combine(dst + off, v, r);
}

// ---- ScatterElements ----------------------------------------------------------------------------
struct ScatterElementsParams {
  Dims idx_dims, data_strides;
  int axis;
  int64_t axis_dim, total;
  Reduction red;
};

template <typename T, typename I>
__global__ void scatter_elements_kernel(T* __restrict__ dst, const I* __restrict__ idx, const T* __restrict__ upd,
                                        ScatterElementsParams p) {
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < p.total; e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t k = wrap_index(idx[e], p.axis_dim);
    if (k < 0) continue;
    int64_t rest = e, off = 0;
    for (int d = p.idx_dims.rank - 1; d >= 0; --d) {
      const int64_t n = p.idx_dims.d[d];
      const int64_t q = rest / n;
      off += (d == p.axis ? k : rest - q * n) * p.data_strides.d[d];
      rest = q;
    }
    apply(dst, off, upd[e], p.red);
  }
}

// ---- ScatterND ----------------------------------------------------------------------------------
struct ScatterNdParams {
  int64_t total, slice;
  int k;
  int64_t dims[kMaxRank], strides[kMaxRank];
  Reduction red;
};

template <typename T, typename I>
__global__ void scatter_nd_kernel(T* __restrict__ dst, const I* __restrict__ idx, const T* __restrict__ upd,
                                  ScatterNdParams p) {
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < p.total; e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t t = e / p.slice, s = e - t * p.slice;
    int64_t off = s;
    bool ok = true;
    for (int j = 0; j < p.k; ++j) {
      const int64_t i = wrap_index(idx[t * p.k + j], p.dims[j]);
      ok &= i >= 0;
      off += i * p.strides[j];
    }
    if (ok) apply(dst, off, upd[e], p.red);
  }
}

template <typename P> class ScatterKernel final : public Kernel {
 public:
  P p_{};
  DataType dtype_ = DataType::kFloat32, index_type_ = DataType::kInt64;
  uint64_t data_bytes_ = 0;

  Status enqueue(const LaunchArgs& args) const override {
    if (data_bytes_ && args.output(0) != args.input(0))
      SLIMRT_CUDA_RETURN_IF_ERROR(
          cudaMemcpyAsync(args.output(0), args.input(0), data_bytes_, cudaMemcpyDeviceToDevice, args.stream));
    if (p_.total == 0) return Status::OK();
    return dispatch_all(dtype_, [&](auto ttag) {
      using T = typename decltype(ttag)::type;
      (void)dispatch_index(index_type_, [&](auto itag) {
        using I = typename decltype(itag)::type;
        if constexpr (std::is_same_v<P, ScatterNdParams>) {
          scatter_nd_kernel<T, I><<<grid_for(p_.total), kBlock, 0, args.stream>>>(args.out<T>(0), args.in<I>(1),
                                                                                  args.in<T>(2), p_);
        } else {
          scatter_elements_kernel<T, I><<<grid_for(p_.total), kBlock, 0, args.stream>>>(args.out<T>(0), args.in<I>(1),
                                                                                        args.in<T>(2), p_);
        }
      });
    });
  }
};

Status check_scatter_common(const PrepareArgs& a, Reduction* red) {
  bool ok = false;
  *red = reduction_of(a.node, &ok);
  if (!ok) return a.unsupported("reduction '" + a.node.attr_string("reduction", "none") + "'");
  const DataType t = a.input(0).dtype;
  if (!dtype_is_float(t) && !dtype_is_integer(t) && t != DataType::kBool) return a.unsupported("data dtype");
  if (a.input(2).dtype != t) return a.invalid("updates dtype differs from data");
  const DataType it = a.input(1).dtype;
  if (it != DataType::kInt32 && it != DataType::kInt64) return a.unsupported("indices must be int32 or int64");
  if (a.input(0).rank() > kMaxRank || a.input(1).rank() > kMaxRank) return a.unsupported("rank > 8");
  return Status::OK();
}

Result<std::unique_ptr<Kernel>> create_scatter_elements(const PrepareArgs& a) {
  const TensorInfo& data = a.input(0);
  const TensorInfo& ind = a.input(1);
  Reduction red;
  SLIMRT_RETURN_IF_ERROR(check_scatter_common(a, &red));
  const int64_t axis = axis_attr(a.node, "axis", 0, data.rank());
  if (axis < 0) return a.invalid("axis out of range");
  if (ind.rank() != data.rank()) return a.invalid("indices and data must have the same rank");
  if (ind.dims != a.input(2).dims) return a.invalid("indices and updates must have the same shape");
  for (int64_t d = 0; d < data.rank(); ++d) {
    if (d != axis && ind.dims[static_cast<size_t>(d)] > data.dims[static_cast<size_t>(d)])
      return a.invalid("indices shape exceeds data shape in dim " + std::to_string(d));
  }
  auto k = std::make_unique<ScatterKernel<ScatterElementsParams>>();
  k->dtype_ = data.dtype;
  k->index_type_ = ind.dtype;
  k->data_bytes_ = data.bytes();
  k->p_.idx_dims = dims_of(ind.dims);
  k->p_.data_strides = strides_of(data.dims);
  k->p_.axis = static_cast<int>(axis);
  k->p_.axis_dim = data.dims[static_cast<size_t>(axis)];
  k->p_.total = data.numel() == 0 ? 0 : ind.numel();
  k->p_.red = red;
  return std::unique_ptr<Kernel>(std::move(k));
}

Result<std::unique_ptr<Kernel>> create_scatter_nd(const PrepareArgs& a) {
  const TensorInfo& data = a.input(0);
  const TensorInfo& ind = a.input(1);
  Reduction red;
  SLIMRT_RETURN_IF_ERROR(check_scatter_common(a, &red));
  if (ind.rank() < 1) return a.invalid("indices must have rank >= 1");
  const int64_t kk = ind.dims.back();
  if (kk > data.rank()) return a.invalid("index tuples longer than the data rank");
  const int64_t tuples = product(ind.dims, 0, ind.dims.size() - 1);
  const int64_t slice = product(data.dims, static_cast<size_t>(kk), data.dims.size());
  if (a.input(2).numel() != tuples * slice) return a.invalid("updates do not match indices and data");
  auto k = std::make_unique<ScatterKernel<ScatterNdParams>>();
  ScatterNdParams& p = k->p_;
  k->dtype_ = data.dtype;
  k->index_type_ = ind.dtype;
  k->data_bytes_ = data.bytes();
  p.k = static_cast<int>(kk);
  p.slice = slice;
  p.total = data.numel() == 0 ? 0 : tuples * slice;
  p.red = red;
  const Dims st = strides_of(data.dims);
  for (int j = 0; j < p.k; ++j) {
    p.dims[j] = data.dims[static_cast<size_t>(j)];
    p.strides[j] = st.d[j];
  }
  return std::unique_ptr<Kernel>(std::move(k));
}

}  // namespace

void register_index_scatter_kernels(KernelRegistry& r) {
  r.add({"ScatterElements", create_scatter_elements, 0});
  r.add({"ScatterND", create_scatter_nd, 0});
}

}  // namespace slimrt::cuda
