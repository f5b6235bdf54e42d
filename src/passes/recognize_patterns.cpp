// Pattern recognition: decomposed LayerNorm, RMSNorm, GELU, SiLU and scaled-dot-product
// attention -> one fused op each (LayerNormalization, RMSNormalization, Gelu, SiLU, Attention).
//
// Each matcher starts from one anchor node, walks the graph the way exporters write the
// pattern and fills a Rewrite: the pattern's nodes, the fused op's inputs and attributes. A
// rewrite is applied only when every intermediate value is read by pattern nodes alone and is
// not a graph output; the fused node takes the name of the pattern's final node and its output
// keeps the final value's name. A candidate that looks like a pattern but fails a condition is
// kept and reported ("kept ...: why"). This file holds the shared helpers and the driver; the
// matchers live in recognize_patterns_{norm,activation,attention}.cpp. docs/passes.md lists
// every pattern and condition.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "passes/pass_util.h"
#include "passes/recognize_patterns_internal.h"
#include "slimrt/builder/passes.h"

namespace slimrt::patterns {

Node* producer_of(const Value* v, const char* op) {
  if (!v) return nullptr;
  Node* p = v->producer();
  return p && p->op_type() == op ? p : nullptr;
}

Node* consumer_of(const Value* v, const char* op) {
  if (!v) return nullptr;
  for (Node* c : v->consumers()) {
    if (c->op_type() == op) return c;
  }
  return nullptr;
}

std::optional<double> scalar_constant(const Value* v) {
  if (!v || !v->constant()) return std::nullopt;
  const Tensor* t = v->constant();
  if (t->numel() != 1 || t->rank() > 1) return std::nullopt;
  if (!dtype_is_float(t->dtype()) && !dtype_is_integer(t->dtype())) return std::nullopt;
  return t->get_as_double(0);
}

bool near(double value, double expected, double rel) {
  return std::abs(value - expected) <= rel * std::abs(expected);
}

bool split_scalar(const Node& n, Value** other, double* c) {
  for (size_t i = 0; i < 2; ++i) {
    if (auto v = scalar_constant(n.input(i))) {
      *other = n.input(1 - i);
      *c = *v;
      return true;
    }
  }
  return false;
}

Value* other_input(const Node& n, const Value* v) {
  if (n.num_inputs() != 2) return nullptr;
  if (n.input(0) == v) return n.input(1);
  if (n.input(1) == v) return n.input(0);
  return nullptr;
}

bool same_shape(const Value* a, const Value* b) {
  return a && b && a->has_shape() && b->has_shape() && a->shape() == b->shape();
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}
namespace {

// Why the rewrite cannot be applied (an intermediate read elsewhere or a graph output), or "".
std::string privacy_refusal(const Rewrite& rw) {
  const std::set<const Node*> in(rw.nodes.begin(), rw.nodes.end());
  for (const Node* n : rw.nodes) {
    for (const Value* v : n->outputs()) {
      if (!v) continue;
      if (n == rw.last && v == n->output(0)) continue;
      if (v->is_graph_output()) return "intermediate '" + v->name() + "' is a graph output";
      for (const Node* c : v->consumers()) {
        if (!in.count(c)) return "intermediate '" + v->name() + "' is also read by " + c->describe();
      }
    }
  }
  for (const Value* v : rw.inputs) {
    if (v && v->producer() && in.count(v->producer())) return "an input of the fused op is produced inside the pattern";
  }
  return "";
}

Status apply(Graph& g, Rewrite& rw) {
  const std::string base = rw.last->name();
  for (auto& [slot, t] : rw.consts) rw.inputs[slot] = g.add_initializer(base + "/" + rw.op_type + ".scale", std::move(t));
  for (auto& [slot, pre] : rw.pre) {
    Node* p = g.add_node(pre.op, base + "/" + pre.op, pre.inputs, 1);
    for (auto& [name, a] : pre.attrs) p->set_attr(name, a);
    rw.inputs[slot] = p->output(0);
  }
  Value* old = rw.last->output(0);
  const std::string name = old->name();
  const DataType dt = old->dtype();
  const std::optional<Shape> shape = old->has_shape() ? std::optional<Shape>(old->shape()) : std::nullopt;
  Value* tmp = g.add_value(name + "/pattern_tmp");
  g.replace_all_uses(old, tmp);
  std::vector<Node*> left = rw.nodes;
  std::vector<Value*> dead;
  while (!left.empty()) {
    bool progress = false;
    for (size_t i = 0; i < left.size(); ++i) {
      Node* n = left[i];
      const bool unused = std::all_of(n->outputs().begin(), n->outputs().end(),
                                      [](const Value* v) { return !v || passes::is_unused(*v); });
      if (!unused) continue;
      for (Value* v : n->outputs()) {
        if (v) dead.push_back(v);
      }
      SLIMRT_RETURN_IF_ERROR(g.remove_node(n));
      left.erase(left.begin() + static_cast<std::ptrdiff_t>(i));
      progress = true;
      break;
    }
    if (!progress) return internal_error("pattern " + rw.kind + " at '" + base + "': a pattern node is still used");
  }
  for (Value* v : dead) SLIMRT_RETURN_IF_ERROR(g.remove_value(v));
  Node* fused = g.add_node(rw.op_type, base, rw.inputs, 1, {name});
  for (auto& [k, a] : rw.attrs) fused->set_attr(k, a);
  fused->output(0)->set_dtype(dt);
  if (shape) fused->output(0)->set_shape(*shape);
  g.replace_all_uses(tmp, fused->output(0));
  return g.remove_value(tmp);
}

}  // namespace
}  // namespace slimrt::patterns

namespace slimrt {

Status recognize_patterns(Graph& g, PassStats* stats) {
  using patterns::Match;
  using Matcher = Match (*)(Graph&, Node*);
  // LayerNorm before RMSNorm: a LayerNorm's variance chain is an RMSNorm of the centered input.
  const Matcher matchers[] = {patterns::match_layer_norm, patterns::match_rms_norm, patterns::match_gelu,
                              patterns::match_silu, patterns::match_attention};
  int64_t applied = 0;
  for (Matcher match : matchers) {
    std::set<const Node*> gone;
    for (Node* n : g.nodes()) {
      if (gone.count(n)) continue;
      Match m = match(g, n);
      if (m.state == Match::kNone) continue;
      std::string why = m.why;
      if (why.empty()) why = patterns::privacy_refusal(m.rw);
      if (!why.empty()) {
        passes::note(stats, "kept " + m.rw.kind + " candidate at " + n->describe() + ": " + why);
        continue;
      }
      const std::string line = "fused " + m.rw.kind + " (" + std::to_string(m.rw.nodes.size()) + " nodes ending at " +
                               m.rw.last->describe() + ") into " + m.rw.op_type;
      for (const Node* p : m.rw.nodes) gone.insert(p);
      if (stats) {
        stats->nodes_removed += static_cast<int64_t>(m.rw.nodes.size());
        stats->nodes_added += 1 + static_cast<int64_t>(m.rw.pre.size());
      }
      SLIMRT_RETURN_IF_ERROR(patterns::apply(g, m.rw));
      ++applied;
      passes::note(stats, line);
    }
  }
  if (applied > 0) {
    SLIMRT_RETURN_IF_ERROR(g.topological_sort());
    SLIMRT_RETURN_IF_ERROR(infer_shapes(g).with_context("after pattern recognition"));
  }
  return Status::OK();
}

}  // namespace slimrt
