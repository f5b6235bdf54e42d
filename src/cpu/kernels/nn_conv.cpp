// CPU reference kernels for Conv and ConvTranspose: im2col / col2im around the shared GEMM
// (double accumulation), with direct paths for 1x1 stride-1 and depthwise 2-D convolutions.
#include <algorithm>
#include <string>
#include <vector>

#include "cpu/dispatch.h"
#include "cpu/gemm.h"
#include "cpu/kernel_registry.h"
#include "ir/ops/nn_geometry.h"

namespace slimrt::cpu {

namespace {

using nn::WindowAxis;

int64_t product(const std::vector<WindowAxis>& ax, int64_t WindowAxis::*field) {
  int64_t p = 1;
  for (const WindowAxis& a : ax) p *= a.*field;
  return p;
}

// Advances a multi-index over `limits` (row-major); returns false after the last one.
bool next_index(std::vector<int64_t>& idx, const std::vector<int64_t>& limits) {
  for (size_t d = idx.size(); d-- > 0;) {
    if (++idx[d] < limits[d]) return true;
    idx[d] = 0;
  }
  return false;
}

// Window geometry of a Conv / ConvTranspose node for input x, checked against the output y.
Status conv_axes(const KernelContext& ctx, const Tensor& x, const Tensor& w, const Tensor& y, bool transpose,
                 std::vector<WindowAxis>* axes) {
  const Node& node = ctx.node;
  const size_t n = x.rank() - 2;
  const nn::AutoPad mode = nn::parse_auto_pad(node.attr_string("auto_pad", "NOTSET"));
  const auto strides = node.attr_ints("strides", std::vector<int64_t>(n, 1));
  const auto dilations = node.attr_ints("dilations", std::vector<int64_t>(n, 1));
  const auto pads = node.attr_ints("pads", std::vector<int64_t>(2 * n, 0));
  const auto out_pad = node.attr_ints("output_padding", std::vector<int64_t>(n, 0));
  auto out_shape = node.attr_ints("output_shape");
  if (out_shape.size() == n + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
  axes->assign(n, WindowAxis{});
  for (size_t i = 0; i < n; ++i) {
    WindowAxis& a = (*axes)[i];
    a.in = x.dim(i + 2);
    a.kernel = w.dim(i + 2);
    a.stride = strides[i];
    a.dilation = dilations[i];
    if (transpose) {
      nn::resolve_transpose_axis(a, mode, pads[i], pads[i + n], out_pad[i], out_shape.empty() ? -1 : out_shape[i]);
    } else {
      nn::resolve_window_axis(a, mode, pads[i], pads[i + n], false);
    }
    if (a.out != y.dim(i + 2)) return internal_error(node.describe() + ": conv geometry disagrees with the inferred output shape");
  }
  return Status::OK();
}

// col[(c * KS + k) * OS + o] = x[c] at the input position of kernel offset k for output o (0 in
// the padding). KS / OS are the kernel / output spatial sizes.
template <typename T>
void im2col(const T* x, int64_t channels, const std::vector<WindowAxis>& ax, T* col) {
  const size_t n = ax.size();
  const int64_t in_size = product(ax, &WindowAxis::in);
  const WindowAxis& last = ax[n - 1];
  std::vector<int64_t> klim(n), olim(n - 1);
  for (size_t d = 0; d < n; ++d) klim[d] = ax[d].kernel;
  for (size_t d = 0; d + 1 < n; ++d) olim[d] = ax[d].out;
  T* dst = col;
  for (int64_t c = 0; c < channels; ++c) {
    const T* xc = x + c * in_size;
    std::vector<int64_t> k(n, 0);
    do {
      // Valid range of the last output axis for this kernel offset.
      const int64_t off = k[n - 1] * last.dilation - last.pad_begin;
      int64_t lo = off >= 0 ? 0 : (-off + last.stride - 1) / last.stride;
      int64_t hi = last.in - 1 - off < 0 ? 0 : (last.in - 1 - off) / last.stride + 1;
      lo = std::min(lo, last.out);
      hi = std::min(std::max(hi, lo), last.out);
      std::vector<int64_t> o(n - 1, 0);
      do {
        int64_t base = 0;
        bool valid = true;
        for (size_t d = 0; d + 1 < n; ++d) {
          const int64_t i = o[d] * ax[d].stride - ax[d].pad_begin + k[d] * ax[d].dilation;
          if (i < 0 || i >= ax[d].in) {
            valid = false;
            break;
          }
          base = base * ax[d].in + i;
        }
        if (!valid) {
          std::fill(dst, dst + last.out, T(0));
        } else {
          const T* row = xc + base * last.in + off;
          std::fill(dst, dst + lo, T(0));
          if (last.stride == 1) {
            std::copy(row + lo, row + hi, dst + lo);
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = row[ow * last.stride];
          }
          std::fill(dst + hi, dst + last.out, T(0));
        }
        dst += last.out;
      } while (n > 1 && next_index(o, olim));
    } while (next_index(k, klim));
  }
}

// The inverse scatter of im2col for ConvTranspose: acc[c][out position] += col[(c*KS + k)*IS + i]
// where the output position is i * stride - pad_begin + k * dilation (IS: input spatial size).
template <typename T>
void col2im_add(const T* col, int64_t channels, const std::vector<WindowAxis>& ax, double* acc) {
  const size_t n = ax.size();
  const int64_t out_size = product(ax, &WindowAxis::out);
  std::vector<int64_t> klim(n), ilim(n);
  for (size_t d = 0; d < n; ++d) {
    klim[d] = ax[d].kernel;
    ilim[d] = ax[d].in;
  }
  const T* src = col;
  for (int64_t c = 0; c < channels; ++c) {
    double* ac = acc + c * out_size;
    std::vector<int64_t> k(n, 0);
    do {
      std::vector<int64_t> i(n, 0);
      do {
        const T v = *src++;
        int64_t pos = 0;
        bool valid = true;
        for (size_t d = 0; d < n; ++d) {
          const int64_t o = i[d] * ax[d].stride - ax[d].pad_begin + k[d] * ax[d].dilation;
          if (o < 0 || o >= ax[d].out) {
            valid = false;
            break;
          }
          pos = pos * ax[d].out + o;
        }
        if (valid) ac[pos] += static_cast<double>(v);
      } while (next_index(i, ilim));
    } while (next_index(k, klim));
  }
}

// Depthwise 2-D convolution (one input channel per group), direct loops in double.
template <typename T>
void depthwise_2d(const T* x, const T* w, const T* bias, int64_t mg, const std::vector<WindowAxis>& ax, T* y,
                  int64_t first_out_channel) {
  const WindowAxis& h = ax[0];
  const WindowAxis& wd = ax[1];
  for (int64_t m = 0; m < mg; ++m) {
    const T* wm = w + m * h.kernel * wd.kernel;
    const double b = bias ? static_cast<double>(bias[first_out_channel + m]) : 0.0;
    T* ym = y + m * h.out * wd.out;
    for (int64_t oh = 0; oh < h.out; ++oh) {
      for (int64_t ow = 0; ow < wd.out; ++ow) {
        double acc = b;
        for (int64_t kh = 0; kh < h.kernel; ++kh) {
          const int64_t ih = oh * h.stride - h.pad_begin + kh * h.dilation;
          if (ih < 0 || ih >= h.in) continue;
          const T* xr = x + ih * wd.in;
          const T* wr = wm + kh * wd.kernel;
          for (int64_t kw = 0; kw < wd.kernel; ++kw) {
            const int64_t iw = ow * wd.stride - wd.pad_begin + kw * wd.dilation;
            if (iw < 0 || iw >= wd.in) continue;
            acc += static_cast<double>(xr[iw]) * static_cast<double>(wr[kw]);
          }
        }
        ym[oh * wd.out + ow] = static_cast<T>(acc);
      }
    }
  }
}

template <typename T>
Status conv_typed(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const Tensor& w = *ctx.input(1);
  const Tensor* b = ctx.input(2);
  Tensor& y = ctx.output(0);
  std::vector<WindowAxis> ax;
  SLIMRT_RETURN_IF_ERROR(conv_axes(ctx, x, w, y, false, &ax));
  const int64_t batch = x.dim(0), channels = x.dim(1), m = w.dim(0);
  const int64_t group = ctx.node.attr_int("group", 1);
  const int64_t cg = channels / group, mg = m / group;
  const int64_t ks = product(ax, &WindowAxis::kernel);
  const int64_t in_size = product(ax, &WindowAxis::in);
  const int64_t out_size = product(ax, &WindowAxis::out);
  const int64_t kdim = cg * ks;
  const T* bias = b ? b->data<T>() : nullptr;
  bool pointwise = true;
  for (const WindowAxis& a : ax) pointwise &= a.kernel == 1 && a.stride == 1 && a.pad_begin == 0 && a.pad_end == 0;
  const bool depthwise = cg == 1 && ax.size() == 2 && !pointwise;
  std::vector<T> col(pointwise || depthwise ? 0 : static_cast<size_t>(kdim * out_size));
  const T* xd = x.data<T>();
  const T* wd = w.data<T>();
  T* yd = y.data<T>();
  for (int64_t nb = 0; nb < batch; ++nb) {
    for (int64_t g = 0; g < group; ++g) {
      const T* xg = xd + (nb * channels + g * cg) * in_size;
      const T* wg = wd + g * mg * kdim;
      T* yg = yd + (nb * m + g * mg) * out_size;
      if (depthwise) {
        depthwise_2d(xg, wg, bias, mg, ax, yg, g * mg);
        continue;
      }
      const T* src = xg;
      if (!pointwise) {
        im2col(xg, cg, ax, col.data());
        src = col.data();
      }
      if (bias) {
        for (int64_t k = 0; k < mg; ++k) std::fill(yg + k * out_size, yg + (k + 1) * out_size, bias[g * mg + k]);
      }
      gemm(false, false, mg, out_size, kdim, T(1), wg, kdim, src, out_size, bias ? T(1) : T(0), yg, out_size);
    }
  }
  return Status::OK();
}

template <typename T>
Status conv_transpose_typed(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const Tensor& w = *ctx.input(1);
  const Tensor* b = ctx.input(2);
  Tensor& y = ctx.output(0);
  std::vector<WindowAxis> ax;
  SLIMRT_RETURN_IF_ERROR(conv_axes(ctx, x, w, y, true, &ax));
  const int64_t batch = x.dim(0), channels = x.dim(1);
  const int64_t group = ctx.node.attr_int("group", 1);
  const int64_t cg = channels / group, mg = w.dim(1), m = mg * group;
  if (cg * group != channels || w.dim(0) != channels)
    return ctx.invalid("X channels " + std::to_string(channels) + " do not match W " + shape_to_string(w.shape()) +
                       " with group " + std::to_string(group));
  const int64_t ks = product(ax, &WindowAxis::kernel);
  const int64_t in_size = product(ax, &WindowAxis::in);
  const int64_t out_size = product(ax, &WindowAxis::out);
  const int64_t rows = mg * ks;
  std::vector<T> col(static_cast<size_t>(rows * in_size));
  std::vector<double> acc(static_cast<size_t>(mg * out_size));
  const T* bias = b ? b->data<T>() : nullptr;
  for (int64_t nb = 0; nb < batch; ++nb) {
    for (int64_t g = 0; g < group; ++g) {
      const T* xg = x.data<T>() + (nb * channels + g * cg) * in_size;
      const T* wg = w.data<T>() + g * cg * rows;
      gemm(true, false, rows, in_size, cg, T(1), wg, rows, xg, in_size, T(0), col.data(), in_size);
      for (int64_t k = 0; k < mg; ++k) {
        const double bv = bias ? static_cast<double>(bias[g * mg + k]) : 0.0;
        std::fill(acc.begin() + k * out_size, acc.begin() + (k + 1) * out_size, bv);
      }
      col2im_add(col.data(), mg, ax, acc.data());
      T* yg = y.data<T>() + (nb * m + g * mg) * out_size;
      for (int64_t i = 0; i < mg * out_size; ++i) yg[i] = static_cast<T>(acc[static_cast<size_t>(i)]);
    }
  }
  return Status::OK();
}

Status conv_kernel(KernelContext& ctx) {
  return dispatch_float(ctx.input(0)->dtype(), [&]<typename T>() { return conv_typed<T>(ctx); });
}

Status conv_transpose_kernel(KernelContext& ctx) {
  return dispatch_float(ctx.input(0)->dtype(), [&]<typename T>() { return conv_transpose_typed<T>(ctx); });
}

}  // namespace

void register_nn_conv_kernels(KernelRegistry& r) {
  r.add({"Conv", conv_kernel, true});
  r.add({"ConvTranspose", conv_transpose_kernel, true});
}

}  // namespace slimrt::cpu
