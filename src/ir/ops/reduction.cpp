// Shape inference for the reduction op family: Reduce*, ArgMax/ArgMin, Softmax/LogSoftmax/Hardmax,
// CumSum and TopK.

#include "ir/op_registry.h"
#include "ir/ops/infer_common.h"

namespace slimrt {

namespace {

bool is_numeric(DataType t) { return dtype_is_float(t) || dtype_is_integer(t); }

Status require_numeric(const ShapeContext& ctx, size_t i) {
  if (!is_numeric(ctx.input_dtype(i)))
    return ctx.unsupported("input " + std::to_string(i) + " has dtype " +
                           std::string(dtype_name(ctx.input_dtype(i))) + "; a numeric type is required");
  return Status::OK();
}

// Reduce* (data, axes?; keepdims, noop_with_empty_axes).
Status infer_reduce(ShapeContext& ctx) {
  SLIMRT_RETURN_IF_ERROR(require_numeric(ctx, 0));
  const DataType dt = ctx.input_dtype(0);
  const bool keep = ctx.node().attr_int("keepdims", 1) != 0;
  const bool noop = ctx.node().attr_int("noop_with_empty_axes", 0) != 0;
  if (ctx.has_input(1) && !dtype_is_integer(ctx.input_dtype(1)))
    return ctx.error("axes must be an integer tensor");
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  const Shape& in = ctx.input_shape(0);
  const int64_t rank = static_cast<int64_t>(in.size());

  std::optional<std::vector<int64_t>> axes;
  if (!ctx.has_input(1)) {
    axes = std::vector<int64_t>{};
  } else {
    axes = ctx.input_static_value(1);
    if (!axes && ctx.has_shape(1) && ctx.input_shape(1).size() == 1 && ctx.input_shape(1)[0] == Dim(0))
      axes = std::vector<int64_t>{};
  }
  if (!axes) {
    // Axes only known at run time: the rank is still known when dims are kept, or when the
    // number of axes is static (they must be distinct).
    int64_t out_rank = -1;
    if (keep) {
      out_rank = rank;
    } else if (ctx.has_shape(1) && ctx.input_shape(1).size() == 1) {
      if (auto n = ctx.input_shape(1)[0].value(); n && *n > 0 && *n <= rank) out_rank = rank - *n;
    }
    if (out_rank < 0) {
      ctx.set_output_dtype(0, dt);
      return Status::OK();
    }
    Shape out;
    for (int64_t d = 0; d < out_rank; ++d) out.push_back(ctx.fresh_dim(0, static_cast<size_t>(d)));
    ctx.set_output(0, dt, std::move(out));
    return Status::OK();
  }

  std::vector<bool> reduced(static_cast<size_t>(rank), false);
  if (axes->empty()) {
    if (!noop) std::fill(reduced.begin(), reduced.end(), true);
  } else {
    for (int64_t a : *axes) {
      int64_t n = 0;
      SLIMRT_RETURN_IF_ERROR(normalize_axis(ctx, a, rank, &n));
      if (reduced[static_cast<size_t>(n)]) return ctx.error("axis " + std::to_string(a) + " appears twice in axes");
      reduced[static_cast<size_t>(n)] = true;
    }
  }
  Shape out;
  bool all_reduced = true;
  for (int64_t d = 0; d < rank; ++d) {
    if (!reduced[static_cast<size_t>(d)]) {
      out.push_back(in[static_cast<size_t>(d)]);
      all_reduced = false;
    } else if (keep) {
      out.push_back(Dim(1));
    }
  }
  // Exporters compute sizes with ReduceProd/ReduceSum over slices of Shape(x).
  const std::string& op = ctx.node().op_type();
  const std::vector<Dim>* v = ctx.input_value(0);
  if (v && rank == 1 && all_reduced && !v->empty() && (op == "ReduceProd" || op == "ReduceSum")) {
    Dim acc = op == "ReduceProd" ? Dim(1) : Dim(0);
    for (const Dim& d : *v) acc = op == "ReduceProd" ? acc * d : acc + d;
    ctx.set_output_value(0, {acc});
  }
  ctx.set_output(0, dt, std::move(out));
  return Status::OK();
}

// ArgMax / ArgMin (data; axis, keepdims, select_last_index).
Status infer_arg(ShapeContext& ctx) {
  SLIMRT_RETURN_IF_ERROR(require_numeric(ctx, 0));
  if (!ctx.has_shape(0)) {
    ctx.set_output_dtype(0, DataType::kInt64);
    return Status::OK();
  }
  const Shape& in = ctx.input_shape(0);
  const int64_t rank = static_cast<int64_t>(in.size());
  int64_t axis = 0;
  SLIMRT_RETURN_IF_ERROR(normalize_axis(ctx, ctx.node().attr_int("axis", 0), std::max<int64_t>(rank, 1), &axis));
  if (rank == 0) {
    ctx.set_output(0, DataType::kInt64, {});
    return Status::OK();
  }
  if (in[static_cast<size_t>(axis)] == Dim(0)) return ctx.error("ArgMax/ArgMin over an empty axis");
  const bool keep = ctx.node().attr_int("keepdims", 1) != 0;
  Shape out;
  for (int64_t d = 0; d < rank; ++d) {
    if (d != axis) out.push_back(in[static_cast<size_t>(d)]);
    else if (keep) out.push_back(Dim(1));
  }
  ctx.set_output(0, DataType::kInt64, std::move(out));
  return Status::OK();
}

// Softmax, LogSoftmax, Hardmax (input; axis=-1).
Status infer_softmax(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (!dtype_is_float(dt))
    return ctx.unsupported("input has dtype " + std::string(dtype_name(dt)) + "; a float type is required");
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  const Shape& in = ctx.input_shape(0);
  int64_t axis = 0;
  SLIMRT_RETURN_IF_ERROR(normalize_axis(ctx, ctx.node().attr_int("axis", -1),
                                        std::max<int64_t>(static_cast<int64_t>(in.size()), 1), &axis));
  ctx.set_output(0, dt, in);
  return Status::OK();
}

// CumSum (x, axis; exclusive, reverse).
Status infer_cumsum(ShapeContext& ctx) {
  SLIMRT_RETURN_IF_ERROR(require_numeric(ctx, 0));
  const DataType dt = ctx.input_dtype(0);
  if (!dtype_is_integer(ctx.input_dtype(1))) return ctx.error("axis must be an int32 or int64 tensor");
  if (ctx.has_shape(1) && ctx.input_shape(1).size() > 1) return ctx.error("axis must be a scalar");
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  const Shape& in = ctx.input_shape(0);
  if (auto axis = ctx.input_static_value(1)) {
    if (axis->size() != 1) return ctx.error("axis must hold exactly one value");
    int64_t a = 0;
    SLIMRT_RETURN_IF_ERROR(normalize_axis(ctx, (*axis)[0], static_cast<int64_t>(in.size()), &a));
  }
  ctx.set_output(0, dt, in);
  return Status::OK();
}

// TopK (X, K; axis=-1, largest=1, sorted=1) -> values, indices.
Status infer_topk(ShapeContext& ctx) {
  SLIMRT_RETURN_IF_ERROR(require_numeric(ctx, 0));
  const DataType dt = ctx.input_dtype(0);
  if (ctx.input_dtype(1) != DataType::kInt64) return ctx.error("K must be an int64 tensor");
  if (ctx.has_shape(1) && ctx.input_shape(1).size() > 1) return ctx.error("K must be a 1-D tensor of one element");
  if (!ctx.has_shape(0)) {
    ctx.set_output_dtype(0, dt);
    if (ctx.num_outputs() > 1) ctx.set_output_dtype(1, DataType::kInt64);
    return Status::OK();
  }
  const Shape& in = ctx.input_shape(0);
  const int64_t rank = static_cast<int64_t>(in.size());
  if (rank == 0) return ctx.error("TopK needs an input of rank >= 1");
  int64_t axis = 0;
  SLIMRT_RETURN_IF_ERROR(normalize_axis(ctx, ctx.node().attr_int("axis", -1), rank, &axis));
  Shape out = in;
  const Dim& len = in[static_cast<size_t>(axis)];
  if (auto k = ctx.input_static_value(1)) {
    if (k->size() != 1) return ctx.error("K must hold exactly one value");
    const int64_t kv = (*k)[0];
    if (kv < 0) return ctx.error("K = " + std::to_string(kv) + " is negative");
    if (auto n = len.value(); n && kv > *n)
      return ctx.error("K = " + std::to_string(kv) + " exceeds the axis length " + std::to_string(*n));
    out[static_cast<size_t>(axis)] = Dim(kv);
  } else {
    out[static_cast<size_t>(axis)] = ctx.fresh_dim(0, static_cast<size_t>(axis));
  }
  ctx.set_output(0, dt, out);
  if (ctx.num_outputs() > 1) ctx.set_output(1, DataType::kInt64, out);
  return Status::OK();
}

}  // namespace

void register_reduction_ops(OpRegistry& r) {
  for (const char* op : {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                         "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"}) {
    r.add({op, 1, 2, 1, 1, infer_reduce, 0b10});
  }
  r.add({"ArgMax", 1, 1, 1, 1, infer_arg});
  r.add({"ArgMin", 1, 1, 1, 1, infer_arg});
  r.add({"Softmax", 1, 1, 1, 1, infer_softmax});
  r.add({"LogSoftmax", 1, 1, 1, 1, infer_softmax});
  r.add({"Hardmax", 1, 1, 1, 1, infer_softmax});
  r.add({"CumSum", 2, 2, 1, 1, infer_cumsum, 0b10});
  r.add({"TopK", 2, 2, 1, 2, infer_topk, 0b10});
}

}  // namespace slimrt
