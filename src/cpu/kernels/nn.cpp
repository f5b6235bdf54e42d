// CPU reference kernels for the nn op family: normalizations, LRN, Dropout and MaxUnpool here; Conv /
// ConvTranspose in nn_conv.cpp and pooling in nn_pool.cpp. Statistics are accumulated in double
// with two passes (mean, then squared deviations) so variances stay exact.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cpu/dispatch.h"
#include "cpu/kernel_registry.h"

namespace slimrt::cpu {

void register_nn_conv_kernels(KernelRegistry& r);
void register_nn_pool_kernels(KernelRegistry& r);

namespace {

// Mean and variance (population) of n values.
template <typename T>
void mean_var(const T* x, int64_t n, int64_t stride, double* mean, double* var) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i * stride]);
  const double m = n > 0 ? s / static_cast<double>(n) : 0.0;
  double q = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(x[i * stride]) - m;
    q += d * d;
  }
  *mean = m;
  *var = n > 0 ? q / static_cast<double>(n) : 0.0;
}

template <typename T>
Status batch_norm_typed(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  // The statistics may have their own float type (ONNX T1 / T2), so read them as double.
  const Tensor& scale = *ctx.input(1);
  const Tensor& bias = *ctx.input(2);
  const Tensor& mean = *ctx.input(3);
  const Tensor& var = *ctx.input(4);
  const double eps = static_cast<double>(ctx.node.attr_float("epsilon", 1e-5f));
  const int64_t batch = x.dim(0), channels = x.dim(1);
  const int64_t inner = batch * channels == 0 ? 0 : x.numel() / (batch * channels);
  const T* xd = x.data<T>();
  T* yd = ctx.output(0).data<T>();
  for (int64_t c = 0; c < channels; ++c) {
    const double a = scale.get_as_double(c) / std::sqrt(var.get_as_double(c) + eps);
    const double b = bias.get_as_double(c) - mean.get_as_double(c) * a;
    for (int64_t nb = 0; nb < batch; ++nb) {
      const int64_t off = (nb * channels + c) * inner;
      for (int64_t i = 0; i < inner; ++i) yd[off + i] = static_cast<T>(static_cast<double>(xd[off + i]) * a + b);
    }
  }
  return Status::OK();
}

template <typename T>
Status instance_norm_typed(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const T* scale = ctx.input(1)->data<T>();
  const T* bias = ctx.input(2)->data<T>();
  const double eps = static_cast<double>(ctx.node.attr_float("epsilon", 1e-5f));
  const int64_t channels = x.dim(1);
  const int64_t planes = x.dim(0) * channels;
  const int64_t inner = planes == 0 ? 0 : x.numel() / planes;
  const T* xd = x.data<T>();
  T* yd = ctx.output(0).data<T>();
  for (int64_t p = 0; p < planes; ++p) {
    const int64_t c = p % channels;
    double m = 0, v = 0;
    mean_var(xd + p * inner, inner, 1, &m, &v);
    const double a = static_cast<double>(scale[c]) / std::sqrt(v + eps);
    const double b = static_cast<double>(bias[c]);
    for (int64_t i = 0; i < inner; ++i)
      yd[p * inner + i] = static_cast<T>((static_cast<double>(xd[p * inner + i]) - m) * a + b);
  }
  return Status::OK();
}

template <typename T>
Status group_norm_typed(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const Tensor& scale_t = *ctx.input(1);
  const T* scale = scale_t.data<T>();
  const T* bias = ctx.input(2)->data<T>();
  const double eps = static_cast<double>(ctx.node.attr_float("epsilon", 1e-5f));
  const int64_t groups = ctx.node.attr_int("num_groups", 1);
  const int64_t batch = x.dim(0), channels = x.dim(1);
  const int64_t inner = batch * channels == 0 ? 0 : x.numel() / (batch * channels);
  const int64_t cpg = channels / groups;
  // Opset 21: one scale/bias per channel; opset 18: one per group.
  const bool per_group = scale_t.numel() != channels;
  const T* xd = x.data<T>();
  T* yd = ctx.output(0).data<T>();
  for (int64_t nb = 0; nb < batch; ++nb) {
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t off = (nb * channels + g * cpg) * inner;
      double m = 0, v = 0;
      mean_var(xd + off, cpg * inner, 1, &m, &v);
      const double inv = 1.0 / std::sqrt(v + eps);
      for (int64_t c = 0; c < cpg; ++c) {
        const int64_t ch = per_group ? g : g * cpg + c;
        const double a = static_cast<double>(scale[ch]) * inv;
        const double b = static_cast<double>(bias[ch]);
        const int64_t base = off + c * inner;
        for (int64_t i = 0; i < inner; ++i) yd[base + i] = static_cast<T>((static_cast<double>(xd[base + i]) - m) * a + b);
      }
    }
  }
  return Status::OK();
}

// For each flat index into the normalized dims `norm`, the flat index into `t`, which
// broadcasts to them (aligned right).
std::vector<int64_t> broadcast_map(const std::vector<int64_t>& norm, const std::vector<int64_t>& t) {
  int64_t total = 1;
  for (int64_t d : norm) total *= d;
  std::vector<int64_t> map(static_cast<size_t>(total));
  const size_t off = norm.size() - t.size();
  std::vector<int64_t> stride(norm.size(), 0);
  int64_t s = 1;
  for (size_t d = norm.size(); d-- > off;) {
    stride[d] = t[d - off] == 1 ? 0 : s;
    s *= t[d - off];
  }
  for (int64_t i = 0; i < total; ++i) {
    int64_t rem = i, idx = 0;
    for (size_t d = norm.size(); d-- > 0;) {
      idx += (rem % norm[d]) * stride[d];
      rem /= norm[d];
    }
    map[static_cast<size_t>(i)] = idx;
  }
  return map;
}

template <typename T>
Status layer_norm_typed(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const Tensor& scale = *ctx.input(1);
  const Tensor* bias = ctx.input(2);
  const int64_t rank = static_cast<int64_t>(x.rank());
  int64_t axis = ctx.node.attr_int("axis", -1);
  if (axis < 0) axis += rank;
  const double eps = static_cast<double>(ctx.node.attr_float("epsilon", 1e-5f));
  const std::vector<int64_t> norm(x.shape().begin() + axis, x.shape().end());
  int64_t inner = 1;
  for (int64_t d : norm) inner *= d;
  const int64_t outer = inner == 0 ? 0 : x.numel() / inner;
  const std::vector<int64_t> smap = broadcast_map(norm, scale.shape());
  const std::vector<int64_t> bmap = bias ? broadcast_map(norm, bias->shape()) : std::vector<int64_t>();
  const T* xd = x.data<T>();
  const T* sd = scale.data<T>();
  const T* bd = bias ? bias->data<T>() : nullptr;
  T* yd = ctx.output(0).data<T>();
  Tensor* mean_out = ctx.outputs.size() > 1 ? &ctx.output(1) : nullptr;
  Tensor* inv_out = ctx.outputs.size() > 2 ? &ctx.output(2) : nullptr;
  for (int64_t o = 0; o < outer; ++o) {
    const T* xr = xd + o * inner;
    T* yr = yd + o * inner;
    double m = 0, v = 0;
    mean_var(xr, inner, 1, &m, &v);
    const double inv = 1.0 / std::sqrt(v + eps);
    for (int64_t i = 0; i < inner; ++i) {
      double r = (static_cast<double>(xr[i]) - m) * inv * static_cast<double>(sd[smap[static_cast<size_t>(i)]]);
      if (bd) r += static_cast<double>(bd[bmap[static_cast<size_t>(i)]]);
      yr[i] = static_cast<T>(r);
    }
    for (Tensor* st : {mean_out, inv_out}) {
      if (!st) continue;
      const double val = st == mean_out ? m : inv;
      if (st->dtype() == DataType::kFloat64) {
        st->data<double>()[o] = val;
      } else {
        st->data<float>()[o] = static_cast<float>(val);
      }
    }
  }
  return Status::OK();
}

template <typename T>
Status lrn_typed(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const int64_t size = ctx.node.attr_int("size", 1);
  const double alpha = static_cast<double>(ctx.node.attr_float("alpha", 1e-4f));
  const double beta = static_cast<double>(ctx.node.attr_float("beta", 0.75f));
  const double bias = static_cast<double>(ctx.node.attr_float("bias", 1.0f));
  const int64_t batch = x.dim(0), channels = x.dim(1);
  const int64_t inner = batch * channels == 0 ? 0 : x.numel() / (batch * channels);
  const int64_t before = (size - 1) / 2, after = size - 1 - before;
  const T* xd = x.data<T>();
  T* yd = ctx.output(0).data<T>();
  for (int64_t nb = 0; nb < batch; ++nb) {
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t lo = std::max<int64_t>(0, c - before), hi = std::min<int64_t>(channels - 1, c + after);
      for (int64_t i = 0; i < inner; ++i) {
        double sq = 0;
        for (int64_t k = lo; k <= hi; ++k) {
          const double v = static_cast<double>(xd[(nb * channels + k) * inner + i]);
          sq += v * v;
        }
        const int64_t at = (nb * channels + c) * inner + i;
        yd[at] = static_cast<T>(static_cast<double>(xd[at]) /
                                std::pow(bias + alpha / static_cast<double>(size) * sq, beta));
      }
    }
  }
  return Status::OK();
}

Status dropout_kernel(KernelContext& ctx) {
  // Training mode is only an identity when ratio is 0; any other ratio needs random masks.
  const Tensor* training = ctx.input(2);
  const Tensor* ratio = ctx.input(1);
  if (training && training->numel() == 1 && training->get_as_double(0) != 0 &&
      (!ratio || ratio->numel() != 1 || ratio->get_as_double(0) != 0))
    return ctx.unsupported("Dropout with training_mode=true and a non-zero ratio is not supported (inference only)");
  const Tensor& x = *ctx.input(0);
  Tensor& y = ctx.output(0);
  const auto* src = static_cast<const unsigned char*>(x.raw());
  std::copy(src, src + x.bytes(), static_cast<unsigned char*>(y.raw()));
  if (ctx.outputs.size() > 1) {
    Tensor& mask = ctx.output(1);
    std::fill(mask.data<uint8_t>(), mask.data<uint8_t>() + mask.numel(), uint8_t{1});
  }
  return Status::OK();
}

// (X - mean) / (std + 1e-9) over `axes`, as ONNX's function body defines it.
template <typename T>
Status mean_variance_norm_typed(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const int64_t rank = static_cast<int64_t>(x.rank());
  std::vector<bool> reduced(static_cast<size_t>(rank), false);
  for (int64_t a : ctx.node.attr_ints("axes", {0, 2, 3})) reduced[static_cast<size_t>(a < 0 ? a + rank : a)] = true;
  // Group id of every element: its flat index over the kept axes.
  const int64_t total = x.numel();
  std::vector<int64_t> group(static_cast<size_t>(total));
  int64_t groups = 1;
  for (int64_t d = 0; d < rank; ++d) groups *= reduced[static_cast<size_t>(d)] ? 1 : x.dim(static_cast<size_t>(d));
  for (int64_t i = 0; i < total; ++i) {
    int64_t rem = i, g = 0, mul = 1;
    for (int64_t d = rank; d-- > 0;) {
      const int64_t size = x.dim(static_cast<size_t>(d));
      if (!reduced[static_cast<size_t>(d)]) {
        g += (rem % size) * mul;
        mul *= size;
      }
      rem /= size;
    }
    group[static_cast<size_t>(i)] = g;
  }
  const T* xd = x.data<T>();
  T* yd = ctx.output(0).data<T>();
  const double count = groups == 0 ? 0.0 : static_cast<double>(total / groups);
  std::vector<double> mean(static_cast<size_t>(groups), 0.0), var(static_cast<size_t>(groups), 0.0);
  for (int64_t i = 0; i < total; ++i) mean[static_cast<size_t>(group[static_cast<size_t>(i)])] += static_cast<double>(xd[i]);
  for (double& m : mean) m /= count;
  for (int64_t i = 0; i < total; ++i) {
    const size_t g = static_cast<size_t>(group[static_cast<size_t>(i)]);
    const double dv = static_cast<double>(xd[i]) - mean[g];
    var[g] += dv * dv;
  }
  for (int64_t i = 0; i < total; ++i) {
    const size_t g = static_cast<size_t>(group[static_cast<size_t>(i)]);
    yd[i] = static_cast<T>((static_cast<double>(xd[i]) - mean[g]) / (std::sqrt(var[g] / count) + 1e-9));
  }
  return Status::OK();
}

// Scatters X into a zero tensor at MaxPool's flat indices. The indices address the default
// output shape ((in - 1) * stride - pads + kernel); a larger output_shape keeps each element at
// the same coordinates (the extra space is end padding).
template <typename T>
Status max_unpool_typed(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const Tensor& idx = *ctx.input(1);
  Tensor& y = ctx.output(0);
  if (idx.numel() != x.numel()) return ctx.invalid("I has " + std::to_string(idx.numel()) + " elements; X has " + std::to_string(x.numel()));
  const size_t rank = x.rank(), n = rank - 2;
  const auto kernel = ctx.node.attr_ints("kernel_shape");
  const auto strides = ctx.node.attr_ints("strides", std::vector<int64_t>(n, 1));
  const auto pads = ctx.node.attr_ints("pads", std::vector<int64_t>(2 * n, 0));
  std::vector<int64_t> def = {x.dim(0), x.dim(1)};
  for (size_t i = 0; i < n; ++i) {
    def.push_back(kernel.size() == n && strides.size() == n && pads.size() == 2 * n
                      ? (x.dim(i + 2) - 1) * strides[i] - pads[i] - pads[i + n] + kernel[i]
                      : y.dim(i + 2));
  }
  const bool remap = def != y.shape();
  const int64_t def_total = numel_of(def);
  T* yd = y.data<T>();
  std::fill(yd, yd + y.numel(), T(0));
  const T* xd = x.data<T>();
  const int64_t* id = idx.data<int64_t>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t at = id[i];
    if (at < 0 || at >= (remap ? def_total : y.numel()))
      return ctx.invalid("index " + std::to_string(at) + " is outside the unpooled output " + shape_to_string(def));
    if (remap) {
      int64_t rem = at, mul = 1;
      at = 0;
      for (size_t d = rank; d-- > 0;) {
        const int64_t c = rem % def[d];
        rem /= def[d];
        if (c >= y.dim(d)) return ctx.invalid("output_shape " + shape_to_string(y.shape()) + " is smaller than the unpooled " + shape_to_string(def));
        at += c * mul;
        mul *= y.dim(d);
      }
    }
    yd[at] = xd[i];
  }
  return Status::OK();
}

#define SLIMRT_FLOAT_KERNEL(name, fn)                                                           \
  Status name(KernelContext& ctx) {                                                             \
    return dispatch_float(ctx.input(0)->dtype(), [&]<typename T>() { return fn<T>(ctx); });     \
  }

SLIMRT_FLOAT_KERNEL(batch_norm_kernel, batch_norm_typed)
SLIMRT_FLOAT_KERNEL(instance_norm_kernel, instance_norm_typed)
SLIMRT_FLOAT_KERNEL(group_norm_kernel, group_norm_typed)
SLIMRT_FLOAT_KERNEL(layer_norm_kernel, layer_norm_typed)
SLIMRT_FLOAT_KERNEL(lrn_kernel, lrn_typed)
SLIMRT_FLOAT_KERNEL(mean_variance_norm_kernel, mean_variance_norm_typed)
SLIMRT_FLOAT_KERNEL(max_unpool_kernel, max_unpool_typed)

#undef SLIMRT_FLOAT_KERNEL

}  // namespace

void register_nn_kernels(KernelRegistry& r) {
  register_nn_conv_kernels(r);
  register_nn_pool_kernels(r);
  r.add({"BatchNormalization", batch_norm_kernel, true});
  r.add({"InstanceNormalization", instance_norm_kernel, true});
  r.add({"GroupNormalization", group_norm_kernel, true});
  r.add({"LayerNormalization", layer_norm_kernel, true});
  r.add({"LRN", lrn_kernel, true});
  r.add({"Dropout", dropout_kernel, false});
  r.add({"MeanVarianceNormalization", mean_variance_norm_kernel, true});
  r.add({"MaxUnpool", max_unpool_kernel, true});
}

}  // namespace slimrt::cpu
