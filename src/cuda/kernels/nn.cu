// CUDA kernels: nn family (see src/cuda/kernel.h). Convolutions live in nn_conv.cu, pools in
// nn_pool.cu; this file has BatchNormalization (inference) and LRN, and registers the family.
#include "cuda/kernels/nn_common.cuh"

namespace slimrt::cuda {

void register_nn_conv_kernels(KernelRegistry& r);
void register_nn_pool_kernels(KernelRegistry& r);

namespace {

using namespace nn_detail;

// ---- BatchNormalization (inference) --------------------------------------------------------------

// The statistics may have their own float types (ONNX T1 for scale/B, T2 for mean/var).
enum class StatType : int { kF32, kF16, kBF16, kF64 };

bool stat_type(DataType t, StatType* s) {
  switch (t) {
    case DataType::kFloat32: *s = StatType::kF32; return true;
    case DataType::kFloat16: *s = StatType::kF16; return true;
    case DataType::kBFloat16: *s = StatType::kBF16; return true;
    case DataType::kFloat64: *s = StatType::kF64; return true;
    default: return false;
  }
}

template <typename C>
__device__ __forceinline__ C load_stat(const void* p, StatType t, int64_t i) {
  switch (t) {
    case StatType::kF32: return static_cast<C>(static_cast<const float*>(p)[i]);
    case StatType::kF16: return static_cast<C>(__half2float(static_cast<const __half*>(p)[i]));
    case StatType::kBF16: return static_cast<C>(__bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]));
    case StatType::kF64: return static_cast<C>(static_cast<const double*>(p)[i]);
  }
  return C(0);
}

struct BatchNormParams {
  int64_t n = 0, inner = 1, channels = 1;
  double eps = 1e-5;
  StatType scale_t = StatType::kF32, bias_t = StatType::kF32, mean_t = StatType::kF32, var_t = StatType::kF32;
};

// One block row per (batch, channel) plane would idle on small planes ([N, C] inputs); one
// thread per element recomputes the channel's scale/shift from L1-resident statistics instead.
template <typename T>
__global__ void batch_norm_kernel(const T* __restrict__ x, const void* scale, const void* bias, const void* mean,
                                  const void* var, T* __restrict__ y, BatchNormParams p) {
  using C = compute_t<T>;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < p.n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t c = (i / p.inner) % p.channels;
    const C a = load_stat<C>(scale, p.scale_t, c) / sqrt(load_stat<C>(var, p.var_t, c) + static_cast<C>(p.eps));
    const C b = load_stat<C>(bias, p.bias_t, c) - load_stat<C>(mean, p.mean_t, c) * a;
    store_c(y, i, load_c(x, i) * a + b);
  }
}

class BatchNormKernel final : public Kernel {
 public:
  Status enqueue(const LaunchArgs& a) const override {
    if (p_.n == 0) return Status::OK();
    return dispatch_float(dtype_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      batch_norm_kernel<T><<<grid_for(p_.n), kBlock, 0, a.stream>>>(a.in<T>(0), a.input(1), a.input(2), a.input(3),
                                                                   a.input(4), a.out<T>(0), p_);
    });
  }

  static Result<std::unique_ptr<Kernel>> create(const PrepareArgs& a) {
    auto k = std::make_unique<BatchNormKernel>();
    const TensorInfo& xi = a.input(0);
    k->dtype_ = xi.dtype;
    if (!dtype_is_float(xi.dtype)) return a.unsupported("dtype is not a float type");
    if (a.node.attr_int("training_mode", 0) != 0 || a.outputs.size() > 1)
      return a.unsupported("BatchNormalization in training mode is not supported");
    if (xi.rank() < 2) return a.invalid("X must have rank >= 2");
    BatchNormParams& p = k->p_;
    p.channels = xi.dims[1];
    p.n = xi.numel();
    p.inner = 1;
    for (size_t d = 2; d < xi.dims.size(); ++d) p.inner *= xi.dims[d];
    p.eps = a.node.attr_float("epsilon", 1e-5f);
    StatType* types[] = {&p.scale_t, &p.bias_t, &p.mean_t, &p.var_t};
    for (size_t i = 1; i < 5; ++i) {
      const TensorInfo& t = a.input(i);
      if (!stat_type(t.dtype, types[i - 1]) || t.numel() != p.channels)
        return a.invalid("scale, B, mean and var must be float vectors of the channel count");
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

 private:
  DataType dtype_ = DataType::kFloat32;
  BatchNormParams p_;
};

// ---- LRN -------------------------------------------------------------------------------------------

struct LrnParams {
  int64_t n = 0, inner = 1, channels = 1;
  int64_t before = 0, after = 0;
  float alpha_over_size = 0, beta = 0.75f, bias = 1;
};

// Each thread sums the squares of its channel window (LRN's size is small, typically 5).
template <typename T>
__global__ void lrn_kernel(const T* __restrict__ x, T* __restrict__ y, LrnParams p) {
  using C = compute_t<T>;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < p.n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t plane_stride = p.inner;
    const int64_t c = (i / p.inner) % p.channels;
    const int64_t lo = c - p.before < 0 ? 0 : c - p.before;
    const int64_t hi = c + p.after > p.channels - 1 ? p.channels - 1 : c + p.after;
    const int64_t base = i - c * plane_stride;
    C sq = 0;
    for (int64_t k = lo; k <= hi; ++k) {
      const C v = load_c(x, base + k * plane_stride);
      sq += v * v;
    }
    store_c(y, i, load_c(x, i) / pow(C(p.bias) + C(p.alpha_over_size) * sq, C(p.beta)));
  }
}

class LrnKernel final : public Kernel {
 public:
  Status enqueue(const LaunchArgs& a) const override {
    if (p_.n == 0) return Status::OK();
    return dispatch_float(dtype_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      lrn_kernel<T><<<grid_for(p_.n), kBlock, 0, a.stream>>>(a.in<T>(0), a.out<T>(0), p_);
    });
  }

  static Result<std::unique_ptr<Kernel>> create(const PrepareArgs& a) {
    auto k = std::make_unique<LrnKernel>();
    const TensorInfo& xi = a.input(0);
    k->dtype_ = xi.dtype;
    if (!dtype_is_float(xi.dtype)) return a.unsupported("dtype is not a float type");
    if (xi.rank() < 2) return a.invalid("X must have rank >= 2");
    const int64_t size = a.node.attr_int("size", 1);
    if (size <= 0) return a.invalid("size must be positive");
    LrnParams& p = k->p_;
    p.n = xi.numel();
    p.channels = xi.dims[1];
    for (size_t d = 2; d < xi.dims.size(); ++d) p.inner *= xi.dims[d];
    p.before = (size - 1) / 2;
    p.after = size - 1 - p.before;
    p.alpha_over_size = a.node.attr_float("alpha", 1e-4f) / static_cast<float>(size);
    p.beta = a.node.attr_float("beta", 0.75f);
    p.bias = a.node.attr_float("bias", 1.0f);
    return std::unique_ptr<Kernel>(std::move(k));
  }

 private:
  DataType dtype_ = DataType::kFloat32;
  LrnParams p_;
};

}  // namespace

void register_nn_kernels(KernelRegistry& r) {
  register_nn_conv_kernels(r);
  register_nn_pool_kernels(r);
  r.add({"BatchNormalization", &BatchNormKernel::create, 0});
  r.add({"LRN", &LrnKernel::create, 0});
}

}  // namespace slimrt::cuda
