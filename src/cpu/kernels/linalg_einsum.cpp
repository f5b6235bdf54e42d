// CPU reference kernel for Einsum.
//
// Every label and every ellipsis dim becomes one axis of an iteration space; each operand has a
// stride per axis (summed for repeated labels, which walks diagonals; 0 where it lacks the axis
// or broadcasts it). Two-operand float contractions that are batched matrix products (each axis
// is batch, row, column or contracted, no diagonals) are gathered into [batch, M, K] and
// [batch, K, N] buffers and run through gemm(); everything else runs the general loop, with
// double accumulation for floats and int64 for integers.
#include <algorithm>
#include <map>
#include <type_traits>
#include <vector>

#include "cpu/dispatch.h"
#include "cpu/gemm.h"
#include "cpu/kernel_registry.h"
#include "ir/ops/linalg_einsum.h"

namespace slimrt::cpu {
namespace {

struct Plan {
  std::vector<int64_t> sizes;                    // per axis
  std::vector<std::vector<int64_t>> strides;     // [operand][axis]
  std::vector<std::vector<int>> uses;            // [operand][axis]: how often the axis occurs
  std::vector<int> out_axes;                     // output dims in order
  std::vector<int64_t> out_strides;              // per axis (0 for contracted)
  std::vector<int> sum_axes;                     // contracted axes
};

Status make_plan(const KernelContext& ctx, const EinsumEquation& eq, Plan* plan) {
  const size_t nin = ctx.inputs.size();
  // Ellipsis rank: the largest over operands.
  size_t ell = 0;
  for (size_t i = 0; i < nin; ++i) {
    const std::string& t = eq.inputs[i];
    const size_t labels = einsum_label_count(t);
    const size_t rank = ctx.input(i)->rank();
    if (labels == t.size() ? rank != labels : rank < labels)
      return ctx.invalid("term '" + t + "' does not fit an input of rank " + std::to_string(rank));
    if (labels != t.size()) ell = std::max(ell, rank - labels);
  }
  // Axes 0..ell-1 are the ellipsis dims, then one per label in order of first appearance.
  std::map<char, int> label_axis;
  plan->sizes.assign(ell, 1);
  for (const std::string& t : eq.inputs) {
    for (char c : t) {
      if (c != EinsumEquation::kEllipsis && !label_axis.count(c)) {
        label_axis[c] = static_cast<int>(plan->sizes.size());
        plan->sizes.push_back(-1);
      }
    }
  }
  const size_t naxes = plan->sizes.size();
  plan->strides.assign(nin, std::vector<int64_t>(naxes, 0));
  plan->uses.assign(nin, std::vector<int>(naxes, 0));
  for (size_t i = 0; i < nin; ++i) {
    const Tensor& x = *ctx.input(i);
    const std::string& t = eq.inputs[i];
    const size_t rank = x.rank();
    std::vector<int64_t> xs(rank, 1);
    for (size_t d = rank; d-- > 1;) xs[d - 1] = xs[d] * x.dim(d);
    const size_t n_ell = rank - einsum_label_count(t);
    size_t d = 0;
    for (char c : t) {
      if (c == EinsumEquation::kEllipsis) {
        for (size_t e = 0; e < n_ell; ++e, ++d) {
          const int axis = static_cast<int>(ell - n_ell + e);
          const int64_t n = x.dim(d);
          int64_t& s = plan->sizes[static_cast<size_t>(axis)];
          if (n != 1) {
            if (s != 1 && s != n) return ctx.invalid("ellipsis dims do not broadcast");
            s = n;
            plan->strides[i][static_cast<size_t>(axis)] = xs[d];
          }
          plan->uses[i][static_cast<size_t>(axis)] = 1;
        }
        continue;
      }
      const size_t axis = static_cast<size_t>(label_axis[c]);
      int64_t& s = plan->sizes[axis];
      if (s >= 0 && s != x.dim(d)) return ctx.invalid(std::string("sizes of label '") + c + "' do not match");
      s = x.dim(d);
      plan->strides[i][axis] += xs[d];
      ++plan->uses[i][axis];
      ++d;
    }
  }
  plan->out_strides.assign(naxes, 0);
  std::vector<bool> in_out(naxes, false);
  for (char c : eq.output) {
    if (c == EinsumEquation::kEllipsis) {
      for (size_t e = 0; e < ell; ++e) plan->out_axes.push_back(static_cast<int>(e));
    } else {
      plan->out_axes.push_back(label_axis.at(c));
    }
  }
  int64_t s = 1;
  for (size_t o = plan->out_axes.size(); o-- > 0;) {
    const size_t axis = static_cast<size_t>(plan->out_axes[o]);
    in_out[axis] = true;
    plan->out_strides[axis] = s;
    s *= plan->sizes[axis];
  }
  for (size_t a = 0; a < naxes; ++a) {
    if (!in_out[a]) plan->sum_axes.push_back(static_cast<int>(a));
  }
  return Status::OK();
}

// Copies the strided view (dims, strides) of src into dst in row-major order of dims.
template <typename T>
void gather(const T* src, const std::vector<int64_t>& dims, const std::vector<int64_t>& strides, T* dst) {
  int64_t total = 1;
  for (int64_t d : dims) total *= d;
  if (total == 0) return;
  std::vector<int64_t> idx(dims.size(), 0);
  int64_t off = 0;
  for (int64_t t = 0; t < total; ++t) {
    dst[t] = src[off];
    for (size_t d = dims.size(); d-- > 0;) {
      off += strides[d];
      if (++idx[d] < dims[d]) break;
      off -= strides[d] * dims[d];
      idx[d] = 0;
    }
  }
}

// Two operands, every axis batch / M / N / K, no diagonals: a batched gemm.
template <typename T>
bool try_gemm(const Plan& p, const T* a, const T* b, T* y) {
  std::vector<int> batch, ms, ns, ks;
  for (size_t ax = 0; ax < p.sizes.size(); ++ax) {
    const int ua = p.uses[0][ax], ub = p.uses[1][ax];
    const bool out = std::find(p.out_axes.begin(), p.out_axes.end(), static_cast<int>(ax)) != p.out_axes.end();
    if (ua > 1 || ub > 1) return false;
    const int a_ax = static_cast<int>(ax);
    if (ua && ub && out) batch.push_back(a_ax);
    else if (ua && out) ms.push_back(a_ax);
    else if (ub && out) ns.push_back(a_ax);
    else if (ua && ub) ks.push_back(a_ax);
    else if (out) batch.push_back(a_ax);  // an ellipsis dim both operands broadcast
    else return false;                     // summed over within one operand only
  }
  auto prod = [&](const std::vector<int>& axes) {
    int64_t n = 1;
    for (int ax : axes) n *= p.sizes[static_cast<size_t>(ax)];
    return n;
  };
  const int64_t nb = prod(batch), m = prod(ms), n = prod(ns), k = prod(ks);
  auto view = [&](size_t op, std::initializer_list<const std::vector<int>*> groups, std::vector<int64_t>* dims,
                  std::vector<int64_t>* strides) {
    for (const auto* g : groups) {
      for (int ax : *g) {
        dims->push_back(p.sizes[static_cast<size_t>(ax)]);
        strides->push_back(op < 2 ? p.strides[op][static_cast<size_t>(ax)] : p.out_strides[static_cast<size_t>(ax)]);
      }
    }
  };
  std::vector<T> pa(static_cast<size_t>(nb * m * k)), pb(static_cast<size_t>(nb * k * n)), pc(static_cast<size_t>(nb * m * n));
  std::vector<int64_t> dims, strides;
  view(0, {&batch, &ms, &ks}, &dims, &strides);
  gather(a, dims, strides, pa.data());
  dims.clear();
  strides.clear();
  view(1, {&batch, &ks, &ns}, &dims, &strides);
  gather(b, dims, strides, pb.data());
  for (int64_t t = 0; t < nb; ++t) {
    gemm(false, false, m, n, k, T(1), pa.data() + t * m * k, k, pb.data() + t * k * n, n, T(0), pc.data() + t * m * n, n);
  }
  // Scatter [batch, M, N] into the output order.
  dims.clear();
  strides.clear();
  view(2, {&batch, &ms, &ns}, &dims, &strides);
  int64_t total = nb * m * n;
  std::vector<int64_t> idx(dims.size(), 0);
  int64_t off = 0;
  for (int64_t t = 0; t < total; ++t) {
    y[off] = pc[static_cast<size_t>(t)];
    for (size_t d = dims.size(); d-- > 0;) {
      off += strides[d];
      if (++idx[d] < dims[d]) break;
      off -= strides[d] * dims[d];
      idx[d] = 0;
    }
  }
  return true;
}

template <typename T>
void general_loop(const Plan& p, const std::vector<const T*>& ins, T* y) {
  // Integers wrap modulo 2^64 (well defined in unsigned arithmetic), then in the stored type.
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, uint64_t>;
  const size_t nin = ins.size();
  int64_t n_out = 1, n_sum = 1;
  for (int ax : p.out_axes) n_out *= p.sizes[static_cast<size_t>(ax)];
  for (int ax : p.sum_axes) n_sum *= p.sizes[static_cast<size_t>(ax)];
  const size_t ro = p.out_axes.size(), rs = p.sum_axes.size();
  std::vector<int64_t> oidx(ro, 0), sidx(rs, 0), base(nin, 0), off(nin, 0);
  for (int64_t o = 0; o < n_out; ++o) {
    Acc acc = 0;
    if (n_sum > 0) {
      off = base;
      std::fill(sidx.begin(), sidx.end(), 0);
      for (int64_t s = 0; s < n_sum; ++s) {
        Acc prod = 1;
        for (size_t i = 0; i < nin; ++i) {
          if constexpr (std::is_floating_point_v<T>) prod *= static_cast<double>(ins[i][off[i]]);
          else prod *= static_cast<uint64_t>(static_cast<int64_t>(ins[i][off[i]]));
        }
        acc += prod;
        for (size_t d = rs; d-- > 0;) {
          const size_t ax = static_cast<size_t>(p.sum_axes[d]);
          for (size_t i = 0; i < nin; ++i) off[i] += p.strides[i][ax];
          if (++sidx[d] < p.sizes[ax]) break;
          for (size_t i = 0; i < nin; ++i) off[i] -= p.strides[i][ax] * p.sizes[ax];
          sidx[d] = 0;
        }
      }
    }
    y[o] = static_cast<T>(acc);
    for (size_t d = ro; d-- > 0;) {
      const size_t ax = static_cast<size_t>(p.out_axes[d]);
      for (size_t i = 0; i < nin; ++i) base[i] += p.strides[i][ax];
      if (++oidx[d] < p.sizes[ax]) break;
      for (size_t i = 0; i < nin; ++i) base[i] -= p.strides[i][ax] * p.sizes[ax];
      oidx[d] = 0;
    }
  }
}

}  // namespace

Status einsum_kernel(KernelContext& ctx) {
  EinsumEquation eq;
  Status s = parse_einsum(ctx.node.attr_string("equation", ""), ctx.inputs.size(), &eq);
  if (!s.ok()) return ctx.invalid(s.message());
  for (const Tensor* t : ctx.inputs) {
    if (!t) return ctx.invalid("Einsum inputs cannot be absent");
  }
  Plan plan;
  SLIMRT_RETURN_IF_ERROR(make_plan(ctx, eq, &plan));
  Tensor& y = ctx.output(0);
  int64_t n_out = 1;
  for (int ax : plan.out_axes) n_out *= plan.sizes[static_cast<size_t>(ax)];
  if (n_out != y.numel()) return ctx.invalid("output size does not match the equation");
  return dispatch_numeric(ctx.input(0)->dtype(), [&]<typename T>() {
    std::vector<const T*> ins;
    for (const Tensor* t : ctx.inputs) ins.push_back(t->data<T>());
    if constexpr (std::is_floating_point_v<T>) {
      if (ins.size() == 2 && try_gemm<T>(plan, ins[0], ins[1], y.data<T>())) return Status::OK();
    }
    general_loop<T>(plan, ins, y.data<T>());
    return Status::OK();
  });
}

}  // namespace slimrt::cpu
