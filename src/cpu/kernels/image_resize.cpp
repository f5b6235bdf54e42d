// CPU reference kernel for Resize (opset 19 semantics). Each axis gets, per output index, a
// short list of (input index, weight) taps computed exactly as ONNX's reference does (same
// coordinate transforms, the same edge-padded neighbour window, the same weight formulas); the
// output is the tensor product of the per-axis taps, accumulated in double.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "cpu/dispatch.h"
#include "cpu/kernel_registry.h"

namespace slimrt::cpu {

namespace {

struct Taps {
  std::vector<int64_t> index;
  std::vector<double> weight;
  bool outside = false;  // tf_crop_and_resize sample outside the input: extrapolation_value
};

struct ResizeParams {
  std::string mode, ctm, nearest_mode;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  bool antialias = false;
};

double cubic_kernel(double x, double a) {
  x = std::fabs(x);
  if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0.0;
}

// Weights for the neighbours base + i_start .. base + i_start + n - 1, where base is the index
// just left of the sample and ratio in (0, 1] its distance from base.
void make_weights(const ResizeParams& p, double ratio, double scale, bool integer_x, int64_t* i_start,
                  std::vector<double>* w) {
  w->clear();
  if (p.mode == "nearest") {
    *i_start = 0;
    bool right = true;
    if (!integer_x) {
      if (p.nearest_mode == "round_prefer_floor") right = ratio > 0.5;
      else if (p.nearest_mode == "round_prefer_ceil") right = ratio >= 0.5;
      else right = p.nearest_mode == "ceil";
    }
    *w = {right ? 0.0 : 1.0, right ? 1.0 : 0.0};
    return;
  }
  if (!p.antialias) {
    if (p.mode == "linear") {
      *i_start = 0;
      *w = {1 - ratio, ratio};
    } else {
      *i_start = -1;
      for (int64_t i = -1; i <= 2; ++i) w->push_back(cubic_kernel(static_cast<double>(i) - ratio, p.cubic_a));
    }
    return;
  }
  // Antialias: the filter is stretched by 1/scale when downsampling, then normalized.
  const double s = std::min(scale, 1.0);
  const bool linear = p.mode == "linear";
  const int64_t start = static_cast<int64_t>(std::floor((linear ? -1.0 : -2.0) / s) + 1);
  const int64_t n = 2 - 2 * start;
  double sum = 0;
  for (int64_t i = start; i < start + n; ++i) {
    const double arg = s * (static_cast<double>(i) - ratio);
    const double v = linear ? std::clamp(1 - std::fabs(arg), 0.0, 1.0) : cubic_kernel(arg, p.cubic_a);
    w->push_back(v);
    sum += v;
  }
  for (double& v : *w) v /= sum;
  *i_start = start;
}

// Taps of every output index along one axis.
std::vector<Taps> axis_taps(const ResizeParams& p, int64_t in, int64_t out, double scale, double output_width,
                            double roi_start, double roi_end) {
  std::vector<Taps> taps(static_cast<size_t>(out));
  std::vector<double> w;
  for (int64_t o = 0; o < out; ++o) {
    Taps& t = taps[static_cast<size_t>(o)];
    const double x = static_cast<double>(o);
    double xo = 0;
    const std::string& m = p.ctm;
    if (m == "align_corners") {
      xo = output_width == 1 ? 0.0 : x * static_cast<double>(in - 1) / (output_width - 1);
    } else if (m == "asymmetric") {
      xo = x / scale;
    } else if (m == "tf_crop_and_resize") {
      xo = output_width == 1 ? (roi_end - roi_start) * static_cast<double>(in - 1) / 2
                             : x * (roi_end - roi_start) * static_cast<double>(in - 1) / (output_width - 1);
      xo += roi_start * static_cast<double>(in - 1);
      if (xo < 0 || xo > static_cast<double>(in - 1)) {
        t.outside = true;
        continue;
      }
    } else if (m == "pytorch_half_pixel") {
      xo = output_width == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
    } else if (m == "half_pixel_symmetric") {
      const double adjustment = static_cast<double>(out) / output_width;
      const double center = static_cast<double>(in) / 2;
      xo = center * (1 - adjustment) + (x + 0.5) / scale - 0.5;
    } else if (m == "tf_half_pixel_for_nn") {
      xo = (x + 0.5) / scale;
    } else {  // half_pixel
      xo = (x + 0.5) / scale - 0.5;
    }
    const double fl = std::floor(xo);
    const bool integer_x = xo == fl;
    const double ratio = integer_x ? 1.0 : xo - fl;
    int64_t i_start = 0;
    make_weights(p, ratio, scale, integer_x, &i_start, &w);
    const int64_t n = static_cast<int64_t>(w.size());
    // The reference edge-pads by ceil(n/2) and takes the n nearest padded positions.
    const int64_t pad = (n + 1) / 2;
    const int64_t base = integer_x ? static_cast<int64_t>(fl) - 1 : static_cast<int64_t>(fl);
    const int64_t first = std::clamp<int64_t>(base + i_start, -pad, in + pad - n);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t pos = first + i;
      double wt = w[static_cast<size_t>(i)];
      if (p.exclude_outside && (pos < 0 || pos >= in)) wt = 0;
      sum += wt;
      t.index.push_back(std::clamp<int64_t>(pos, 0, in - 1));
      t.weight.push_back(wt);
    }
    if (p.exclude_outside && sum != 0) {
      for (double& v : t.weight) v /= sum;
    }
    // Zero-weight taps add nothing; dropping them keeps identity axes to a single tap.
    size_t k = 0;
    for (size_t i = 0; i < t.index.size(); ++i) {
      if (t.weight[i] == 0) continue;
      t.index[k] = t.index[i];
      t.weight[k] = t.weight[i];
      ++k;
    }
    t.index.resize(k);
    t.weight.resize(k);
  }
  return taps;
}

template <typename T>
T from_double(double v) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else {
    if (std::isnan(v)) return T(0);
    v = std::clamp(v, static_cast<double>(std::numeric_limits<T>::lowest()),
                   static_cast<double>(std::numeric_limits<T>::max()));
    return static_cast<T>(v);
  }
}

template <typename T>
struct ResizeRun {
  const T* x;
  std::vector<int64_t> in_stride;
  std::vector<const Taps*> cur;

  double accumulate(size_t d, int64_t offset) const {
    if (d == cur.size()) return static_cast<double>(x[offset]);
    const Taps& t = *cur[d];
    double s = 0;
    for (size_t i = 0; i < t.index.size(); ++i) s += t.weight[i] * accumulate(d + 1, offset + t.index[i] * in_stride[d]);
    return s;
  }
};

template <typename T>
Status resize_typed(KernelContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& x = *ctx.input(0);
  Tensor& y = ctx.output(0);
  const size_t rank = x.rank();
  ResizeParams p;
  p.mode = node.attr_string("mode", "nearest");
  p.ctm = node.attr_string("coordinate_transformation_mode", "half_pixel");
  p.nearest_mode = node.attr_string("nearest_mode", "round_prefer_floor");
  p.cubic_a = static_cast<double>(node.attr_float("cubic_coeff_a", -0.75f));
  p.exclude_outside = node.attr_int("exclude_outside", 0) != 0;
  p.antialias = node.attr_int("antialias", 0) != 0 && p.mode != "nearest";
  const double extrapolation = static_cast<double>(node.attr_float("extrapolation_value", 0.0f));
  const std::string policy = node.attr_string("keep_aspect_ratio_policy", "stretch");
  std::vector<int64_t> axes = node.attr_ints("axes");
  for (int64_t& a : axes) a = a < 0 ? a + static_cast<int64_t>(rank) : a;
  if (axes.empty()) {
    for (size_t i = 0; i < rank; ++i) axes.push_back(static_cast<int64_t>(i));
  }
  const size_t na = axes.size();
  const Tensor* roi_t = ctx.input(1);
  const Tensor* scales_t = ctx.input(2);
  const Tensor* sizes_t = ctx.input(3);
  if (scales_t && scales_t->numel() == 0) scales_t = nullptr;
  if (sizes_t && sizes_t->numel() == 0) sizes_t = nullptr;
  // Per-axis scale and the float output width the coordinate transforms use.
  std::vector<double> scale(rank, 1.0), width(rank), roi_lo(rank, 0.0), roi_hi(rank, 1.0);
  for (size_t d = 0; d < rank; ++d) width[d] = static_cast<double>(x.dim(d));
  if (scales_t) {
    for (size_t i = 0; i < na; ++i) {
      const size_t a = static_cast<size_t>(axes[i]);
      const float s = static_cast<float>(scales_t->get_as_double(static_cast<int64_t>(i)));
      scale[a] = static_cast<double>(s);
      // The reference multiplies the float32 scale by the size in float32.
      width[a] = static_cast<double>(s * static_cast<float>(x.dim(a)));
    }
  } else if (sizes_t) {
    std::vector<double> ratio(na);
    for (size_t i = 0; i < na; ++i) {
      const size_t a = static_cast<size_t>(axes[i]);
      ratio[i] = static_cast<double>(sizes_t->get_as_int64(static_cast<int64_t>(i))) / static_cast<double>(x.dim(a));
    }
    if (policy != "stretch") {
      const double common = policy == "not_larger" ? *std::min_element(ratio.begin(), ratio.end())
                                                   : *std::max_element(ratio.begin(), ratio.end());
      std::fill(ratio.begin(), ratio.end(), common);
    }
    for (size_t i = 0; i < na; ++i) {
      const size_t a = static_cast<size_t>(axes[i]);
      scale[a] = ratio[i];
      width[a] = ratio[i] * static_cast<double>(x.dim(a));
    }
  }
  if (roi_t && roi_t->numel() > 0 && p.ctm == "tf_crop_and_resize") {
    if (roi_t->numel() != static_cast<int64_t>(2 * na))
      return ctx.invalid("roi has " + std::to_string(roi_t->numel()) + " values; expected " + std::to_string(2 * na));
    for (size_t i = 0; i < na; ++i) {
      roi_lo[static_cast<size_t>(axes[i])] = roi_t->get_as_double(static_cast<int64_t>(i));
      roi_hi[static_cast<size_t>(axes[i])] = roi_t->get_as_double(static_cast<int64_t>(i + na));
    }
  }
  if (y.numel() == 0) return Status::OK();
  if (x.numel() == 0) return ctx.invalid("cannot resize an empty tensor to a non-empty one");
  std::vector<std::vector<Taps>> taps(rank);
  for (size_t d = 0; d < rank; ++d)
    taps[d] = axis_taps(p, x.dim(d), y.dim(d), scale[d], width[d], roi_lo[d], roi_hi[d]);
  ResizeRun<T> run;
  run.x = x.data<T>();
  run.in_stride.assign(rank, 1);
  for (size_t d = rank; d-- > 1;) run.in_stride[d - 1] = run.in_stride[d] * x.dim(d);
  run.cur.assign(rank, nullptr);
  std::vector<int64_t> o(rank, 0);
  T* yd = y.data<T>();
  const int64_t total = y.numel();
  for (int64_t flat = 0; flat < total; ++flat) {
    bool outside = false;
    for (size_t d = 0; d < rank; ++d) {
      run.cur[d] = &taps[d][static_cast<size_t>(o[d])];
      outside |= run.cur[d]->outside;
    }
    yd[flat] = from_double<T>(outside ? extrapolation : run.accumulate(0, 0));
    for (size_t d = rank; d-- > 0;) {
      if (++o[d] < y.dim(d)) break;
      o[d] = 0;
    }
  }
  return Status::OK();
}

Status resize_kernel(KernelContext& ctx) {
  return dispatch_numeric(ctx.input(0)->dtype(), [&]<typename T>() { return resize_typed<T>(ctx); });
}

}  // namespace

void register_image_resize_kernels(KernelRegistry& r) { r.add({"Resize", resize_kernel, true}); }

}  // namespace slimrt::cpu
