#include <set>
#include <unordered_map>

#include "ir/op_registry.h"
#include "slimrt/graph.h"
#include "slimrt/memory_plan.h"

namespace slimrt {

namespace {

// Ops whose result is not a function of their inputs' values alone, so they never fold.
bool is_foldable(const std::string& op_type) {
  static const std::set<std::string> kNoFold = {"RandomNormal", "RandomUniform", "RandomNormalLike",
                                                "RandomUniformLike", "Multinomial", "Bernoulli"};
  return !kNoFold.count(op_type);
}

Status check_arity(const Node& n, const OpDef& def) {
  const int ni = static_cast<int>(n.num_inputs());
  const int no = static_cast<int>(n.num_outputs());
  if (ni < def.min_inputs || (def.max_inputs >= 0 && ni > def.max_inputs)) {
    return invalid_argument(n.describe() + " has " + std::to_string(ni) + " inputs; " + def.op_type +
                            " takes " + std::to_string(def.min_inputs) + " to " +
                            (def.max_inputs < 0 ? std::string("any number") : std::to_string(def.max_inputs)));
  }
  if (no < def.min_outputs || (def.max_outputs >= 0 && no > def.max_outputs)) {
    return invalid_argument(n.describe() + " has " + std::to_string(no) + " outputs; " + def.op_type +
                            " produces " + std::to_string(def.min_outputs) + " to " +
                            (def.max_outputs < 0 ? std::string("any number") : std::to_string(def.max_outputs)));
  }
  for (int i = 0; i < std::min(ni, def.min_inputs); ++i) {
    if (!n.input(static_cast<size_t>(i)))
      return invalid_argument(n.describe() + " is missing required input " + std::to_string(i));
  }
  return Status::OK();
}

Status fold_node(Node& n, const ShapeInferenceOptions& options) {
  std::vector<const Tensor*> inputs;
  for (Value* in : n.inputs()) {
    if (!in) {
      inputs.push_back(nullptr);
      continue;
    }
    if (!in->constant()) return Status::OK();
    inputs.push_back(in->constant());
  }
  for (Value* out : n.outputs()) {
    if (!out->has_shape()) return Status::OK();
    auto s = shape_to_static(out->shape());
    if (!s || numel_of(*s) > options.max_fold_elements) return Status::OK();
  }
  Result<std::vector<Tensor>> r = options.evaluator->evaluate(n, inputs);
  if (!r.ok()) return r.status();
  std::vector<Tensor>& outs = r.value();
  if (outs.empty()) return Status::OK();
  for (size_t i = 0; i < outs.size() && i < n.num_outputs(); ++i) {
    Value* v = n.output(i);
    if (v->is_graph_output()) continue;  // keep graph outputs computed at run time
    if (dtype_is_integer(outs[i].dtype()) && outs[i].rank() <= 1) {
      std::vector<Dim> known;
      for (int64_t k = 0; k < outs[i].numel(); ++k) known.emplace_back(outs[i].get_as_int64(k));
      v->set_known_value(std::move(known));
    }
    v->set_constant(std::move(outs[i]));
  }
  return Status::OK();
}

}  // namespace

Status infer_shapes(Graph& g, const ShapeInferenceOptions& options) {
  const OpRegistry& reg = OpRegistry::get();
  for (Node* n : g.nodes()) {
    const OpDef* def = reg.find(n->op_type());
    if (!def) {
      return unsupported(n->describe() + ": op '" + n->op_type() +
                         "' is not supported by slimrt (docs/ops.md lists the supported ops; "
                         "`slimrt ops` prints them)");
    }
    SLIMRT_RETURN_IF_ERROR(check_arity(*n, *def));
    std::vector<ShapeContext::InputInfo> infos;
    for (Value* in : n->inputs()) {
      ShapeContext::InputInfo info;
      if (in) {
        info.dtype = in->dtype();
        if (info.dtype == DataType::kUndefined)
          return shape_error(n->describe() + ": input '" + in->name() + "' has no known dtype");
        info.shape = in->has_shape() ? &in->shape() : nullptr;
        info.constant = in->constant();
        info.value = in->known_value();
      }
      infos.push_back(info);
    }
    ShapeContext ctx(*n, std::move(infos), n->num_outputs());
    SLIMRT_RETURN_IF_ERROR(def->infer(ctx));
    for (size_t i = 0; i < n->num_outputs(); ++i) {
      Value* out = n->output(i);
      const auto& info = ctx.output(i);
      if (info.dtype == DataType::kUndefined)
        return internal_error(n->describe() + ": shape inference gave output " + std::to_string(i) + " no dtype");
      out->set_dtype(info.dtype);
      if (info.shape) out->set_shape(*info.shape); else out->clear_shape();
      if (info.value) out->set_known_value(*info.value); else out->clear_known_value();
    }
    if (options.evaluator && is_foldable(n->op_type())) {
      Status s = fold_node(*n, options);
      if (!s.ok()) return s.with_context("while folding constants");
    }
  }
  return Status::OK();
}

namespace {

// One value as infer_profile_shapes sees it.
struct ProfileValue {
  std::optional<Shape> shape;
  std::optional<std::vector<Dim>> value;
  std::optional<Tensor> host;  // its data, when evaluated here
};

bool is_small_static(const Shape& s, int64_t max_elements) {
  auto dims = shape_to_static(s);
  return dims && numel_of(*dims) <= max_elements;
}

// The data of a value whose known elements are all numbers, as a host tensor (nullopt otherwise).
std::optional<Tensor> host_from_known(DataType dtype, const Shape& shape, const std::vector<Dim>& known) {
  auto dims = shape_to_static(shape);
  if (!dims || numel_of(*dims) != static_cast<int64_t>(known.size())) return std::nullopt;
  auto t = Tensor::allocate(dtype, *dims);
  if (!t.ok()) return std::nullopt;
  for (size_t i = 0; i < known.size(); ++i) {
    const std::optional<int64_t> v = known[i].value();
    if (!v) return std::nullopt;
    switch (dtype) {
      case DataType::kInt64: t->data<int64_t>()[i] = *v; break;
      case DataType::kInt32: t->data<int32_t>()[i] = static_cast<int32_t>(*v); break;
      case DataType::kInt8: t->data<int8_t>()[i] = static_cast<int8_t>(*v); break;
      case DataType::kUInt8: t->data<uint8_t>()[i] = static_cast<uint8_t>(*v); break;
      case DataType::kBool: t->data<uint8_t>()[i] = *v != 0 ? 1 : 0; break;
      case DataType::kFloat32: t->data<float>()[i] = static_cast<float>(*v); break;
      case DataType::kFloat64: t->data<double>()[i] = static_cast<double>(*v); break;
      default: return std::nullopt;
    }
  }
  return std::move(*t);
}

bool is_static_large(const Shape& s, int64_t max_elements) {
  auto dims = shape_to_static(s);
  return dims && numel_of(*dims) > max_elements;
}

}  // namespace

Result<std::unordered_map<const Value*, Shape>> infer_profile_shapes(const Graph& g,
                                                                     const std::map<std::string, Shape>& input_shapes,
                                                                     ConstantEvaluator* evaluator,
                                                                     int64_t max_eval_elements) {
  const OpRegistry& reg = OpRegistry::get();
  std::unordered_map<const Value*, ProfileValue> table;
  for (const Value* in : g.inputs()) {
    auto it = input_shapes.find(in->name());
    if (it == input_shapes.end()) continue;
    if (in->has_shape() && it->second.size() != in->shape().size())
      return invalid_argument("input '" + in->name() + "' is " + shape_to_string(in->shape()) +
                              "; the profile gives " + shape_to_string(it->second));
    table[in].shape = it->second;
  }
  for (const Node* n : g.nodes()) {
    const OpDef* def = reg.find(n->op_type());
    if (!def) return unsupported(n->describe() + ": op '" + n->op_type() + "' is not supported by slimrt");
    std::vector<ShapeContext::InputInfo> infos;
    std::vector<const Tensor*> host(n->num_inputs(), nullptr);
    bool all_host = true, inputs_small = true;
    for (size_t k = 0; k < n->num_inputs(); ++k) {
      const Value* in = n->input(k);
      ShapeContext::InputInfo info;
      if (in) {
        info.dtype = in->dtype();
        auto it = table.find(in);
        const ProfileValue* pv = it == table.end() ? nullptr : &it->second;
        info.shape = pv ? (pv->shape ? &*pv->shape : nullptr) : (in->has_shape() ? &in->shape() : nullptr);
        info.constant = in->constant() ? in->constant() : pv && pv->host ? &*pv->host : nullptr;
        info.value = pv ? (pv->value ? &*pv->value : nullptr) : in->known_value();
        host[k] = info.constant;
        all_host = all_host && info.constant != nullptr;
        inputs_small = inputs_small && info.constant != nullptr && info.constant->numel() <= max_eval_elements;
      }
      infos.push_back(info);
    }
    ShapeContext ctx(*n, std::move(infos), n->num_outputs());
    Status s = def->infer(ctx);
    if (!s.ok()) return s;
    std::vector<ProfileValue> outs(n->num_outputs());
    bool outputs_small = true;
    for (size_t i = 0; i < n->num_outputs(); ++i) {
      const auto& info = ctx.output(i);
      outs[i].shape = info.shape;
      outs[i].value = info.value;
      if (info.shape && info.value) outs[i].host = host_from_known(info.dtype, *info.shape, *info.value);
      outputs_small = outputs_small && info.shape && is_small_static(*info.shape, max_eval_elements);
    }
    // Evaluated on the host like the backends do at run time: every input known there, and the
    // outputs small (or of a size only the data decides, checked after).
    const bool data_sized = !outputs_small && std::none_of(outs.begin(), outs.end(), [&](const ProfileValue& o) {
      return o.shape && is_static_large(*o.shape, max_eval_elements);
    });
    const bool outputs_known =
        std::all_of(outs.begin(), outs.end(), [](const ProfileValue& o) { return o.host.has_value(); });
    if (!outputs_known && evaluator && all_host && inputs_small && is_foldable(n->op_type()) && (outputs_small || data_sized)) {
      Result<std::vector<Tensor>> r = evaluator->evaluate(*n, host);
      if (r.ok() && r->size() == n->num_outputs()) {
        bool small = true;
        for (const Tensor& t : *r) small = small && t.numel() <= max_eval_elements;
        for (size_t i = 0; small && i < r->size(); ++i) {
          Tensor& t = (*r)[i];
          outs[i].shape = shape_from_static(t.shape());
          if ((dtype_is_integer(t.dtype()) || t.dtype() == DataType::kBool) && t.rank() <= 1) {
            std::vector<Dim> known;
            for (int64_t k = 0; k < t.numel(); ++k) known.emplace_back(t.get_as_int64(k));
            outs[i].value = std::move(known);
          }
          outs[i].host = std::move(t);
        }
      }
    }
    for (size_t i = 0; i < n->num_outputs(); ++i) {
      if (const Value* out = n->output(i)) table[out] = std::move(outs[i]);
    }
  }
  std::unordered_map<const Value*, Shape> changed;
  for (auto& [v, pv] : table) {
    if (!pv.shape) continue;
    if (!v->has_shape() || v->shape() != *pv.shape) changed.emplace(v, std::move(*pv.shape));
  }
  return changed;
}

}  // namespace slimrt
