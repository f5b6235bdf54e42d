// Shape inference for the indexing ops of the tensor family: Slice, Gather, GatherElements,
// GatherND, ScatterElements, ScatterND.
#include <algorithm>
#include <limits>

#include "ir/op_registry.h"
#include "ir/ops/infer_common.h"
#include "ir/ops/tensor_common.h"

namespace slimrt {

namespace {

using tensor_ops::ints_to_string;
using tensor_ops::kHugeBound;
using tensor_ops::maybe_set_value;
using tensor_ops::nd_value_of;
using tensor_ops::normalize_axes;
using tensor_ops::value_of;
using tensor_ops::slice_range;
using tensor_ops::SliceRange;


// One slice bound on a symbolic axis as base + offset, base being 0, the axis size or a
// symbolic bound, assuming the axis is long enough for it (exporters slice `x[:, :1]`,
// `x[:, -1:]`, `x[:, past:]`, `x.flip(1)`), so that clamping only applies to huge bounds.
struct SymbolicBound {
  Dim base;
  int64_t offset = 0;
};

// `forward`: the step is positive, so huge bounds clamp to [0, dim]; else to [-1, dim - 1].
SymbolicBound symbolic_bound(const Dim& bound, const Dim& dim, bool forward) {
  auto v = bound.value();
  if (!v) return {bound, 0};
  if (*v >= kHugeBound) return {dim, forward ? 0 : -1};
  if (*v <= -kHugeBound) return {Dim(0), forward ? 0 : -1};
  if (*v < 0) return {dim, *v};
  return {Dim(0), *v};
}

// The output size of one sliced axis whose size or bounds are symbolic.
Dim symbolic_slice_dim(const ShapeContext& ctx, size_t axis, const Dim& dim, const Dim& start, const Dim& end,
                       int64_t step) {
  const bool forward = step > 0;
  const SymbolicBound s = symbolic_bound(start, dim, forward);
  const SymbolicBound e = symbolic_bound(end, dim, forward);
  // Elements visited: (end - start) forward, (start - end) backward, divided by |step|.
  const SymbolicBound& hi = forward ? e : s;
  const SymbolicBound& lo = forward ? s : e;
  const int64_t stride = forward ? step : -std::max(step, -std::numeric_limits<int64_t>::max());
  const int64_t off = hi.offset - lo.offset;  // offsets are below kHugeBound in magnitude
  if (hi.base == lo.base) return Dim(off > 0 ? (off - 1) / stride + 1 : 0);
  Dim len = lo.base == Dim(0) ? hi.base : hi.base - lo.base;
  if (off > 0) len = len + Dim(off);
  if (off < 0) len = len - Dim(-off);
  if (stride == 1) return len;
  if (auto q = len.divide(Dim(stride))) return *q;
  return ctx.fresh_dim(0, axis);
}

// The value of Slice over a known static tensor `v`, every start and end static.
void slice_nd_value(ShapeContext& ctx, const std::vector<Dim>& v, const std::vector<int64_t>& axes,
                    const std::vector<Dim>& starts, const std::vector<Dim>& ends, const std::vector<int64_t>& steps) {
  const std::vector<int64_t> in = *shape_to_static(ctx.input_shape(0));
  const size_t rank = in.size();
  std::vector<int64_t> first(rank, 0), count(in), step(rank, 1);
  for (size_t k = 0; k < axes.size(); ++k) {
    auto s = starts[k].value();
    auto e = ends[k].value();
    if (!s || !e) return;
    const size_t a = static_cast<size_t>(axes[k]);
    const SliceRange r = slice_range(in[a], *s, *e, steps[k]);
    first[a] = r.start;
    count[a] = r.count;
    step[a] = steps[k];
  }
  std::vector<int64_t> strides(rank, 1);
  for (size_t k = rank; k-- > 1;) strides[k - 1] = strides[k] * in[k];
  int64_t total = 1;
  for (int64_t c : count) total *= c;
  std::vector<Dim> out;
  out.reserve(static_cast<size_t>(total));
  std::vector<int64_t> index(rank, 0);
  for (int64_t i = 0; i < total; ++i) {
    int64_t at = 0;
    for (size_t k = 0; k < rank; ++k) at += (first[k] + index[k] * step[k]) * strides[k];
    out.push_back(v[static_cast<size_t>(at)]);
    for (size_t k = rank; k-- > 0;) {
      if (++index[k] < count[k]) break;
      index[k] = 0;
    }
  }
  maybe_set_value(ctx, 0, ctx.input_dtype(0), std::move(out));
}

Status infer_slice(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  const Shape& in = ctx.input_shape(0);
  const int64_t rank = static_cast<int64_t>(in.size());
  const std::vector<Dim>* starts = value_of(ctx, 1);
  const std::vector<Dim>* ends = value_of(ctx, 2);
  std::optional<std::vector<int64_t>> axes_v, steps_v;
  if (ctx.has_input(3)) axes_v = ctx.input_static_value(3);
  if (ctx.has_input(4)) steps_v = ctx.input_static_value(4);
  const bool axes_known = !ctx.has_input(3) || axes_v;
  const bool steps_known = !ctx.has_input(4) || steps_v;
  if (!starts || !ends || !axes_known || !steps_known) {
    // Which axes change is unknown: every dim may.
    Shape out;
    for (int64_t k = 0; k < rank; ++k) out.push_back(ctx.fresh_dim(0, static_cast<size_t>(k)));
    if (axes_v && steps_known) {
      out = in;
      for (int64_t a : *axes_v) {
        int64_t n = 0;
        SLIMRT_RETURN_IF_ERROR(normalize_axis(ctx, a, rank, &n));
        out[static_cast<size_t>(n)] = ctx.fresh_dim(0, static_cast<size_t>(n));
      }
    }
    ctx.set_output(0, dt, std::move(out));
    return Status::OK();
  }
  const size_t n = starts->size();
  if (ends->size() != n) return ctx.error("starts and ends have different lengths");
  std::vector<int64_t> axes;
  if (axes_v) {
    if (axes_v->size() != n) return ctx.error("axes " + ints_to_string(*axes_v) + " does not match starts");
    SLIMRT_RETURN_IF_ERROR(normalize_axes(ctx, *axes_v, rank, &axes));
  } else {
    if (static_cast<int64_t>(n) > rank) return ctx.error("more starts than input dims");
    for (size_t k = 0; k < n; ++k) axes.push_back(static_cast<int64_t>(k));
  }
  std::vector<int64_t> steps = steps_v ? *steps_v : std::vector<int64_t>(n, 1);
  if (steps.size() != n) return ctx.error("steps " + ints_to_string(steps) + " does not match starts");
  Shape out = in;
  for (size_t k = 0; k < n; ++k) {
    if (steps[k] == 0) return ctx.error("slice step is 0");
    const size_t a = static_cast<size_t>(axes[k]);
    auto d = in[a].value();
    auto s = (*starts)[k].value();
    auto e = (*ends)[k].value();
    if (d && s && e) {
      out[a] = Dim(slice_range(*d, *s, *e, steps[k]).count);
    } else {
      out[a] = symbolic_slice_dim(ctx, a, in[a], (*starts)[k], (*ends)[k], steps[k]);
    }
  }
  // Slicing a known 1-D value, e.g. Shape(x)[2:] in exporter shape subgraphs.
  const std::vector<Dim>* v = rank == 1 ? value_of(ctx, 0) : nullptr;
  if (v && n == 1) {
    auto s = (*starts)[0].value();
    auto e = (*ends)[0].value();
    if (s && e) {
      const SliceRange r = slice_range(static_cast<int64_t>(v->size()), *s, *e, steps[0]);
      std::vector<Dim> value;
      for (int64_t i = 0; i < r.count; ++i) value.push_back((*v)[static_cast<size_t>(r.start + i * steps[0])]);
      maybe_set_value(ctx, 0, dt, std::move(value));
    }
  } else if (const std::vector<Dim>* nd = rank > 1 ? nd_value_of(ctx, 0) : nullptr) {
    // A known multi-dimensional value (torch's F.pad reverses its [-1, 2] pads this way).
    slice_nd_value(ctx, *nd, axes, *starts, *ends, steps);
  }
  ctx.set_output(0, dt, std::move(out));
  return Status::OK();
}

Status infer_gather(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (!dtype_is_integer(ctx.input_dtype(1))) return ctx.error("indices must be int32 or int64");
  if (set_dtype_if_shape_unknown(ctx, dt, {0, 1})) return Status::OK();
  const Shape& data = ctx.input_shape(0);
  const Shape& idx = ctx.input_shape(1);
  const int64_t rank = static_cast<int64_t>(data.size());
  if (rank == 0) return ctx.error("cannot gather from a scalar");
  int64_t axis = 0;
  SLIMRT_RETURN_IF_ERROR(normalize_axis(ctx, ctx.node().attr_int("axis", 0), rank, &axis));
  const Dim& dim = data[static_cast<size_t>(axis)];
  auto indices = idx.size() <= 1 ? ctx.input_static_value(1) : std::nullopt;
  if (indices && dim.is_static()) {
    const int64_t d = *dim.value();
    for (int64_t i : *indices) {
      if (i < -d || i >= d)
        return ctx.error("index " + std::to_string(i) + " is out of range for dim " + std::to_string(d));
    }
  }
  Shape out(data.begin(), data.begin() + axis);
  out.insert(out.end(), idx.begin(), idx.end());
  out.insert(out.end(), data.begin() + axis + 1, data.end());
  // Gather(Shape(x), i): picks dims out of a known shape value.
  const std::vector<Dim>* v = rank == 1 ? value_of(ctx, 0) : nullptr;
  if (v && indices) {
    const int64_t d = static_cast<int64_t>(v->size());
    std::vector<Dim> value;
    for (int64_t i : *indices) {
      if (i < -d || i >= d) return ctx.error("index " + std::to_string(i) + " is out of range for dim " + std::to_string(d));
      value.push_back((*v)[static_cast<size_t>(i < 0 ? i + d : i)]);
    }
    maybe_set_value(ctx, 0, dt, std::move(value));
  }
  ctx.set_output(0, dt, std::move(out));
  return Status::OK();
}

Status infer_gather_elements(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (!dtype_is_integer(ctx.input_dtype(1))) return ctx.error("indices must be int32 or int64");
  if (set_dtype_if_shape_unknown(ctx, dt, {1})) return Status::OK();
  const Shape& idx = ctx.input_shape(1);
  if (ctx.has_shape(0)) {
    const int64_t rank = ctx.input_rank(0);
    if (rank != static_cast<int64_t>(idx.size())) return ctx.error("data and indices must have the same rank");
    if (rank == 0) return ctx.error("cannot gather from a scalar");
    int64_t axis = 0;
    SLIMRT_RETURN_IF_ERROR(normalize_axis(ctx, ctx.node().attr_int("axis", 0), rank, &axis));
  }
  ctx.set_output(0, dt, idx);
  return Status::OK();
}

Status infer_gather_nd(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (!dtype_is_integer(ctx.input_dtype(1))) return ctx.error("indices must be int32 or int64");
  if (set_dtype_if_shape_unknown(ctx, dt, {0, 1})) return Status::OK();
  const Shape& data = ctx.input_shape(0);
  const Shape& idx = ctx.input_shape(1);
  const int64_t b = ctx.node().attr_int("batch_dims", 0);
  const int64_t r = static_cast<int64_t>(data.size()), q = static_cast<int64_t>(idx.size());
  if (r < 1 || q < 1) return ctx.error("data and indices must have rank >= 1");
  if (b < 0 || b >= std::min(r, q)) return ctx.error("batch_dims " + std::to_string(b) + " is out of range");
  auto k = idx.back().value();
  if (!k) {
    ctx.set_output_dtype(0, dt);
    return Status::OK();
  }
  if (*k < 1 || *k > r - b)
    return ctx.error("the last dim of indices (" + std::to_string(*k) + ") must be in [1, " + std::to_string(r - b) + "]");
  for (int64_t i = 0; i < b; ++i) {
    const Dim& x = data[static_cast<size_t>(i)];
    const Dim& y = idx[static_cast<size_t>(i)];
    if (x.is_static() && y.is_static() && x != y) return ctx.error("batch dims of data and indices differ");
  }
  Shape out(idx.begin(), idx.end() - 1);
  out.insert(out.end(), data.begin() + b + *k, data.end());
  ctx.set_output(0, dt, std::move(out));
  return Status::OK();
}

bool valid_reduction(const std::string& r) {
  return r == "none" || r == "add" || r == "mul" || r == "max" || r == "min";
}

Status infer_scatter_elements(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (!dtype_is_integer(ctx.input_dtype(1))) return ctx.error("indices must be int32 or int64");
  if (ctx.input_dtype(2) != dt) return ctx.error("updates must have the dtype of data");
  const std::string red = ctx.node().attr_string("reduction", "none");
  if (!valid_reduction(red)) return ctx.unsupported("reduction '" + red + "'");
  if (ctx.has_shape(1) && ctx.has_shape(2)) {
    const Shape& i = ctx.input_shape(1);
    const Shape& u = ctx.input_shape(2);
    if (i.size() != u.size()) return ctx.error("indices and updates must have the same shape");
    for (size_t k = 0; k < i.size(); ++k) {
      if (i[k].is_static() && u[k].is_static() && i[k] != u[k]) return ctx.error("indices and updates must have the same shape");
    }
  }
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  const int64_t rank = ctx.input_rank(0);
  if (rank == 0) return ctx.error("cannot scatter into a scalar");
  if (ctx.has_shape(1) && ctx.input_rank(1) != rank) return ctx.error("data and indices must have the same rank");
  int64_t axis = 0;
  SLIMRT_RETURN_IF_ERROR(normalize_axis(ctx, ctx.node().attr_int("axis", 0), rank, &axis));
  ctx.set_output(0, dt, ctx.input_shape(0));
  return Status::OK();
}

Status infer_scatter_nd(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (ctx.input_dtype(1) != DataType::kInt64 && ctx.input_dtype(1) != DataType::kInt32)
    return ctx.error("indices must be int32 or int64");
  if (ctx.input_dtype(2) != dt) return ctx.error("updates must have the dtype of data");
  const std::string red = ctx.node().attr_string("reduction", "none");
  if (!valid_reduction(red)) return ctx.unsupported("reduction '" + red + "'");
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  const Shape& data = ctx.input_shape(0);
  if (ctx.has_shape(1) && ctx.has_shape(2)) {
    const Shape& idx = ctx.input_shape(1);
    const Shape& upd = ctx.input_shape(2);
    if (idx.empty()) return ctx.error("indices must have rank >= 1");
    if (auto k = idx.back().value()) {
      if (*k > static_cast<int64_t>(data.size())) return ctx.error("the last dim of indices exceeds the rank of data");
      // updates.shape must be indices.shape[:-1] + data.shape[k:].
      Shape want(idx.begin(), idx.end() - 1);
      want.insert(want.end(), data.begin() + *k, data.end());
      bool ok = want.size() == upd.size();
      for (size_t i = 0; ok && i < want.size(); ++i) ok = !(want[i].is_static() && upd[i].is_static() && want[i] != upd[i]);
      if (!ok) return ctx.error("updates must have shape " + shape_to_string(want));
    }
  }
  ctx.set_output(0, dt, data);
  return Status::OK();
}

}  // namespace

void register_tensor_index_ops(OpRegistry& r) {
  r.add({"Slice", 3, 5, 1, 1, infer_slice, 0b11110});
  r.add({"Gather", 2, 2, 1, 1, infer_gather});
  r.add({"GatherElements", 2, 2, 1, 1, infer_gather_elements});
  r.add({"GatherND", 2, 2, 1, 1, infer_gather_nd});
  r.add({"ScatterElements", 3, 3, 1, 1, infer_scatter_elements});
  r.add({"ScatterND", 3, 3, 1, 1, infer_scatter_nd});
}

}  // namespace slimrt
