// Shape inference for the tensor family's ops that generate data or have data-dependent
// shapes: Range, ConstantOfShape, Trilu, EyeLike, OneHot, NonZero, Compress.
#include <cmath>
#include <limits>

#include "ir/op_registry.h"
#include "ir/ops/infer_common.h"
#include "ir/ops/tensor_common.h"

namespace slimrt {

namespace {

using tensor_ops::input_length;
using tensor_ops::kMaxPropagatedElements;
using tensor_ops::maybe_set_value;
using tensor_ops::value_of;

bool is_scalar_like(const ShapeContext& ctx, size_t i) {
  if (!ctx.has_shape(i)) return true;
  const Shape& s = ctx.input_shape(i);
  return s.empty() || (s.size() == 1 && s[0] == Dim(1));
}

Status infer_range(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  for (size_t i = 0; i < 3; ++i) {
    if (ctx.input_dtype(i) != dt) return ctx.error("start, limit and delta must have the same dtype");
    if (!is_scalar_like(ctx, i)) return ctx.error("start, limit and delta must be scalars");
  }
  if (dt == DataType::kBool || dt == DataType::kFloat16 || dt == DataType::kBFloat16)
    return ctx.unsupported("Range on " + std::string(dtype_name(dt)));
  // Float ranges resolve too when start, limit and delta are exact integers (torch.arange(seq)
  // exports as Range(0.0, Cast<float>(seq), 1.0)); ctx.input_value gives values only then.
  auto scalar_value = [&](size_t i) { return dtype_is_float(dt) ? ctx.input_value(i) : value_of(ctx, i); };
  const std::vector<Dim>* start = scalar_value(0);
  const std::vector<Dim>* limit = scalar_value(1);
  const std::vector<Dim>* delta = scalar_value(2);
  if (start && limit && delta && start->size() == 1 && limit->size() == 1 && delta->size() == 1) {
    // Integer range: exact, possibly symbolic (Range(0, seq, 1) gives [seq]).
    const Dim s = (*start)[0], l = (*limit)[0];
    auto d = (*delta)[0].value();
    if (!d) {
      ctx.set_output(0, dt, {ctx.fresh_dim(0, 0)});
      return Status::OK();
    }
    if (*d == 0) return ctx.error("delta is 0");
    auto sv = s.value(), lv = l.value();
    if (sv && lv) {
      // 128-bit: start, limit and delta may be anywhere in int64.
      const __int128 span = static_cast<__int128>(*lv) - *sv, step = *d;
      __int128 count = 0;
      if (step > 0 && span > 0) count = (span - 1) / step + 1;
      if (step < 0 && span < 0) count = (-span - 1) / -step + 1;
      if (count > std::numeric_limits<int32_t>::max()) return ctx.error("the range is too long");
      const int64_t n = static_cast<int64_t>(count);
      ctx.set_output(0, dt, {Dim(n)});
      if (n <= kMaxPropagatedElements) {
        std::vector<Dim> value;
        for (int64_t i = 0; i < n; ++i) value.emplace_back(*sv + i * *d);
        maybe_set_value(ctx, 0, dt, std::move(value));
      }
      return Status::OK();
    }
    const Dim span = l - s;
    if (*d == 1) {
      ctx.set_output(0, dt, {span});
    } else if (auto q = span.divide(Dim(*d)); q && *d > 0) {
      ctx.set_output(0, dt, {*q});
    } else {
      ctx.set_output(0, dt, {ctx.fresh_dim(0, 0)});
    }
    return Status::OK();
  }
  auto sv = ctx.input_constant_as_doubles(0), lv = ctx.input_constant_as_doubles(1), dv = ctx.input_constant_as_doubles(2);
  if (sv && lv && dv && sv->size() == 1 && lv->size() == 1 && dv->size() == 1) {
    const double delta_v = (*dv)[0];
    if (delta_v == 0) return ctx.error("delta is 0");
    double n = std::ceil(((*lv)[0] - (*sv)[0]) / delta_v);
    if (!(n >= 0)) n = 0;  // also catches NaN
    if (n > std::numeric_limits<int32_t>::max()) return ctx.error("the range is too long");
    ctx.set_output(0, dt, {Dim(static_cast<int64_t>(n))});
    return Status::OK();
  }
  ctx.set_output(0, dt, {ctx.fresh_dim(0, 0)});
  return Status::OK();
}

Status infer_constant_of_shape(ShapeContext& ctx) {
  DataType dt = DataType::kFloat32;
  std::optional<int64_t> fill_int;
  if (const Tensor* v = ctx.node().attr_tensor("value")) {
    if (v->numel() != 1) return ctx.error("value must hold exactly one element");
    dt = v->dtype();
    if (tensor_ops::carries_value(dt) && v->memory_kind() != MemoryKind::kDevice) fill_int = v->get_as_int64(0);
  } else {
    fill_int = std::nullopt;
  }
  if (!dtype_is_integer(ctx.input_dtype(0))) return ctx.error("the shape input must be int64");
  if (ctx.has_shape(0) && ctx.input_rank(0) != 1) return ctx.error("the shape input must be 1-D");
  const std::vector<Dim>* shape = value_of(ctx, 0);
  if (!shape) {
    auto len = input_length(ctx, 0);
    if (!len) {
      ctx.set_output_dtype(0, dt);
      return Status::OK();
    }
    Shape out;
    for (int64_t k = 0; k < *len; ++k) out.push_back(ctx.fresh_dim(0, static_cast<size_t>(k)));
    ctx.set_output(0, dt, std::move(out));
    return Status::OK();
  }
  for (const Dim& d : *shape) {
    if (d.is_static() && *d.value() < 0) return ctx.error("shape " + shape_to_string(*shape) + " has a negative dim");
  }
  if (fill_int && shape->size() <= 1) {
    const Dim n = shape->empty() ? Dim(1) : (*shape)[0];
    if (auto len = n.value(); len && *len <= kMaxPropagatedElements)
      maybe_set_value(ctx, 0, dt, std::vector<Dim>(static_cast<size_t>(*len), Dim(*fill_int)));
  }
  ctx.set_output(0, dt, *shape);
  return Status::OK();
}

Status infer_trilu(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (ctx.has_input(1) && !is_scalar_like(ctx, 1)) return ctx.error("k must be a scalar");
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  if (ctx.input_rank(0) < 2) return ctx.error("Trilu needs an input of rank >= 2");
  ctx.set_output(0, dt, ctx.input_shape(0));
  return Status::OK();
}

Status infer_eye_like(ShapeContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  const int64_t attr = ctx.node().attr_int("dtype", -1);
  if (attr >= 0) {
    bool valid = false;
    for (DataType t : kAllDataTypes) valid |= static_cast<int64_t>(t) == attr;
    if (!valid) return ctx.unsupported("dtype " + std::to_string(attr));
    dt = static_cast<DataType>(attr);
  }
  if (!ctx.has_shape(0)) {
    ctx.set_output(0, dt, {ctx.fresh_dim(0, 0), ctx.fresh_dim(0, 1)});
    return Status::OK();
  }
  if (ctx.input_rank(0) != 2) return ctx.error("EyeLike needs a 2-D input");
  ctx.set_output(0, dt, ctx.input_shape(0));
  return Status::OK();
}

Status infer_one_hot(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(2);
  if (ctx.has_shape(2) && !(ctx.input_rank(2) == 1 && ctx.input_shape(2)[0] == Dim(2)))
    return ctx.error("values must be a 1-D tensor of 2 elements [off, on]");
  if (ctx.has_shape(1) && shape_numel(ctx.input_shape(1)) != Dim(1)) return ctx.error("depth must hold one element");
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  const Shape& in = ctx.input_shape(0);
  const int64_t out_rank = static_cast<int64_t>(in.size()) + 1;
  int64_t axis = 0;
  SLIMRT_RETURN_IF_ERROR(normalize_axis(ctx, ctx.node().attr_int("axis", -1), out_rank, &axis));
  Dim depth = ctx.fresh_dim(0, static_cast<size_t>(axis));
  if (const std::vector<Dim>* v = value_of(ctx, 1); v && v->size() == 1) {
    depth = (*v)[0];
  } else if (auto d = ctx.input_constant_as_doubles(1); d && d->size() == 1) {
    depth = Dim(static_cast<int64_t>((*d)[0]));
  }
  if (depth.is_static() && *depth.value() < 1) return ctx.error("depth must be positive, got " + depth.to_string());
  Shape out = in;
  out.insert(out.begin() + axis, depth);
  ctx.set_output(0, dt, std::move(out));
  return Status::OK();
}

// Counts the elements of a constant that are not zero (NaN counts as not zero, as in numpy).
int64_t count_nonzero(const Tensor& t) {
  int64_t n = 0;
  for (int64_t i = 0; i < t.numel(); ++i) n += t.get_as_double(i) != 0.0 ? 1 : 0;
  return n;
}

Status infer_non_zero(ShapeContext& ctx) {
  if (!ctx.has_shape(0)) {
    ctx.set_output(0, DataType::kInt64, {ctx.fresh_dim(0, 0), ctx.fresh_dim(0, 1)});
    return Status::OK();
  }
  const Dim rank(static_cast<int64_t>(ctx.input_rank(0)));
  const Tensor* c = ctx.input_constant(0);
  if (c && c->memory_kind() != MemoryKind::kDevice) {
    ctx.set_output(0, DataType::kInt64, {rank, Dim(count_nonzero(*c))});
  } else {
    ctx.set_output(0, DataType::kInt64, {rank, ctx.fresh_dim(0, 1)});
  }
  return Status::OK();
}

Status infer_compress(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (ctx.input_dtype(1) != DataType::kBool) return ctx.error("condition must be bool");
  if (ctx.has_shape(1) && ctx.input_rank(1) != 1) return ctx.error("condition must be 1-D");
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  const Shape& in = ctx.input_shape(0);
  const bool has_axis = ctx.node().has_attr("axis");
  int64_t axis = 0;
  if (has_axis) SLIMRT_RETURN_IF_ERROR(normalize_axis(ctx, ctx.node().attr_int("axis", 0), static_cast<int64_t>(in.size()), &axis));
  const Dim limit = has_axis ? in[static_cast<size_t>(axis)] : shape_numel(in);
  Dim count = ctx.fresh_dim(0, has_axis ? static_cast<size_t>(axis) : 0);
  const Tensor* c = ctx.input_constant(1);
  if (c && c->memory_kind() != MemoryKind::kDevice) {
    // Only the first `limit` condition entries select anything.
    int64_t n = 0;
    const int64_t m = limit.is_static() ? std::min(*limit.value(), c->numel()) : c->numel();
    if (limit.is_static() && c->numel() > *limit.value())
      return ctx.error("condition has " + std::to_string(c->numel()) + " entries for a dim of " + limit.to_string());
    for (int64_t i = 0; i < m; ++i) n += c->get_as_double(i) != 0.0 ? 1 : 0;
    count = Dim(n);
  }
  if (!has_axis) {
    ctx.set_output(0, dt, {count});
    return Status::OK();
  }
  Shape out = in;
  out[static_cast<size_t>(axis)] = count;
  ctx.set_output(0, dt, std::move(out));
  return Status::OK();
}

}  // namespace

void register_tensor_generate_ops(OpRegistry& r) {
  r.add({"Range", 3, 3, 1, 1, infer_range, 0b111});
  r.add({"ConstantOfShape", 1, 1, 1, 1, infer_constant_of_shape, 0b1});
  r.add({"Trilu", 1, 2, 1, 1, infer_trilu, 0b10});
  r.add({"EyeLike", 1, 1, 1, 1, infer_eye_like});
  r.add({"OneHot", 3, 3, 1, 1, infer_one_hot, 0b10});
  r.add({"NonZero", 1, 1, 1, 1, infer_non_zero});
  r.add({"Compress", 2, 2, 1, 1, infer_compress});
}

}  // namespace slimrt
