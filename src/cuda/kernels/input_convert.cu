// CUDA kernel: InputConvert (ir/input_convert.h), the engine's conversion of an input bound in
// another dtype or layout (a uint8 NHWC camera frame) into the tensor the model reads, in one
// pass: read X once, write Y once.
//
// Three forms, chosen at prepare time:
//   - same order (perm is the identity): one thread per element; the channel of element j is
//     (j / inner) % C;
//   - channels last -> channels first (perm = (0, r-1, 1, ..., r-2), NHWC -> NCHW): one thread
//     per pixel reads its C channels (adjacent bytes) and writes each to its plane, so a warp's
//     reads and each of its C writes are contiguous;
//   - any other permutation, or padding (pad_end): one thread per element, X's offset from Y's
//     index through strides; an index past an axis's unpadded size writes 0.
// Indices are 32-bit where the tensor has fewer than 2^31 elements (integer division is the
// kernel's main cost), 64-bit otherwise.
#include <cstdint>

#include "cuda/kernels/common.cuh"
#include "ir/input_convert.h"

namespace slimrt::cuda {

namespace {

struct Affine {
  float scale[kMaxInputConvertChannels];
  float bias[kMaxInputConvertChannels];
};

template <typename X> __device__ __forceinline__ float load_f(const X* p, int64_t i) { return to_f32(p[i]); }
template <> __device__ __forceinline__ float load_f<uint8_t>(const uint8_t* p, int64_t i) {
  return static_cast<float>(p[i]);
}
template <> __device__ __forceinline__ float load_f<double>(const double* p, int64_t i) {
  return static_cast<float>(p[i]);
}

template <typename Y> __device__ __forceinline__ void store_f(Y* p, int64_t i, float v) { p[i] = from_f32<Y>(v); }

template <typename X, typename Y, typename I>
__global__ void convert_same_order(const X* __restrict__ x, Y* __restrict__ y, I n, I inner, I channels, Affine a) {
  for (I j = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; j < n; j += static_cast<I>(gridDim.x) * blockDim.x) {
    const I c = channels > 1 ? (j / inner) % channels : 0;
    store_f(y, j, fmaf(load_f(x, j), a.scale[c], a.bias[c]));
  }
}

// X [outer, pixels, C] -> Y [outer, C, pixels].
template <typename X, typename Y, typename I>
__global__ void convert_channels_first(const X* __restrict__ x, Y* __restrict__ y, I outer_pixels, I pixels,
                                       I channels, Affine a) {
  for (I p = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; p < outer_pixels;
       p += static_cast<I>(gridDim.x) * blockDim.x) {
    const I o = p / pixels, m = p - o * pixels;
    const X* src = x + p * channels;
    Y* dst = y + o * channels * pixels + m;
    for (I c = 0; c < channels; ++c) store_f(dst, c * pixels, fmaf(load_f(src, c), a.scale[c], a.bias[c]));
  }
}

// Each axis's size before the padding.
struct Limits {
  int64_t v[kMaxRank] = {};
};

template <typename X, typename Y>
__global__ void convert_permuted(const X* __restrict__ x, Y* __restrict__ y, int64_t n, BroadcastStrides s, Limits lim,
                                 int axis, Affine a) {
  for (int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; j < n;
       j += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t idx = j, off = 0, c = 0;
    bool padding = false;
    for (int k = s.rank - 1; k >= 0; --k) {
      const int64_t q = idx / s.out_dims[k], r = idx - q * s.out_dims[k];
      off += r * s.in_strides[k];
      padding = padding || r >= lim.v[k];
      if (k == axis) c = r;
      idx = q;
    }
    store_f(y, j, padding ? 0.0f : fmaf(load_f(x, off), a.scale[c], a.bias[c]));
  }
}

enum class Form { kSameOrder, kChannelsFirst, kPermuted };

class InputConvertKernel final : public Kernel {
 public:
  Status enqueue(const LaunchArgs& args) const override {
    if (n_ == 0) return Status::OK();
    return dispatch_input(args);
  }

  DataType x_type = DataType::kUndefined, y_type = DataType::kUndefined;
  Form form = Form::kSameOrder;
  int64_t n_ = 0, inner = 1, channels = 1, pixels = 1;
  int axis = -1;
  BroadcastStrides strides;
  Limits limits;
  Affine affine{};

 private:
  Status dispatch_input(const LaunchArgs& args) const {
    if (x_type == DataType::kUInt8) return dispatch_output<uint8_t>(args);
    return dispatch_float(x_type, [&](auto tx) { (void)dispatch_output<typename decltype(tx)::type>(args); });
  }
  template <typename X>
  Status dispatch_output(const LaunchArgs& args) const {
    return dispatch_float(y_type, [&](auto ty) {
      using Y = typename decltype(ty)::type;
      const X* x = args.in<X>(0);
      Y* y = args.out<Y>(0);
      const bool narrow = n_ < (int64_t{1} << 31);
      switch (form) {
        case Form::kSameOrder:
          if (narrow)
            convert_same_order<X, Y, int32_t><<<grid_for(n_), kBlock, 0, args.stream>>>(
                x, y, static_cast<int32_t>(n_), static_cast<int32_t>(inner), static_cast<int32_t>(channels), affine);
          else
            convert_same_order<X, Y, int64_t><<<grid_for(n_), kBlock, 0, args.stream>>>(x, y, n_, inner, channels, affine);
          break;
        case Form::kChannelsFirst: {
          const int64_t outer_pixels = n_ / channels;
          if (narrow)
            convert_channels_first<X, Y, int32_t><<<grid_for(outer_pixels), kBlock, 0, args.stream>>>(
                x, y, static_cast<int32_t>(outer_pixels), static_cast<int32_t>(pixels), static_cast<int32_t>(channels),
                affine);
          else
            convert_channels_first<X, Y, int64_t><<<grid_for(outer_pixels), kBlock, 0, args.stream>>>(
                x, y, outer_pixels, pixels, channels, affine);
          break;
        }
        case Form::kPermuted:
          convert_permuted<X, Y><<<grid_for(n_), kBlock, 0, args.stream>>>(x, y, n_, strides, limits, axis, affine);
          break;
      }
    });
  }
};

// perm = (0, r-1, 1, ..., r-2): the last axis of X becomes axis 1 of Y.
bool moves_last_to_second(const std::vector<int64_t>& perm) {
  const int64_t r = static_cast<int64_t>(perm.size());
  if (r < 3 || perm[0] != 0 || perm[1] != r - 1) return false;
  for (int64_t k = 2; k < r; ++k) {
    if (perm[static_cast<size_t>(k)] != k - 1) return false;
  }
  return true;
}

Result<std::unique_ptr<Kernel>> create_input_convert(const PrepareArgs& a) {
  const TensorInfo& x = a.input(0);
  const TensorInfo& y = a.output(0);
  Result<InputConvertParams> p = read_input_convert(a.node, x.rank());
  if (!p.ok()) return a.invalid(p.status().message());
  if (x.dtype != DataType::kUInt8 && !dtype_is_float(x.dtype))
    return a.unsupported("X of dtype " + std::string(dtype_name(x.dtype)));
  if (!dtype_is_float(y.dtype)) return a.unsupported("Y of dtype " + std::string(dtype_name(y.dtype)));
  if (y.rank() > kMaxRank) return a.unsupported("rank above 8");
  auto k = std::make_unique<InputConvertKernel>();
  k->x_type = x.dtype;
  k->y_type = y.dtype;
  k->n_ = y.numel();
  k->axis = static_cast<int>(p->axis);
  const size_t channels = p->scale.size();
  for (size_t c = 0; c < channels; ++c) {
    k->affine.scale[c] = p->scale[c];
    k->affine.bias[c] = p->bias[c];
  }
  // The channel count before any padding (padded channels are written as 0, never scaled).
  k->channels = p->axis >= 0 ? y.dims[static_cast<size_t>(p->axis)] - p->pad_end[static_cast<size_t>(p->axis)] : 1;
  if (p->axis >= 0 && k->channels != static_cast<int64_t>(channels))
    return a.invalid("scale/bias hold " + std::to_string(channels) + " values for " + std::to_string(k->channels) +
                     " channels");
  for (size_t d = static_cast<size_t>(std::max(p->axis, int64_t{0})) + 1; d < y.dims.size() && p->axis >= 0; ++d)
    k->inner *= y.dims[d];
  if (p->pads()) {
    k->form = Form::kPermuted;
  } else if (p->identity_perm()) {
    k->form = Form::kSameOrder;
  } else if (moves_last_to_second(p->perm) && (p->axis == 1 || p->axis < 0)) {
    k->form = Form::kChannelsFirst;
    k->channels = y.dims[1];
    for (size_t d = 2; d < y.dims.size(); ++d) k->pixels *= y.dims[d];
    if (p->axis < 0) {  // one scale for every channel: the per-channel arrays repeat it
      for (int64_t c = 0; c < std::min<int64_t>(k->channels, kMaxInputConvertChannels); ++c) {
        k->affine.scale[c] = p->scale[0];
        k->affine.bias[c] = p->bias[0];
      }
      if (k->channels > kMaxInputConvertChannels) k->form = Form::kPermuted;
    }
  } else {
    k->form = Form::kPermuted;
  }
  if (k->form == Form::kPermuted) {
    std::vector<int64_t> x_strides(x.dims.size(), 1);
    for (size_t d = x.dims.size(); d-- > 1;) x_strides[d - 1] = x_strides[d] * x.dims[d];
    k->strides.rank = static_cast<int>(y.dims.size());
    for (size_t d = 0; d < y.dims.size(); ++d) {
      k->strides.out_dims[d] = y.dims[d];
      k->strides.in_strides[d] = x_strides[static_cast<size_t>(p->perm[d])];
      k->limits.v[d] = y.dims[d] - p->pad_end[d];
    }
  }
  return std::unique_ptr<Kernel>(std::move(k));
}

}  // namespace

void register_input_convert_kernels(KernelRegistry& r) { r.add({"InputConvert", create_input_convert, 0}); }

}  // namespace slimrt::cuda
