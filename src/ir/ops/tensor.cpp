// Shape inference for the tensor op family: shape queries and the ops that only rearrange
// dims (Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Split, Expand,
// Tile). These carry the symbolic values of exporter shape subgraphs (Shape -> Gather ->
// Unsqueeze -> Concat -> Reshape), so each one both propagates known values and reads its
// shape-like inputs' values to compute its output shape.
#include <algorithm>

#include "ir/op_registry.h"
#include "ir/ops/infer_common.h"
#include "ir/ops/tensor_common.h"

namespace slimrt {

// Defined in tensor_index.cpp and tensor_generate.cpp.
void register_tensor_index_ops(OpRegistry& r);
void register_tensor_generate_ops(OpRegistry& r);

namespace {

using tensor_ops::carries_value;
using tensor_ops::input_length;
using tensor_ops::ints_to_string;
using tensor_ops::maybe_set_value;
using tensor_ops::nd_value_of;
using tensor_ops::normalize_axes;
using tensor_ops::value_of;

// ONNX Shape's start/end: negative counts from the back, then clamped into [0, rank].
int64_t clamp_shape_bound(int64_t v, int64_t rank) {
  if (v < 0) v += rank;
  return std::clamp<int64_t>(v, 0, rank);
}

Status infer_shape(ShapeContext& ctx) {
  if (!ctx.has_shape(0)) {
    ctx.set_output_dtype(0, DataType::kInt64);
    return Status::OK();
  }
  const Shape& in = ctx.input_shape(0);
  const int64_t rank = static_cast<int64_t>(in.size());
  const int64_t start = clamp_shape_bound(ctx.node().attr_int("start", 0), rank);
  const int64_t end = clamp_shape_bound(ctx.node().attr_int("end", rank), rank);
  std::vector<Dim> dims;
  for (int64_t k = start; k < end; ++k) dims.push_back(in[static_cast<size_t>(k)]);
  ctx.set_output(0, DataType::kInt64, {Dim(static_cast<int64_t>(dims.size()))});
  ctx.set_output_value(0, std::move(dims));
  return Status::OK();
}

Status infer_size(ShapeContext& ctx) {
  ctx.set_output(0, DataType::kInt64, {});
  if (ctx.has_shape(0)) ctx.set_output_value(0, {shape_numel(ctx.input_shape(0))});
  return Status::OK();
}

// Passes the value of input 0 to the output unchanged (Reshape, Squeeze, Unsqueeze, Flatten only
// regroup dims, never reorder elements): for rank <= 1, or for any static shape of as many
// elements (tensor_ops::nd_value_of).
void forward_value(ShapeContext& ctx, const Shape& out_shape) {
  const std::vector<Dim>* v = out_shape.size() <= 1 ? value_of(ctx, 0) : nullptr;
  if (!v) {
    v = nd_value_of(ctx, 0);
    const std::optional<std::vector<int64_t>> dims = shape_to_static(out_shape);
    if (!v || !dims || numel_of(*dims) != static_cast<int64_t>(v->size())) return;
  }
  maybe_set_value(ctx, 0, ctx.input_dtype(0), *v);
}

// The value of a Transpose of a known static tensor: element i of the output reads the input at
// the permuted index.
void transpose_value(ShapeContext& ctx, const std::vector<int64_t>& perm) {
  const std::vector<Dim>* v = nd_value_of(ctx, 0);
  if (!v) return;
  const std::vector<int64_t> in = *shape_to_static(ctx.input_shape(0));
  const size_t rank = in.size();
  std::vector<int64_t> in_strides(rank, 1);
  for (size_t k = rank; k-- > 1;) in_strides[k - 1] = in_strides[k] * in[k];
  std::vector<int64_t> out_dims(rank), index(rank, 0);
  for (size_t k = 0; k < rank; ++k) out_dims[k] = in[static_cast<size_t>(perm[k])];
  std::vector<Dim> out;
  out.reserve(v->size());
  for (size_t i = 0; i < v->size(); ++i) {
    int64_t at = 0;
    for (size_t k = 0; k < rank; ++k) at += index[k] * in_strides[static_cast<size_t>(perm[k])];
    out.push_back((*v)[static_cast<size_t>(at)]);
    for (size_t k = rank; k-- > 0;) {  // next output index, row-major
      if (++index[k] < out_dims[k]) break;
      index[k] = 0;
    }
  }
  maybe_set_value(ctx, 0, ctx.input_dtype(0), std::move(out));
}


// Output dims whose values are unknown: one fresh symbol per dim.
Shape fresh_shape(const ShapeContext& ctx, size_t output, int64_t rank) {
  Shape s;
  for (int64_t k = 0; k < rank; ++k) s.push_back(ctx.fresh_dim(output, static_cast<size_t>(k)));
  return s;
}

Status infer_reshape(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (ctx.has_shape(1) && ctx.input_rank(1) != 1) return ctx.error("the shape input must be 1-D");
  const std::vector<Dim>* target = value_of(ctx, 1);
  if (!target) {
    auto len = input_length(ctx, 1);
    if (len) ctx.set_output(0, dt, fresh_shape(ctx, 0, *len)); else ctx.set_output_dtype(0, dt);
    return Status::OK();
  }
  const bool allow_zero = ctx.node().attr_int("allowzero", 0) != 0;
  const bool in_known = ctx.has_shape(0);
  Shape out(target->size());
  int infer_at = -1;
  Dim known_product(1);
  bool product_known = true;  // false when a dim came out fresh
  for (size_t k = 0; k < target->size(); ++k) {
    const Dim& d = (*target)[k];
    auto v = d.value();
    if (v && *v == -1) {
      if (infer_at >= 0) return ctx.error("shape " + shape_to_string(*target) + " has more than one -1");
      infer_at = static_cast<int>(k);
      continue;
    }
    if (v && *v < -1) return ctx.error("shape " + shape_to_string(*target) + " has a negative dim");
    if (v && *v == 0 && !allow_zero) {
      if (in_known) {
        if (k >= ctx.input_shape(0).size())
          return ctx.error("shape " + shape_to_string(*target) + " copies dim " + std::to_string(k) +
                           " (0) past the input's rank");
        out[k] = ctx.input_shape(0)[k];
      } else {
        out[k] = ctx.fresh_dim(0, k);
        product_known = false;
      }
    } else {
      out[k] = d;
    }
    known_product = known_product * out[k];
  }
  if (infer_at >= 0) {
    const size_t at = static_cast<size_t>(infer_at);
    std::optional<Dim> q;
    if (in_known && product_known && known_product != Dim(0)) q = shape_numel(ctx.input_shape(0)).divide(known_product);
    if (q) {
      out[at] = *q;
    } else if (in_known && shape_is_static(ctx.input_shape(0)) && known_product.is_static()) {
      if (known_product == Dim(0))
        return ctx.error("shape " + shape_to_string(*target) + " infers -1 next to a zero dim");
      return ctx.error("cannot reshape " + shape_to_string(ctx.input_shape(0)) + " to " + shape_to_string(*target));
    } else {
      out[at] = ctx.fresh_dim(0, at);
    }
  } else if (in_known && shape_is_static(ctx.input_shape(0)) && shape_is_static(out) &&
             shape_numel(ctx.input_shape(0)) != shape_numel(out)) {
    return ctx.error("cannot reshape " + shape_to_string(ctx.input_shape(0)) + " to " + shape_to_string(out));
  }
  forward_value(ctx, out);
  ctx.set_output(0, dt, std::move(out));
  return Status::OK();
}

Status infer_flatten(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (!ctx.has_shape(0)) {
    ctx.set_output(0, dt, {ctx.fresh_dim(0, 0), ctx.fresh_dim(0, 1)});
    return Status::OK();
  }
  const Shape& in = ctx.input_shape(0);
  const int64_t rank = static_cast<int64_t>(in.size());
  int64_t axis = ctx.node().attr_int("axis", 1);
  if (axis < -rank || axis > rank)
    return ctx.error("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  if (axis < 0) axis += rank;
  Dim outer(1), inner(1);
  for (int64_t k = 0; k < rank; ++k) {
    Dim& part = k < axis ? outer : inner;
    part = part * in[static_cast<size_t>(k)];
  }
  ctx.set_output(0, dt, {outer, inner});
  return Status::OK();
}

// The axes of Squeeze/Unsqueeze: the canonical input, or a legacy attribute if an older
// importer left one.
std::optional<std::vector<int64_t>> axes_of(const ShapeContext& ctx, size_t input) {
  if (ctx.has_input(input)) return ctx.input_static_value(input);
  if (ctx.node().has_attr("axes")) return ctx.node().attr_ints("axes");
  return std::vector<int64_t>{};
}

Status infer_squeeze(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  auto axes = axes_of(ctx, 1);
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  const Shape& in = ctx.input_shape(0);
  const int64_t rank = static_cast<int64_t>(in.size());
  if (!axes) {
    auto len = input_length(ctx, 1);
    if (len) ctx.set_output(0, dt, fresh_shape(ctx, 0, rank - *len)); else ctx.set_output_dtype(0, dt);
    return Status::OK();
  }
  std::vector<bool> drop(static_cast<size_t>(rank), false);
  const bool all = !ctx.has_input(1) && !ctx.node().has_attr("axes");
  if (all) {
    // Symbolic dims are assumed not to be 1: at run time every dim is concrete.
    for (int64_t k = 0; k < rank; ++k) drop[static_cast<size_t>(k)] = in[static_cast<size_t>(k)] == Dim(1);
  } else {
    std::vector<int64_t> norm;
    SLIMRT_RETURN_IF_ERROR(normalize_axes(ctx, *axes, rank, &norm));
    for (int64_t a : norm) {
      const Dim& d = in[static_cast<size_t>(a)];
      if (d.is_static() && d != Dim(1))
        return ctx.error("cannot squeeze axis " + std::to_string(a) + " of size " + d.to_string());
      drop[static_cast<size_t>(a)] = true;
    }
  }
  Shape out;
  for (int64_t k = 0; k < rank; ++k) {
    if (!drop[static_cast<size_t>(k)]) out.push_back(in[static_cast<size_t>(k)]);
  }
  forward_value(ctx, out);
  ctx.set_output(0, dt, std::move(out));
  return Status::OK();
}

Status infer_unsqueeze(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  auto axes = axes_of(ctx, 1);
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  const Shape& in = ctx.input_shape(0);
  if (!axes) {
    auto len = input_length(ctx, 1);
    if (len) ctx.set_output(0, dt, fresh_shape(ctx, 0, static_cast<int64_t>(in.size()) + *len));
    else ctx.set_output_dtype(0, dt);
    return Status::OK();
  }
  const int64_t out_rank = static_cast<int64_t>(in.size() + axes->size());
  std::vector<int64_t> norm;
  SLIMRT_RETURN_IF_ERROR(normalize_axes(ctx, *axes, out_rank, &norm));
  std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
  for (int64_t a : norm) inserted[static_cast<size_t>(a)] = true;
  Shape out;
  size_t next = 0;
  for (int64_t k = 0; k < out_rank; ++k) out.push_back(inserted[static_cast<size_t>(k)] ? Dim(1) : in[next++]);
  forward_value(ctx, out);
  ctx.set_output(0, dt, std::move(out));
  return Status::OK();
}

Status infer_transpose(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (!ctx.has_shape(0)) {
    const auto perm = ctx.node().attr_ints("perm");
    if (perm.empty()) ctx.set_output_dtype(0, dt);
    else ctx.set_output(0, dt, fresh_shape(ctx, 0, static_cast<int64_t>(perm.size())));
    return Status::OK();
  }
  const Shape& in = ctx.input_shape(0);
  const int64_t rank = static_cast<int64_t>(in.size());
  std::vector<int64_t> perm = ctx.node().attr_ints("perm");
  if (perm.empty()) {
    for (int64_t k = rank - 1; k >= 0; --k) perm.push_back(k);
  }
  if (static_cast<int64_t>(perm.size()) != rank)
    return ctx.error("perm " + ints_to_string(perm) + " does not match rank " + std::to_string(rank));
  std::vector<int64_t> norm;
  SLIMRT_RETURN_IF_ERROR(normalize_axes(ctx, perm, rank, &norm));
  Shape out;
  for (int64_t p : norm) out.push_back(in[static_cast<size_t>(p)]);
  transpose_value(ctx, norm);
  ctx.set_output(0, dt, std::move(out));
  return Status::OK();
}

Status infer_concat(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (!ctx.node().has_attr("axis")) return ctx.error("Concat needs an axis attribute");
  int64_t rank = -1;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) return ctx.error("input " + std::to_string(i) + " is absent");
    if (ctx.input_dtype(i) != dt) return ctx.error("inputs have different dtypes");
    if (!ctx.has_shape(i)) continue;
    if (rank >= 0 && ctx.input_rank(i) != rank) return ctx.error("inputs have different ranks");
    rank = ctx.input_rank(i);
  }
  if (rank < 0) {
    ctx.set_output_dtype(0, dt);
    return Status::OK();
  }
  if (rank == 0) return ctx.error("cannot concatenate scalars");
  int64_t axis = 0;
  SLIMRT_RETURN_IF_ERROR(normalize_axis(ctx, ctx.node().attr_int("axis", 0), rank, &axis));
  Shape out;
  bool all_known = true;
  Dim total(0);
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_shape(i)) {
      all_known = false;
      continue;
    }
    const Shape& s = ctx.input_shape(i);
    if (out.empty()) {
      out = s;
    } else {
      for (int64_t k = 0; k < rank; ++k) {
        if (k == axis) continue;
        Dim& o = out[static_cast<size_t>(k)];
        const Dim& d = s[static_cast<size_t>(k)];
        if (o == d) continue;
        if (o.is_static() && d.is_static())
          return ctx.error("inputs differ in dim " + std::to_string(k) + " (" + o.to_string() + " vs " + d.to_string() + ")");
        if (d.is_static()) o = d;  // prefer the static one; at run time they must agree
      }
    }
    total = total + s[static_cast<size_t>(axis)];
  }
  out[static_cast<size_t>(axis)] = all_known ? total : ctx.fresh_dim(0, static_cast<size_t>(axis));
  if (rank == 1 && all_known && carries_value(dt)) {
    std::vector<Dim> value;
    bool known = true;
    for (size_t i = 0; i < ctx.num_inputs() && known; ++i) {
      const std::vector<Dim>* v = value_of(ctx, i);
      if (v) value.insert(value.end(), v->begin(), v->end()); else known = false;
    }
    if (known) maybe_set_value(ctx, 0, dt, std::move(value));
  }
  ctx.set_output(0, dt, std::move(out));
  return Status::OK();
}

Status infer_split(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  const size_t n = ctx.num_outputs();
  if (!ctx.has_shape(0)) {
    for (size_t i = 0; i < n; ++i) ctx.set_output_dtype(i, dt);
    return Status::OK();
  }
  const Shape& in = ctx.input_shape(0);
  const int64_t rank = static_cast<int64_t>(in.size());
  int64_t axis = 0;
  SLIMRT_RETURN_IF_ERROR(normalize_axis(ctx, ctx.node().attr_int("axis", 0), rank, &axis));
  const Dim& total = in[static_cast<size_t>(axis)];
  std::vector<Dim> sizes;
  if (ctx.has_input(1)) {
    if (ctx.node().has_attr("num_outputs")) return ctx.error("Split takes either a split input or num_outputs, not both");
    const std::vector<Dim>* v = value_of(ctx, 1);
    if (v) {
      if (v->size() != n)
        return ctx.error("split " + shape_to_string(*v) + " has " + std::to_string(v->size()) + " entries for " +
                         std::to_string(n) + " outputs");
      Dim sum(0);
      for (const Dim& d : *v) {
        if (d.is_static() && *d.value() < 0) return ctx.error("split " + shape_to_string(*v) + " has a negative size");
        sum = sum + d;
      }
      if (sum.is_static() && total.is_static() && sum != total)
        return ctx.error("split " + shape_to_string(*v) + " does not add up to dim " + total.to_string());
      sizes = *v;
    } else {
      for (size_t i = 0; i < n; ++i) sizes.push_back(ctx.fresh_dim(i, static_cast<size_t>(axis)));
    }
  } else {
    const int64_t parts = ctx.node().attr_int("num_outputs", static_cast<int64_t>(n));
    if (parts != static_cast<int64_t>(n))
      return ctx.error("num_outputs is " + std::to_string(parts) + " but the node has " + std::to_string(n) + " outputs");
    if (auto t = total.value()) {
      // Chunks of ceil(dim / n); the last one takes what is left (opset 18).
      const int64_t chunk = (*t + parts - 1) / parts;
      for (int64_t i = 0; i < parts; ++i) {
        const int64_t size = i + 1 < parts ? chunk : *t - chunk * (parts - 1);
        if (size < 0) return ctx.error("cannot split dim " + std::to_string(*t) + " into " + std::to_string(parts) + " parts");
        sizes.emplace_back(size);
      }
    } else if (auto q = total.divide(Dim(parts))) {
      sizes.assign(n, *q);
    } else {
      for (size_t i = 0; i < n; ++i) sizes.push_back(ctx.fresh_dim(i, static_cast<size_t>(axis)));
    }
  }
  const std::vector<Dim>* value = rank == 1 ? value_of(ctx, 0) : nullptr;
  int64_t offset = 0;
  for (size_t i = 0; i < n; ++i) {
    Shape s = in;
    s[static_cast<size_t>(axis)] = sizes[i];
    if (value && offset >= 0 && sizes[i].is_static()) {
      const int64_t len = *sizes[i].value();
      if (offset + len <= static_cast<int64_t>(value->size()))
        maybe_set_value(ctx, i, dt, std::vector<Dim>(value->begin() + offset, value->begin() + offset + len));
      offset += len;
    } else {
      offset = -1;
    }
    ctx.set_output(i, dt, std::move(s));
  }
  return Status::OK();
}

// Numpy broadcasting of the input shape with Expand's target shape. A target dim of 1 keeps the
// input dim; an input dim of 1 takes the target's.
Status infer_expand(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (ctx.has_shape(1) && ctx.input_rank(1) != 1) return ctx.error("the shape input must be 1-D");
  const std::vector<Dim>* target = value_of(ctx, 1);
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  const Shape& in = ctx.input_shape(0);
  Shape t;
  if (target) {
    t = *target;
  } else {
    auto len = input_length(ctx, 1);
    if (!len) {
      ctx.set_output_dtype(0, dt);
      return Status::OK();
    }
    t = fresh_shape(ctx, 0, *len);
  }
  const size_t rank = std::max(in.size(), t.size());
  Shape out(rank);
  for (size_t k = 0; k < rank; ++k) {
    const bool has_in = k + in.size() >= rank, has_t = k + t.size() >= rank;
    const Dim a = has_in ? in[k + in.size() - rank] : Dim(1);
    const Dim b = has_t ? t[k + t.size() - rank] : Dim(1);
    if (!target && a != Dim(1) && a.is_static()) {
      out[k] = a;  // the unknown target dim must be 1 or equal to it
    } else if (a == b || b == Dim(1)) {
      out[k] = a;
    } else if (a == Dim(1)) {
      out[k] = b;
    } else if (a.is_static() && b.is_static()) {
      return ctx.error("cannot expand " + shape_to_string(in) + " to " + shape_to_string(t));
    } else {
      out[k] = a.is_static() ? a : b;
    }
  }
  if (rank <= 1 && in.size() <= 1) {
    const std::vector<Dim>* v = value_of(ctx, 0);
    if (v && out.size() == 1 && out[0].is_static()) {
      const int64_t len = *out[0].value();
      if (v->size() == static_cast<size_t>(len)) {
        maybe_set_value(ctx, 0, dt, *v);
      } else if (v->size() == 1 && len <= tensor_ops::kMaxPropagatedElements) {
        maybe_set_value(ctx, 0, dt, std::vector<Dim>(static_cast<size_t>(len), (*v)[0]));
      }
    }
  }
  ctx.set_output(0, dt, std::move(out));
  return Status::OK();
}

Status infer_tile(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  const Shape& in = ctx.input_shape(0);
  const std::vector<Dim>* reps = value_of(ctx, 1);
  if (ctx.has_shape(1) && ctx.input_rank(1) != 1) return ctx.error("repeats must be 1-D");
  if (!reps) {
    ctx.set_output(0, dt, fresh_shape(ctx, 0, static_cast<int64_t>(in.size())));
    return Status::OK();
  }
  if (reps->size() != in.size())
    return ctx.error("repeats " + shape_to_string(*reps) + " must have one entry per input dim");
  Shape out;
  for (size_t k = 0; k < in.size(); ++k) {
    const Dim& r = (*reps)[k];
    if (r.is_static() && *r.value() < 0) return ctx.error("repeats " + shape_to_string(*reps) + " has a negative entry");
    out.push_back(in[k] * r);
  }
  if (in.size() == 1) {
    const std::vector<Dim>* v = value_of(ctx, 0);
    auto r = (*reps)[0].value();
    if (v && r && static_cast<int64_t>(v->size()) * *r <= tensor_ops::kMaxPropagatedElements) {
      std::vector<Dim> value;
      for (int64_t k = 0; k < *r; ++k) value.insert(value.end(), v->begin(), v->end());
      maybe_set_value(ctx, 0, dt, std::move(value));
    }
  }
  ctx.set_output(0, dt, std::move(out));
  return Status::OK();
}

}  // namespace

void register_tensor_ops(OpRegistry& r) {
  r.add({"Shape", 1, 1, 1, 1, infer_shape});
  r.add({"Size", 1, 1, 1, 1, infer_size});
  r.add({"Reshape", 2, 2, 1, 1, infer_reshape, 0b10});
  r.add({"Flatten", 1, 1, 1, 1, infer_flatten});
  r.add({"Squeeze", 1, 2, 1, 1, infer_squeeze, 0b10});
  r.add({"Unsqueeze", 1, 2, 1, 1, infer_unsqueeze, 0b10});
  r.add({"Transpose", 1, 1, 1, 1, infer_transpose});
  r.add({"Concat", 1, -1, 1, 1, infer_concat});
  r.add({"Split", 1, 2, 1, -1, infer_split, 0b10});
  r.add({"Expand", 2, 2, 1, 1, infer_expand, 0b10});
  r.add({"Tile", 2, 2, 1, 1, infer_tile, 0b10});
  register_tensor_index_ops(r);
  register_tensor_generate_ops(r);
}

}  // namespace slimrt
