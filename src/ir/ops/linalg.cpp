// Shape inference for the linalg op family: MatMul, Gemm, Einsum.
#include <map>

#include "ir/op_registry.h"
#include "ir/ops/infer_common.h"
#include "ir/ops/linalg_einsum.h"

namespace slimrt {

namespace {

Status check_same_numeric_dtype(const ShapeContext& ctx) {
  const DataType t = ctx.input_dtype(0);
  if (!dtype_is_float(t) && !dtype_is_integer(t))
    return ctx.unsupported("dtype " + std::string(dtype_name(t)) + " is not numeric");
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    if (ctx.has_input(i) && ctx.input_dtype(i) != t)
      return ctx.error("input " + std::to_string(i) + " has dtype " + std::string(dtype_name(ctx.input_dtype(i))) +
                       " but input 0 has " + std::string(dtype_name(t)));
  }
  return Status::OK();
}

// Two dims that must agree: static mismatch is an error; otherwise prefer the static one.
Status unify(const ShapeContext& ctx, const Dim& a, const Dim& b, const std::string& what, Dim* out) {
  if (a.is_static() && b.is_static() && a != b)
    return ctx.error(what + " do not match: " + a.to_string() + " vs " + b.to_string());
  *out = a.is_static() ? a : b;
  return Status::OK();
}

Status infer_matmul(ShapeContext& ctx) {
  SLIMRT_RETURN_IF_ERROR(check_same_numeric_dtype(ctx));
  const DataType dt = ctx.input_dtype(0);
  if (set_dtype_if_shape_unknown(ctx, dt, {0, 1})) return Status::OK();
  Shape a = ctx.input_shape(0), b = ctx.input_shape(1);
  if (a.empty() || b.empty()) return ctx.error("MatMul inputs must have rank >= 1");
  const bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  if (a_vec) a.insert(a.begin(), Dim(1));
  if (b_vec) b.push_back(Dim(1));
  Dim k;
  SLIMRT_RETURN_IF_ERROR(unify(ctx, a.back(), b[b.size() - 2], "inner dimensions", &k));
  const Shape a_batch(a.begin(), a.end() - 2), b_batch(b.begin(), b.end() - 2);
  Shape out;
  SLIMRT_RETURN_IF_ERROR(broadcast_shapes(ctx, {&a_batch, &b_batch}, &out));
  if (!a_vec) out.push_back(a[a.size() - 2]);
  if (!b_vec) out.push_back(b.back());
  ctx.set_output(0, dt, std::move(out));
  return Status::OK();
}

Status infer_gemm(ShapeContext& ctx) {
  SLIMRT_RETURN_IF_ERROR(check_same_numeric_dtype(ctx));
  const DataType dt = ctx.input_dtype(0);
  if (set_dtype_if_shape_unknown(ctx, dt, {0, 1})) return Status::OK();
  const Shape& a = ctx.input_shape(0);
  const Shape& b = ctx.input_shape(1);
  if (a.size() != 2 || b.size() != 2) return ctx.error("Gemm needs 2-D A and B");
  const bool ta = ctx.node().attr_int("transA", 0) != 0, tb = ctx.node().attr_int("transB", 0) != 0;
  const Dim m = ta ? a[1] : a[0];
  const Dim n = tb ? b[0] : b[1];
  Dim k;
  SLIMRT_RETURN_IF_ERROR(unify(ctx, ta ? a[0] : a[1], tb ? b[1] : b[0], "inner dimensions", &k));
  if (ctx.has_shape(2)) {
    const Shape& c = ctx.input_shape(2);
    if (c.size() > 2) return ctx.error("C must have rank <= 2 to broadcast to [M, N]");
    const Shape mn = {m, n};
    for (size_t d = 0; d < c.size(); ++d) {
      const Dim& want = mn[2 - c.size() + d];
      if (c[d] != Dim(1) && c[d].is_static() && want.is_static() && c[d] != want)
        return ctx.error("C of shape " + shape_to_string(c) + " does not broadcast to [" + m.to_string() + "," +
                         n.to_string() + "]");
    }
  }
  ctx.set_output(0, dt, {m, n});
  return Status::OK();
}

Status infer_einsum(ShapeContext& ctx) {
  SLIMRT_RETURN_IF_ERROR(check_same_numeric_dtype(ctx));
  const DataType dt = ctx.input_dtype(0);
  const std::string equation = ctx.node().attr_string("equation", "");
  EinsumEquation eq;
  Status s = parse_einsum(equation, ctx.num_inputs(), &eq);
  if (!s.ok()) return ctx.error(s.message());
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_shape(i)) {
      ctx.set_output_dtype(0, dt);
      return Status::OK();
    }
  }
  std::map<char, Dim> dims;
  std::vector<Shape> ellipses;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const std::string& term = eq.inputs[i];
    const Shape& shape = ctx.input_shape(i);
    const size_t labels = einsum_label_count(term);
    const bool has_ellipsis = labels != term.size();
    if (has_ellipsis ? shape.size() < labels : shape.size() != labels)
      return ctx.error("term '" + term + "' does not fit input " + std::to_string(i) + " of rank " +
                       std::to_string(shape.size()));
    size_t d = 0;
    for (char c : term) {
      if (c == EinsumEquation::kEllipsis) {
        const size_t n = shape.size() - labels;
        ellipses.emplace_back(shape.begin() + static_cast<std::ptrdiff_t>(d),
                              shape.begin() + static_cast<std::ptrdiff_t>(d + n));
        d += n;
        continue;
      }
      auto [it, fresh] = dims.emplace(c, shape[d]);
      if (!fresh) {
        SLIMRT_RETURN_IF_ERROR(unify(ctx, it->second, shape[d], std::string("sizes of label '") + c + "'", &it->second));
      }
      ++d;
    }
  }
  Shape ellipsis;
  if (!ellipses.empty()) {
    std::vector<const Shape*> ptrs;
    for (const Shape& e : ellipses) ptrs.push_back(&e);
    SLIMRT_RETURN_IF_ERROR(broadcast_shapes(ctx, ptrs, &ellipsis));
  }
  Shape out;
  for (char c : eq.output) {
    if (c == EinsumEquation::kEllipsis) out.insert(out.end(), ellipsis.begin(), ellipsis.end());
    else out.push_back(dims.at(c));
  }
  ctx.set_output(0, dt, std::move(out));
  return Status::OK();
}

}  // namespace

void register_linalg_ops(OpRegistry& r) {
  r.add({"MatMul", 2, 2, 1, 1, infer_matmul});
  r.add({"Gemm", 2, 3, 1, 1, infer_gemm});
  r.add({"Einsum", 1, -1, 1, 1, infer_einsum});
}

}  // namespace slimrt
