// CUDA kernels: Conv, FusedConv and ConvTranspose through cuDNN's convolution API.
//
//   Conv / FusedConv   with a bias: cudnnConvolutionBiasActivationForward (IMPLICIT_PRECOMP_GEMM,
//                      activation Relu or identity), else cudnnConvolutionForward; then, when
//                      needed, one epilogue pass (residual, activation).
//   ConvTranspose      cudnnConvolutionBackwardData (the adjoint of the forward conv whose
//                      filter is W) onto the bias prefilled as prior value (beta = 1).
//
// Accuracy. The CPU reference accumulates in double and rounds the product (bias included) once
// to the storage type, then rounds again after the residual add and after the activation, as
// the separate ops do. Random-weight CNNs amplify every rounding difference ~100x over their
// depth, so the kernels here follow that rounding sequence: the bias is added inside the
// convolution (fused in cuDNN, or as y prefilled with the bias and beta = 1 when cuDNN cannot
// fuse), never after a rounded product; the epilogue rounds half types where the CPU rounds;
// and FFT / Winograd algorithms, which lose precision, are only a last resort.
//
// cuDNN wants 4-D/5-D tensors and symmetric pads. 1-D convolutions run as 2-D ones over an
// extra axis of size 1. Asymmetric pads: Conv copies X into the workspace with the surplus
// padding as zeros; ConvTranspose computes the output with the common padding into the
// workspace and crops it (which also covers the negative pads output_shape can imply).
// Everything is decided in create(); enqueue only launches.
#include <atomic>
#include <climits>

#include "cuda/kernels/nn_common.cuh"
#include "ir/layout.h"

namespace slimrt::cuda {

namespace {

using namespace nn_detail;
using nn::WindowAxis;

// ---- device kernels ---------------------------------------------------------------------------

// dst (dims `dst_dims`) = src (dims `src_dims`) shifted by `begin` on every axis (dst coordinate
// c reads src coordinate c - begin), zeros where that falls outside src; plus bias[channel] when
// given (channel = axis 1) -- only outside src when src already holds it.
struct ShiftParams {
  Dims dst_dims, src_dims;
  int64_t begin[kMaxRank] = {};
  int64_t src_strides[kMaxRank] = {};
  int64_t n = 0;
  int64_t inner = 1;     // product of dst dims after axis 1
  int64_t channels = 1;  // dst dim 1
  bool src_has_bias = false;
};

template <typename T>
__global__ void shift_copy_kernel(const T* __restrict__ src, const T* __restrict__ bias, T* __restrict__ dst,
                                  ShiftParams p) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < p.n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t rem = i, off = 0;
    bool inside = true;
    for (int d = p.dst_dims.rank - 1; d >= 0; --d) {
      const int64_t c = rem % p.dst_dims.d[d] - p.begin[d];
      rem /= p.dst_dims.d[d];
      inside &= c >= 0 && c < p.src_dims.d[d];
      off += c * p.src_strides[d];
    }
    compute_t<T> v = inside ? load_c(src, off) : compute_t<T>(0);
    if (bias && !(inside && p.src_has_bias)) v += load_c(bias, (i / p.inner) % p.channels);
    store_c(dst, i, v);
  }
}

// y = act(y + bias[c] + R) or act(y + bias[c]) + R, in place, rounding half types after each
// step as the CPU reference's separate ops do.
struct EpilogueParams {
  int64_t n = 0;
  int64_t inner = 1;  // spatial size of one output plane
  int64_t channels = 1;
  ActParams act;
  int residual = 0;  // 0 none, 1 same shape as y, 2 broadcast through `rs`
  bool residual_first = false;
  BroadcastStrides rs;
};

template <typename T>
__device__ __forceinline__ compute_t<T> round_as(compute_t<T> v) {
  if constexpr (std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>) return to_f32(from_f32<T>(v));
  return v;
}

template <typename T, typename Idx>
__global__ void epilogue_kernel(T* __restrict__ y, const T* __restrict__ bias, const T* __restrict__ r,
                                EpilogueParams p) {
  using C = compute_t<T>;
  const Idx n = static_cast<Idx>(p.n);
  for (Idx i = blockIdx.x * static_cast<Idx>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<Idx>(gridDim.x) * blockDim.x) {
    C v = load_c(y, i);
    if (bias) v = round_as<T>(v + load_c(bias, (i / static_cast<Idx>(p.inner)) % static_cast<Idx>(p.channels)));
    C res = C(0);
    if (p.residual == 1) res = load_c(r, i);
    else if (p.residual == 2) res = load_c(r, broadcast_offset(p.rs, i));
    if (p.residual != 0 && p.residual_first) v = round_as<T>(v + res);
    v = apply_act<C>(v, p.act);
    if (p.residual != 0 && !p.residual_first) v = round_as<T>(v) + res;
    store_c(y, i, v);
  }
}

// y[i] = bias[channel of i]: the prior value a convolution with beta = 1 adds its product to,
// so that product + bias is rounded once.
template <typename T>
__global__ void fill_bias_kernel(T* __restrict__ y, const T* __restrict__ bias, int64_t n, int64_t inner,
                                 int64_t channels) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    y[i] = bias[(i / inner) % channels];
}

Status launch_fill_bias(DataType t, void* y, const void* bias, int64_t n, int64_t inner, int64_t channels,
                        cudaStream_t s) {
  return dispatch_float(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    fill_bias_kernel<T><<<grid_for(n), kBlock, 0, s>>>(static_cast<T*>(y), static_cast<const T*>(bias), n, inner,
                                                       channels);
  });
}

bool epilogue_needed(const EpilogueParams& p, bool bias) { return bias || p.act.act != Act::kNone || p.residual != 0; }

// FFT and Winograd transform the problem and round in the transformed domain: measurably less
// accurate than the GEMM-style algorithms, so only a last resort.
bool accurate_algo(cudnnConvolutionFwdAlgo_t a) {
  return a != CUDNN_CONVOLUTION_FWD_ALGO_FFT && a != CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING &&
         a != CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD && a != CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED;
}

bool accurate_algo(cudnnConvolutionBwdDataAlgo_t a) {
  return a != CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT && a != CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING &&
         a != CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD && a != CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED;
}

template <typename T>
void launch_epilogue(T* y, const T* bias, const T* r, const EpilogueParams& p, cudaStream_t s) {
  if (p.n <= INT32_MAX) {
    epilogue_kernel<T, int32_t><<<grid_for(p.n), kBlock, 0, s>>>(y, bias, r, p);
  } else {
    epilogue_kernel<T, int64_t><<<grid_for(p.n), kBlock, 0, s>>>(y, bias, r, p);
  }
}

// ---- host geometry ----------------------------------------------------------------------------

bool fits_int(const std::vector<int64_t>& v) {
  for (int64_t d : v) {
    if (d < 0 || d > INT_MAX) return false;
  }
  return true;
}

std::vector<int> to_int(const std::vector<int64_t>& v) { return std::vector<int>(v.begin(), v.end()); }

// cuDNN needs at least two spatial axes: a 1-D problem gets a leading spatial axis of size 1.
std::vector<int64_t> lift_1d(std::vector<int64_t> dims, int64_t fill) {
  if (dims.size() == 3) dims.insert(dims.begin() + 2, fill);
  return dims;
}

// cuDNN's per-axis convolution parameters, gathered axis by axis from the resolved window; a 1-D
// window is lifted to 2-D like its tensors (lift_1d): a leading axis of pad 0, stride 1, dilation 1.
struct CudnnWindow {
  std::vector<int> pads, strides, dilations;
  void add(int64_t pad, const WindowAxis& ax) {
    pads.push_back(static_cast<int>(pad));
    strides.push_back(static_cast<int>(ax.stride));
    dilations.push_back(static_cast<int>(ax.dilation));
  }
  void lift_1d() {
    if (pads.size() != 1) return;
    pads.insert(pads.begin(), 0);
    strides.insert(strides.begin(), 1);
    dilations.insert(dilations.begin(), 1);
  }
};

// Axis i of a window over x (NC + spatial dims), before its output size and pads are resolved.
WindowAxis window_axis(const WindowAttrs& wa, const std::vector<int64_t>& x_dims, size_t i) {
  WindowAxis ax;
  ax.in = x_dims[i + 2];
  ax.kernel = wa.kernel[i];
  ax.stride = wa.strides[i];
  ax.dilation = wa.dilations[i];
  return ax;
}

// Conv and ConvTranspose before their geometry: false when there is nothing to convolve (an empty
// output; or an empty X or W, an empty reduction whose output is the epilogue of 0: *empty_input);
// else true with the window attributes read. xi and wi carry the logical (NCHW) dims: W's spatial
// dims are the kernel.
Result<bool> conv_window(const PrepareArgs& a, const TensorInfo& xi, const TensorInfo& wi, int64_t y_numel,
                         bool* empty_input, WindowAttrs* wa) {
  const size_t n = static_cast<size_t>(xi.rank() - 2);
  if (y_numel == 0) return false;
  if (xi.numel() == 0 || wi.numel() == 0) {
    *empty_input = true;
    return false;
  }
  if (!a.cudnn) return a.unsupported("no cuDNN handle");
  std::string why;
  if (!read_window(a.node, n, std::vector<int64_t>(wi.dims.begin() + 2, wi.dims.end()), wa, &why)) return a.invalid(why);
  return true;
}

Dims make_dims(const std::vector<int64_t>& v) {
  Dims d;
  d.rank = static_cast<int>(v.size());
  for (size_t i = 0; i < v.size(); ++i) d.d[i] = v[i];
  return d;
}

ShiftParams make_shift(const std::vector<int64_t>& dst, const std::vector<int64_t>& src, const std::vector<int64_t>& begin) {
  ShiftParams p;
  p.dst_dims = make_dims(dst);
  p.src_dims = make_dims(src);
  int64_t stride = 1;
  for (size_t d = src.size(); d-- > 0;) {
    p.src_strides[d] = stride;
    stride *= src[d];
    p.begin[d] = begin[d];
  }
  p.n = 1;
  for (int64_t v : dst) p.n *= v;
  p.channels = dst[1];
  p.inner = 1;
  for (size_t d = 2; d < dst.size(); ++d) p.inner *= dst[d];
  return p;
}

// The math mode of a problem in dtype t: fp32 stays on FMA units (the 1e-5 tolerance) unless the
// engine allows TF32; half types use tensor cores with fp32 accumulation.
cudnnMathType_t math_type(DataType t, bool allow_tf32) {
  if (t == DataType::kFloat16 || t == DataType::kBFloat16) return CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
  if (t == DataType::kFloat32) return allow_tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
  return CUDNN_DEFAULT_MATH;
}

// Descriptors shared by the forward and the transposed convolution. `x` is the tensor the
// forward convolution reads and `y` the one it writes, both in cuDNN's (lifted) dims.
struct ConvDescs {
  cudnnDataType_t dtype = CUDNN_DATA_FLOAT;
  TensorDesc x, y, bias;
  FilterDesc w;
  ConvDesc conv;

  // Dims are logical NCHW / [M, C, k...]; with `nhwc` (4-D only) the memory is NHWC and the
  // filter [M, kH, kW, C] (channels-last nodes, ir/layout.h).
  Status init(const PrepareArgs& a, DataType t, const std::vector<int64_t>& x_dims, const std::vector<int64_t>& w_dims,
              const std::vector<int64_t>& y_dims, const std::vector<int>& pads, const std::vector<int>& strides,
              const std::vector<int>& dilations, int64_t group, bool nhwc = false) {
    cudnn_dtype(t, &dtype);
    const cudnnDataType_t compute = t == DataType::kFloat64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
    SLIMRT_RETURN_IF_ERROR(x.create());
    SLIMRT_RETURN_IF_ERROR(y.create());
    SLIMRT_RETURN_IF_ERROR(w.create());
    SLIMRT_RETURN_IF_ERROR(conv.create());
    const std::vector<int> wd = to_int(w_dims);
    if (nhwc) {
      if (x_dims.size() != 4) return internal_error("NHWC convolution of rank " + std::to_string(x_dims.size()));
      const std::vector<int> xd = to_int(x_dims), yd = to_int(y_dims);
      SLIMRT_CUDA_RETURN_IF_ERROR(cudnnSetTensor4dDescriptor(x.get(), CUDNN_TENSOR_NHWC, dtype, xd[0], xd[1], xd[2], xd[3]));
      SLIMRT_CUDA_RETURN_IF_ERROR(cudnnSetTensor4dDescriptor(y.get(), CUDNN_TENSOR_NHWC, dtype, yd[0], yd[1], yd[2], yd[3]));
      SLIMRT_CUDA_RETURN_IF_ERROR(cudnnSetFilter4dDescriptor(w.get(), dtype, CUDNN_TENSOR_NHWC, wd[0], wd[1], wd[2], wd[3]));
    } else {
      SLIMRT_RETURN_IF_ERROR(set_tensor_desc(x, dtype, to_int(x_dims)));
      SLIMRT_RETURN_IF_ERROR(set_tensor_desc(y, dtype, to_int(y_dims)));
      SLIMRT_CUDA_RETURN_IF_ERROR(
          cudnnSetFilterNdDescriptor(w.get(), dtype, CUDNN_TENSOR_NCHW, static_cast<int>(wd.size()), wd.data()));
    }
    SLIMRT_CUDA_RETURN_IF_ERROR(cudnnSetConvolutionNdDescriptor(conv.get(), static_cast<int>(pads.size()), pads.data(),
                                                        strides.data(), dilations.data(), CUDNN_CROSS_CORRELATION,
                                                        compute));
    SLIMRT_CUDA_RETURN_IF_ERROR(cudnnSetConvolutionGroupCount(conv.get(), static_cast<int>(group)));
    SLIMRT_CUDA_RETURN_IF_ERROR(cudnnSetConvolutionMathType(conv.get(), math_type(t, a.allow_tf32)));
    // The forward output cuDNN derives must be the one we planned.
    std::vector<int> out(y_dims.size());
    SLIMRT_CUDA_RETURN_IF_ERROR(cudnnGetConvolutionNdForwardOutputDim(conv.get(), x.get(), w.get(),
                                                              static_cast<int>(out.size()), out.data()));
    if (out != to_int(y_dims)) return internal_error("cuDNN derives another convolution output shape than shape inference");
    return Status::OK();
  }

  Status init_bias(int64_t channels, size_t rank) {
    SLIMRT_RETURN_IF_ERROR(bias.create());
    std::vector<int> d(rank, 1);
    d[1] = static_cast<int>(channels);
    return set_tensor_desc(bias, dtype, d);
  }

  // fp32 without TF32 keeps its FMA request; other problems take the math mode of the algo.
  void set_algo_math(DataType t, bool allow_tf32, cudnnMathType_t algo_math) {
    if (t == DataType::kFloat32 && !allow_tf32) return;
    // A math type the descriptor refuses leaves the requested one: the algo still runs.
    SLIMRT_CUDA_IGNORE(cudnnSetConvolutionMathType(conv.get(), algo_math));
  }
};

// Scalars for cuDNN's alpha/beta: double for fp64 problems, float otherwise.
struct Scalars {
  float f1 = 1, f0 = 0;
  double d1 = 1, d0 = 0;
  const void* one(bool dbl) const { return dbl ? static_cast<const void*>(&d1) : &f1; }
  const void* zero(bool dbl) const { return dbl ? static_cast<const void*>(&d0) : &f0; }
};
const Scalars kScalars;

// ---- Conv / FusedConv -----------------------------------------------------------------------

class ConvKernel final : public Kernel {
 public:
  uint64_t workspace_bytes() const override { return pad_bytes_ + algo_bytes_; }

  Status enqueue(const LaunchArgs& a) const override {
    if (y_numel_ == 0) return Status::OK();
    void* y = a.output(0);
    const void* bias = has_bias_ ? a.input(2) : nullptr;
    const void* r = residual_input_ >= 0 ? a.input(static_cast<size_t>(residual_input_)) : nullptr;
    if (empty_input_) {
      SLIMRT_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(y, 0, y_bytes_, a.stream));
      return run_epilogue(plain_ep_, y, bias, r, a.stream);
    }
    const void* x = a.input(0);
    char* ws = static_cast<char*>(a.workspace);
    if (pad_bytes_ > 0) {
      (void)dispatch_float(dtype_, [&](auto tag) {
        using T = typename decltype(tag)::type;
        shift_copy_kernel<T><<<grid_for(shift_.n), kBlock, 0, a.stream>>>(static_cast<const T*>(x), nullptr,
                                                                         reinterpret_cast<T*>(ws), shift_);
      });
      x = ws;
    }
    void* algo_ws = algo_bytes_ > 0 ? ws + pad_bytes_ : nullptr;
    const bool dbl = dtype_ == DataType::kFloat64;
    const int mode = fused_ ? fused_mode_.load(std::memory_order_relaxed) : kPlain;
    if (mode != kPlain) {
      // Without z, it is y scaled by 0; y is zeroed first so that stale NaNs in it (poisoned or
      // reused memory) cannot leak through 0 * NaN if cuDNN reads z anyway.
      if (!use_z_) SLIMRT_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(y, 0, y_bytes_, a.stream));
      const void* z = use_z_ ? r : y;
      const void* alpha2 = use_z_ ? kScalars.one(dbl) : kScalars.zero(dbl);
      Status s = SLIMRT_CUDA(cudnnConvolutionBiasActivationForward(
          a.cudnn, kScalars.one(dbl), d_.x.get(), x, d_.w.get(), a.input(1), d_.conv.get(), algo_, algo_ws, algo_bytes_,
          alpha2, d_.y.get(), z, d_.bias.get(), bias, act_desc_.get(), d_.y.get(), y));
      if (s.ok()) {
        if (mode == kUndecided) fused_mode_.store(kFused, std::memory_order_relaxed);
        return run_epilogue(fused_ep_, y, nullptr, r, a.stream);
      }
      // Once the fused call has worked, a failure is a real error, not a configuration cuDNN
      // refuses.
      if (mode == kFused) return s;
      // Some cuDNN builds refuse a fused configuration only when it runs: the first run decides,
      // and this one and all later ones take the plain path, which rounds the same way.
      fused_mode_.store(kPlain, std::memory_order_relaxed);
    }
    // Plain path: y prefilled with the bias and blended in with beta = 1, so that product + bias
    // is rounded once, as the CPU reference and the fused call round it.
    if (has_bias_)
      SLIMRT_RETURN_IF_ERROR(launch_fill_bias(dtype_, y, bias, y_numel_, plain_ep_.inner, plain_ep_.channels, a.stream));
    const void* beta = has_bias_ ? kScalars.one(dbl) : kScalars.zero(dbl);
    SLIMRT_CUDA_RETURN_IF_ERROR(cudnnConvolutionForward(a.cudnn, kScalars.one(dbl), d_.x.get(), x, d_.w.get(), a.input(1),
                                                d_.conv.get(), algo_, algo_ws, algo_bytes_, beta, d_.y.get(), y));
    return run_epilogue(plain_ep_, y, nullptr, r, a.stream);
  }

  static Result<std::unique_ptr<Kernel>> create(const PrepareArgs& a) {
    auto k = std::make_unique<ConvKernel>();
    SLIMRT_RETURN_IF_ERROR(k->init(a));
    return std::unique_ptr<Kernel>(std::move(k));
  }

 private:
  static constexpr int kUndecided = 0, kFused = 1, kPlain = 2;

  Status run_epilogue(const EpilogueParams& p, void* y, const void* bias, const void* r, cudaStream_t s) const {
    if (!epilogue_needed(p, bias != nullptr)) return Status::OK();
    return dispatch_float(dtype_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      launch_epilogue<T>(static_cast<T*>(y), static_cast<const T*>(bias), static_cast<const T*>(r), p, s);
    });
  }

  Status init(const PrepareArgs& a) {
    const Node& node = a.node;
    const bool fused_op = node.op_type() == "FusedConv";
    // Channels-last (ir/layout.h): X, R, Y are NHWC and W is [M, kH, kW, C] in memory; the
    // geometry below works on their logical NCHW dims.
    const bool nhwc = is_channels_last(node);
    if (nhwc && (a.input(0).rank() != 4 || a.input(1).rank() != 4 || a.output(0).rank() != 4))
      return a.unsupported("channels_last convolutions are 2-D");
    TensorInfo xi = a.input(0);
    TensorInfo wi = a.input(1);
    TensorInfo yi = a.output(0);
    if (nhwc) {
      xi.dims = nhwc_to_nchw(xi.dims);
      wi.dims = nhwc_to_nchw(wi.dims);
      yi.dims = nhwc_to_nchw(yi.dims);
    }
    dtype_ = xi.dtype;
    cudnnDataType_t cdt;
    if (!cudnn_dtype(dtype_, &cdt)) return a.unsupported("dtype is not a float type");
    if (wi.dtype != dtype_) return a.unsupported("W has another dtype than X");
    if (xi.rank() < 3 || xi.rank() > 5 || wi.rank() != xi.rank())
      return a.unsupported("only 1-D, 2-D and 3-D convolutions are supported");
    const size_t n = static_cast<size_t>(xi.rank() - 2);
    const int64_t group = node.attr_int("group", 1);
    const int64_t channels = xi.dims[1], m = wi.dims[0];
    if (group <= 0 || channels != wi.dims[1] * group || m % group != 0)
      return a.invalid("X channels, W and group do not agree");
    has_bias_ = a.has_input(2);
    if (has_bias_ && (a.input(2).dtype != dtype_ || a.input(2).numel() != m)) return a.invalid("B must be [M] of X's dtype");

    // Epilogue after a product that already holds the bias (FusedConv attributes).
    EpilogueParams& ep = plain_ep_;
    ep.act.act = Act::kNone;
    if (fused_op) {
      if (!parse_act(node.attr_string("activation", ""), &ep.act.act)) return a.unsupported("unknown activation");
      ep.act.alpha = node.attr_float("alpha", 0.01f);
      if (node.has_attr("min")) ep.act.lo = node.attr_float("min", 0.0f);
      if (node.has_attr("max")) ep.act.hi = node.attr_float("max", 0.0f);
      ep.residual_first = node.attr_int("residual_before_activation", 0) != 0;
      if (a.has_input(3)) {
        const TensorInfo& ri = a.input(3);
        if (ri.dtype != dtype_) return a.invalid("residual R has another dtype than the product");
        if (ri.rank() > yi.rank()) return a.invalid("residual R does not broadcast to the product");
        residual_input_ = 3;
        if (nhwc && ri.dims != a.output(0).dims) return a.invalid("a channels_last residual R must have Y's shape");
        ep.residual = ri.dims == a.output(0).dims ? 1 : 2;
        if (ep.residual == 2) ep.rs = broadcast_strides(ri.dims, yi.dims);
      }
    }
    y_numel_ = yi.numel();
    y_bytes_ = yi.bytes();
    ep.n = y_numel_;
    ep.channels = m;
    ep.inner = 1;  // elements per channel step: the plane in NCHW, 1 in NHWC (channel fastest)
    if (!nhwc) {
      for (size_t i = 2; i < yi.dims.size(); ++i) ep.inner *= yi.dims[i];
    }
    // Geometry, checked against shape inference.
    WindowAttrs wa;
    SLIMRT_ASSIGN_OR_RETURN(const bool convolve, conv_window(a, xi, wi, y_numel_, &empty_input_, &wa));
    if (!convolve) return Status::OK();
    std::vector<int64_t> padded_x = xi.dims, extra_begin(xi.dims.size(), 0);
    CudnnWindow cw;
    bool asymmetric = false;
    for (size_t i = 0; i < n; ++i) {
      WindowAxis ax = window_axis(wa, xi.dims, i);
      if (!nn::resolve_window_axis(ax, wa.mode, wa.pads[i], wa.pads[i + n], false) || ax.out != yi.dims[i + 2])
        return a.invalid("conv geometry disagrees with the inferred output shape");
      const int64_t common = std::min(ax.pad_begin, ax.pad_end);
      extra_begin[i + 2] = ax.pad_begin - common;
      padded_x[i + 2] = ax.in + (ax.pad_begin - common) + (ax.pad_end - common);
      asymmetric |= ax.pad_begin != ax.pad_end;
      cw.add(common, ax);
    }
    cw.lift_1d();
    if (!fits_int(padded_x) || !fits_int(wi.dims) || !fits_int(yi.dims) || xi.numel() > INT_MAX || y_numel_ > INT_MAX)
      return a.unsupported("tensor too large for cuDNN's 32-bit dims");
    if (asymmetric && nhwc) return a.unsupported("channels_last convolutions need symmetric pads");
    if (asymmetric) {
      shift_ = make_shift(padded_x, xi.dims, extra_begin);
      pad_bytes_ = align256(static_cast<uint64_t>(shift_.n) * dtype_size(dtype_));
      if (pad_bytes_ > a.workspace_limit) return a.unsupported("asymmetric pads need more workspace than the limit");
    }
    SLIMRT_RETURN_IF_ERROR(d_.init(a, dtype_, lift_1d(padded_x, 1), lift_1d(wi.dims, 1), lift_1d(yi.dims, 1), cw.pads,
                                   cw.strides, cw.dilations, group, nhwc));
    // cuDNN's fused conv + bias (+ z) (+ Relu) whenever there is a bias: it adds the bias in fp32
    // and rounds once. Identity activation needs IMPLICIT_PRECOMP_GEMM; Relu takes it too, so
    // that the fusion is one kernel on every cuDNN build.
    const bool fusable = has_bias_ && dtype_ != DataType::kFloat64;
    SLIMRT_RETURN_IF_ERROR(choose_algo(a, fusable));
    if (!fused_) return Status::OK();
    const bool half = dtype_ == DataType::kFloat16 || dtype_ == DataType::kBFloat16;
    // z adds a residual before the activation but rounds product + bias + R once, where the
    // CPU reference rounds product + bias first: for half types that second rounding changes
    // ~1/4 of the values by an ulp, so they add R in the epilogue instead. fp32's ulp is far
    // below its accumulation-order differences, so it keeps the cheaper z.
    use_z_ = !half && ep.residual == 1 && ep.residual_first;
    const bool residual_left = ep.residual != 0 && !use_z_;
    // Relu inside cuDNN only when no residual must come between the product and it.
    const bool cudnn_relu = ep.act.act == Act::kRelu && !(residual_left && ep.residual_first);
    fused_ep_ = ep;
    if (use_z_) fused_ep_.residual = 0;
    if (cudnn_relu) fused_ep_.act.act = Act::kNone;
    SLIMRT_RETURN_IF_ERROR(d_.init_bias(m, yi.dims.size() == 3 ? 4 : yi.dims.size()));
    SLIMRT_RETURN_IF_ERROR(act_desc_.create());
    SLIMRT_CUDA_RETURN_IF_ERROR(cudnnSetActivationDescriptor(
        act_desc_.get(), cudnn_relu ? CUDNN_ACTIVATION_RELU : CUDNN_ACTIVATION_IDENTITY, CUDNN_PROPAGATE_NAN, 0.0));
    return Status::OK();
  }

  // The first algorithm in cuDNN's heuristic order that is accurate (no FFT / Winograd), fits
  // the workspace, and -- when `fusable` and available -- is IMPLICIT_PRECOMP_GEMM, which the
  // fused call needs. Inaccurate algorithms only when nothing else fits.
  Status choose_algo(const PrepareArgs& a, bool fusable) {
    const uint64_t budget = a.workspace_limit - pad_bytes_;
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int count = 0;
    SLIMRT_CUDA_RETURN_IF_ERROR(cudnnGetConvolutionForwardAlgorithm_v7(a.cudnn, d_.x.get(), d_.w.get(), d_.conv.get(), d_.y.get(),
                                                               CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, perf));
    const cudnnMathType_t requested = math_type(dtype_, a.allow_tf32);
    auto take = [&](const cudnnConvolutionFwdAlgoPerf_t& p) {
      if (p.status != CUDNN_STATUS_SUCCESS) return false;
      d_.set_algo_math(dtype_, a.allow_tf32, p.mathType);
      size_t bytes = 0;
      if (!SLIMRT_CUDA(cudnnGetConvolutionForwardWorkspaceSize(a.cudnn, d_.x.get(), d_.w.get(), d_.conv.get(),
                                                               d_.y.get(), p.algo, &bytes))
               .ok() ||
          bytes > budget) {
        SLIMRT_CUDA_IGNORE(cudnnSetConvolutionMathType(d_.conv.get(), requested));
        return false;
      }
      algo_ = p.algo;
      algo_bytes_ = align256(bytes);
      if (pad_bytes_ + algo_bytes_ > a.workspace_limit) algo_bytes_ = bytes;
      return true;
    };
    if (fusable) {
      for (int i = 0; i < count; ++i) {
        if (perf[i].algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM && take(perf[i])) {
          fused_ = true;
          return Status::OK();
        }
      }
    }
    for (bool strict : {true, false}) {
      for (int i = 0; i < count; ++i) {
        if ((!strict || accurate_algo(perf[i].algo)) && take(perf[i])) return Status::OK();
      }
    }
    return a.unsupported("cuDNN offers no forward algorithm within the workspace limit");
  }

  DataType dtype_ = DataType::kFloat32;
  ConvDescs d_;
  ActivationDesc act_desc_;
  cudnnConvolutionFwdAlgo_t algo_ = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  uint64_t algo_bytes_ = 0, pad_bytes_ = 0, y_bytes_ = 0;
  int64_t y_numel_ = 0;
  ShiftParams shift_;
  // After the plain product (bias already in it), and after the fused call (what cuDNN did not
  // apply: the activation unless Relu ran inside, the residual unless it went in as z).
  EpilogueParams plain_ep_, fused_ep_;
  bool has_bias_ = false, fused_ = false, use_z_ = false, empty_input_ = false;
  int residual_input_ = -1;
  mutable std::atomic<int> fused_mode_{kUndecided};
};

// ---- ConvTranspose ----------------------------------------------------------------------------

class ConvTransposeKernel final : public Kernel {
 public:
  uint64_t workspace_bytes() const override { return stage_bytes_ + algo_bytes_; }

  Status enqueue(const LaunchArgs& a) const override {
    if (y_numel_ == 0) return Status::OK();
    void* y = a.output(0);
    const void* bias = has_bias_ ? a.input(2) : nullptr;
    if (empty_input_) {
      SLIMRT_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(y, 0, y_bytes_, a.stream));
      return bias_pass(y, bias, a.stream);
    }
    char* ws = static_cast<char*>(a.workspace);
    void* dst = stage_bytes_ > 0 ? static_cast<void*>(ws) : y;
    void* algo_ws = algo_bytes_ > 0 ? ws + stage_bytes_ : nullptr;
    const bool dbl = dtype_ == DataType::kFloat64;
    // The bias is the prior value of the destination, blended in with beta = 1: product + bias
    // rounds once, as on the CPU. (The crop then adds it only to the zero border.)
    const bool prefill = bias != nullptr;
    if (prefill) {
      SLIMRT_RETURN_IF_ERROR(stage_bytes_ > 0
                                 ? launch_fill_bias(dtype_, dst, bias, staged_numel_, staged_inner_, ep_.channels, a.stream)
                                 : launch_fill_bias(dtype_, dst, bias, y_numel_, ep_.inner, ep_.channels, a.stream));
    }
    // Forward-conv naming: W maps the output ("dx") to X ("dy").
    SLIMRT_CUDA_RETURN_IF_ERROR(cudnnConvolutionBackwardData(a.cudnn, kScalars.one(dbl), d_.w.get(), a.input(1), d_.y.get(),
                                                     a.input(0), d_.conv.get(), algo_, algo_ws, algo_bytes_,
                                                     prefill ? kScalars.one(dbl) : kScalars.zero(dbl), d_.x.get(), dst));
    if (stage_bytes_ == 0) return Status::OK();
    return dispatch_float(dtype_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      shift_copy_kernel<T><<<grid_for(shift_.n), kBlock, 0, a.stream>>>(
          reinterpret_cast<const T*>(ws), static_cast<const T*>(bias), static_cast<T*>(y), shift_);
    });
  }

  static Result<std::unique_ptr<Kernel>> create(const PrepareArgs& a) {
    auto k = std::make_unique<ConvTransposeKernel>();
    SLIMRT_RETURN_IF_ERROR(k->init(a));
    return std::unique_ptr<Kernel>(std::move(k));
  }

 private:
  Status bias_pass(void* y, const void* bias, cudaStream_t s) const {
    if (!bias) return Status::OK();
    EpilogueParams p = ep_;
    return dispatch_float(dtype_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      launch_epilogue<T>(static_cast<T*>(y), static_cast<const T*>(bias), nullptr, p, s);
    });
  }

  Status init(const PrepareArgs& a) {
    const Node& node = a.node;
    const TensorInfo& xi = a.input(0);
    const TensorInfo& wi = a.input(1);
    const TensorInfo& yi = a.output(0);
    dtype_ = xi.dtype;
    cudnnDataType_t cdt;
    if (!cudnn_dtype(dtype_, &cdt)) return a.unsupported("dtype is not a float type");
    if (wi.dtype != dtype_) return a.unsupported("W has another dtype than X");
    if (xi.rank() < 3 || xi.rank() > 5 || wi.rank() != xi.rank())
      return a.unsupported("only 1-D, 2-D and 3-D transposed convolutions are supported");
    const size_t n = static_cast<size_t>(xi.rank() - 2);
    const int64_t group = node.attr_int("group", 1);
    const int64_t channels = xi.dims[1];
    const int64_t m = wi.dims[1] * group;
    if (group <= 0 || channels != wi.dims[0] || channels % group != 0) return a.invalid("X channels, W and group do not agree");
    has_bias_ = a.has_input(2);
    if (has_bias_ && (a.input(2).dtype != dtype_ || a.input(2).numel() != m)) return a.invalid("B must be [M] of X's dtype");
    y_numel_ = yi.numel();
    y_bytes_ = yi.bytes();
    ep_.n = y_numel_;
    ep_.channels = m;
    for (size_t i = 2; i < yi.dims.size(); ++i) ep_.inner *= yi.dims[i];
    WindowAttrs wa;
    SLIMRT_ASSIGN_OR_RETURN(const bool convolve, conv_window(a, xi, wi, y_numel_, &empty_input_, &wa));
    if (!convolve) return Status::OK();
    const auto out_pad = node.attr_ints("output_padding", std::vector<int64_t>(n, 0));
    auto out_shape = node.attr_ints("output_shape");
    if (out_shape.size() == n + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
    if (out_pad.size() != n || (!out_shape.empty() && out_shape.size() != n))
      return a.invalid("output_padding / output_shape do not match the spatial rank");
    // cuDNN computes the output with the pads both sides share (never negative) into `staged`;
    // the rest of the geometry is a crop (or zero border) on the way to Y.
    std::vector<int64_t> staged = yi.dims, crop_begin(yi.dims.size(), 0);
    CudnnWindow cw;
    bool direct = true;
    for (size_t i = 0; i < n; ++i) {
      WindowAxis ax = window_axis(wa, xi.dims, i);
      nn::resolve_transpose_axis(ax, wa.mode, wa.pads[i], wa.pads[i + n], out_pad[i], out_shape.empty() ? -1 : out_shape[i]);
      if (ax.out != yi.dims[i + 2]) return a.invalid("transposed conv geometry disagrees with the inferred output shape");
      if (out_pad[i] >= ax.stride) return a.unsupported("output_padding must be smaller than the stride");
      const int64_t full = ax.stride * (ax.in - 1) + out_pad[i] + ax.effective_kernel();
      const int64_t common = std::max<int64_t>(0, std::min(ax.pad_begin, ax.pad_end));
      staged[i + 2] = full - 2 * common;
      crop_begin[i + 2] = -(ax.pad_begin - common);
      direct &= ax.pad_begin == ax.pad_end && ax.pad_begin >= 0 && staged[i + 2] == ax.out;
      cw.add(common, ax);
    }
    cw.lift_1d();
    if (!fits_int(staged) || !fits_int(wi.dims) || !fits_int(yi.dims) || xi.numel() > INT_MAX || y_numel_ > INT_MAX)
      return a.unsupported("tensor too large for cuDNN's 32-bit dims");
    if (!direct) {
      shift_ = make_shift(yi.dims, staged, crop_begin);
      shift_.src_has_bias = has_bias_;
      staged_numel_ = 1;
      for (int64_t d : staged) staged_numel_ *= d;
      staged_inner_ = staged_numel_ / (staged[0] * staged[1]);
      stage_bytes_ = align256(static_cast<uint64_t>(staged_numel_) * dtype_size(dtype_));
      if (stage_bytes_ > a.workspace_limit) return a.unsupported("the staged output needs more workspace than the limit");
    }
    // The forward conv of this adjoint reads the (staged) output and writes X.
    SLIMRT_RETURN_IF_ERROR(d_.init(a, dtype_, lift_1d(staged, 1), lift_1d(wi.dims, 1), lift_1d(xi.dims, 1), cw.pads,
                                   cw.strides, cw.dilations, group));
    return choose_algo(a);
  }

  Status choose_algo(const PrepareArgs& a) {
    const uint64_t budget = a.workspace_limit - stage_bytes_;
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    int count = 0;
    SLIMRT_CUDA_RETURN_IF_ERROR(cudnnGetConvolutionBackwardDataAlgorithm_v7(a.cudnn, d_.w.get(), d_.y.get(), d_.conv.get(),
                                                                    d_.x.get(), CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                                    &count, perf));
    const cudnnMathType_t requested = math_type(dtype_, a.allow_tf32);
    // Heuristic order, FFT / Winograd only when nothing else fits.
    for (bool strict : {true, false}) {
      for (int i = 0; i < count; ++i) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS || (strict && !accurate_algo(perf[i].algo))) continue;
        d_.set_algo_math(dtype_, a.allow_tf32, perf[i].mathType);
        size_t bytes = 0;
        if (!SLIMRT_CUDA(cudnnGetConvolutionBackwardDataWorkspaceSize(a.cudnn, d_.w.get(), d_.y.get(), d_.conv.get(),
                                                                      d_.x.get(), perf[i].algo, &bytes))
                 .ok() ||
            bytes > budget) {
          SLIMRT_CUDA_IGNORE(cudnnSetConvolutionMathType(d_.conv.get(), requested));
          continue;
        }
        algo_ = perf[i].algo;
        algo_bytes_ = align256(bytes);
        if (stage_bytes_ + algo_bytes_ > a.workspace_limit) algo_bytes_ = bytes;
        return Status::OK();
      }
    }
    return a.unsupported("cuDNN offers no backward-data algorithm within the workspace limit");
  }

  DataType dtype_ = DataType::kFloat32;
  ConvDescs d_;
  cudnnConvolutionBwdDataAlgo_t algo_ = CUDNN_CONVOLUTION_BWD_DATA_ALGO_0;
  uint64_t algo_bytes_ = 0, stage_bytes_ = 0, y_bytes_ = 0;
  int64_t y_numel_ = 0, staged_numel_ = 0, staged_inner_ = 1;
  ShiftParams shift_;
  EpilogueParams ep_;
  bool has_bias_ = false, empty_input_ = false;
};

}  // namespace

void register_nn_conv_kernels(KernelRegistry& r) {
  r.add({"Conv", &ConvKernel::create, 0, /*needs_cudnn=*/true});
  r.add({"FusedConv", &ConvKernel::create, 0, /*needs_cudnn=*/true});
  r.add({"ConvTranspose", &ConvTransposeKernel::create, 0, /*needs_cudnn=*/true});
}

}  // namespace slimrt::cuda
