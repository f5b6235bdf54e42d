// CPU reference kernels for the Reduce* ops. Float inputs accumulate in double, integer inputs
// in int64 (wrapping like the stored type where the result overflows it).
#include <cmath>
#include <limits>

#include "cpu/dispatch.h"
#include "cpu/kernel_registry.h"
#include "ir/ops/op_lists.h"
#include "ir/reduce_geometry.h"

namespace slimrt::cpu {
namespace {

enum class ReduceKind { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

// The input viewed as a few merged dims, each either reduced or kept, with the output stride
// of every kept dim (0 for reduced ones).
struct ReducePlan {
  std::vector<int64_t> dims;
  std::vector<int64_t> out_strides;
  int64_t out_numel = 1;
  int64_t group = 1;  // input elements per output element
};

Status make_plan(const KernelContext& ctx, ReducePlan* plan) {
  const Tensor& x = *ctx.input(0);
  std::vector<int64_t> axes;
  if (const Tensor* a = ctx.input(1)) axes = a->to_int64_vector();
  ReduceGeometry g;
  std::string why;
  if (!reduce_geometry(x.shape(), axes, ctx.node.attr_int("noop_with_empty_axes", 0) != 0, &g, &why))
    return ctx.invalid(why);
  plan->group = g.group;
  plan->out_numel = g.out_numel;
  const std::vector<int64_t>& dims = g.dims;
  const std::vector<bool>& kinds = g.reduced;
  plan->dims = dims;
  plan->out_strides.assign(dims.size(), 0);
  int64_t s = 1;
  for (size_t d = dims.size(); d-- > 0;) {
    if (!kinds[d]) {
      plan->out_strides[d] = s;
      s *= dims[d];
    }
  }
  return Status::OK();
}

// Visits every input element in order with the flat index of its output element.
template <typename F>
void for_each_element(const ReducePlan& plan, int64_t numel, F&& f) {
  if (numel == 0) return;
  if (plan.dims.empty()) {
    f(int64_t{0}, int64_t{0});
    return;
  }
  const size_t r = plan.dims.size();
  const int64_t inner = plan.dims[r - 1];
  const int64_t inner_stride = plan.out_strides[r - 1];
  std::vector<int64_t> idx(r, 0);
  int64_t base = 0;
  for (int64_t i = 0; i < numel; i += inner) {
    for (int64_t j = 0; j < inner; ++j) f(i + j, base + j * inner_stride);
    for (size_t d = r - 1; d-- > 0;) {
      base += plan.out_strides[d];
      if (++idx[d] < plan.dims[d]) break;
      base -= plan.out_strides[d] * plan.dims[d];
      idx[d] = 0;
    }
  }
}

template <typename T>
Status reduce_float(ReduceKind kind, const ReducePlan& plan, const T* x, int64_t numel, T* y) {
  const int64_t n_out = plan.out_numel;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  double init = 0.0;
  if (kind == ReduceKind::kMax || kind == ReduceKind::kLogSumExp) init = -kInf;
  if (kind == ReduceKind::kMin) init = kInf;
  if (kind == ReduceKind::kProd) init = 1.0;
  std::vector<double> acc(static_cast<size_t>(n_out), init);
  double* a = acc.data();
  switch (kind) {
    case ReduceKind::kSum:
    case ReduceKind::kMean:
    case ReduceKind::kLogSum:
      for_each_element(plan, numel, [&](int64_t i, int64_t o) { a[o] += static_cast<double>(x[i]); });
      break;
    case ReduceKind::kMax:
      for_each_element(plan, numel, [&](int64_t i, int64_t o) {
        const double v = static_cast<double>(x[i]);
        if (v > a[o] || std::isnan(v)) a[o] = v;
      });
      break;
    case ReduceKind::kMin:
      for_each_element(plan, numel, [&](int64_t i, int64_t o) {
        const double v = static_cast<double>(x[i]);
        if (v < a[o] || std::isnan(v)) a[o] = v;
      });
      break;
    case ReduceKind::kProd:
      for_each_element(plan, numel, [&](int64_t i, int64_t o) { a[o] *= static_cast<double>(x[i]); });
      break;
    case ReduceKind::kL1:
      for_each_element(plan, numel, [&](int64_t i, int64_t o) { a[o] += std::fabs(static_cast<double>(x[i])); });
      break;
    case ReduceKind::kL2:
    case ReduceKind::kSumSquare:
      for_each_element(plan, numel, [&](int64_t i, int64_t o) {
        const double v = static_cast<double>(x[i]);
        a[o] += v * v;
      });
      break;
    case ReduceKind::kLogSumExp: {
      // Shift by the maximum so exp never overflows.
      std::vector<double> mx(static_cast<size_t>(n_out), -kInf);
      double* m = mx.data();
      for_each_element(plan, numel, [&](int64_t i, int64_t o) {
        const double v = static_cast<double>(x[i]);
        if (v > m[o] || std::isnan(v)) m[o] = v;
      });
      std::fill(acc.begin(), acc.end(), 0.0);
      for_each_element(plan, numel, [&](int64_t i, int64_t o) {
        const double s = std::isinf(m[o]) ? 0.0 : m[o];
        a[o] += std::exp(static_cast<double>(x[i]) - s);
      });
      for (int64_t o = 0; o < n_out; ++o) {
        const double s = std::isinf(m[o]) ? 0.0 : m[o];
        a[o] = std::log(a[o]) + s;
      }
      break;
    }
  }
  const double group = static_cast<double>(plan.group);
  for (int64_t o = 0; o < n_out; ++o) {
    double v = a[o];
    if (kind == ReduceKind::kMean) v = v / group;  // 0/0 = NaN for an empty reduction
    else if (kind == ReduceKind::kL2) v = std::sqrt(v);
    else if (kind == ReduceKind::kLogSum) v = std::log(v);
    y[o] = static_cast<T>(v);
  }
  return Status::OK();
}

template <typename T>
Status reduce_int(const KernelContext& ctx, ReduceKind kind, const ReducePlan& plan, const T* x, int64_t numel, T* y) {
  const int64_t n_out = plan.out_numel;
  if (kind == ReduceKind::kL2 || kind == ReduceKind::kLogSum || kind == ReduceKind::kLogSumExp) {
    std::vector<double> tmp(static_cast<size_t>(numel));
    for (int64_t i = 0; i < numel; ++i) tmp[static_cast<size_t>(i)] = static_cast<double>(x[i]);
    std::vector<double> out(static_cast<size_t>(n_out));
    SLIMRT_RETURN_IF_ERROR(reduce_float<double>(kind, plan, tmp.data(), numel, out.data()));
    for (int64_t o = 0; o < n_out; ++o) {
      const double v = out[static_cast<size_t>(o)];
      if (!std::isfinite(v)) return ctx.invalid("integer reduction result is not finite");
      y[o] = static_cast<T>(v);
    }
    return Status::OK();
  }
  int64_t init = 0;
  if (kind == ReduceKind::kMax) init = static_cast<int64_t>(std::numeric_limits<T>::lowest());
  if (kind == ReduceKind::kMin) init = static_cast<int64_t>(std::numeric_limits<T>::max());
  if (kind == ReduceKind::kProd) init = 1;
  std::vector<int64_t> acc(static_cast<size_t>(n_out), init);
  int64_t* a = acc.data();
  // Sums and products wrap modulo 2^64 (via unsigned arithmetic), which matches wrapping in
  // the narrower stored type after the final cast.
  auto wrap_add = [](int64_t p, int64_t q) {
    return static_cast<int64_t>(static_cast<uint64_t>(p) + static_cast<uint64_t>(q));
  };
  for_each_element(plan, numel, [&](int64_t i, int64_t o) {
    const int64_t v = static_cast<int64_t>(x[i]);
    switch (kind) {
      case ReduceKind::kMax: a[o] = std::max(a[o], v); break;
      case ReduceKind::kMin: a[o] = std::min(a[o], v); break;
      case ReduceKind::kProd:
        a[o] = static_cast<int64_t>(static_cast<uint64_t>(a[o]) * static_cast<uint64_t>(v));
        break;
      case ReduceKind::kL1: a[o] = wrap_add(a[o], v < 0 ? -v : v); break;
      case ReduceKind::kSumSquare:
        a[o] = wrap_add(a[o], static_cast<int64_t>(static_cast<uint64_t>(v) * static_cast<uint64_t>(v)));
        break;
      default: a[o] = wrap_add(a[o], v); break;
    }
  });
  for (int64_t o = 0; o < n_out; ++o) {
    int64_t v = a[o];
    if (kind == ReduceKind::kMean) {
      if (plan.group == 0) return ctx.invalid("ReduceMean of an empty set of integers");
      v /= plan.group;
    }
    y[o] = static_cast<T>(v);
  }
  return Status::OK();
}

template <ReduceKind kKind>
Status reduce_kernel(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  Tensor& y = ctx.output(0);
  ReducePlan plan;
  SLIMRT_RETURN_IF_ERROR(make_plan(ctx, &plan));
  if (plan.out_numel != y.numel()) return ctx.invalid("output size does not match the reduction");
  if (dtype_is_float(x.dtype())) {
    return dispatch_float(x.dtype(), [&]<typename T>() {
      return reduce_float<T>(kKind, plan, x.data<T>(), x.numel(), y.data<T>());
    });
  }
  return dispatch_integer(x.dtype(), [&]<typename T>() {
    return reduce_int<T>(ctx, kKind, plan, x.data<T>(), x.numel(), y.data<T>());
  });
}

}  // namespace

void register_softmax_kernels(KernelRegistry& r);  // reduction_softmax.cpp
void register_scan_kernels(KernelRegistry& r);     // reduction_scan.cpp

void register_reduction_kernels(KernelRegistry& r) {
#define SLIMRT_ADD(Kind) r.add({"Reduce" #Kind, reduce_kernel<ReduceKind::k##Kind>, true});
  SLIMRT_REDUCE_OPS(SLIMRT_ADD)
#undef SLIMRT_ADD
  register_softmax_kernels(r);
  register_scan_kernels(r);
}

}  // namespace slimrt::cpu
