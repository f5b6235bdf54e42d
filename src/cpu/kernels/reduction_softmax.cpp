// CPU reference kernels for Softmax, LogSoftmax, Hardmax, ArgMax and ArgMin: ops that work
// along one axis, viewed as [outer, axis, inner].
#include <cmath>
#include <limits>
#include <vector>

#include "cpu/dispatch.h"
#include "cpu/kernel_registry.h"

namespace slimrt::cpu {
namespace {

struct AxisView {
  int64_t outer = 1, len = 1, inner = 1;
};

Status axis_view(const KernelContext& ctx, const Tensor& x, int64_t axis, AxisView* v) {
  const int64_t rank = static_cast<int64_t>(x.rank());
  if (rank == 0) {
    if (axis != 0 && axis != -1) return ctx.invalid("axis " + std::to_string(axis) + " out of range for a scalar");
    *v = AxisView{};
    return Status::OK();
  }
  if (axis < -rank || axis >= rank)
    return ctx.invalid("axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
  if (axis < 0) axis += rank;
  *v = AxisView{};
  for (int64_t d = 0; d < rank; ++d) {
    const int64_t n = x.dim(static_cast<size_t>(d));
    if (d < axis) v->outer *= n;
    else if (d == axis) v->len = n;
    else v->inner *= n;
  }
  return Status::OK();
}

enum class SoftKind { kSoftmax, kLogSoftmax, kHardmax };

template <typename T>
void softmax_lane(SoftKind kind, const T* x, T* y, int64_t len, int64_t stride, std::vector<double>& buf) {
  double mx = -std::numeric_limits<double>::infinity();
  int64_t arg = 0;
  bool nan = false;
  for (int64_t k = 0; k < len; ++k) {
    const double v = static_cast<double>(x[k * stride]);
    buf[static_cast<size_t>(k)] = v;
    if (std::isnan(v)) nan = true;
    if (v > mx) {
      mx = v;
      arg = k;
    }
  }
  if (kind == SoftKind::kHardmax) {
    for (int64_t k = 0; k < len; ++k) y[k * stride] = static_cast<T>(k == arg ? 1 : 0);
    return;
  }
  if (nan) {
    for (int64_t k = 0; k < len; ++k) y[k * stride] = std::numeric_limits<T>::quiet_NaN();
    return;
  }
  double sum = 0;
  if (kind == SoftKind::kSoftmax) {
    for (int64_t k = 0; k < len; ++k) {
      double& e = buf[static_cast<size_t>(k)];
      e = std::exp(e - mx);
      sum += e;
    }
    const double inv = 1.0 / sum;
    for (int64_t k = 0; k < len; ++k) y[k * stride] = static_cast<T>(buf[static_cast<size_t>(k)] * inv);
  } else {
    for (int64_t k = 0; k < len; ++k) sum += std::exp(buf[static_cast<size_t>(k)] - mx);
    const double lse = std::log(sum);
    for (int64_t k = 0; k < len; ++k) y[k * stride] = static_cast<T>(buf[static_cast<size_t>(k)] - mx - lse);
  }
}

template <SoftKind kKind>
Status softmax_kernel(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  Tensor& y = ctx.output(0);
  AxisView v;
  SLIMRT_RETURN_IF_ERROR(axis_view(ctx, x, ctx.node.attr_int("axis", -1), &v));
  return dispatch_float(x.dtype(), [&]<typename T>() {
    std::vector<double> buf(static_cast<size_t>(v.len));
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    for (int64_t o = 0; o < v.outer; ++o) {
      for (int64_t i = 0; i < v.inner; ++i) {
        const int64_t base = o * v.len * v.inner + i;
        softmax_lane<T>(kKind, xp + base, yp + base, v.len, v.inner, buf);
      }
    }
    return Status::OK();
  });
}

template <bool kMax>
Status arg_kernel(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  Tensor& y = ctx.output(0);
  AxisView v;
  SLIMRT_RETURN_IF_ERROR(axis_view(ctx, x, ctx.node.attr_int("axis", 0), &v));
  if (v.len == 0) return ctx.invalid("ArgMax/ArgMin over an empty axis");
  const bool last = ctx.node.attr_int("select_last_index", 0) != 0;
  int64_t* out = y.data<int64_t>();
  return dispatch_numeric(x.dtype(), [&]<typename T>() {
    const T* xp = x.data<T>();
    for (int64_t o = 0; o < v.outer; ++o) {
      for (int64_t i = 0; i < v.inner; ++i) {
        const T* lane = xp + o * v.len * v.inner + i;
        T best = lane[0];
        int64_t arg = 0;
        for (int64_t k = 1; k < v.len; ++k) {
          const T c = lane[k * v.inner];
          const bool better = kMax ? (last ? c >= best : c > best) : (last ? c <= best : c < best);
          if (better) {
            best = c;
            arg = k;
          }
        }
        out[o * v.inner + i] = arg;
      }
    }
    return Status::OK();
  });
}

}  // namespace

void register_softmax_kernels(KernelRegistry& r) {
  r.add({"Softmax", softmax_kernel<SoftKind::kSoftmax>, true});
  r.add({"LogSoftmax", softmax_kernel<SoftKind::kLogSoftmax>, true});
  r.add({"Hardmax", softmax_kernel<SoftKind::kHardmax>, true});
  r.add({"ArgMax", arg_kernel<true>, true});
  r.add({"ArgMin", arg_kernel<false>, true});
}

}  // namespace slimrt::cpu
