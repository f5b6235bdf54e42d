// Dead-code elimination and Identity/Dropout removal.
#include <string>
#include <vector>

#include "passes/pass_util.h"
#include "slimrt/builder/passes.h"

namespace slimrt {

Status eliminate_dead_code(Graph& g, PassStats* stats) {
  // Reverse topological order: a node's consumers are visited (and removed) before it, so a
  // whole dangling branch goes in one sweep.
  std::vector<Node*> nodes = g.nodes();
  int64_t removed = 0;
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    Node* n = *it;
    bool dead = true;
    for (const Value* out : n->outputs()) {
      if (out && !passes::is_unused(*out)) dead = false;
    }
    if (!dead) continue;
    const std::string what = n->describe();
    SLIMRT_RETURN_IF_ERROR(g.remove_node(n));
    ++removed;
    passes::note(stats, "removed " + what);
  }
  // Values nothing produces or reads: unused initializers (weights folded away) and the outputs
  // of removed nodes. They are deleted, so they never reach the engine file.
  int64_t deleted = 0;
  for (Value* v : g.values()) {
    if (v->producer() || v->is_graph_input() || !passes::is_unused(*v)) continue;
    SLIMRT_RETURN_IF_ERROR(g.remove_value(v));
    ++deleted;
  }
  if (stats) {
    stats->nodes_removed += removed;
    stats->values_removed += deleted;
    if (deleted > 0) passes::note(stats, "deleted " + std::to_string(deleted) + " unused values");
  }
  return Status::OK();
}

Status remove_identity(Graph& g, PassStats* stats) {
  int64_t removed = 0;
  for (Node* n : g.nodes()) {
    const bool identity = n->op_type() == "Identity";
    bool dropout = n->op_type() == "Dropout";
    if (dropout) {
      // Inference mode only: training_mode absent or a constant false, and no one reads the mask.
      const Value* training = n->input(2);
      if (training) {
        const Tensor* t = training->constant();
        if (!t || t->numel() != 1 || t->get_as_int64(0) != 0) dropout = false;
      }
      if (n->output(1) && !passes::is_unused(*n->output(1))) dropout = false;
    }
    if (!identity && !dropout) continue;
    Value* in = n->input(0);
    Value* out = n->output(0);
    if (!in || !out) continue;
    if (out->is_graph_output()) {
      // Bypassing it would rename the graph output.
      passes::note(stats, "kept " + n->describe() + ": it produces graph output '" + out->name() + "'");
      continue;
    }
    g.replace_all_uses(out, in);
    const std::string what = n->describe();
    SLIMRT_RETURN_IF_ERROR(g.remove_node(n));
    ++removed;
    passes::note(stats, "bypassed " + what);
  }
  if (stats) stats->nodes_removed += removed;
  if (removed > 0) SLIMRT_RETURN_IF_ERROR(infer_shapes(g).with_context("after Identity removal"));
  return Status::OK();
}

}  // namespace slimrt
