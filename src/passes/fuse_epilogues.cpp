// Epilogue fusion: Conv/Gemm/MatMul followed by a bias add, an activation and a residual add
// becomes one FusedConv / FusedMatMul node (semantics in src/ir/ops/fused_epilogue.cpp and
// docs/passes.md).
//
// From each float32 Conv, Gemm or MatMul the pass walks down the chain of single consumers and
// takes, in this order of preference:
//   - an Add of a constant bias while no activation or residual was taken yet and the op's bias
//     slot is free (Conv: constant broadcasting along the channel axis only, stored as Conv's B;
//     Gemm without C: constant broadcasting to [M, N], stored as C with beta = 1; MatMul: a
//     constant broadcasting along the last axis only (or a scalar), the fused node's input C);
//   - one activation (Relu, Sigmoid, Tanh, LeakyRelu, Clip with constant bounds, Gelu, SiLU);
//   - one Add of a non-constant residual of a shape that does not grow the output, before or
//     after the activation (attribute residual_before_activation).
// Every intermediate value must have exactly one consumer and must not be a graph output. The
// last value of the chain keeps its name (it may be a graph output); the fused node keeps the
// name of the Conv/Gemm/MatMul.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "passes/pass_util.h"
#include "slimrt/builder/passes.h"

namespace slimrt {

namespace {

struct Chain {
  Node* op = nullptr;
  std::vector<Node*> nodes;  // the fused followers, in order
  Value* bias = nullptr;     // a constant taken from an Add
  Value* residual = nullptr;
  bool residual_before_activation = false;
  std::string activation;
  std::vector<std::pair<std::string, Attribute>> activation_attrs;
};

bool is_activation_op(const std::string& op) {
  return op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "LeakyRelu" || op == "Clip" || op == "Gelu" ||
         op == "SiLU";
}

std::string fused_type(const Node& op) { return op.op_type() == "Conv" ? "FusedConv" : "FusedMatMul"; }

std::string shape_text(const Value* v) { return v->has_shape() ? shape_to_string(v->shape()) : "[?]"; }

// A constant float32 scalar, for Clip's bounds.
const Tensor* scalar_constant(const Value* v) {
  if (!v || !v->constant()) return nullptr;
  const Tensor* t = v->constant();
  return t->dtype() == DataType::kFloat32 && t->numel() == 1 ? t : nullptr;
}

// The fused activation name and attributes of `n` applied to its input 0, or why it is not
// fusable.
std::string read_activation(const Node& n, Chain* c) {
  const std::string& op = n.op_type();
  if (op == "Gelu") {
    const std::string approx = n.attr_string("approximate", "none");
    if (approx != "none" && approx != "tanh") return "Gelu approximate='" + approx + "' is unknown";
    c->activation = approx == "tanh" ? "GeluTanh" : "Gelu";
    return "";
  }
  if (op == "Clip") {
    for (size_t i = 1; i < 3; ++i) {
      const Value* bound = n.input(i);
      if (!bound) continue;
      const Tensor* t = scalar_constant(bound);
      if (!t) return "Clip bound '" + bound->name() + "' is not a constant float32 scalar";
      c->activation_attrs.emplace_back(i == 1 ? "min" : "max", static_cast<float>(t->get_as_double(0)));
    }
    c->activation = "Clip";
    return "";
  }
  if (op == "LeakyRelu") {
    // FusedMatMul keeps Gemm's own `alpha`, so a Gemm's LeakyRelu only fuses when both agree.
    const float alpha = n.attr_float("alpha", 0.01f);
    if (c->op->op_type() == "Gemm" && c->op->attr_float("alpha", 1.0f) != alpha)
      return "LeakyRelu's alpha would clash with the Gemm's alpha attribute";
    c->activation_attrs.emplace_back("alpha", alpha);
  }
  c->activation = op;
  return "";
}

// Shape of `t` right-aligned against rank `rank`: dims before it are 1.
std::vector<int64_t> aligned_dims(const Tensor& t, size_t rank) {
  std::vector<int64_t> d(rank, 1);
  const auto& s = t.shape();
  for (size_t k = 0; k < s.size(); ++k) d[rank - s.size() + k] = s[k];
  return d;
}

// The static dim `axis` of v's shape, or -1.
int64_t static_dim(const Value* v, size_t axis) {
  if (!v->has_shape() || axis >= v->shape().size()) return -1;
  auto d = v->shape()[axis].value();
  return d ? *d : -1;
}

// Why the constant `b` cannot be the bias of chain `c` whose product is `y`, or "".
std::string bias_refusal(const Chain& c, const Value* y, const Value* b) {
  const Tensor& t = *b->constant();
  if (t.dtype() != DataType::kFloat32) return "bias '" + b->name() + "' is not float32";
  if (!y->has_shape()) return "the shape of '" + y->name() + "' is unknown";
  const size_t rank = y->shape().size();
  if (static_cast<size_t>(t.rank()) > rank)
    return "bias '" + b->name() + "' of shape " + shape_text(b) + " has a higher rank than the output";
  const std::vector<int64_t> d = aligned_dims(t, rank);
  const std::string& op = c.op->op_type();
  if (op == "Conv") {
    if (c.op->input(2)) return "the Conv already has a bias";
    const int64_t m = static_dim(y, 1);
    for (size_t k = 0; k < rank; ++k) {
      if (d[k] != (k == 1 ? m : 1))
        return "bias '" + b->name() + "' of shape " + shape_text(b) + " does not broadcast along the channel axis only";
    }
    return "";
  }
  if (op == "Gemm") {
    if (c.op->input(2)) return "the Gemm already has C";
    for (size_t k = 0; k < rank; ++k) {
      if (d[k] != 1 && d[k] != static_dim(y, k))
        return "bias '" + b->name() + "' of shape " + shape_text(b) + " does not broadcast to " + shape_text(y);
    }
    return "";
  }
  const int64_t n = static_dim(y, rank - 1);
  for (size_t k = 0; k < rank; ++k) {
    if (d[k] != 1 && (k + 1 != rank || d[k] != n))
      return "bias '" + b->name() + "' of shape " + shape_text(b) + " does not broadcast along the last axis only";
  }
  return "";
}

// Why the Add `add` of `y` and `r` cannot take r as residual, or "".
std::string residual_refusal(const Value* y, const Value* r, const Node& add) {
  if (r->dtype() != DataType::kFloat32) return "residual '" + r->name() + "' is not float32";
  const Value* out = add.output(0);
  if (!y->has_shape() || !r->has_shape() || !out->has_shape() || out->shape() != y->shape() ||
      r->shape().size() > y->shape().size())
    return "residual '" + r->name() + "' of shape " + shape_text(r) + " does not broadcast to " + shape_text(y) +
           " without growing it";
  return "";
}

// Extends `c` by `next`, the only consumer of `y`. Returns false to stop; `why` is set when the
// stop deserves a line in the report.
bool extend(Chain* c, Value* y, Node* next, std::string* why) {
  const std::string& op = next->op_type();
  if (op == "Add" && next->num_inputs() == 2 && next->num_outputs() == 1) {
    if (next->input(0) == next->input(1)) return false;
    Value* other = next->input(0) == y ? next->input(1) : next->input(0);
    if (!other) return false;
    if (other->constant()) {
      if (c->bias || !c->activation.empty() || c->residual) {
        *why = "a constant add after the bias, activation or residual is not fused";
        return false;
      }
      *why = bias_refusal(*c, y, other);
      if (!why->empty()) return false;
      c->bias = other;
    } else {
      if (c->residual) return false;
      *why = residual_refusal(y, other, *next);
      if (!why->empty()) return false;
      c->residual = other;
      c->residual_before_activation = c->activation.empty();
    }
    c->nodes.push_back(next);
    return true;
  }
  if (is_activation_op(op) && next->num_outputs() == 1 && next->input(0) == y) {
    if (!c->activation.empty()) return false;
    Chain trial = *c;
    *why = read_activation(*next, &trial);
    if (!why->empty()) return false;
    *c = std::move(trial);
    c->nodes.push_back(next);
    return true;
  }
  return false;
}

bool is_fusable_follower(const Node& n) { return n.op_type() == "Add" || is_activation_op(n.op_type()); }

// The chain starting at `op`; empty nodes when nothing fuses.
Chain find_chain(Node* op, PassStats* stats) {
  Chain c;
  c.op = op;
  Value* y = op->output(0);
  while (true) {
    const Node* last = c.nodes.empty() ? op : c.nodes.back();
    if (y->consumers().empty()) break;
    if (y->consumers().size() != 1 || y->is_graph_output()) {
      for (const Node* user : y->consumers()) {
        if (!is_fusable_follower(*user)) continue;
        const std::string reason = y->is_graph_output() ? "'" + y->name() + "' is a graph output"
                                                        : "'" + y->name() + "' has " +
                                                              std::to_string(y->consumers().size()) + " consumers";
        passes::note(stats, "kept " + user->describe() + " apart from " + last->describe() + ": " + reason);
        break;
      }
      break;
    }
    Node* next = y->consumers()[0];
    std::string why;
    if (!extend(&c, y, next, &why)) {
      if (!why.empty()) passes::note(stats, "kept " + next->describe() + " apart from " + last->describe() + ": " + why);
      break;
    }
    y = next->output(0);
  }
  return c;
}

std::string describe_chain(const Chain& c) {
  std::string s = c.op->describe();
  for (const Node* n : c.nodes) s += ", " + n->describe();
  s += " into " + fused_type(*c.op) + " '" + c.op->name() + "'";
  std::vector<std::string> parts;
  if (c.bias) parts.push_back("bias");
  if (c.residual && c.residual_before_activation) parts.push_back("residual");
  if (!c.activation.empty()) parts.push_back(c.activation);
  if (c.residual && !c.residual_before_activation) parts.push_back("residual");
  s += " (";
  for (size_t i = 0; i < parts.size(); ++i) s += (i ? " + " : "") + parts[i];
  return s + ")";
}

Status rewrite(Graph& g, const Chain& c) {
  Node* op = c.op;
  const bool conv = op->op_type() == "Conv";
  const bool gemm = op->op_type() == "Gemm";
  std::vector<Value*> inputs = {op->input(0), op->input(1), op->input(2), c.residual};
  if (c.bias && conv) {
    // Conv's B is a vector of the output channels.
    const Tensor& t = *c.bias->constant();
    SLIMRT_ASSIGN_OR_RETURN(Tensor b, t.reshaped({t.numel()}));
    inputs[2] = g.add_initializer(c.bias->name() + ".channels", std::move(b));
  } else if (c.bias) {
    inputs[2] = c.bias;
  }
  while (!inputs.empty() && !inputs.back()) inputs.pop_back();

  // The last value keeps its name (it may be a graph output): park its users on a placeholder,
  // delete the old chain, then give the name to the fused node's output.
  Value* last = c.nodes.back()->output(0);
  const std::string out_name = last->name();
  const DataType out_dtype = last->dtype();
  const std::optional<Shape> out_shape = last->has_shape() ? std::optional<Shape>(last->shape()) : std::nullopt;
  Value* placeholder = g.add_value(out_name + ".fusing");
  g.replace_all_uses(last, placeholder);
  std::vector<Value*> dead;
  std::vector<Node*> doomed(c.nodes.rbegin(), c.nodes.rend());
  doomed.push_back(op);
  std::map<std::string, Attribute> attrs = op->attributes();
  const std::string name = op->name();
  for (Node* n : doomed) {
    for (Value* v : n->outputs()) dead.push_back(v);
    SLIMRT_RETURN_IF_ERROR(g.remove_node(n));
  }
  for (Value* v : dead) SLIMRT_RETURN_IF_ERROR(g.remove_value(v));

  Node* fused = g.add_node(conv ? "FusedConv" : "FusedMatMul", name, inputs, 1, {out_name});
  for (const auto& kv : attrs) fused->set_attr(kv.first, kv.second);
  if (!conv) fused->set_attr("gemm", int64_t{gemm ? 1 : 0});
  if (gemm && c.bias) fused->set_attr("beta", 1.0f);
  if (!c.activation.empty()) fused->set_attr("activation", c.activation);
  for (const auto& kv : c.activation_attrs) fused->set_attr(kv.first, kv.second);
  if (c.residual) fused->set_attr("residual_before_activation", int64_t{c.residual_before_activation ? 1 : 0});
  Value* out = fused->output(0);
  out->set_dtype(out_dtype);
  if (out_shape) out->set_shape(*out_shape);
  g.replace_all_uses(placeholder, out);
  return g.remove_value(placeholder);
}

}  // namespace

Status fuse_epilogues(Graph& g, PassStats* stats) {
  std::set<const Node*> gone;
  int64_t fused = 0, removed = 0;
  for (Node* op : g.nodes()) {
    if (gone.count(op)) continue;
    const std::string& type = op->op_type();
    if (type != "Conv" && type != "MatMul" && type != "Gemm") continue;
    if (op->num_outputs() != 1 || !op->output(0) || op->output(0)->dtype() != DataType::kFloat32) continue;
    const Chain c = find_chain(op, stats);
    if (c.nodes.empty()) continue;
    const std::string line = "fused " + describe_chain(c);
    for (const Node* n : c.nodes) gone.insert(n);
    removed += static_cast<int64_t>(c.nodes.size()) + 1;
    SLIMRT_RETURN_IF_ERROR(rewrite(g, c));
    ++fused;
    passes::note(stats, line);
  }
  if (stats) {
    stats->nodes_removed += removed;
    stats->nodes_added += fused;
  }
  if (fused > 0) {
    SLIMRT_RETURN_IF_ERROR(g.topological_sort());
    SLIMRT_RETURN_IF_ERROR(infer_shapes(g).with_context("after epilogue fusion"));
  }
  return Status::OK();
}

}  // namespace slimrt
