// CPU reference kernels for pooling: AveragePool, MaxPool (with optional Indices), LpPool and
// the global pools. Sums are accumulated in double.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "cpu/dispatch.h"
#include "cpu/kernel_registry.h"
#include "ir/ops/nn_geometry.h"

namespace slimrt::cpu {

namespace {

using nn::WindowAxis;

enum class PoolKind { kAverage, kMax, kLp };

bool next_index(std::vector<int64_t>& idx, const std::vector<int64_t>& limits) {
  for (size_t d = idx.size(); d-- > 0;) {
    if (++idx[d] < limits[d]) return true;
    idx[d] = 0;
  }
  return false;
}

// Per output index of one axis: the kernel taps that land inside the input, and how many land
// inside input + explicit padding (the count_include_pad divisor).
struct AxisTaps {
  std::vector<std::vector<int64_t>> input_pos;  // [out] -> input positions
  std::vector<int64_t> padded_count;            // [out]
};

AxisTaps make_taps(const WindowAxis& a) {
  AxisTaps t;
  t.input_pos.resize(static_cast<size_t>(a.out));
  t.padded_count.resize(static_cast<size_t>(a.out));
  for (int64_t o = 0; o < a.out; ++o) {
    int64_t padded = 0;
    for (int64_t k = 0; k < a.kernel; ++k) {
      const int64_t i = o * a.stride - a.pad_begin + k * a.dilation;
      if (i >= -a.pad_begin && i < a.in + a.pad_end) ++padded;
      if (i >= 0 && i < a.in) t.input_pos[static_cast<size_t>(o)].push_back(i);
    }
    t.padded_count[static_cast<size_t>(o)] = padded;
  }
  return t;
}

template <typename T>
Status pool_typed(KernelContext& ctx, PoolKind kind) {
  const Node& node = ctx.node;
  const Tensor& x = *ctx.input(0);
  Tensor& y = ctx.output(0);
  Tensor* indices = ctx.outputs.size() > 1 ? &ctx.output(1) : nullptr;
  const size_t n = x.rank() - 2;
  const nn::AutoPad mode = nn::parse_auto_pad(node.attr_string("auto_pad", "NOTSET"));
  const auto kernel = node.attr_ints("kernel_shape");
  const auto strides = node.attr_ints("strides", std::vector<int64_t>(n, 1));
  const auto dilations = node.attr_ints("dilations", std::vector<int64_t>(n, 1));
  const auto pads = node.attr_ints("pads", std::vector<int64_t>(2 * n, 0));
  const bool ceil_mode = node.attr_int("ceil_mode", 0) != 0;
  const bool count_include_pad = node.attr_int("count_include_pad", 0) != 0;
  const bool column_major = node.attr_int("storage_order", 0) != 0;
  const double p = static_cast<double>(node.attr_int("p", 2));
  std::vector<WindowAxis> ax(n);
  std::vector<AxisTaps> taps(n);
  std::vector<int64_t> olim(n);
  int64_t in_size = 1, out_size = 1;
  for (size_t i = 0; i < n; ++i) {
    WindowAxis& a = ax[i];
    a.in = x.dim(i + 2);
    a.kernel = kernel[i];
    a.stride = strides[i];
    a.dilation = dilations[i];
    nn::resolve_window_axis(a, mode, pads[i], pads[i + n], ceil_mode);
    if (a.out != y.dim(i + 2)) return internal_error(node.describe() + ": pool geometry disagrees with the inferred output shape");
    taps[i] = make_taps(a);
    olim[i] = a.out;
    in_size *= a.in;
    out_size *= a.out;
  }
  // Flat-index multipliers of each input axis (row-major for the data, and for Indices either
  // row- or column-major per storage_order).
  std::vector<int64_t> row_mul(n, 1), idx_mul(n, 1);
  for (size_t d = n - 1; d-- > 0;) row_mul[d] = row_mul[d + 1] * ax[d + 1].in;
  if (column_major) {
    for (size_t d = 1; d < n; ++d) idx_mul[d] = idx_mul[d - 1] * ax[d - 1].in;
  } else {
    idx_mul = row_mul;
  }
  const int64_t planes = x.dim(0) * x.dim(1);
  const T* xd = x.data<T>();
  T* yd = y.data<T>();
  int64_t* id = indices ? indices->data<int64_t>() : nullptr;
  std::vector<int64_t> o(n), t(n), tlim(n);
  for (int64_t pl = 0; pl < planes; ++pl) {
    const T* xp = xd + pl * in_size;
    std::fill(o.begin(), o.end(), 0);
    int64_t out_flat = pl * out_size;
    do {
      int64_t padded = 1;
      bool empty = false;
      for (size_t d = 0; d < n; ++d) {
        const size_t od = static_cast<size_t>(o[d]);
        tlim[d] = static_cast<int64_t>(taps[d].input_pos[od].size());
        padded *= taps[d].padded_count[od];
        empty |= tlim[d] == 0;
      }
      double sum = 0;
      int64_t count = 0;
      T best = std::numeric_limits<T>::lowest();
      int64_t best_idx = 0;
      bool have_best = false;
      if (!empty) {
        std::fill(t.begin(), t.end(), 0);
        do {
          int64_t off = 0, idx = 0;
          for (size_t d = 0; d < n; ++d) {
            const int64_t i = taps[d].input_pos[static_cast<size_t>(o[d])][static_cast<size_t>(t[d])];
            off += i * row_mul[d];
            idx += i * idx_mul[d];
          }
          const T v = xp[off];
          if (kind == PoolKind::kMax) {
            if (!have_best || v > best) {
              best = v;
              best_idx = idx;
              have_best = true;
            }
          } else if (kind == PoolKind::kLp) {
            sum += std::pow(std::fabs(static_cast<double>(v)), p);
          } else {
            sum += static_cast<double>(v);
          }
          ++count;
        } while (next_index(t, tlim));
      }
      if (kind == PoolKind::kMax) {
        yd[out_flat] = best;
        if (id) id[out_flat] = pl * in_size + best_idx;
      } else if (kind == PoolKind::kLp) {
        yd[out_flat] = static_cast<T>(std::pow(sum, 1.0 / p));
      } else {
        const int64_t div = count_include_pad ? padded : count;
        yd[out_flat] = static_cast<T>(div > 0 ? sum / static_cast<double>(div) : 0.0);
      }
      ++out_flat;
    } while (next_index(o, olim));
  }
  return Status::OK();
}

template <typename T>
Status global_pool_typed(KernelContext& ctx, PoolKind kind) {
  const Tensor& x = *ctx.input(0);
  Tensor& y = ctx.output(0);
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t size = planes == 0 ? 0 : x.numel() / planes;
  const double p = static_cast<double>(ctx.node.attr_int("p", 2));
  const T* xd = x.data<T>();
  T* yd = y.data<T>();
  for (int64_t pl = 0; pl < planes; ++pl) {
    const T* xp = xd + pl * size;
    if (kind == PoolKind::kMax) {
      T best = std::numeric_limits<T>::lowest();
      for (int64_t i = 0; i < size; ++i) best = i == 0 || xp[i] > best ? xp[i] : best;
      yd[pl] = best;
      continue;
    }
    double sum = 0;
    for (int64_t i = 0; i < size; ++i) {
      const double v = static_cast<double>(xp[i]);
      sum += kind == PoolKind::kLp ? std::pow(std::fabs(v), p) : v;
    }
    yd[pl] = static_cast<T>(kind == PoolKind::kLp ? std::pow(sum, 1.0 / p) : sum / static_cast<double>(size));
  }
  return Status::OK();
}

Status average_pool_kernel(KernelContext& ctx) {
  return dispatch_float(ctx.input(0)->dtype(), [&]<typename T>() { return pool_typed<T>(ctx, PoolKind::kAverage); });
}
Status lp_pool_kernel(KernelContext& ctx) {
  return dispatch_float(ctx.input(0)->dtype(), [&]<typename T>() { return pool_typed<T>(ctx, PoolKind::kLp); });
}
Status max_pool_kernel(KernelContext& ctx) {
  return dispatch_numeric(ctx.input(0)->dtype(), [&]<typename T>() { return pool_typed<T>(ctx, PoolKind::kMax); });
}
Status global_average_pool_kernel(KernelContext& ctx) {
  return dispatch_float(ctx.input(0)->dtype(),
                        [&]<typename T>() { return global_pool_typed<T>(ctx, PoolKind::kAverage); });
}
Status global_lp_pool_kernel(KernelContext& ctx) {
  return dispatch_float(ctx.input(0)->dtype(), [&]<typename T>() { return global_pool_typed<T>(ctx, PoolKind::kLp); });
}
Status global_max_pool_kernel(KernelContext& ctx) {
  return dispatch_numeric(ctx.input(0)->dtype(),
                          [&]<typename T>() { return global_pool_typed<T>(ctx, PoolKind::kMax); });
}

}  // namespace

void register_nn_pool_kernels(KernelRegistry& r) {
  r.add({"AveragePool", average_pool_kernel, true});
  r.add({"MaxPool", max_pool_kernel, true});
  r.add({"LpPool", lp_pool_kernel, true});
  r.add({"GlobalAveragePool", global_average_pool_kernel, true});
  r.add({"GlobalMaxPool", global_max_pool_kernel, true});
  r.add({"GlobalLpPool", global_lp_pool_kernel, true});
}

}  // namespace slimrt::cpu
