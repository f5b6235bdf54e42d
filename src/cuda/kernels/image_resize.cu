// CUDA kernel: Resize (opset 19 semantics, all modes and coordinate transforms the CPU
// reference supports, antialias included). At prepare time each axis gets, per output index, its
// list of (input index, weight) taps computed on the host exactly as the CPU reference computes
// them; the tables go to the device once. Each thread then produces one output element as the
// nested sum over the taps of every axis, in the CPU's order (double for integer and fp64 data,
// float for fp32/fp16/bf16). Leading axes that are identities (N and C of an NCHW resize) are
// folded into a plane index and cost nothing.
//
// Memory. The tables live in pinned host memory owned by the kernel; each enqueue copies them
// into the context's workspace (one small H2D copy, capturable) before the launch. So a new input
// shape allocates no device memory: the workspace is planned once per context.
#include <cmath>
#include <cstring>
#include <limits>

#include "cuda/kernels/index_common.cuh"

namespace slimrt::cuda {

namespace {

struct ResizeConfig {
  std::string mode, ctm, nearest_mode;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  bool antialias = false;
};

struct AxisTaps {
  std::vector<std::vector<int64_t>> index;
  std::vector<std::vector<double>> weight;
  std::vector<uint8_t> outside;
};

double cubic_weight(double x, double a) {
  x = std::fabs(x);
  if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0.0;
}

// Filter weights around a sample `ratio` past the input index left of it; *first is the offset
// of the first weight from that index.
void filter_weights(const ResizeConfig& c, double ratio, double scale, bool on_grid, int64_t* first, std::vector<double>* w) {
  w->clear();
  if (c.mode == "nearest") {
    bool right = true;
    if (!on_grid) {
      if (c.nearest_mode == "round_prefer_floor") right = ratio > 0.5;
      else if (c.nearest_mode == "round_prefer_ceil") right = ratio >= 0.5;
      else right = c.nearest_mode == "ceil";
    }
    *first = 0;
    w->push_back(right ? 0.0 : 1.0);
    w->push_back(right ? 1.0 : 0.0);
    return;
  }
  const bool linear = c.mode == "linear";
  if (!c.antialias) {
    if (linear) {
      *first = 0;
      w->push_back(1 - ratio);
      w->push_back(ratio);
    } else {
      *first = -1;
      for (int64_t i = -1; i <= 2; ++i) w->push_back(cubic_weight(static_cast<double>(i) - ratio, c.cubic_a));
    }
    return;
  }
  // Antialiasing widens the filter by 1/scale when shrinking, then normalizes it.
  const double s = std::min(scale, 1.0);
  const int64_t start = static_cast<int64_t>(std::floor((linear ? -1.0 : -2.0) / s) + 1);
  const int64_t n = 2 - 2 * start;
  double sum = 0;
  for (int64_t i = start; i < start + n; ++i) {
    const double arg = s * (static_cast<double>(i) - ratio);
    const double v = linear ? std::clamp(1 - std::fabs(arg), 0.0, 1.0) : cubic_weight(arg, c.cubic_a);
    w->push_back(v);
    sum += v;
  }
  for (double& v : *w) v /= sum;
  *first = start;
}

double source_coordinate(const ResizeConfig& c, double x, int64_t in, int64_t out, double scale, double width,
                         double roi_lo, double roi_hi, bool* outside) {
  const std::string& m = c.ctm;
  const double in_d = static_cast<double>(in);
  if (m == "align_corners") return width == 1 ? 0.0 : x * (in_d - 1) / (width - 1);
  if (m == "asymmetric") return x / scale;
  if (m == "tf_crop_and_resize") {
    double xo = width == 1 ? (roi_hi - roi_lo) * (in_d - 1) / 2 : x * (roi_hi - roi_lo) * (in_d - 1) / (width - 1);
    xo += roi_lo * (in_d - 1);
    *outside = xo < 0 || xo > in_d - 1;
    return xo;
  }
  if (m == "pytorch_half_pixel") return width == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
  if (m == "half_pixel_symmetric") {
    const double adjustment = static_cast<double>(out) / width;
    return in_d / 2 * (1 - adjustment) + (x + 0.5) / scale - 0.5;
  }
  if (m == "tf_half_pixel_for_nn") return (x + 0.5) / scale;
  return (x + 0.5) / scale - 0.5;  // half_pixel
}

AxisTaps build_axis(const ResizeConfig& c, int64_t in, int64_t out, double scale, double width, double roi_lo, double roi_hi) {
  AxisTaps a;
  a.index.resize(static_cast<size_t>(out));
  a.weight.resize(static_cast<size_t>(out));
  a.outside.assign(static_cast<size_t>(out), 0);
  std::vector<double> w;
  for (int64_t o = 0; o < out; ++o) {
    const size_t so = static_cast<size_t>(o);
    bool outside = false;
    const double xo = source_coordinate(c, static_cast<double>(o), in, out, scale, width, roi_lo, roi_hi, &outside);
    if (outside) {
      a.outside[so] = 1;
      continue;
    }
    const double fl = std::floor(xo);
    const bool on_grid = xo == fl;
    const double ratio = on_grid ? 1.0 : xo - fl;
    int64_t first = 0;
    filter_weights(c, ratio, scale, on_grid, &first, &w);
    const int64_t n = static_cast<int64_t>(w.size());
    // Neighbours come from the input edge-padded by ceil(n/2), as in the ONNX reference.
    const int64_t pad = (n + 1) / 2;
    const int64_t left = on_grid ? static_cast<int64_t>(fl) - 1 : static_cast<int64_t>(fl);
    const int64_t lo = std::clamp<int64_t>(left + first, -pad, in + pad - n);
    std::vector<int64_t> idx;
    std::vector<double> wt;
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t pos = lo + i;
      double v = w[static_cast<size_t>(i)];
      if (c.exclude_outside && (pos < 0 || pos >= in)) v = 0;
      sum += v;
      idx.push_back(std::clamp<int64_t>(pos, 0, in - 1));
      wt.push_back(v);
    }
    if (c.exclude_outside && sum != 0) {
      for (double& v : wt) v /= sum;
    }
    for (size_t i = 0; i < idx.size(); ++i) {
      if (wt[i] == 0) continue;  // the CPU drops zero taps too; keeps the summation order equal
      a.index[so].push_back(idx[i]);
      a.weight[so].push_back(wt[i]);
    }
  }
  return a;
}

// Tables of the active (non-identity) axes, concatenated: for axis d and output index o,
// taps [row[row_base[d] + o], row[row_base[d] + o + 1]) of tap_index / tap_weight. The pointers
// are set at enqueue, into the workspace.
struct ResizeParams {
  int rank;                   // active axes
  int64_t out_dims[kMaxRank];
  int64_t in_strides[kMaxRank];
  int row_base[kMaxRank];
  int64_t out_plane, in_plane;  // elements per plane (the active axes), in and out
  int64_t total;
  double extrapolation;
  const int* row;
  const int* tap_index;
  const double* tap_weight;
  const uint8_t* outside;  // indexed like `row` without the +1
};

template <typename T> using ResizeAcc = std::conditional_t<std::is_same_v<T, double> || std::is_integral_v<T>, double, float>;

// acc + w * v rounded twice, as the CPU computes it: a fused multiply-add would round once and,
// for integer outputs truncated afterwards, could land on the other side of an integer.
__device__ __forceinline__ double resize_madd(double acc, double w, double v) { return __dadd_rn(acc, __dmul_rn(w, v)); }
__device__ __forceinline__ float resize_madd(float acc, float w, float v) { return __fadd_rn(acc, __fmul_rn(w, v)); }

template <typename T> __device__ __forceinline__ T resize_store(double v) {
  if constexpr (std::is_integral_v<T>) {
    if (isnan(v)) return T(0);
    v = fmin(fmax(v, static_cast<double>(std::numeric_limits<T>::lowest())), static_cast<double>(std::numeric_limits<T>::max()));
    return static_cast<T>(v);
  } else if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    return static_cast<T>(v);
  } else {
    return from_f32<T>(static_cast<float>(v));
  }
}

template <typename T> __device__ __forceinline__ ResizeAcc<T> resize_load(const T* x, int64_t i) {
  if constexpr (std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>) return to_f32(x[i]);
  else return static_cast<ResizeAcc<T>>(x[i]);
}

template <typename T>
__global__ void resize_kernel(const T* __restrict__ x, T* __restrict__ y, ResizeParams p) {
  using Acc = ResizeAcc<T>;
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < p.total; e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t plane = e / p.out_plane;
    int64_t rest = e - plane * p.out_plane;
    int beg[kMaxRank], end[kMaxRank];
    bool outside = false;
    for (int d = p.rank - 1; d >= 0; --d) {
      const int64_t q = rest / p.out_dims[d];
      const int r = p.row_base[d] + static_cast<int>(rest - q * p.out_dims[d]);
      beg[d] = p.row[r];
      end[d] = p.row[r + 1];
      outside |= p.outside[r - d] != 0;  // outside has no +1 entry per axis
      rest = q;
    }
    if (outside) {
      y[e] = resize_store<T>(p.extrapolation);
      continue;
    }
    // Nested sum S_d(off) = sum_t w_d[t] * S_{d+1}(off + idx_d[t] * stride_d), unrolled with
    // explicit per-level cursors (same order as the CPU's recursion).
    Acc sum[kMaxRank + 1];
    int64_t off[kMaxRank + 1];
    int cur[kMaxRank];
    int d = 0;
    off[0] = plane * p.in_plane;
    sum[0] = 0;
    cur[0] = beg[0];
    Acc result = 0;
    while (true) {
      Acc val;
      if (d == p.rank) {
        val = resize_load(x, off[d]);
      } else if (cur[d] < end[d]) {
        off[d + 1] = off[d] + p.tap_index[cur[d]] * p.in_strides[d];
        ++d;
        sum[d] = 0;
        if (d < p.rank) cur[d] = beg[d];
        continue;
      } else {
        val = sum[d];
      }
      if (d == 0) {
        result = val;
        break;
      }
      --d;
      sum[d] = resize_madd(sum[d], static_cast<Acc>(p.tap_weight[cur[d]]), val);
      ++cur[d];
    }
    y[e] = resize_store<T>(static_cast<double>(result));
  }
}

class ResizeKernel final : public Kernel {
 public:
  ResizeParams p_{};
  DataType dtype_ = DataType::kFloat32;
  PinnedBlob tables_;
  uint64_t off_row_ = 0, off_index_ = 0, off_weight_ = 0, off_outside_ = 0;

  uint64_t workspace_bytes() const override { return tables_.bytes(); }

  Status enqueue(const LaunchArgs& args) const override {
    if (p_.total == 0) return Status::OK();
    if (!args.workspace || args.workspace_bytes < tables_.bytes())
      return internal_error("Resize: the workspace cannot hold its tables");
    auto* ws = static_cast<uint8_t*>(args.workspace);
    SLIMRT_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(ws, tables_.data(), tables_.bytes(), cudaMemcpyHostToDevice, args.stream), "Resize tables");
    ResizeParams p = p_;
    p.row = reinterpret_cast<const int*>(ws + off_row_);
    p.tap_index = reinterpret_cast<const int*>(ws + off_index_);
    p.tap_weight = reinterpret_cast<const double*>(ws + off_weight_);
    p.outside = ws + off_outside_;
    auto launch = [&](auto tag) {
      using T = typename decltype(tag)::type;
      resize_kernel<T><<<grid_for(p.total), kBlock, 0, args.stream>>>(args.in<T>(0), args.out<T>(0), p);
    };
    if (dtype_is_float(dtype_)) return dispatch_float(dtype_, launch);
    return dispatch_int(dtype_, launch);
  }
};

Result<std::unique_ptr<Kernel>> create_resize(const PrepareArgs& a) {
  const Node& node = a.node;
  const TensorInfo& x = a.input(0);
  const TensorInfo& y = a.output(0);
  if (!dtype_is_float(x.dtype) && !dtype_is_integer(x.dtype)) return a.unsupported("Resize data dtype");
  const size_t rank = x.dims.size();
  if (rank > static_cast<size_t>(kMaxRank)) return a.unsupported("rank > 8");
  if (y.dims.size() != rank) return a.invalid("output rank differs from input rank");
  ResizeConfig c;
  c.mode = node.attr_string("mode", "nearest");
  c.ctm = node.attr_string("coordinate_transformation_mode", "half_pixel");
  c.nearest_mode = node.attr_string("nearest_mode", "round_prefer_floor");
  c.cubic_a = static_cast<double>(node.attr_float("cubic_coeff_a", -0.75f));
  c.exclude_outside = node.attr_int("exclude_outside", 0) != 0;
  c.antialias = node.attr_int("antialias", 0) != 0 && c.mode != "nearest";
  const std::string policy = node.attr_string("keep_aspect_ratio_policy", "stretch");
  std::vector<int64_t> axes = node.attr_ints("axes");
  for (int64_t& ax : axes) {
    ax = ax < 0 ? ax + static_cast<int64_t>(rank) : ax;
    if (ax < 0 || ax >= static_cast<int64_t>(rank)) return a.invalid("axes out of range");
  }
  if (axes.empty()) {
    for (size_t i = 0; i < rank; ++i) axes.push_back(static_cast<int64_t>(i));
  }
  const size_t na = axes.size();
  const Tensor* roi = a.has_input(1) ? a.input(1).host : nullptr;
  const Tensor* scales = a.has_input(2) ? a.input(2).host : nullptr;
  const Tensor* sizes = a.has_input(3) ? a.input(3).host : nullptr;
  if (scales && scales->numel() == 0) scales = nullptr;
  if (sizes && sizes->numel() == 0) sizes = nullptr;
  std::vector<double> scale(rank, 1.0), width(rank), roi_lo(rank, 0.0), roi_hi(rank, 1.0);
  for (size_t d = 0; d < rank; ++d) width[d] = static_cast<double>(x.dims[d]);
  if (scales) {
    if (scales->numel() != static_cast<int64_t>(na)) return a.invalid("scales do not match axes");
    for (size_t i = 0; i < na; ++i) {
      const size_t ax = static_cast<size_t>(axes[i]);
      const float s = static_cast<float>(scales->get_as_double(static_cast<int64_t>(i)));
      scale[ax] = static_cast<double>(s);
      width[ax] = static_cast<double>(s * static_cast<float>(x.dims[ax]));  // float32 product, as the reference
    }
  } else if (sizes) {
    if (sizes->numel() != static_cast<int64_t>(na)) return a.invalid("sizes do not match axes");
    std::vector<double> ratio(na);
    for (size_t i = 0; i < na; ++i) {
      const size_t ax = static_cast<size_t>(axes[i]);
      ratio[i] = static_cast<double>(sizes->get_as_int64(static_cast<int64_t>(i))) / static_cast<double>(x.dims[ax]);
    }
    if (policy != "stretch") {
      const double common = policy == "not_larger" ? *std::min_element(ratio.begin(), ratio.end())
                                                   : *std::max_element(ratio.begin(), ratio.end());
      std::fill(ratio.begin(), ratio.end(), common);
    }
    for (size_t i = 0; i < na; ++i) {
      const size_t ax = static_cast<size_t>(axes[i]);
      scale[ax] = ratio[i];
      width[ax] = ratio[i] * static_cast<double>(x.dims[ax]);
    }
  }
  if (roi && roi->numel() > 0 && c.ctm == "tf_crop_and_resize") {
    if (roi->numel() != static_cast<int64_t>(2 * na)) return a.invalid("roi does not match axes");
    for (size_t i = 0; i < na; ++i) {
      roi_lo[static_cast<size_t>(axes[i])] = roi->get_as_double(static_cast<int64_t>(i));
      roi_hi[static_cast<size_t>(axes[i])] = roi->get_as_double(static_cast<int64_t>(i + na));
    }
  }
  auto k = std::make_unique<ResizeKernel>();
  k->dtype_ = x.dtype;
  ResizeParams& p = k->p_;
  p.total = y.numel();
  p.extrapolation = static_cast<double>(node.attr_float("extrapolation_value", 0.0f));
  if (p.total == 0) return std::unique_ptr<Kernel>(std::move(k));
  if (x.numel() == 0) return a.invalid("cannot resize an empty tensor to a non-empty one");

  std::vector<AxisTaps> taps(rank);
  for (size_t d = 0; d < rank; ++d) taps[d] = build_axis(c, x.dims[d], y.dims[d], scale[d], width[d], roi_lo[d], roi_hi[d]);
  // Leading identity axes: same size, never outside, one tap of weight 1 at the same index.
  auto identity = [&](size_t d) {
    if (x.dims[d] != y.dims[d]) return false;
    for (int64_t o = 0; o < y.dims[d]; ++o) {
      const size_t so = static_cast<size_t>(o);
      if (taps[d].outside[so] || taps[d].index[so].size() != 1 || taps[d].index[so][0] != o || taps[d].weight[so][0] != 1.0)
        return false;
    }
    return true;
  };
  size_t first = 0;
  while (first + 1 < rank && identity(first)) ++first;
  const Dims in_strides = strides_of(x.dims);
  p.rank = static_cast<int>(rank - first);
  p.out_plane = product(y.dims, first, rank);
  p.in_plane = product(x.dims, first, rank);
  std::vector<int> row, tap_index;
  std::vector<double> tap_weight;
  std::vector<uint8_t> outside;
  for (size_t d = first; d < rank; ++d) {
    const int ad = static_cast<int>(d - first);
    p.out_dims[ad] = y.dims[d];
    p.in_strides[ad] = in_strides.d[d];
    p.row_base[ad] = static_cast<int>(row.size());
    for (int64_t o = 0; o < y.dims[d]; ++o) {
      const size_t so = static_cast<size_t>(o);
      row.push_back(static_cast<int>(tap_index.size()));
      outside.push_back(taps[d].outside[so]);
      for (size_t t = 0; t < taps[d].index[so].size(); ++t) {
        tap_index.push_back(static_cast<int>(taps[d].index[so][t]));
        tap_weight.push_back(taps[d].weight[so][t]);
      }
    }
    row.push_back(static_cast<int>(tap_index.size()));
  }
  if (tap_index.empty()) tap_index.push_back(0), tap_weight.push_back(0);  // every sample outside
  // One blob: row | tap_index | tap_weight | outside, each 256-byte aligned.
  auto align = [](uint64_t n) { return (n + 255) & ~uint64_t{255}; };
  k->off_row_ = 0;
  k->off_index_ = align(row.size() * sizeof(int));
  k->off_weight_ = k->off_index_ + align(tap_index.size() * sizeof(int));
  k->off_outside_ = k->off_weight_ + align(tap_weight.size() * sizeof(double));
  const uint64_t total = k->off_outside_ + align(outside.size());
  if (total > a.workspace_limit)
    return a.unsupported("its tap tables (" + std::to_string(total) + " bytes) exceed the workspace limit (" +
                         std::to_string(a.workspace_limit) + ")");
  SLIMRT_RETURN_IF_ERROR(k->tables_.allocate(total, "Resize tables"));
  std::memcpy(k->tables_.data() + k->off_row_, row.data(), row.size() * sizeof(int));
  std::memcpy(k->tables_.data() + k->off_index_, tap_index.data(), tap_index.size() * sizeof(int));
  std::memcpy(k->tables_.data() + k->off_weight_, tap_weight.data(), tap_weight.size() * sizeof(double));
  std::memcpy(k->tables_.data() + k->off_outside_, outside.data(), outside.size());
  return std::unique_ptr<Kernel>(std::move(k));
}

}  // namespace

void register_image_resize_kernels(KernelRegistry& r) { r.add({"Resize", create_resize, 0b1110}); }

}  // namespace slimrt::cuda
