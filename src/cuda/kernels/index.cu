// CUDA kernels: index family, gathers (Gather, GatherElements, GatherND). Scatters live in
// index_scatter.cu, generators in index_generate.cu, Resize/GridSample in image_*.cu; this file
// registers them all. Gathers move bytes (dispatch on element size) and read indices (int32 or
// int64) on the device; an out-of-range index yields zeros instead of a read out of bounds.
#include "cuda/kernels/index_common.cuh"

namespace slimrt::cuda {

namespace {

// ---- fills ------------------------------------------------------------------------------------
template <typename T> __global__ void fill_kernel(T* dst, int64_t n, T v) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    dst[i] = v;
}

// ---- Gather -------------------------------------------------------------------------------------
// out[o, j, i] = data[o, idx[j], i] with rows of `inner` vectors of type V (up to 16 bytes), so
// an fp16 embedding lookup moves 8 halves per thread.
struct GatherParams {
  int64_t total;  // vectors in the output
  int64_t inner;  // vectors per gathered row
  int64_t nidx;
  int64_t dim;
};

template <typename V, typename I, typename Off>
__global__ void gather_kernel(const V* __restrict__ src, V* __restrict__ dst, const I* __restrict__ idx, GatherParams p) {
  const Off total = static_cast<Off>(p.total), inner = static_cast<Off>(p.inner), nidx = static_cast<Off>(p.nidx);
  const Off dim = static_cast<Off>(p.dim);
  for (Off v = blockIdx.x * Off(blockDim.x) + threadIdx.x; v < total; v += Off(gridDim.x) * blockDim.x) {
    const Off r = v / inner, i = v - r * inner;
    const Off o = r / nidx, j = r - o * nidx;
    const int64_t k = wrap_index(idx[j], p.dim);
    dst[v] = k >= 0 ? src[(o * dim + static_cast<Off>(k)) * inner + i] : V{};
  }
}

class GatherKernel final : public Kernel {
 public:
  GatherParams p_{};
  DataType index_type_ = DataType::kInt64;
  size_t row_bytes_ = 0;
  bool small_ = true;

  Status enqueue(const LaunchArgs& args) const override {
    if (p_.total == 0) return Status::OK();
    // Widest vector that divides the row and matches the pointers' alignment.
    const auto addr = reinterpret_cast<uintptr_t>(args.input(0)) | reinterpret_cast<uintptr_t>(args.output(0));
    size_t w = 16;
    while (w > 1 && (row_bytes_ % w != 0 || addr % w != 0)) w /= 2;
    GatherParams p = p_;
    p.inner = static_cast<int64_t>(row_bytes_ / w);
    p.total = p_.total / static_cast<int64_t>(w);
    auto launch = [&](auto vtag) {
      using V = typename decltype(vtag)::type;
      return dispatch_index(index_type_, [&](auto itag) {
        using I = typename decltype(itag)::type;
        dispatch_offset(small_, [&](auto otag) {
          using Off = typename decltype(otag)::type;
          gather_kernel<V, I, Off><<<grid_for(p.total), kBlock, 0, args.stream>>>(
              args.in<V>(0), args.out<V>(0), args.in<I>(1), p);
        });
      });
    };
    switch (w) {
      case 16: return launch(TypeTag<uint4>{});
      case 8: return launch(TypeTag<uint2>{});
      case 4: return launch(TypeTag<uint32_t>{});
      case 2: return launch(TypeTag<uint16_t>{});
      default: return launch(TypeTag<uint8_t>{});
    }
  }
};

Result<std::unique_ptr<Kernel>> create_gather(const PrepareArgs& a) {
  const TensorInfo& data = a.input(0);
  const TensorInfo& ind = a.input(1);
  if (data.rank() == 0) return a.invalid("Gather needs data of rank >= 1");
  const int64_t axis = axis_attr(a.node, "axis", 0, data.rank());
  if (axis < 0) return a.invalid("axis out of range");
  if (ind.dtype != DataType::kInt32 && ind.dtype != DataType::kInt64) return a.unsupported("indices must be int32 or int64");
  auto k = std::make_unique<GatherKernel>();
  k->index_type_ = ind.dtype;
  const size_t ax = static_cast<size_t>(axis);
  const int64_t outer = product(data.dims, 0, ax);
  const int64_t inner = product(data.dims, ax + 1, data.dims.size());
  k->row_bytes_ = static_cast<size_t>(inner) * dtype_size(data.dtype);
  k->p_.nidx = ind.numel();
  k->p_.dim = data.dims[ax];
  k->p_.total = outer * k->p_.nidx * static_cast<int64_t>(k->row_bytes_);  // in bytes; divided at enqueue
  if (a.output(0).numel() == 0) k->p_.total = 0;
  k->small_ = fits_int32({k->p_.total, data.numel() * static_cast<int64_t>(dtype_size(data.dtype))});
  return std::unique_ptr<Kernel>(std::move(k));
}

// ---- GatherElements -----------------------------------------------------------------------------
struct ElementsParams {
  Dims idx_dims;      // indices (= output) dims
  Dims data_strides;  // data strides
  int axis;
  int64_t axis_dim;
  int64_t total;
};

template <typename T, typename I, typename Off>
__global__ void gather_elements_kernel(const T* __restrict__ src, T* __restrict__ dst, const I* __restrict__ idx,
                                       ElementsParams p) {
  for (Off e = blockIdx.x * Off(blockDim.x) + threadIdx.x; e < Off(p.total); e += Off(gridDim.x) * blockDim.x) {
    const int64_t k = wrap_index(idx[e], p.axis_dim);
    Off rest = e, off = 0;
    for (int d = p.idx_dims.rank - 1; d >= 0; --d) {
      const Off n = static_cast<Off>(p.idx_dims.d[d]);
      const Off q = rest / n;
      const Off c = d == p.axis ? static_cast<Off>(k) : rest - q * n;
      off += c * static_cast<Off>(p.data_strides.d[d]);
      rest = q;
    }
    dst[e] = k >= 0 ? src[off] : T{};
  }
}

class GatherElementsKernel final : public Kernel {
 public:
  ElementsParams p_{};
  DataType dtype_ = DataType::kFloat32, index_type_ = DataType::kInt64;
  bool small_ = true;

  Status enqueue(const LaunchArgs& args) const override {
    if (p_.total == 0) return Status::OK();
    return dispatch_bytes_and_index(dtype_, index_type_, [&](auto ttag, auto itag) {
      using T = typename decltype(ttag)::type;
      using I = typename decltype(itag)::type;
      dispatch_offset(small_, [&](auto otag) {
        using Off = typename decltype(otag)::type;
        gather_elements_kernel<T, I, Off><<<grid_for(p_.total), kBlock, 0, args.stream>>>(
            args.in<T>(0), args.out<T>(0), args.in<I>(1), p_);
      });
    });
  }
};

// Shared by GatherElements and ScatterElements: indices no larger than data off the axis.
Status check_elements_shapes(const PrepareArgs& a, const TensorInfo& data, const TensorInfo& ind, int64_t axis) {
  if (data.rank() != ind.rank()) return a.invalid("indices and data must have the same rank");
  if (data.rank() > kMaxRank) return a.unsupported("rank > 8");
  for (int64_t d = 0; d < data.rank(); ++d) {
    if (d != axis && ind.dims[static_cast<size_t>(d)] > data.dims[static_cast<size_t>(d)])
      return a.invalid("indices shape exceeds data shape in dim " + std::to_string(d));
  }
  if (ind.dtype != DataType::kInt32 && ind.dtype != DataType::kInt64) return a.unsupported("indices must be int32 or int64");
  return Status::OK();
}

Result<std::unique_ptr<Kernel>> create_gather_elements(const PrepareArgs& a) {
  const TensorInfo& data = a.input(0);
  const TensorInfo& ind = a.input(1);
  const int64_t axis = axis_attr(a.node, "axis", 0, data.rank());
  if (axis < 0) return a.invalid("axis out of range");
  SLIMRT_RETURN_IF_ERROR(check_elements_shapes(a, data, ind, axis));
  auto k = std::make_unique<GatherElementsKernel>();
  k->dtype_ = data.dtype;
  k->index_type_ = ind.dtype;
  k->p_.idx_dims = dims_of(ind.dims);
  k->p_.data_strides = strides_of(data.dims);
  k->p_.axis = static_cast<int>(axis);
  k->p_.axis_dim = data.dims[static_cast<size_t>(axis)];
  k->p_.total = ind.numel();
  k->small_ = fits_int32({ind.numel(), data.numel()});
  return std::unique_ptr<Kernel>(std::move(k));
}

// ---- GatherND -----------------------------------------------------------------------------------
// Output element e = (tuple t, slice element s); t's batch is t / tuples_per_batch.
struct GatherNdParams {
  int64_t total, slice, tuples_per_batch, batch_size;
  int k;
  int64_t dims[kMaxRank];     // data dims indexed by the tuple
  int64_t strides[kMaxRank];  // their strides
};

template <typename T, typename I>
__global__ void gather_nd_kernel(const T* __restrict__ src, T* __restrict__ dst, const I* __restrict__ idx,
                                 GatherNdParams p) {
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < p.total; e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t t = e / p.slice, s = e - t * p.slice;
    int64_t off = (t / p.tuples_per_batch) * p.batch_size + s;
    bool ok = true;
    for (int j = 0; j < p.k; ++j) {
      const int64_t i = wrap_index(idx[t * p.k + j], p.dims[j]);
      ok &= i >= 0;
      off += i * p.strides[j];
    }
    dst[e] = ok ? src[off] : T{};
  }
}

class GatherNdKernel final : public Kernel {
 public:
  GatherNdParams p_{};
  DataType dtype_ = DataType::kFloat32, index_type_ = DataType::kInt64;

  Status enqueue(const LaunchArgs& args) const override {
    if (p_.total == 0) return Status::OK();
    return dispatch_bytes_and_index(dtype_, index_type_, [&](auto ttag, auto itag) {
      using T = typename decltype(ttag)::type;
      using I = typename decltype(itag)::type;
      gather_nd_kernel<T, I><<<grid_for(p_.total), kBlock, 0, args.stream>>>(args.in<T>(0), args.out<T>(0),
                                                                             args.in<I>(1), p_);
    });
  }
};

Result<std::unique_ptr<Kernel>> create_gather_nd(const PrepareArgs& a) {
  const TensorInfo& data = a.input(0);
  const TensorInfo& ind = a.input(1);
  const int64_t b = a.node.attr_int("batch_dims", 0);
  if (ind.rank() < 1) return a.invalid("indices must have rank >= 1");
  if (ind.dtype != DataType::kInt32 && ind.dtype != DataType::kInt64) return a.unsupported("indices must be int32 or int64");
  const int64_t k = ind.dims.back();
  if (b < 0 || b >= ind.rank() || b + k > data.rank() || k > kMaxRank) return a.invalid("batch_dims/indices do not fit data");
  const size_t bs = static_cast<size_t>(b);
  if (product(ind.dims, 0, bs) != product(data.dims, 0, bs)) return a.invalid("batch dims of data and indices differ");
  auto kr = std::make_unique<GatherNdKernel>();
  GatherNdParams& p = kr->p_;
  kr->dtype_ = data.dtype;
  kr->index_type_ = ind.dtype;
  p.k = static_cast<int>(k);
  p.slice = product(data.dims, bs + static_cast<size_t>(k), data.dims.size());
  p.tuples_per_batch = std::max<int64_t>(1, product(ind.dims, bs, ind.dims.size() - 1));
  p.batch_size = product(data.dims, bs, data.dims.size());
  const Dims st = strides_of(data.dims);
  for (int64_t j = 0; j < k; ++j) {
    p.dims[j] = data.dims[bs + static_cast<size_t>(j)];
    p.strides[j] = st.d[bs + static_cast<size_t>(j)];
  }
  p.total = a.output(0).numel();
  if (p.slice == 0) p.total = 0;
  return std::unique_ptr<Kernel>(std::move(kr));
}

}  // namespace

Status fill_bits(void* dst, int64_t n, size_t esize, uint64_t bits, cudaStream_t stream) {
  if (n == 0) return Status::OK();
  if (bits == 0) return SLIMRT_CUDA(cudaMemsetAsync(dst, 0, static_cast<size_t>(n) * esize, stream));
  auto launch = [&](auto v) {
    using T = decltype(v);
    T value;
    std::memcpy(&value, &bits, sizeof(T));
    fill_kernel<T><<<grid_for(n), kBlock, 0, stream>>>(static_cast<T*>(dst), n, value);
    return Status::OK();
  };
  switch (esize) {
    case 1: return launch(uint8_t{});
    case 2: return launch(uint16_t{});
    case 4: return launch(uint32_t{});
    case 8: return launch(uint64_t{});
    default: return unsupported("fill of element size " + std::to_string(esize));
  }
}

void register_index_gather_kernels(KernelRegistry& r) {
  r.add({"Gather", create_gather, 0});
  r.add({"GatherElements", create_gather_elements, 0});
  r.add({"GatherND", create_gather_nd, 0});
}

void register_index_kernels(KernelRegistry& r) {
  register_index_gather_kernels(r);
  register_index_scatter_kernels(r);
  register_index_generate_kernels(r);
  register_image_resize_kernels(r);
  register_image_grid_sample_kernels(r);
}

}  // namespace slimrt::cuda
