// Constant folding: nodes whose results are known at build time become initializers.
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "passes/pass_util.h"
#include "slimrt/backend.h"
#include "slimrt/builder/passes.h"

namespace slimrt {

namespace {

// Ops whose result is not a function of their inputs' values alone.
bool is_deterministic(const std::string& op_type) {
  static const std::set<std::string> kRandom = {"RandomNormal", "RandomUniform", "RandomNormalLike",
                                                "RandomUniformLike", "Multinomial", "Bernoulli"};
  return !kRandom.count(op_type);
}

// The element count of `v` when its shape is static.
std::optional<int64_t> static_numel(const Value& v) {
  if (!v.has_shape()) return std::nullopt;
  auto s = shape_to_static(v.shape());
  if (!s) return std::nullopt;
  return numel_of(*s);
}

// Builds the outputs of `n` from the values shape inference already knows exactly (the shape
// subgraphs exporters emit: Shape, Gather of a static dim, Concat of those...). Empty when any
// output is not fully known.
std::vector<Tensor> outputs_from_known_values(const Node& n) {
  std::vector<Tensor> outs;
  for (const Value* out : n.outputs()) {
    const std::vector<Dim>* known = out->known_value();
    if (!known || !dtype_is_integer(out->dtype()) || out->rank() > 1) return {};
    auto shape = shape_to_static(out->shape());
    if (!shape || numel_of(*shape) != static_cast<int64_t>(known->size())) return {};
    std::vector<int64_t> vals;
    for (const Dim& d : *known) {
      auto v = d.value();
      if (!v) return {};
      vals.push_back(*v);
    }
    Result<Tensor> t = Tensor::allocate(out->dtype(), *shape);
    if (!t.ok()) return {};
    for (size_t i = 0; i < vals.size(); ++i) {
      switch (out->dtype()) {
        case DataType::kInt64: t->data<int64_t>()[i] = vals[i]; break;
        case DataType::kInt32: t->data<int32_t>()[i] = static_cast<int32_t>(vals[i]); break;
        default: return {};  // other integer types never carry known values in practice
      }
    }
    outs.push_back(std::move(t).value());
  }
  return outs;
}

}  // namespace

Status fold_constants(Graph& g, const PassOptions& options, PassStats* stats) {
  std::unique_ptr<ConstantEvaluator> evaluator = make_cpu_constant_evaluator();
  int64_t removed = 0;
  for (Node* n : g.nodes()) {
    if (!is_deterministic(n->op_type()) || passes::feeds_graph_output(*n)) continue;
    bool all_constant = true;
    for (const Value* in : n->inputs()) {
      if (in && !in->constant()) all_constant = false;
    }
    std::vector<Tensor> outs;
    if (all_constant) {
      bool small = true;
      for (const Value* out : n->outputs()) {
        auto numel = static_numel(*out);
        if (!numel || *numel > options.max_fold_elements) small = false;
      }
      if (!small) {
        passes::note(stats, "kept " + n->describe() + ": output not static or larger than the fold limit");
        continue;
      }
      bool all_known = true;
      for (const Value* out : n->outputs()) {
        if (!out->constant()) all_known = false;
      }
      if (all_known) {
        // Shape inference at import already evaluated it.
        for (const Value* out : n->outputs()) outs.push_back(*out->constant());
      } else {
        std::vector<const Tensor*> ins;
        for (const Value* in : n->inputs()) ins.push_back(in ? in->constant() : nullptr);
        Result<std::vector<Tensor>> r = evaluator->evaluate(*n, ins);
        if (!r.ok()) {
          // Running the graph would fail the same way; leave the node for run time to report.
          passes::note(stats, "kept " + n->describe() + ": " + r.status().message());
          continue;
        }
        outs = std::move(r).value();
      }
    } else {
      outs = outputs_from_known_values(*n);
    }
    if (outs.size() != n->num_outputs()) continue;
    for (size_t i = 0; i < outs.size(); ++i) {
      Value* out = n->output(i);
      if (outs[i].dtype() != out->dtype())
        return internal_error(n->describe() + ": folded output " + std::to_string(i) + " has dtype " +
                              std::string(dtype_name(outs[i].dtype())) + ", shape inference said " +
                              std::string(dtype_name(out->dtype())));
      if (out->consumers().empty()) continue;
      const bool small_int = dtype_is_integer(outs[i].dtype()) && outs[i].rank() <= 1;
      std::vector<Dim> known;
      if (small_int) {
        for (int64_t k = 0; k < outs[i].numel(); ++k) known.emplace_back(outs[i].get_as_int64(k));
      }
      Value* c = g.add_initializer(out->name(), std::move(outs[i]));
      if (small_int) c->set_known_value(std::move(known));
      g.replace_all_uses(out, c);
    }
    const std::string what = n->describe();
    SLIMRT_RETURN_IF_ERROR(g.remove_node(n));
    ++removed;
    passes::note(stats, "folded " + what);
  }
  if (stats) stats->nodes_removed += removed;
  if (removed > 0) SLIMRT_RETURN_IF_ERROR(infer_shapes(g).with_context("after constant folding"));
  return Status::OK();
}

}  // namespace slimrt
