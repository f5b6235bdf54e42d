#include <set>

#include "ir/op_registry.h"
#include "slimrt/graph.h"

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

}  // namespace slimrt
