// Shape inference for the elementwise op family: unary math and activations, binary arithmetic
// with numpy broadcasting, comparisons and logic, the variadic Max/Min/Sum/Mean, Where, Clip,
// Cast, CastLike and Identity.
//
// Besides dtypes and shapes, the ops that exporters use inside shape subgraphs (Add, Sub, Mul,
// Div, Neg, Abs, Max, Min, Equal, Where, Cast, CastLike, Identity) propagate known values, so
// that e.g. Concat(Unsqueeze(Gather(Shape(x), 0)), Div(hidden, 12)) resolves symbolically.
#include <algorithm>
#include <limits>
#include <optional>
#include <string>

#include "ir/op_registry.h"

namespace slimrt {

namespace {

// Value propagation only for small tensors: the same function runs for every node at run time.
constexpr int64_t kMaxPropagatedElements = 1024;

std::string dt(DataType t) { return std::string(dtype_name(t)); }

bool is_numeric(DataType t) { return dtype_is_float(t) || dtype_is_integer(t); }

// ---- dtype checks ----------------------------------------------------------------------------

enum class TypeClass { kFloat, kNumeric, kSignedOrFloat, kBool, kAny, kEqualable };

bool type_in_class(DataType t, TypeClass c) {
  switch (c) {
    case TypeClass::kFloat: return dtype_is_float(t);
    case TypeClass::kNumeric: return is_numeric(t);
    case TypeClass::kSignedOrFloat: return dtype_is_float(t) || (dtype_is_integer(t) && dtype_is_signed(t));
    case TypeClass::kBool: return t == DataType::kBool;
    case TypeClass::kAny: return t != DataType::kUndefined;
    case TypeClass::kEqualable: return is_numeric(t) || t == DataType::kBool;
  }
  return false;
}

const char* class_name(TypeClass c) {
  switch (c) {
    case TypeClass::kFloat: return "a float type (float32, float16, bfloat16, float64)";
    case TypeClass::kNumeric: return "a numeric type";
    case TypeClass::kSignedOrFloat: return "a signed integer or float type";
    case TypeClass::kBool: return "bool";
    case TypeClass::kAny: return "any type";
    case TypeClass::kEqualable: return "a numeric type or bool";
  }
  return "?";
}

Status check_input_type(const ShapeContext& ctx, size_t i, TypeClass c) {
  const DataType t = ctx.input_dtype(i);
  if (type_in_class(t, c)) return Status::OK();
  return ctx.unsupported(ctx.node().op_type() + " input " + std::to_string(i) + " has dtype " + dt(t) +
                         "; it takes " + class_name(c));
}

// Every present input among `inputs` must have the dtype of the first.
Status check_same_types(const ShapeContext& ctx, const std::vector<size_t>& inputs) {
  const DataType t0 = ctx.input_dtype(inputs[0]);
  for (size_t i : inputs) {
    if (ctx.has_input(i) && ctx.input_dtype(i) != t0) {
      return ctx.error("input " + std::to_string(i) + " has dtype " + dt(ctx.input_dtype(i)) + " but input " +
                       std::to_string(inputs[0]) + " has dtype " + dt(t0) + "; " + ctx.node().op_type() +
                       " needs equal dtypes");
    }
  }
  return Status::OK();
}

// ---- shapes ------------------------------------------------------------------------------------

// Sets output 0 to the broadcast of the given inputs' shapes, or only its dtype when some input
// shape is unknown. Returns whether the shape is known.
Status set_broadcast_output(ShapeContext& ctx, const std::vector<size_t>& inputs, DataType out_dtype,
                            bool* known) {
  std::vector<const Shape*> shapes;
  for (size_t i : inputs) {
    if (!ctx.has_input(i)) continue;
    if (!ctx.has_shape(i)) {
      ctx.set_output_dtype(0, out_dtype);
      *known = false;
      return Status::OK();
    }
    shapes.push_back(&ctx.input_shape(i));
  }
  Shape out;
  SLIMRT_RETURN_IF_ERROR(broadcast_shapes(ctx, shapes, &out));
  ctx.set_output(0, out_dtype, std::move(out));
  *known = true;
  return Status::OK();
}

void set_same_output(ShapeContext& ctx, size_t input, DataType out_dtype) {
  if (ctx.has_shape(input)) {
    ctx.set_output(0, out_dtype, ctx.input_shape(input));
  } else {
    ctx.set_output_dtype(0, out_dtype);
  }
}

// ---- value propagation ---------------------------------------------------------------------

// Number of elements of output 0 when it is a small static tensor of rank <= 1.
std::optional<size_t> small_output_numel(const ShapeContext& ctx) {
  const auto& out = ctx.output(0);
  if (!out.shape || out.shape->size() > 1) return std::nullopt;
  const Dim n = shape_numel(*out.shape);
  if (!n.value() || *n.value() > kMaxPropagatedElements) return std::nullopt;
  return static_cast<size_t>(*n.value());
}

// The known value of input i when it broadcasts to `n` elements (rank 0/1 only).
const std::vector<Dim>* small_input_value(const ShapeContext& ctx, size_t i, size_t n) {
  if (!ctx.has_shape(i) || ctx.input_rank(i) > 1) return nullptr;
  const Dim numel = shape_numel(ctx.input_shape(i));
  if (!numel.value() || *numel.value() > kMaxPropagatedElements) return nullptr;
  const std::vector<Dim>* v = ctx.input_value(i);
  if (!v || (v->size() != n && v->size() != 1)) return nullptr;
  return v;
}

const Dim& at(const std::vector<Dim>& v, size_t k) { return v.size() == 1 ? v[0] : v[k]; }

// Combines the known values of `inputs` elementwise with `fn` (which returns nullopt when an
// element cannot be decided), and sets them on output 0 when every element is known.
template <typename Fn>
void propagate_values(ShapeContext& ctx, const std::vector<size_t>& inputs, Fn fn) {
  auto n = small_output_numel(ctx);
  if (!n) return;
  std::vector<const std::vector<Dim>*> vals;
  for (size_t i : inputs) {
    const std::vector<Dim>* v = small_input_value(ctx, i, *n);
    if (!v) return;
    vals.push_back(v);
  }
  std::vector<Dim> out;
  out.reserve(*n);
  std::vector<const Dim*> args(vals.size());
  for (size_t k = 0; k < *n; ++k) {
    for (size_t j = 0; j < vals.size(); ++j) args[j] = &at(*vals[j], k);
    std::optional<Dim> d = fn(args);
    if (!d) return;
    out.push_back(std::move(*d));
  }
  ctx.set_output_value(0, std::move(out));
}

bool value_dtype(DataType t) { return dtype_is_integer(t) || t == DataType::kBool; }

// Wraps a static value into the range of integer type `t` (two's complement) or to 0/1 for bool.
std::optional<Dim> convert_static(const Dim& d, DataType from, DataType to) {
  if (from == to) return d;
  if (to == DataType::kBool) {
    if (!d.value()) return std::nullopt;  // a symbolic dim may be 0
    return Dim(*d.value() != 0 ? 1 : 0);
  }
  if (to == DataType::kInt64) return d;
  if (!d.value()) {
    // Symbolic dims are non-negative sizes: they fit int32 in every real model.
    if (to == DataType::kInt32) return d;
    return std::nullopt;
  }
  const int64_t v = *d.value();
  switch (to) {
    case DataType::kInt8: return Dim(static_cast<int8_t>(v));
    case DataType::kUInt8: return Dim(static_cast<uint8_t>(v));
    case DataType::kInt32: return Dim(static_cast<int32_t>(v));
    default: return std::nullopt;
  }
}

std::optional<int64_t> static_of(const Dim* d) { return d->value(); }

// ---- inference functions -----------------------------------------------------------------------

Status infer_unary_same(ShapeContext& ctx, TypeClass c) {
  SLIMRT_RETURN_IF_ERROR(check_input_type(ctx, 0, c));
  set_same_output(ctx, 0, ctx.input_dtype(0));
  return Status::OK();
}

Status infer_unary_float(ShapeContext& ctx) { return infer_unary_same(ctx, TypeClass::kFloat); }
Status infer_unary_numeric(ShapeContext& ctx) { return infer_unary_same(ctx, TypeClass::kNumeric); }
Status infer_not(ShapeContext& ctx) { return infer_unary_same(ctx, TypeClass::kBool); }

Status infer_neg(ShapeContext& ctx) {
  SLIMRT_RETURN_IF_ERROR(infer_unary_same(ctx, TypeClass::kSignedOrFloat));
  if (value_dtype(ctx.input_dtype(0))) {
    propagate_values(ctx, {0}, [](const std::vector<const Dim*>& a) -> std::optional<Dim> { return *a[0] * Dim(-1); });
  }
  return Status::OK();
}

Status infer_abs(ShapeContext& ctx) {
  SLIMRT_RETURN_IF_ERROR(infer_unary_same(ctx, TypeClass::kNumeric));
  if (value_dtype(ctx.input_dtype(0))) {
    // Symbols are sizes (>= 0), so a polynomial whose terms all share one sign has a known sign.
    propagate_values(ctx, {0}, [](const std::vector<const Dim*>& a) -> std::optional<Dim> {
      bool any_neg = false, any_pos = false;
      for (const Dim::Term& t : a[0]->terms()) (t.coeff < 0 ? any_neg : any_pos) = true;
      if (any_neg && any_pos) return std::nullopt;
      return any_neg ? *a[0] * Dim(-1) : *a[0];
    });
  }
  return Status::OK();
}

Status infer_float_to_bool(ShapeContext& ctx) {
  SLIMRT_RETURN_IF_ERROR(check_input_type(ctx, 0, TypeClass::kFloat));
  set_same_output(ctx, 0, DataType::kBool);
  return Status::OK();
}

Status infer_identity(ShapeContext& ctx) {
  set_same_output(ctx, 0, ctx.input_dtype(0));
  if (value_dtype(ctx.input_dtype(0))) {
    propagate_values(ctx, {0}, [](const std::vector<const Dim*>& a) -> std::optional<Dim> { return *a[0]; });
  }
  return Status::OK();
}

Status infer_cast_to(ShapeContext& ctx, DataType to) {
  const DataType from = ctx.input_dtype(0);
  set_same_output(ctx, 0, to);
  // Float values are exact integers (ShapeContext::input_value), so int <-> float casts of shape
  // values keep them: torch.arange(seq) exports as Range(0.0, Cast<float>(seq), 1.0).
  const bool to_float = to == DataType::kFloat32 || to == DataType::kFloat64;
  if ((value_dtype(from) || dtype_is_float(from)) && (value_dtype(to) || to_float)) {
    propagate_values(ctx, {0}, [&](const std::vector<const Dim*>& a) -> std::optional<Dim> {
      if (!to_float) return convert_static(*a[0], dtype_is_float(from) ? DataType::kInt64 : from, to);
      const int64_t exact_limit = to == DataType::kFloat32 ? (int64_t{1} << 24) : (int64_t{1} << 53);
      if (auto v = a[0]->value(); v && (*v > exact_limit || *v < -exact_limit)) return std::nullopt;
      return *a[0];
    });
  }
  return Status::OK();
}

Status infer_cast(ShapeContext& ctx) {
  if (!ctx.node().has_attr("to")) return ctx.error("Cast needs a 'to' attribute");
  const int64_t to = ctx.node().attr_int("to", -1);
  const DataType t = static_cast<DataType>(to);
  if (to <= 0 || to > static_cast<int64_t>(DataType::kBool) || dtype_size(t) == 0) {
    return ctx.unsupported("Cast to=" + std::to_string(to) + " is not a slimrt DataType");
  }
  return infer_cast_to(ctx, t);
}

Status infer_castlike(ShapeContext& ctx) { return infer_cast_to(ctx, ctx.input_dtype(1)); }

// Two inputs of one dtype in class `c`, broadcast; output dtype `out` (or the input's).
Status infer_binary(ShapeContext& ctx, TypeClass c, std::optional<DataType> out, bool* known) {
  SLIMRT_RETURN_IF_ERROR(check_input_type(ctx, 0, c));
  SLIMRT_RETURN_IF_ERROR(check_same_types(ctx, {0, 1}));
  return set_broadcast_output(ctx, {0, 1}, out.value_or(ctx.input_dtype(0)), known);
}

Status infer_add(ShapeContext& ctx) {
  bool known = false;
  SLIMRT_RETURN_IF_ERROR(infer_binary(ctx, TypeClass::kNumeric, std::nullopt, &known));
  if (known && value_dtype(ctx.input_dtype(0)))
    propagate_values(ctx, {0, 1}, [](const std::vector<const Dim*>& a) -> std::optional<Dim> { return *a[0] + *a[1]; });
  return Status::OK();
}

Status infer_sub(ShapeContext& ctx) {
  bool known = false;
  SLIMRT_RETURN_IF_ERROR(infer_binary(ctx, TypeClass::kNumeric, std::nullopt, &known));
  if (known && value_dtype(ctx.input_dtype(0)))
    propagate_values(ctx, {0, 1}, [](const std::vector<const Dim*>& a) -> std::optional<Dim> { return *a[0] - *a[1]; });
  return Status::OK();
}

Status infer_mul(ShapeContext& ctx) {
  bool known = false;
  SLIMRT_RETURN_IF_ERROR(infer_binary(ctx, TypeClass::kNumeric, std::nullopt, &known));
  if (known && value_dtype(ctx.input_dtype(0)))
    propagate_values(ctx, {0, 1}, [](const std::vector<const Dim*>& a) -> std::optional<Dim> { return *a[0] * *a[1]; });
  return Status::OK();
}

Status infer_div(ShapeContext& ctx) {
  bool known = false;
  SLIMRT_RETURN_IF_ERROR(infer_binary(ctx, TypeClass::kNumeric, std::nullopt, &known));
  if (known && value_dtype(ctx.input_dtype(0))) {
    propagate_values(ctx, {0, 1}, [](const std::vector<const Dim*>& a) -> std::optional<Dim> {
      auto x = static_of(a[0]), y = static_of(a[1]);
      if (x && y) {
        // Both static: C truncation, like the kernel (and no value for a zero or overflowing divisor).
        if (*y == 0 || (*y == -1 && *x == std::numeric_limits<int64_t>::min())) return std::nullopt;
        return Dim(*x / *y);
      }
      return a[0]->divide(*a[1]);  // exact symbolic quotients only
    });
  }
  return Status::OK();
}

// Mod of shape values (Swin's (7 - H % 7) % 7 pads): static operands, or a polynomial whose
// symbolic terms are multiples of a static divisor ((4*h + 2) % 4 == 2: symbols are integers).
// fmod=1 (C remainder) only for static operands, where the signs are known.
Status infer_mod(ShapeContext& ctx) {
  bool known = false;
  SLIMRT_RETURN_IF_ERROR(infer_binary(ctx, TypeClass::kNumeric, std::nullopt, &known));
  if (!known || !value_dtype(ctx.input_dtype(0))) return Status::OK();
  const bool c_fmod = ctx.node().attr_int("fmod", 0) != 0;
  propagate_values(ctx, {0, 1}, [&](const std::vector<const Dim*>& a) -> std::optional<Dim> {
    auto y = static_of(a[1]);
    if (!y || *y == 0 || *y == std::numeric_limits<int64_t>::min()) return std::nullopt;
    int64_t constant = 0;
    for (const Dim::Term& t : a[0]->terms()) {
      if (t.factors.empty()) {
        constant = t.coeff;
      } else if (c_fmod || t.coeff % *y != 0) {
        return std::nullopt;
      }
    }
    int64_t r = constant % *y;
    if (!c_fmod && r != 0 && ((r < 0) != (*y < 0))) r += *y;
    return Dim(r);
  });
  return Status::OK();
}

Status infer_pow(ShapeContext& ctx) {
  const DataType base = ctx.input_dtype(0);
  if (!dtype_is_float(base) && base != DataType::kInt32 && base != DataType::kInt64) {
    return ctx.unsupported("Pow base has dtype " + dt(base) + "; it takes a float type, int32 or int64");
  }
  SLIMRT_RETURN_IF_ERROR(check_input_type(ctx, 1, TypeClass::kNumeric));
  bool known = false;
  return set_broadcast_output(ctx, {0, 1}, base, &known);
}

Status infer_bitshift(ShapeContext& ctx) {
  const std::string dir = ctx.node().attr_string("direction", "");
  if (dir != "LEFT" && dir != "RIGHT") return ctx.unsupported("BitShift direction must be LEFT or RIGHT, got '" + dir + "'");
  if (ctx.input_dtype(0) != DataType::kUInt8)
    return ctx.unsupported("BitShift takes unsigned integers; slimrt has only uint8, got " + dt(ctx.input_dtype(0)));
  bool known = false;
  return infer_binary(ctx, TypeClass::kNumeric, std::nullopt, &known);
}

Status infer_prelu(ShapeContext& ctx) {
  SLIMRT_RETURN_IF_ERROR(check_input_type(ctx, 0, TypeClass::kNumeric));
  SLIMRT_RETURN_IF_ERROR(check_same_types(ctx, {0, 1}));
  if (!ctx.has_shape(0)) {
    ctx.set_output_dtype(0, ctx.input_dtype(0));
    return Status::OK();
  }
  // The slope broadcasts to X (unidirectionally): the output is X's shape.
  if (ctx.has_shape(1)) {
    const Shape& x = ctx.input_shape(0);
    const Shape& s = ctx.input_shape(1);
    bool ok = s.size() <= x.size();
    for (size_t k = 0; ok && k < s.size(); ++k) {
      const Dim& sd = s[s.size() - 1 - k];
      const Dim& xd = x[x.size() - 1 - k];
      ok = sd == Dim(1) || sd == xd || !sd.is_static() || !xd.is_static();
    }
    if (!ok) return ctx.error("slope does not broadcast to the shape of X");
  }
  ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
  return Status::OK();
}

Status infer_compare(ShapeContext& ctx) {
  bool known = false;
  SLIMRT_RETURN_IF_ERROR(infer_binary(ctx, TypeClass::kNumeric, DataType::kBool, &known));
  return Status::OK();
}

Status infer_equal(ShapeContext& ctx) {
  bool known = false;
  SLIMRT_RETURN_IF_ERROR(infer_binary(ctx, TypeClass::kEqualable, DataType::kBool, &known));
  if (known && value_dtype(ctx.input_dtype(0))) {
    propagate_values(ctx, {0, 1}, [](const std::vector<const Dim*>& a) -> std::optional<Dim> {
      if (*a[0] == *a[1]) return Dim(1);
      if (a[0]->is_static() && a[1]->is_static()) return Dim(0);
      // Symbols are sizes, so a sum of positive terms is >= 0 and never equals a negative
      // constant: Equal(shape, -1), as torch exports expand(b, -1, -1), is decidable.
      auto nonnegative = [](const Dim& d) {
        for (const Dim::Term& t : d.terms()) {
          if (t.coeff < 0) return false;
        }
        return true;
      };
      auto negative = [](const Dim& d) { return d.value() && *d.value() < 0; };
      if ((nonnegative(*a[0]) && negative(*a[1])) || (nonnegative(*a[1]) && negative(*a[0]))) return Dim(0);
      return std::nullopt;  // different symbolic expressions may still be equal at run time
    });
  }
  return Status::OK();
}

Status infer_logic(ShapeContext& ctx) {
  bool known = false;
  return infer_binary(ctx, TypeClass::kBool, std::nullopt, &known);
}

Status infer_variadic(ShapeContext& ctx, TypeClass c, bool* known) {
  std::vector<size_t> all;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) return ctx.error(ctx.node().op_type() + " input " + std::to_string(i) + " is absent");
    all.push_back(i);
  }
  SLIMRT_RETURN_IF_ERROR(check_input_type(ctx, 0, c));
  SLIMRT_RETURN_IF_ERROR(check_same_types(ctx, all));
  return set_broadcast_output(ctx, all, ctx.input_dtype(0), known);
}

std::vector<size_t> all_inputs(const ShapeContext& ctx) {
  std::vector<size_t> all(ctx.num_inputs());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  return all;
}

// Max/Min of known values: decidable when the values are equal or all static.
template <typename Better>
Status infer_extremum(ShapeContext& ctx, Better better) {
  bool known = false;
  SLIMRT_RETURN_IF_ERROR(infer_variadic(ctx, TypeClass::kNumeric, &known));
  if (known && value_dtype(ctx.input_dtype(0))) {
    propagate_values(ctx, all_inputs(ctx), [&](const std::vector<const Dim*>& a) -> std::optional<Dim> {
      const Dim* best = a[0];
      for (const Dim* d : a) {
        if (*d == *best) continue;
        if (!d->is_static() || !best->is_static()) return std::nullopt;
        if (better(*d->value(), *best->value())) best = d;
      }
      return *best;
    });
  }
  return Status::OK();
}

Status infer_max(ShapeContext& ctx) { return infer_extremum(ctx, [](int64_t x, int64_t y) { return x > y; }); }
Status infer_min(ShapeContext& ctx) { return infer_extremum(ctx, [](int64_t x, int64_t y) { return x < y; }); }

Status infer_sum_mean(ShapeContext& ctx) {
  bool known = false;
  return infer_variadic(ctx, TypeClass::kFloat, &known);
}

Status infer_where(ShapeContext& ctx) {
  if (ctx.input_dtype(0) != DataType::kBool)
    return ctx.error("Where condition has dtype " + dt(ctx.input_dtype(0)) + "; it must be bool");
  SLIMRT_RETURN_IF_ERROR(check_same_types(ctx, {1, 2}));
  bool known = false;
  SLIMRT_RETURN_IF_ERROR(set_broadcast_output(ctx, {0, 1, 2}, ctx.input_dtype(1), &known));
  if (known && value_dtype(ctx.input_dtype(1))) {
    propagate_values(ctx, {0, 1, 2}, [](const std::vector<const Dim*>& a) -> std::optional<Dim> {
      auto c = static_of(a[0]);
      if (!c) return std::nullopt;
      return *c ? *a[1] : *a[2];
    });
  }
  return Status::OK();
}

Status infer_clip(ShapeContext& ctx) {
  SLIMRT_RETURN_IF_ERROR(check_input_type(ctx, 0, TypeClass::kNumeric));
  SLIMRT_RETURN_IF_ERROR(check_same_types(ctx, {0, 1, 2}));
  for (size_t i : {size_t{1}, size_t{2}}) {
    if (!ctx.has_shape(i)) continue;
    const Dim n = shape_numel(ctx.input_shape(i));
    if (n.is_static() && *n.value() != 1) {
      return ctx.error(std::string(i == 1 ? "min" : "max") + " must be a scalar, got shape " +
                       shape_to_string(ctx.input_shape(i)));
    }
  }
  set_same_output(ctx, 0, ctx.input_dtype(0));
  return Status::OK();
}

}  // namespace

void register_elementwise_ops(OpRegistry& r) {
  // Float-only unary math and activations (fp16/bf16 included).
  for (const char* op : {"Ceil", "Floor", "Round", "Sqrt", "Reciprocal", "Exp", "Log", "Sin", "Cos", "Tan", "Asin",
                         "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Tanh", "Erf", "Sigmoid",
                         "Softplus", "Softsign", "Elu", "Selu", "Celu", "LeakyRelu", "HardSigmoid", "HardSwish",
                         "ThresholdedRelu", "Mish", "Gelu"}) {
    r.add({op, 1, 1, 1, 1, &infer_unary_float});
  }
  for (const char* op : {"Sign", "Relu", "Shrink"}) r.add({op, 1, 1, 1, 1, &infer_unary_numeric});
  r.add({"Abs", 1, 1, 1, 1, &infer_abs});
  r.add({"Neg", 1, 1, 1, 1, &infer_neg});
  r.add({"Not", 1, 1, 1, 1, &infer_not});
  r.add({"IsNaN", 1, 1, 1, 1, &infer_float_to_bool});
  r.add({"IsInf", 1, 1, 1, 1, &infer_float_to_bool});

  r.add({"Add", 2, 2, 1, 1, &infer_add});
  r.add({"Sub", 2, 2, 1, 1, &infer_sub});
  r.add({"Mul", 2, 2, 1, 1, &infer_mul});
  r.add({"Div", 2, 2, 1, 1, &infer_div});
  r.add({"Mod", 2, 2, 1, 1, &infer_mod});
  r.add({"Pow", 2, 2, 1, 1, &infer_pow});
  r.add({"PRelu", 2, 2, 1, 1, &infer_prelu});
  r.add({"BitShift", 2, 2, 1, 1, &infer_bitshift});

  r.add({"Equal", 2, 2, 1, 1, &infer_equal});
  for (const char* op : {"Greater", "GreaterOrEqual", "Less", "LessOrEqual"}) r.add({op, 2, 2, 1, 1, &infer_compare});
  for (const char* op : {"And", "Or", "Xor"}) r.add({op, 2, 2, 1, 1, &infer_logic});

  r.add({"Max", 1, -1, 1, 1, &infer_max});
  r.add({"Min", 1, -1, 1, 1, &infer_min});
  r.add({"Sum", 1, -1, 1, 1, &infer_sum_mean});
  r.add({"Mean", 1, -1, 1, 1, &infer_sum_mean});

  r.add({"Where", 3, 3, 1, 1, &infer_where});
  r.add({"Clip", 1, 3, 1, 1, &infer_clip, 0b110});
  r.add({"Cast", 1, 1, 1, 1, &infer_cast});
  r.add({"CastLike", 2, 2, 1, 1, &infer_castlike});
  r.add({"Identity", 1, 1, 1, 1, &infer_identity});
}

}  // namespace slimrt
