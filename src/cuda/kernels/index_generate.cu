// CUDA kernels: index family, generators (Range, ConstantOfShape, EyeLike, OneHot). Scalars that
// shape the output (Range's start/limit/delta, ConstantOfShape's shape, OneHot's depth) are read
// on the host at prepare time; NonZero and Compress have data-dependent shapes and are left to
// the context to report as unsupported.
#include "cuda/kernels/index_common.cuh"

namespace slimrt::cuda {

namespace {

template <typename T> __device__ __forceinline__ double to_double(T v) {
  if constexpr (std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>) return static_cast<double>(to_f32(v));
  else return static_cast<double>(v);
}

// ---- Range ------------------------------------------------------------------------------------
// Floats: start + i * delta in double, rounded once (as the CPU reference); integers exact.
template <typename T>
__global__ void range_kernel(T* __restrict__ dst, int64_t n, double fs, double fd, int64_t is, int64_t id) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    if constexpr (std::is_integral_v<T>) {
      dst[i] = static_cast<T>(is + i * id);
    } else if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      dst[i] = static_cast<T>(fs + static_cast<double>(i) * fd);
    } else {
      dst[i] = from_f32<T>(static_cast<float>(fs + static_cast<double>(i) * fd));
    }
  }
}

class RangeKernel final : public Kernel {
 public:
  DataType dtype_ = DataType::kFloat32;
  int64_t n_ = 0, is_ = 0, id_ = 0;
  double fs_ = 0, fd_ = 0;

  Status enqueue(const LaunchArgs& args) const override {
    if (n_ == 0) return Status::OK();
    auto launch = [&](auto tag) {
      using T = typename decltype(tag)::type;
      range_kernel<T><<<grid_for(n_), kBlock, 0, args.stream>>>(args.out<T>(0), n_, fs_, fd_, is_, id_);
    };
    if (dtype_is_float(dtype_)) return dispatch_float(dtype_, launch);
    return dispatch_int(dtype_, launch);
  }
};

Result<std::unique_ptr<Kernel>> create_range(const PrepareArgs& a) {
  const TensorInfo& out = a.output(0);
  if (!dtype_is_float(out.dtype) && !dtype_is_integer(out.dtype)) return a.unsupported("Range output dtype");
  for (size_t i = 0; i < 3; ++i) {
    if (!a.input(i).host || a.input(i).host->numel() < 1) return a.invalid("Range needs scalar host inputs");
  }
  auto k = std::make_unique<RangeKernel>();
  k->dtype_ = out.dtype;
  k->n_ = out.numel();
  k->fs_ = a.input(0).host->get_as_double(0);
  k->fd_ = a.input(2).host->get_as_double(0);
  if (!dtype_is_float(out.dtype)) {
    k->is_ = a.input(0).host->get_as_int64(0);
    k->id_ = a.input(2).host->get_as_int64(0);
  }
  return std::unique_ptr<Kernel>(std::move(k));
}

// ---- ConstantOfShape / EyeLike ----------------------------------------------------------------
class FillKernel final : public Kernel {
 public:
  int64_t n_ = 0;
  size_t esize_ = 0;
  uint64_t bits_ = 0;

  Status enqueue(const LaunchArgs& args) const override {
    return fill_bits(args.output(0), n_, esize_, bits_, args.stream);
  }
};

Result<std::unique_ptr<Kernel>> create_constant_of_shape(const PrepareArgs& a) {
  const TensorInfo& out = a.output(0);
  auto k = std::make_unique<FillKernel>();
  k->n_ = out.numel();
  k->esize_ = dtype_size(out.dtype);
  if (k->esize_ == 0 || k->esize_ > 8) return a.unsupported("output dtype");
  if (const Tensor* v = a.node.attr_tensor("value")) {
    if (v->dtype() != out.dtype || v->numel() != 1) return a.invalid("value attribute must be one element of the output dtype");
    std::memcpy(&k->bits_, v->raw(), k->esize_);
  }
  return std::unique_ptr<Kernel>(std::move(k));
}

template <typename T> __global__ void eye_kernel(T* __restrict__ dst, int64_t rows, int64_t cols, int64_t k, T one) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < rows; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t j = i + k;
    if (j >= 0 && j < cols) dst[i * cols + j] = one;
  }
}

class EyeLikeKernel final : public Kernel {
 public:
  int64_t rows_ = 0, cols_ = 0, k_ = 0;
  size_t esize_ = 0;
  uint64_t one_ = 0;

  Status enqueue(const LaunchArgs& args) const override {
    if (rows_ * cols_ == 0) return Status::OK();
    SLIMRT_CUDA_RETURN_IF_ERROR(
        cudaMemsetAsync(args.output(0), 0, static_cast<size_t>(rows_ * cols_) * esize_, args.stream));
    auto launch = [&](auto v) {
      using T = decltype(v);
      T one;
      std::memcpy(&one, &one_, sizeof(T));
      eye_kernel<T><<<grid_for(rows_), kBlock, 0, args.stream>>>(static_cast<T*>(args.output(0)), rows_, cols_, k_, one);
      return Status::OK();
    };
    switch (esize_) {
      case 1: return launch(uint8_t{});
      case 2: return launch(uint16_t{});
      case 4: return launch(uint32_t{});
      default: return launch(uint64_t{});
    }
  }
};

Result<std::unique_ptr<Kernel>> create_eye_like(const PrepareArgs& a) {
  const TensorInfo& out = a.output(0);
  if (out.rank() != 2) return a.invalid("EyeLike needs a 2-D output");
  auto k = std::make_unique<EyeLikeKernel>();
  k->rows_ = out.dims[0];
  k->cols_ = out.dims[1];
  k->k_ = a.node.attr_int("k", 0);
  k->esize_ = dtype_size(out.dtype);
  if (k->esize_ == 0 || k->esize_ > 8) return a.unsupported("output dtype");
  k->one_ = bits_of_value(out.dtype, 1.0);
  return std::unique_ptr<Kernel>(std::move(k));
}

// ---- OneHot -------------------------------------------------------------------------------------
// Output element (o, d, i) is `on` when indices[o, i] (truncated toward zero, wrapped once)
// equals d, `off` otherwise; values = [off, on] is read on the device.
template <typename T, typename I>
__global__ void one_hot_kernel(T* __restrict__ dst, const I* __restrict__ ind, const T* __restrict__ values, int64_t total,
                               int64_t depth, int64_t inner) {
  const T off = values[0], on = values[1];
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < total; e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t i = e % inner, r = e / inner;
    const int64_t d = r % depth, o = r / depth;
    const double raw = to_double(ind[o * inner + i]);
    // The range check happens in double so that huge values never convert out of range.
    bool hit = false;
    if (raw > -static_cast<double>(depth) - 1 && raw < static_cast<double>(depth)) {
      int64_t v = static_cast<int64_t>(raw);
      if (v >= -depth && v < depth) {
        if (v < 0) v += depth;
        hit = v == d;
      }
    }
    dst[e] = hit ? on : off;
  }
}

class OneHotKernel final : public Kernel {
 public:
  DataType out_type_ = DataType::kFloat32, index_type_ = DataType::kInt64;
  int64_t total_ = 0, depth_ = 0, inner_ = 0;

  Status enqueue(const LaunchArgs& args) const override {
    if (total_ == 0) return Status::OK();
    return dispatch_bytes(out_type_, [&](auto ttag) {
      using T = typename decltype(ttag)::type;
      (void)dispatch_all(index_type_, [&](auto itag) {
        using I = typename decltype(itag)::type;
        one_hot_kernel<T, I><<<grid_for(total_), kBlock, 0, args.stream>>>(args.out<T>(0), args.in<I>(0), args.in<T>(2),
                                                                          total_, depth_, inner_);
      });
    });
  }
};

Result<std::unique_ptr<Kernel>> create_one_hot(const PrepareArgs& a) {
  const TensorInfo& ind = a.input(0);
  const TensorInfo& out = a.output(0);
  if (a.input(2).dtype != out.dtype || a.input(2).numel() != 2) return a.invalid("values must be [off, on] of the output dtype");
  if (!dtype_is_float(ind.dtype) && !dtype_is_integer(ind.dtype)) return a.unsupported("indices dtype");
  const int64_t axis = axis_attr(a.node, "axis", -1, out.rank());
  if (axis < 0) return a.invalid("axis out of range");
  auto k = std::make_unique<OneHotKernel>();
  k->out_type_ = out.dtype;
  k->index_type_ = ind.dtype;
  k->depth_ = out.dims[static_cast<size_t>(axis)];
  k->inner_ = product(ind.dims, static_cast<size_t>(axis), ind.dims.size());
  k->total_ = out.numel();
  if (k->depth_ == 0 || k->inner_ == 0) k->total_ = 0;
  return std::unique_ptr<Kernel>(std::move(k));
}

}  // namespace

void register_index_generate_kernels(KernelRegistry& r) {
  r.add({"Range", create_range, 0b111});
  r.add({"ConstantOfShape", create_constant_of_shape, 0b1});
  r.add({"EyeLike", create_eye_like, 0});
  r.add({"OneHot", create_one_hot, 0b10});
}

}  // namespace slimrt::cuda
