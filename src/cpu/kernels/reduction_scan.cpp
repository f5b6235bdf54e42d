// CPU reference kernels for CumSum and TopK.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <type_traits>
#include <vector>

#include "cpu/dispatch.h"
#include "cpu/kernel_registry.h"

namespace slimrt::cpu {
namespace {

Status split_at_axis(const KernelContext& ctx, const Tensor& x, int64_t axis, int64_t* outer, int64_t* len,
                     int64_t* inner) {
  const int64_t rank = static_cast<int64_t>(x.rank());
  if (axis < -rank || axis >= rank)
    return ctx.invalid("axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
  if (axis < 0) axis += rank;
  *outer = *inner = 1;
  for (int64_t d = 0; d < rank; ++d) {
    const int64_t n = x.dim(static_cast<size_t>(d));
    if (d < axis) *outer *= n;
    else if (d == axis) *len = n;
    else *inner *= n;
  }
  return Status::OK();
}

Status cumsum_kernel(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const Tensor& a = *ctx.input(1);
  if (a.numel() != 1) return ctx.invalid("axis must hold exactly one value");
  int64_t outer = 1, len = 1, inner = 1;
  SLIMRT_RETURN_IF_ERROR(split_at_axis(ctx, x, a.get_as_int64(0), &outer, &len, &inner));
  const bool exclusive = ctx.node.attr_int("exclusive", 0) != 0;
  const bool reverse = ctx.node.attr_int("reverse", 0) != 0;
  Tensor& y = ctx.output(0);
  return dispatch_numeric(x.dtype(), [&]<typename T>() {
    // Double for floats; int64 (wrapping) for integers.
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, uint64_t>;
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t base = o * len * inner + i;
        Acc acc = 0;
        for (int64_t s = 0; s < len; ++s) {
          const int64_t k = reverse ? len - 1 - s : s;
          const int64_t at = base + k * inner;
          const Acc v = static_cast<Acc>(xp[at]);
          if (!exclusive) acc += v;
          yp[at] = static_cast<T>(acc);
          if (exclusive) acc += v;
        }
      }
    }
    return Status::OK();
  });
}

Status topk_kernel(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const Tensor& kt = *ctx.input(1);
  if (kt.numel() != 1) return ctx.invalid("K must hold exactly one value");
  const int64_t k = kt.get_as_int64(0);
  int64_t outer = 1, len = 1, inner = 1;
  SLIMRT_RETURN_IF_ERROR(split_at_axis(ctx, x, ctx.node.attr_int("axis", -1), &outer, &len, &inner));
  if (k < 0 || k > len) return ctx.invalid("K = " + std::to_string(k) + " outside [0, " + std::to_string(len) + "]");
  const bool largest = ctx.node.attr_int("largest", 1) != 0;
  Tensor& values = ctx.output(0);
  int64_t* indices = ctx.outputs.size() > 1 ? ctx.output(1).data<int64_t>() : nullptr;
  return dispatch_numeric(x.dtype(), [&]<typename T>() {
    const T* xp = x.data<T>();
    T* vp = values.data<T>();
    std::vector<int64_t> order(static_cast<size_t>(len));
    std::vector<T> lane(static_cast<size_t>(len));
    // Ties keep the lower index first. NaN counts as larger than every number, as in numpy's
    // sort order, so the result is deterministic.
    auto greater = [&](int64_t p, int64_t q) {
      const T a = lane[static_cast<size_t>(p)], b = lane[static_cast<size_t>(q)];
      if constexpr (std::is_floating_point_v<T>) {
        const bool na = std::isnan(a), nb = std::isnan(b);
        if (na || nb) return na && !nb ? true : (na == nb ? p < q : false);
      }
      return a > b || (a == b && p < q);
    };
    auto less = [&](int64_t p, int64_t q) {
      const T a = lane[static_cast<size_t>(p)], b = lane[static_cast<size_t>(q)];
      if constexpr (std::is_floating_point_v<T>) {
        const bool na = std::isnan(a), nb = std::isnan(b);
        if (na || nb) return nb && !na ? true : (na == nb ? p < q : false);
      }
      return a < b || (a == b && p < q);
    };
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t base = o * len * inner + i;
        for (int64_t s = 0; s < len; ++s) lane[static_cast<size_t>(s)] = xp[base + s * inner];
        std::iota(order.begin(), order.end(), int64_t{0});
        if (largest) std::partial_sort(order.begin(), order.begin() + k, order.end(), greater);
        else std::partial_sort(order.begin(), order.begin() + k, order.end(), less);
        const int64_t obase = o * k * inner + i;
        for (int64_t s = 0; s < k; ++s) {
          const int64_t src = order[static_cast<size_t>(s)];
          vp[obase + s * inner] = lane[static_cast<size_t>(src)];
          if (indices) indices[obase + s * inner] = src;
        }
      }
    }
    return Status::OK();
  });
}

}  // namespace

void register_scan_kernels(KernelRegistry& r) {
  r.add({"CumSum", cumsum_kernel, true});
  r.add({"TopK", topk_kernel, true});
}

}  // namespace slimrt::cpu
