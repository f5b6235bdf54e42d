// CUDA kernel: GridSample (opset 20 semantics, which follow PyTorch's grid_sample) for 1 to 3
// spatial dims (4-D NCHW is the common case). One thread per output point computes the taps of
// each spatial axis once and loops over the channels, so its writes stay coalesced along the
// points. Coordinates are computed exactly as the CPU reference does (float32 denormalisation,
// then double), with explicitly rounded arithmetic so that FMA contraction cannot move a
// nearest-mode sample to another pixel.
#include "cuda/kernels/index_common.cuh"

namespace slimrt::cuda {

namespace {

enum class GsMode { kLinear, kNearest, kCubic };
enum class GsPad { kZeros, kBorder, kReflection };

struct GridSampleParams {
  int64_t batch, channels, points;
  int64_t dims[3];     // input spatial dims, outermost first
  int64_t strides[3];  // their strides within one channel
  int64_t in_size;     // elements per input channel
  GsMode mode;
  GsPad pad;
  bool align;
};

__device__ __forceinline__ double reflect(double x, double lo, double hi) {
  const double range = __dsub_rn(hi, lo);
  if (range <= 0) return lo;
  if (x < lo) {
    const double dx = __dsub_rn(lo, x);
    const int64_t n = static_cast<int64_t>(__ddiv_rn(dx, range));
    const double r = __dsub_rn(dx, __dmul_rn(static_cast<double>(n), range));
    return n % 2 == 0 ? __dadd_rn(lo, r) : __dsub_rn(hi, r);
  }
  if (x > hi) {
    const double dx = __dsub_rn(x, hi);
    const int64_t n = static_cast<int64_t>(__ddiv_rn(dx, range));
    const double r = __dsub_rn(dx, __dmul_rn(static_cast<double>(n), range));
    return n % 2 == 0 ? __dsub_rn(hi, r) : __dadd_rn(lo, r);
  }
  return x;
}

// Input index for tap i along an axis of `size`; -1 when it falls outside with zeros padding.
__device__ __forceinline__ int64_t pixel_index(int64_t i, int64_t size, GsPad pad, double lo, double hi) {
  if (pad == GsPad::kZeros) return (i >= 0 && i < size) ? i : -1;
  if (pad == GsPad::kBorder) return i < 0 ? 0 : (i >= size ? size - 1 : i);
  const int64_t j = static_cast<int64_t>(reflect(static_cast<double>(i), lo, hi));
  return j < 0 ? 0 : (j >= size ? size - 1 : j);
}

__device__ __forceinline__ void cubic_coeffs(double t, double w[4]) {
  constexpr double a = -0.75;
  auto near = [](double x) { return ((a + 2) * x - (a + 3)) * x * x + 1; };
  auto far = [](double x) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; };
  w[0] = far(t + 1);
  w[1] = near(t);
  w[2] = near(1 - t);
  w[3] = far(2 - t);
}

template <typename G> __device__ __forceinline__ float grid_value(const G* g, int64_t i) {
  if constexpr (std::is_same_v<G, __half> || std::is_same_v<G, __nv_bfloat16>) return to_f32(g[i]);
  else return static_cast<float>(g[i]);
}

template <typename T, typename G, int R>
__global__ void grid_sample_kernel(const T* __restrict__ x, const G* __restrict__ grid, T* __restrict__ y, GridSampleParams p) {
  using Acc = std::conditional_t<std::is_same_v<T, double>, double, float>;
  const int64_t total = p.batch * p.points;
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < total; e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t n = e / p.points, pt = e - n * p.points;
    int64_t idx[R][4];
    double wt[R][4];
    int cnt[R];
    for (int a = 0; a < R; ++a) {
      const int64_t size = p.dims[a];
      const double lo = p.align ? 0.0 : -0.5;
      const double hi = p.align ? static_cast<double>(size - 1) : static_cast<double>(size) - 0.5;
      // The grid lists coordinates innermost axis first.
      const float v = grid_value(grid, e * R + (R - 1 - a));
      const float fs = static_cast<float>(size);
      double c = p.align ? static_cast<double>(__fmul_rn(__fdiv_rn(__fadd_rn(v, 1.0f), 2.0f), __fsub_rn(fs, 1.0f)))
                         : static_cast<double>(__fdiv_rn(__fsub_rn(__fmul_rn(__fadd_rn(v, 1.0f), fs), 1.0f), 2.0f));
      if (p.mode == GsMode::kNearest) c = R == 3 ? round(c) : rint(c);
      if (c < lo || c > hi) {
        if (p.pad == GsPad::kBorder) c = fmin(fmax(c, 0.0), static_cast<double>(size - 1));
        if (p.pad == GsPad::kReflection) c = static_cast<double>(static_cast<float>(reflect(c, lo, hi)));
      }
      if (p.mode == GsMode::kNearest) {
        cnt[a] = 1;
        idx[a][0] = pixel_index(static_cast<int64_t>(c), size, p.pad, lo, hi);
        wt[a][0] = 1.0;
        continue;
      }
      const double f = floor(c);
      const int64_t i0 = static_cast<int64_t>(f);
      const double frac = c - f;
      if (p.mode == GsMode::kCubic) {
        cnt[a] = 4;
        cubic_coeffs(frac, wt[a]);
        for (int k = 0; k < 4; ++k) idx[a][k] = pixel_index(i0 - 1 + k, size, p.pad, lo, hi);
      } else {
        cnt[a] = 2;
        idx[a][0] = pixel_index(i0, size, p.pad, lo, hi);
        idx[a][1] = pixel_index(i0 + 1, size, p.pad, lo, hi);
        wt[a][0] = 1 - frac;
        wt[a][1] = frac;
      }
    }
    for (int64_t ch = 0; ch < p.channels; ++ch) {
      const T* xc = x + (n * p.channels + ch) * p.in_size;
      Acc acc = 0;
      int t[R] = {};
      while (true) {
        double w = 1;
        int64_t off = 0;
        for (int a = 0; a < R && w != 0; ++a) {
          const int64_t i = idx[a][t[a]];
          if (i < 0) w = 0;
          w *= wt[a][t[a]];
          off += i * p.strides[a];
        }
        if (w != 0) acc += static_cast<Acc>(w) * static_cast<Acc>(load_c(xc, off));
        int a = R - 1;
        for (; a >= 0; --a) {
          if (++t[a] < cnt[a]) break;
          t[a] = 0;
        }
        if (a < 0) break;
      }
      store_c(y, (n * p.channels + ch) * p.points + pt, static_cast<compute_t<T>>(acc));
    }
  }
}

class GridSampleKernel final : public Kernel {
 public:
  GridSampleParams p_{};
  DataType dtype_ = DataType::kFloat32, grid_type_ = DataType::kFloat32;
  int r_ = 2;

  Status enqueue(const LaunchArgs& args) const override {
    const int64_t total = p_.batch * p_.points;
    if (total == 0 || p_.channels == 0) return Status::OK();
    return dispatch_float(dtype_, [&](auto ttag) {
      using T = typename decltype(ttag)::type;
      (void)dispatch_float(grid_type_, [&](auto gtag) {
        using G = typename decltype(gtag)::type;
        auto launch = [&](auto kern) {
          kern<<<grid_for(total, 128), 128, 0, args.stream>>>(args.in<T>(0), args.in<G>(1), args.out<T>(0), p_);
        };
        if (r_ == 1) launch(grid_sample_kernel<T, G, 1>);
        else if (r_ == 2) launch(grid_sample_kernel<T, G, 2>);
        else launch(grid_sample_kernel<T, G, 3>);
      });
    });
  }
};

Result<std::unique_ptr<Kernel>> create_grid_sample(const PrepareArgs& a) {
  const TensorInfo& x = a.input(0);
  const TensorInfo& grid = a.input(1);
  const TensorInfo& y = a.output(0);
  if (!dtype_is_float(x.dtype) || !dtype_is_float(grid.dtype)) return a.unsupported("GridSample needs float data and grid");
  if (x.rank() < 3 || x.rank() > 5) return a.unsupported("GridSample on " + std::to_string(x.rank()) + "-D input (3-D to 5-D supported)");
  const int r = static_cast<int>(x.rank() - 2);
  if (grid.rank() != r + 2 || grid.dims.back() != r) return a.invalid("grid shape does not match the input");
  const std::string mode = a.node.attr_string("mode", "linear");
  const std::string pad = a.node.attr_string("padding_mode", "zeros");
  auto k = std::make_unique<GridSampleKernel>();
  GridSampleParams& p = k->p_;
  p.mode = mode == "nearest" ? GsMode::kNearest : (mode == "cubic" || mode == "bicubic") ? GsMode::kCubic : GsMode::kLinear;
  p.pad = pad == "border" ? GsPad::kBorder : pad == "reflection" ? GsPad::kReflection : GsPad::kZeros;
  p.align = a.node.attr_int("align_corners", 0) != 0;
  p.batch = x.dims[0];
  p.channels = x.dims[1];
  p.points = p.batch == 0 ? 0 : y.numel() / (p.batch * std::max<int64_t>(p.channels, 1));
  int64_t stride = 1;
  for (int d = r - 1; d >= 0; --d) {
    p.dims[d] = x.dims[static_cast<size_t>(d) + 2];
    p.strides[d] = stride;
    stride *= p.dims[d];
  }
  p.in_size = stride;
  if (p.in_size == 0 && y.numel() > 0) return a.invalid("cannot sample an empty input");
  k->dtype_ = x.dtype;
  k->grid_type_ = grid.dtype;
  k->r_ = r;
  return std::unique_ptr<Kernel>(std::move(k));
}

}  // namespace

void register_image_grid_sample_kernels(KernelRegistry& r) { r.add({"GridSample", create_grid_sample, 0}); }

}  // namespace slimrt::cuda
