#include "ir/op_registry.h"

#include <algorithm>
#include <cmath>

namespace slimrt {

namespace {
constexpr int64_t kMaxValueElements = 1 << 16;
}

ShapeContext::ShapeContext(const Node& node, std::vector<InputInfo> inputs, size_t num_outputs)
    : node_(node), inputs_(std::move(inputs)), outputs_(num_outputs), converted_values_(inputs_.size()) {}

const Shape& ShapeContext::input_shape(size_t i) const {
  SLIMRT_CHECK_MSG(has_shape(i), node_.describe() + ": input_shape of an input without a shape");
  return *inputs_[i].shape;
}

const std::vector<Dim>* ShapeContext::input_value(size_t i) const {
  if (!has_input(i)) return nullptr;
  const InputInfo& in = inputs_[i];
  if (in.value) return in.value;
  const Tensor* c = in.constant;
  if (!c || c->rank() > 1 || c->numel() > kMaxValueElements) return nullptr;
  if (c->memory_kind() == MemoryKind::kDevice) return nullptr;
  std::vector<Dim>& out = converted_values_[i];
  if (out.empty() && c->numel() > 0) {
    if (dtype_is_float(c->dtype())) {
      // Float scalars and vectors carry values only when every element is an exact integer
      // (Range(0.0, Cast(seq), 1.0) as PyTorch exports torch.arange).
      for (int64_t k = 0; k < c->numel(); ++k) {
        const double x = c->get_as_double(k);
        if (!(std::fabs(x) < 9.0e15) || x != std::floor(x)) return nullptr;
      }
    } else if (!dtype_is_integer(c->dtype()) && c->dtype() != DataType::kBool) {
      return nullptr;
    }
    out.reserve(static_cast<size_t>(c->numel()));
    for (int64_t k = 0; k < c->numel(); ++k) out.emplace_back(c->get_as_int64(k));
  }
  return &out;
}

std::optional<std::vector<int64_t>> ShapeContext::input_static_value(size_t i) const {
  const std::vector<Dim>* v = input_value(i);
  if (!v) return std::nullopt;
  std::vector<int64_t> out;
  out.reserve(v->size());
  for (const Dim& d : *v) {
    auto x = d.value();
    if (!x) return std::nullopt;
    out.push_back(*x);
  }
  return out;
}

std::optional<std::vector<double>> ShapeContext::input_constant_as_doubles(size_t i) const {
  const Tensor* c = input_constant(i);
  if (!c) {
    auto v = input_static_value(i);
    if (!v) return std::nullopt;
    return std::vector<double>(v->begin(), v->end());
  }
  if (c->memory_kind() == MemoryKind::kDevice) return std::nullopt;
  std::vector<double> out(static_cast<size_t>(c->numel()));
  for (int64_t k = 0; k < c->numel(); ++k) out[static_cast<size_t>(k)] = c->get_as_double(k);
  return out;
}

void ShapeContext::set_output(size_t i, DataType dtype, Shape shape) {
  SLIMRT_CHECK(i < outputs_.size());
  outputs_[i].dtype = dtype;
  outputs_[i].shape = std::move(shape);
}

void ShapeContext::set_output_dtype(size_t i, DataType dtype) {
  SLIMRT_CHECK(i < outputs_.size());
  outputs_[i].dtype = dtype;
}

void ShapeContext::set_output_value(size_t i, std::vector<Dim> value) {
  SLIMRT_CHECK(i < outputs_.size());
  outputs_[i].value = std::move(value);
}

Dim ShapeContext::fresh_dim(size_t output, size_t axis) const {
  std::string base = node_.name().empty() ? node_.op_type() : node_.name();
  return Dim::symbol(base + ".out" + std::to_string(output) + ".d" + std::to_string(axis));
}

Status ShapeContext::error(const std::string& why) const {
  std::string msg = node_.describe() + ": cannot infer output shape: " + why + " (inputs:";
  for (size_t i = 0; i < inputs_.size(); ++i) {
    const Value* v = node_.input(i);
    msg += i ? ", " : " ";
    if (!has_input(i)) {
      msg += "<absent>";
      continue;
    }
    msg += (v ? "'" + v->name() + "' " : "") + std::string(dtype_name(inputs_[i].dtype)) +
           (inputs_[i].shape ? shape_to_string(*inputs_[i].shape) : std::string("[?]"));
  }
  return shape_error(msg + ")");
}

Status ShapeContext::unsupported(const std::string& why) const {
  return slimrt::unsupported(node_.describe() + ": " + why);
}

const OpRegistry& OpRegistry::get() {
  static const OpRegistry registry = [] {
    OpRegistry r;
    register_elementwise_ops(r);
    register_reduction_ops(r);
    register_linalg_ops(r);
    register_nn_ops(r);
    register_tensor_ops(r);
    register_image_ops(r);
    register_fused_epilogue_ops(r);
    register_fused_pattern_ops(r);
    register_fused_elementwise_ops(r);
    register_input_convert_ops(r);
    return r;
  }();
  return registry;
}

void OpRegistry::add(OpDef def) {
  SLIMRT_CHECK_MSG(!defs_.count(def.op_type), "op registered twice: " + def.op_type);
  std::string name = def.op_type;
  defs_.emplace(std::move(name), std::move(def));
}

const OpDef* OpRegistry::find(const std::string& op_type) const {
  auto it = defs_.find(op_type);
  return it == defs_.end() ? nullptr : &it->second;
}

std::vector<std::string> OpRegistry::names() const {
  std::vector<std::string> out;
  out.reserve(defs_.size());
  for (const auto& [name, def] : defs_) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> supported_ops() { return OpRegistry::get().names(); }
bool is_supported_op(const std::string& op_type) { return OpRegistry::get().find(op_type) != nullptr; }

Status broadcast_shapes(const ShapeContext& ctx, const std::vector<const Shape*>& shapes, Shape* out) {
  size_t rank = 0;
  for (const Shape* s : shapes) rank = std::max(rank, s->size());
  Shape result(rank, Dim(1));
  for (const Shape* s : shapes) {
    const size_t off = rank - s->size();
    for (size_t k = 0; k < s->size(); ++k) {
      const Dim& d = (*s)[k];
      Dim& r = result[off + k];
      if (d == Dim(1) || d == r) continue;
      if (r == Dim(1)) {
        r = d;
        continue;
      }
      if (d.is_static() && r.is_static()) {
        std::string msg = "shapes do not broadcast:";
        for (const Shape* t : shapes) msg += " " + shape_to_string(*t);
        return ctx.error(msg);
      }
      // Two different symbols (or a symbol and a static dim != 1): at run time they must be
      // equal or one of them 1. Prefer the static dim, else keep the first.
      if (d.is_static()) r = d;
    }
  }
  *out = std::move(result);
  return Status::OK();
}

Status normalize_axis(const ShapeContext& ctx, int64_t axis, int64_t rank, int64_t* out) {
  if (axis < -rank || axis >= rank)
    return ctx.error("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  *out = axis < 0 ? axis + rank : axis;
  return Status::OK();
}

}  // namespace slimrt
