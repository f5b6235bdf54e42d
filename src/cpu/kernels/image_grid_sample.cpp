// CPU reference kernel for GridSample (N-D, opset 20 semantics, which follow PyTorch's
// grid_sample): per output point, each spatial axis gets its interpolation taps with the
// padding mode applied, and the output is their tensor product over X, accumulated in double.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cpu/dispatch.h"
#include "cpu/kernel_registry.h"

namespace slimrt::cpu {

namespace {

enum class GsPad { kZeros, kBorder, kReflection };

struct GsTap {
  int64_t index;  // -1: outside with zeros padding (contributes nothing)
  double weight;
};

// Folds x back into [lo, hi] by reflecting at the borders as often as needed.
double reflect(double x, double lo, double hi) {
  const double range = hi - lo;
  if (range <= 0) return lo;
  if (x < lo) {
    const double dx = lo - x;
    const int64_t n = static_cast<int64_t>(dx / range);
    const double r = dx - static_cast<double>(n) * range;
    return n % 2 == 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    const double dx = x - hi;
    const int64_t n = static_cast<int64_t>(dx / range);
    const double r = dx - static_cast<double>(n) * range;
    return n % 2 == 0 ? hi - r : lo + r;
  }
  return x;
}

int64_t pixel_index(int64_t i, int64_t size, GsPad pad, double lo, double hi) {
  if (pad == GsPad::kZeros) return i >= 0 && i < size ? i : -1;
  if (pad == GsPad::kBorder) return std::clamp<int64_t>(i, 0, size - 1);
  return std::clamp<int64_t>(static_cast<int64_t>(reflect(static_cast<double>(i), lo, hi)), 0, size - 1);
}

void cubic_coeffs(double t, double out[4]) {
  constexpr double a = -0.75;
  auto near = [&](double x) { return ((a + 2) * x - (a + 3)) * x * x + 1; };
  auto far = [&](double x) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; };
  out[0] = far(t + 1);
  out[1] = near(t);
  out[2] = near(1 - t);
  out[3] = far(2 - t);
}

template <typename T, typename G>
Status grid_sample_typed(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const Tensor& grid = *ctx.input(1);
  Tensor& y = ctx.output(0);
  const Node& node = ctx.node;
  const std::string mode = node.attr_string("mode", "linear");
  const std::string pad_name = node.attr_string("padding_mode", "zeros");
  const GsPad pad = pad_name == "border" ? GsPad::kBorder : pad_name == "reflection" ? GsPad::kReflection : GsPad::kZeros;
  const bool align = node.attr_int("align_corners", 0) != 0;
  const bool nearest = mode == "nearest";
  const bool cubic = mode == "cubic" || mode == "bicubic";
  const size_t r = x.rank() - 2;
  const int64_t batch = x.dim(0), channels = x.dim(1);
  std::vector<int64_t> dims(x.shape().begin() + 2, x.shape().end());
  int64_t in_size = 1;
  for (int64_t d : dims) in_size *= d;
  std::vector<int64_t> stride(r, 1);
  for (size_t d = r - 1; d-- > 0;) stride[d] = stride[d + 1] * dims[d + 1];
  const int64_t points = batch == 0 ? 0 : y.numel() / (batch * std::max<int64_t>(channels, 1));
  const T* xd = x.data<T>();
  const G* gd = grid.data<G>();
  T* yd = y.data<T>();
  std::vector<std::vector<GsTap>> taps(r);
  std::vector<size_t> t(r);
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t p = 0; p < points; ++p) {
      const G* g = gd + (n * points + p) * static_cast<int64_t>(r);
      for (size_t a = 0; a < r; ++a) {
        const int64_t size = dims[a];
        const double lo = align ? 0.0 : -0.5;
        const double hi = align ? static_cast<double>(size - 1) : static_cast<double>(size) - 0.5;
        // The grid lists coordinates innermost axis first; denormalize in float32 as the
        // reference does.
        const float v = static_cast<float>(g[r - 1 - a]);
        const float fs = static_cast<float>(size);
        double c = align ? static_cast<double>((v + 1.0f) / 2.0f * (fs - 1.0f))
                         : static_cast<double>(((v + 1.0f) * fs - 1.0f) / 2.0f);
        if (nearest) c = r == 3 ? std::round(c) : std::nearbyint(c);
        if (c < lo || c > hi) {
          if (pad == GsPad::kBorder) c = std::clamp(c, 0.0, static_cast<double>(size - 1));
          if (pad == GsPad::kReflection) c = static_cast<double>(static_cast<float>(reflect(c, lo, hi)));
        }
        std::vector<GsTap>& ta = taps[a];
        ta.clear();
        if (nearest) {
          ta.push_back({pixel_index(static_cast<int64_t>(c), size, pad, lo, hi), 1.0});
          continue;
        }
        const double f = std::floor(c);
        const int64_t i0 = static_cast<int64_t>(f);
        const double frac = c - f;
        if (cubic) {
          double w[4];
          cubic_coeffs(frac, w);
          for (int64_t k = 0; k < 4; ++k) ta.push_back({pixel_index(i0 - 1 + k, size, pad, lo, hi), w[k]});
        } else {
          ta.push_back({pixel_index(i0, size, pad, lo, hi), 1 - frac});
          ta.push_back({pixel_index(i0 + 1, size, pad, lo, hi), frac});
        }
      }
      for (int64_t ch = 0; ch < channels; ++ch) {
        const T* xc = xd + (n * channels + ch) * in_size;
        double acc = 0;
        std::fill(t.begin(), t.end(), 0);
        bool more = true;
        while (more) {
          double w = 1;
          int64_t off = 0;
          for (size_t a = 0; a < r && w != 0; ++a) {
            const GsTap& tap = taps[a][t[a]];
            if (tap.index < 0) w = 0;
            w *= tap.weight;
            off += tap.index * stride[a];
          }
          if (w != 0) acc += w * static_cast<double>(xc[off]);
          more = false;
          for (size_t a = r; a-- > 0;) {
            if (++t[a] < taps[a].size()) {
              more = true;
              break;
            }
            t[a] = 0;
          }
        }
        yd[(n * channels + ch) * points + p] = static_cast<T>(acc);
      }
    }
  }
  return Status::OK();
}

Status grid_sample_kernel(KernelContext& ctx) {
  const DataType gt = ctx.input(1)->dtype();
  return dispatch_float(ctx.input(0)->dtype(), [&]<typename T>() {
    if (gt == DataType::kFloat64) return grid_sample_typed<T, double>(ctx);
    if (gt == DataType::kFloat32) return grid_sample_typed<T, float>(ctx);
    return ctx.unsupported("grid of dtype " + std::string(dtype_name(gt)));
  });
}

}  // namespace

void register_image_grid_sample_kernels(KernelRegistry& r) { r.add({"GridSample", grid_sample_kernel, true}); }

}  // namespace slimrt::cpu
