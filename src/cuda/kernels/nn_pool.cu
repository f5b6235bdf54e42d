// CUDA kernels: AveragePool, MaxPool (with Indices), LpPool, the global pools and MaxUnpool.
//
// Windowed pools run one thread per output element over up to three spatial axes (1-D and 2-D
// problems get leading axes of size 1); the taps, the count_include_pad divisor and the Indices
// layout follow src/cpu/kernels/nn_pool.cpp. Global pools reduce one plane per warp (small
// planes, e.g. ResNet's 7x7) or per block (large ones) with shuffles. Channels-last 2-D max and
// average pools of float types take a vectorized path (pool2d_nhwc_kernel) when C allows it.
#include <limits>

#include "cuda/kernels/nn_common.cuh"
#include "ir/layout.h"

namespace slimrt::cuda {

namespace {

using namespace nn_detail;
using nn::WindowAxis;

enum class PoolKind { kAverage, kMax, kLp };

constexpr int kPoolAxes = 3;

struct PoolParams {
  int64_t in[kPoolAxes], out[kPoolAxes], kernel[kPoolAxes], stride[kPoolAxes], dilation[kPoolAxes];
  int64_t pad_begin[kPoolAxes], pad_end[kPoolAxes];
  int64_t in_mul[kPoolAxes];   // row-major multipliers of the input plane
  int64_t idx_mul[kPoolAxes];  // multipliers of the Indices output (row- or column-major)
  int64_t in_size = 1, out_size = 1, n = 0;
  // 0: NCHW planes. > 0: channels-last (ir/layout.h) with this many channels; the channel is
  // the fastest axis of X and Y.
  int64_t channels_last = 0;
  bool count_include_pad = false;
  float p = 2;
};

// The accumulator of a sum pool, and the type a max pool compares in.
template <typename T> using acc_t = compute_t<T>;

template <typename T, PoolKind K>
__global__ void pool_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t* __restrict__ indices, PoolParams p,
                            acc_t<T> lowest) {
  using A = acc_t<T>;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < p.n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t plane, rem;
    const T* xp;
    int64_t step = 1;  // elements between two neighbouring taps of the innermost axis
    if (p.channels_last > 0) {
      const int64_t c = i % p.channels_last;
      const int64_t pix = i / p.channels_last;
      const int64_t img = pix / p.out_size;
      rem = pix - img * p.out_size;
      plane = img * p.channels_last + c;
      xp = x + img * p.in_size * p.channels_last + c;
      step = p.channels_last;
    } else {
      plane = i / p.out_size;
      rem = i - plane * p.out_size;
      xp = x + plane * p.in_size;
    }
    int64_t lo[kPoolAxes], padded = 1;
    int64_t o[kPoolAxes];
    for (int d = kPoolAxes - 1; d >= 0; --d) {
      o[d] = rem % p.out[d];
      rem /= p.out[d];
    }
    for (int d = 0; d < kPoolAxes; ++d) {
      lo[d] = o[d] * p.stride[d] - p.pad_begin[d];
      int64_t cnt = 0;
      for (int64_t k = 0; k < p.kernel[d]; ++k) {
        const int64_t at = lo[d] + k * p.dilation[d];
        cnt += at >= -p.pad_begin[d] && at < p.in[d] + p.pad_end[d];
      }
      padded *= cnt;
    }
    A acc = K == PoolKind::kMax ? lowest : A(0);
    int64_t best = 0, count = 0;
    bool have = false;
    for (int64_t k0 = 0; k0 < p.kernel[0]; ++k0) {
      const int64_t i0 = lo[0] + k0 * p.dilation[0];
      if (i0 < 0 || i0 >= p.in[0]) continue;
      for (int64_t k1 = 0; k1 < p.kernel[1]; ++k1) {
        const int64_t i1 = lo[1] + k1 * p.dilation[1];
        if (i1 < 0 || i1 >= p.in[1]) continue;
        for (int64_t k2 = 0; k2 < p.kernel[2]; ++k2) {
          const int64_t i2 = lo[2] + k2 * p.dilation[2];
          if (i2 < 0 || i2 >= p.in[2]) continue;
          const A v = load_c(xp, (i0 * p.in_mul[0] + i1 * p.in_mul[1] + i2) * step);
          if constexpr (K == PoolKind::kMax) {
            if (!have || v > acc) {
              acc = v;
              best = i0 * p.idx_mul[0] + i1 * p.idx_mul[1] + i2 * p.idx_mul[2];
              have = true;
            }
          } else if constexpr (K == PoolKind::kLp) {
            acc += pow(fabs(v), A(p.p));
          } else {
            acc += v;
          }
          ++count;
        }
      }
    }
    if constexpr (K == PoolKind::kMax) {
      y[i] = static_cast<T>(acc);
      if (indices) indices[i] = plane * p.in_size + best;
    } else if constexpr (K == PoolKind::kLp) {
      store_c(y, i, pow(acc, A(1) / A(p.p)));
    } else {
      const int64_t div = p.count_include_pad ? padded : count;
      store_c(y, i, div > 0 ? acc / static_cast<A>(div) : A(0));
    }
  }
}

// Channels-last 2-D max/average pools, the common case (ResNet's stem pool): one thread per
// output pixel and V consecutive channels (16 bytes), 32-bit index arithmetic. Used when C is a
// multiple of V, both tensors are 16-byte aligned and every index fits in 32 bits.
struct Pool2dNhwc {
  int32_t ih, iw, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw, ph_end, pw_end;
  int32_t c, cv, total;  // channels, channel vectors per pixel, threads' work items
  bool count_include_pad;
};

template <typename T, PoolKind K, int V>
__global__ void pool2d_nhwc_kernel(const T* __restrict__ x, T* __restrict__ y, Pool2dNhwc p, acc_t<T> lowest) {
  using A = acc_t<T>;
  for (int32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < p.total; i += gridDim.x * blockDim.x) {
    const int32_t cv = i % p.cv;
    int32_t pix = i / p.cv;
    const int32_t ow = pix % p.ow;
    pix /= p.ow;
    const int32_t oh = pix % p.oh;
    const int32_t img = pix / p.oh;
    const int32_t h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
    A acc[V];
#pragma unroll
    for (int e = 0; e < V; ++e) acc[e] = K == PoolKind::kMax ? lowest : A(0);
    int32_t count = 0, rows = 0, cols = 0;  // taps read; window rows and columns inside the padding
    for (int32_t kh = 0; kh < p.kh; ++kh) {
      const int32_t h = h0 + kh * p.dh;
      rows += h >= -p.ph && h < p.ih + p.ph_end;
      if (h < 0 || h >= p.ih) continue;
      for (int32_t kw = 0; kw < p.kw; ++kw) {
        const int32_t w = w0 + kw * p.dw;
        if (w < 0 || w >= p.iw) continue;
        const Pack<T, V> v =
            reinterpret_cast<const Pack<T, V>*>(x + (static_cast<int64_t>(img * p.ih + h) * p.iw + w) * p.c)[cv];
#pragma unroll
        for (int e = 0; e < V; ++e) {
          const A a = static_cast<A>(to_f32(v.v[e]));
          if constexpr (K == PoolKind::kMax) acc[e] = count == 0 || a > acc[e] ? a : acc[e];  // as pool_kernel
          else acc[e] += a;
        }
        ++count;
      }
    }
    if constexpr (K == PoolKind::kAverage) {
      for (int32_t kw = 0; kw < p.kw; ++kw) {
        const int32_t w = w0 + kw * p.dw;
        cols += w >= -p.pw && w < p.iw + p.pw_end;
      }
      const int32_t div = p.count_include_pad ? rows * cols : count;
#pragma unroll
      for (int e = 0; e < V; ++e) acc[e] = div > 0 ? acc[e] / static_cast<A>(div) : A(0);
    }
    Pack<T, V> out;
#pragma unroll
    for (int e = 0; e < V; ++e) out.v[e] = from_f32<T>(static_cast<float>(acc[e]));
    reinterpret_cast<Pack<T, V>*>(y + static_cast<int64_t>(i / p.cv) * p.c)[cv] = out;
  }
}

// The most negative value of T, in its comparison type.
template <typename T> acc_t<T> lowest_of() {
  if constexpr (std::is_same_v<T, __half>) return -65504.0f;
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) return -3.38953139e38f;
  else return std::numeric_limits<T>::lowest();
}

template <typename F> Status dispatch_max_pool(DataType t, F&& f) {
  if (dtype_is_float(t)) return dispatch_float(t, f);
  return dispatch_int(t, f);
}

class PoolKernel final : public Kernel {
 public:
  explicit PoolKernel(PoolKind kind) : kind_(kind) {}

  Status enqueue(const LaunchArgs& a) const override {
    if (p_.n == 0) return Status::OK();
    const void* x = a.input(0);
    void* y = a.output(0);
    int64_t* idx = with_indices_ ? a.out<int64_t>(1) : nullptr;
    const unsigned grid = grid_for(p_.n);
    const bool fast = fast2d_ && ((reinterpret_cast<uintptr_t>(x) | reinterpret_cast<uintptr_t>(y)) & 15) == 0;
    auto run = [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* xt = static_cast<const T*>(x);
      T* yt = static_cast<T*>(y);
      if constexpr (std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16> || std::is_same_v<T, float>) {
        constexpr int kV = 16 / static_cast<int>(sizeof(T));
        if (fast) {
          const unsigned g = grid_for(f2d_.total);
          if (kind_ == PoolKind::kAverage)
            pool2d_nhwc_kernel<T, PoolKind::kAverage, kV><<<g, kBlock, 0, a.stream>>>(xt, yt, f2d_, acc_t<T>(0));
          else
            pool2d_nhwc_kernel<T, PoolKind::kMax, kV><<<g, kBlock, 0, a.stream>>>(xt, yt, f2d_, lowest_of<T>());
          return;
        }
      }
      if constexpr (std::is_floating_point_v<acc_t<T>>) {
        if (kind_ == PoolKind::kAverage) {
          pool_kernel<T, PoolKind::kAverage><<<grid, kBlock, 0, a.stream>>>(xt, yt, nullptr, p_, acc_t<T>(0));
          return;
        }
        if (kind_ == PoolKind::kLp) {
          pool_kernel<T, PoolKind::kLp><<<grid, kBlock, 0, a.stream>>>(xt, yt, nullptr, p_, acc_t<T>(0));
          return;
        }
      }
      pool_kernel<T, PoolKind::kMax><<<grid, kBlock, 0, a.stream>>>(xt, yt, idx, p_, lowest_of<T>());
    };
    return kind_ == PoolKind::kMax ? dispatch_max_pool(dtype_, run) : dispatch_float(dtype_, run);
  }

  static Result<std::unique_ptr<Kernel>> create_average(const PrepareArgs& a) { return create(a, PoolKind::kAverage); }
  static Result<std::unique_ptr<Kernel>> create_max(const PrepareArgs& a) { return create(a, PoolKind::kMax); }
  static Result<std::unique_ptr<Kernel>> create_lp(const PrepareArgs& a) { return create(a, PoolKind::kLp); }

 private:
  static Result<std::unique_ptr<Kernel>> create(const PrepareArgs& a, PoolKind kind) {
    auto k = std::make_unique<PoolKernel>(kind);
    SLIMRT_RETURN_IF_ERROR(k->init(a));
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status init(const PrepareArgs& a) {
    const Node& node = a.node;
    // Channels-last (ir/layout.h): NHWC X and Y; the geometry works on their NCHW dims.
    const bool nhwc = is_channels_last(node);
    TensorInfo xi = a.input(0);
    TensorInfo yi = a.output(0);
    if (nhwc) {
      if (xi.rank() != 4 || yi.rank() != 4) return a.unsupported("channels_last pools are 2-D");
      if (a.outputs.size() > 1 && a.output(1).present()) return a.unsupported("channels_last pools have no Indices");
      xi.dims = nhwc_to_nchw(xi.dims);
      yi.dims = nhwc_to_nchw(yi.dims);
      p_.channels_last = xi.dims[1];
    }
    dtype_ = xi.dtype;
    const bool ok_dtype = kind_ == PoolKind::kMax
                              ? (dtype_is_float(dtype_) || dtype_ == DataType::kInt8 || dtype_ == DataType::kUInt8 ||
                                 dtype_ == DataType::kInt32 || dtype_ == DataType::kInt64)
                              : dtype_is_float(dtype_);
    if (!ok_dtype) return a.unsupported("dtype is not supported by this pool");
    if (xi.rank() < 3 || xi.rank() > 2 + kPoolAxes) return a.unsupported("only 1-D, 2-D and 3-D pools are supported");
    const size_t n = static_cast<size_t>(xi.rank() - 2);
    if (!node.has_attr("kernel_shape")) return a.invalid("kernel_shape attribute is required");
    WindowAttrs wa;
    std::string why;
    if (!read_window(node, n, node.attr_ints("kernel_shape"), &wa, &why)) return a.invalid(why);
    const bool ceil_mode = node.attr_int("ceil_mode", 0) != 0;
    const bool column_major = node.attr_int("storage_order", 0) != 0;
    p_.count_include_pad = node.attr_int("count_include_pad", 0) != 0;
    p_.p = static_cast<float>(node.attr_int("p", 2));
    with_indices_ = a.outputs.size() > 1 && a.output(1).present();
    // Axes padded on the left with trivial ones (in = out = kernel = 1).
    const size_t lead = kPoolAxes - n;
    std::vector<WindowAxis> ax(kPoolAxes);
    for (size_t d = 0; d < kPoolAxes; ++d) {
      WindowAxis& w = ax[d];
      w.in = w.out = 1;
      if (d < lead) continue;
      const size_t i = d - lead;
      w.in = xi.dims[i + 2];
      w.kernel = wa.kernel[i];
      w.stride = wa.strides[i];
      w.dilation = wa.dilations[i];
      if (!nn::resolve_window_axis(w, wa.mode, wa.pads[i], wa.pads[i + n], ceil_mode) || w.out != yi.dims[i + 2])
        return a.invalid("pool geometry disagrees with the inferred output shape");
    }
    int64_t mul = 1;
    for (size_t d = kPoolAxes; d-- > 0;) {
      p_.in_mul[d] = mul;
      mul *= ax[d].in;
    }
    int64_t cmul = 1;
    for (size_t d = 0; d < kPoolAxes; ++d) {
      p_.idx_mul[d] = column_major ? (d < lead ? 0 : cmul) : p_.in_mul[d];
      if (d >= lead) cmul *= ax[d].in;
    }
    for (size_t d = 0; d < kPoolAxes; ++d) {
      p_.in[d] = ax[d].in;
      p_.out[d] = ax[d].out;
      p_.kernel[d] = ax[d].kernel;
      p_.stride[d] = ax[d].stride;
      p_.dilation[d] = ax[d].dilation;
      p_.pad_begin[d] = ax[d].pad_begin;
      p_.pad_end[d] = ax[d].pad_end;
      p_.in_size *= ax[d].in;
      p_.out_size *= ax[d].out;
    }
    p_.n = yi.numel();
    if (p_.out_size == 0) p_.n = 0;
    // The channels-last 2-D fast path (max and average of float types).
    const int64_t vec = dtype_is_float(dtype_) && dtype_ != DataType::kFloat64 ? 16 / static_cast<int64_t>(dtype_size(dtype_)) : 0;
    if (nhwc && n == 2 && kind_ != PoolKind::kLp && vec > 0 && p_.channels_last % vec == 0 &&
        xi.numel() < (int64_t{1} << 31) && p_.n < (int64_t{1} << 31) && p_.n > 0) {
      fast2d_ = true;
      const WindowAxis& h = ax[1];
      const WindowAxis& w = ax[2];
      auto i32 = [](int64_t v) { return static_cast<int32_t>(v); };
      f2d_ = {i32(h.in), i32(w.in), i32(h.out), i32(w.out), i32(h.kernel), i32(w.kernel), i32(h.stride), i32(w.stride),
              i32(h.dilation), i32(w.dilation), i32(h.pad_begin), i32(w.pad_begin), i32(h.pad_end), i32(w.pad_end),
              i32(p_.channels_last), i32(p_.channels_last / vec), i32(p_.n / vec), p_.count_include_pad};
    }
    return Status::OK();
  }

  PoolKind kind_;
  bool fast2d_ = false;
  Pool2dNhwc f2d_{};
  DataType dtype_ = DataType::kFloat32;
  PoolParams p_;
  bool with_indices_ = false;
};

// ---- global pools -------------------------------------------------------------------------------

template <typename A> __device__ __forceinline__ A combine(A a, A b, PoolKind k) {
  return k == PoolKind::kMax ? (b > a ? b : a) : a + b;
}

template <typename A> __device__ __forceinline__ A warp_reduce(A v, PoolKind k) {
  return warp_allreduce(v, [k](A a, A b) { return combine<A>(a, b, k); });
}

// `Tpp` threads reduce one plane of `size` elements; kBlock / Tpp planes per block.
template <typename T, PoolKind K, int Tpp>
__global__ void global_pool_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t planes, int64_t size, float p,
                                   acc_t<T> lowest) {
  using A = acc_t<T>;
  constexpr int kPlanesPerBlock = kBlock / Tpp;
  const int lane = threadIdx.x % Tpp;
  const int64_t plane = blockIdx.x * static_cast<int64_t>(kPlanesPerBlock) + threadIdx.x / Tpp;
  A acc = K == PoolKind::kMax ? lowest : A(0);
  if (plane < planes) {
    const T* xp = x + plane * size;
    for (int64_t i = lane; i < size; i += Tpp) {
      const A v = load_c(xp, i);
      if constexpr (K == PoolKind::kMax) acc = v > acc ? v : acc;
      else if constexpr (K == PoolKind::kLp) acc += pow(fabs(v), A(p));
      else acc += v;
    }
  }
  acc = warp_reduce(acc, K);
  if constexpr (Tpp > 32) {
    __shared__ A partial[kBlock / 32];
    const int warp = threadIdx.x / 32;
    if (threadIdx.x % 32 == 0) partial[warp] = acc;
    __syncthreads();
    if (warp == 0) {
      acc = threadIdx.x < Tpp / 32 ? partial[threadIdx.x] : (K == PoolKind::kMax ? lowest : A(0));
      acc = warp_reduce(acc, K);
    }
    if (threadIdx.x != 0) return;
  } else {
    if (lane != 0) return;
  }
  if (plane >= planes) return;
  if constexpr (K == PoolKind::kMax) y[plane] = static_cast<T>(acc);
  else if constexpr (K == PoolKind::kLp) store_c(y, plane, pow(acc, A(1) / A(p)));
  else store_c(y, plane, acc / static_cast<A>(size));
}

class GlobalPoolKernel final : public Kernel {
 public:
  explicit GlobalPoolKernel(PoolKind kind) : kind_(kind) {}

  Status enqueue(const LaunchArgs& a) const override {
    if (planes_ == 0) return Status::OK();
    auto run = [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* x = a.in<T>(0);
      T* y = a.out<T>(0);
      if constexpr (std::is_floating_point_v<acc_t<T>>) {
        if (kind_ == PoolKind::kAverage) return launch<T, PoolKind::kAverage>(x, y, a.stream);
        if (kind_ == PoolKind::kLp) return launch<T, PoolKind::kLp>(x, y, a.stream);
      }
      launch<T, PoolKind::kMax>(x, y, a.stream);
    };
    return kind_ == PoolKind::kMax ? dispatch_max_pool(dtype_, run) : dispatch_float(dtype_, run);
  }

  static Result<std::unique_ptr<Kernel>> create_average(const PrepareArgs& a) { return create(a, PoolKind::kAverage); }
  static Result<std::unique_ptr<Kernel>> create_max(const PrepareArgs& a) { return create(a, PoolKind::kMax); }
  static Result<std::unique_ptr<Kernel>> create_lp(const PrepareArgs& a) { return create(a, PoolKind::kLp); }

 private:
  template <typename T, PoolKind K> void launch(const T* x, T* y, cudaStream_t s) const {
    if (size_ <= 1024) {
      const unsigned grid = static_cast<unsigned>((planes_ + kBlock / 32 - 1) / (kBlock / 32));
      global_pool_kernel<T, K, 32><<<grid, kBlock, 0, s>>>(x, y, planes_, size_, p_, lowest_of<T>());
    } else {
      global_pool_kernel<T, K, kBlock><<<static_cast<unsigned>(planes_), kBlock, 0, s>>>(x, y, planes_, size_, p_,
                                                                                      lowest_of<T>());
    }
  }

  static Result<std::unique_ptr<Kernel>> create(const PrepareArgs& a, PoolKind kind) {
    auto k = std::make_unique<GlobalPoolKernel>(kind);
    const TensorInfo& xi = a.input(0);
    k->dtype_ = xi.dtype;
    const bool ok_dtype = kind == PoolKind::kMax
                              ? (dtype_is_float(xi.dtype) || xi.dtype == DataType::kInt8 || xi.dtype == DataType::kUInt8 ||
                                 xi.dtype == DataType::kInt32 || xi.dtype == DataType::kInt64)
                              : dtype_is_float(xi.dtype);
    if (!ok_dtype) return a.unsupported("dtype is not supported by this pool");
    if (xi.rank() < 2) return a.invalid("X must have rank >= 2");
    k->planes_ = xi.dims[0] * xi.dims[1];
    k->size_ = k->planes_ == 0 ? 0 : xi.numel() / k->planes_;
    k->p_ = static_cast<float>(a.node.attr_int("p", 2));
    if (k->planes_ > 0 && k->size_ == 0) return a.unsupported("global pool over empty spatial dims");
    if (k->size_ > 1024 && k->planes_ > INT32_MAX) return a.unsupported("too many planes");
    return std::unique_ptr<Kernel>(std::move(k));
  }

  PoolKind kind_;
  DataType dtype_ = DataType::kFloat32;
  int64_t planes_ = 0, size_ = 0;
  float p_ = 2;
};

// ---- MaxUnpool ------------------------------------------------------------------------------------

struct UnpoolParams {
  int64_t n = 0;       // elements of X (and I)
  int64_t limit = 0;   // indices must lie in [0, limit)
  bool remap = false;  // indices address `def`, a smaller shape than Y
  Dims def, out;
};

template <typename T>
__global__ void max_unpool_kernel(const T* __restrict__ x, const int64_t* __restrict__ idx, T* __restrict__ y,
                                  UnpoolParams p) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < p.n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t at = idx[i];
    // Out-of-range indices are dropped (the CPU reference reports them; a kernel cannot).
    if (at < 0 || at >= p.limit) continue;
    if (p.remap) {
      int64_t rem = at, mul = 1;
      at = 0;
      for (int d = p.def.rank - 1; d >= 0; --d) {
        const int64_t c = rem % p.def.d[d];
        rem /= p.def.d[d];
        at += c * mul;
        mul *= p.out.d[d];
      }
    }
    y[at] = x[i];
  }
}

class MaxUnpoolKernel final : public Kernel {
 public:
  Status enqueue(const LaunchArgs& a) const override {
    if (y_bytes_ == 0) return Status::OK();
    SLIMRT_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(a.output(0), 0, y_bytes_, a.stream));
    if (p_.n == 0) return Status::OK();
    return dispatch_bytes(dtype_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      max_unpool_kernel<T><<<grid_for(p_.n), kBlock, 0, a.stream>>>(a.in<T>(0), a.in<int64_t>(1), a.out<T>(0), p_);
    });
  }

  static Result<std::unique_ptr<Kernel>> create(const PrepareArgs& a) {
    auto k = std::make_unique<MaxUnpoolKernel>();
    const TensorInfo& xi = a.input(0);
    const TensorInfo& yi = a.output(0);
    k->dtype_ = xi.dtype;
    if (!dtype_is_float(xi.dtype)) return a.unsupported("dtype is not a float type");
    if (a.input(1).dtype != DataType::kInt64 || a.input(1).numel() != xi.numel()) return a.invalid("I must be int64 with X's size");
    if (xi.rank() < 3 || yi.rank() != xi.rank()) return a.invalid("X must have rank >= 3");
    const size_t rank = static_cast<size_t>(xi.rank()), n = rank - 2;
    const auto kernel = a.node.attr_ints("kernel_shape");
    const auto strides = a.node.attr_ints("strides", std::vector<int64_t>(n, 1));
    const auto pads = a.node.attr_ints("pads", std::vector<int64_t>(2 * n, 0));
    std::vector<int64_t> def = {xi.dims[0], xi.dims[1]};
    for (size_t i = 0; i < n; ++i) {
      def.push_back(kernel.size() == n && strides.size() == n && pads.size() == 2 * n
                        ? (xi.dims[i + 2] - 1) * strides[i] - pads[i] - pads[i + n] + kernel[i]
                        : yi.dims[i + 2]);
    }
    k->p_.remap = def != yi.dims;
    for (size_t d = 0; d < rank; ++d) {
      if (k->p_.remap && def[d] > yi.dims[d]) return a.invalid("output_shape is smaller than the unpooled shape");
    }
    k->p_.def.rank = k->p_.out.rank = static_cast<int>(rank);
    int64_t def_total = 1;
    for (size_t d = 0; d < rank; ++d) {
      k->p_.def.d[d] = def[d];
      k->p_.out.d[d] = yi.dims[d];
      def_total *= def[d];
    }
    k->p_.limit = k->p_.remap ? def_total : yi.numel();
    k->p_.n = xi.numel();
    k->y_bytes_ = yi.bytes();
    return std::unique_ptr<Kernel>(std::move(k));
  }

 private:
  DataType dtype_ = DataType::kFloat32;
  UnpoolParams p_;
  uint64_t y_bytes_ = 0;
};

}  // namespace

void register_nn_pool_kernels(KernelRegistry& r) {
  r.add({"AveragePool", &PoolKernel::create_average, 0});
  r.add({"MaxPool", &PoolKernel::create_max, 0});
  r.add({"LpPool", &PoolKernel::create_lp, 0});
  r.add({"GlobalAveragePool", &GlobalPoolKernel::create_average, 0});
  r.add({"GlobalMaxPool", &GlobalPoolKernel::create_max, 0});
  r.add({"GlobalLpPool", &GlobalPoolKernel::create_lp, 0});
  r.add({"MaxUnpool", &MaxUnpoolKernel::create, 0});
}

}  // namespace slimrt::cuda
