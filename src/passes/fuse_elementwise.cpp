// Element-wise chain fusion: connected element-wise float ops whose intermediate values have one
// reader become one FusedElementwise node (ir/elementwise_program.h), one kernel launch and one
// pass over memory instead of one per op.
//
// Grouping. Walking the graph from its end, each fusable node not yet taken starts a group and
// absorbs, transitively, the producers of its inputs that are fusable, produce a value only that
// group member reads (once), and whose value has the group's output shape (so only the group's
// leaf inputs broadcast). Groups of at least two ops with at most kMaxEwInputs leaf inputs and
// kMaxEwOps ops are rewritten; the group's output keeps its name. A group over the limits is
// not fused, and its nodes stay free to start smaller groups further up.
//
// Fusable: Add, Sub, Mul, Div, binary Max/Min, Abs, Neg, Sqrt, Relu, LeakyRelu, Sigmoid, Tanh,
// Erf, Gelu (both forms), SiLU, Clip (constant or absent bounds), HardSigmoid, Softplus, on float
// tensors. Ops the precision table keeps in fp32 (Exp, Log, Pow, Reciprocal, ...) are not fused,
// so a half engine never computes them differently than it would unfused.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "ir/elementwise_program.h"
#include "passes/pass_util.h"
#include "slimrt/builder/passes.h"

namespace slimrt {

namespace {

bool is_float(DataType t) {
  return t == DataType::kFloat32 || t == DataType::kFloat16 || t == DataType::kBFloat16 || t == DataType::kFloat64;
}

// A constant scalar's value.
std::optional<double> scalar(const Value* v) {
  if (!v || !v->constant() || v->constant()->numel() != 1) return std::nullopt;
  return v->constant()->get_as_double(0);
}

// The instruction `n` computes (operand registers left unset) and how many of its inputs are
// data (registers), or nullopt when it is not fusable.
struct Template {
  EwInstr instr;
  size_t data_inputs = 1;
};

std::optional<Template> fusable(const Node& n) {
  if (n.num_outputs() != 1 || !n.output(0) || !is_float(n.output(0)->dtype())) return std::nullopt;
  const std::string& op = n.op_type();
  Template t;
  auto binary = [&](EwOp o) -> std::optional<Template> {
    if (n.num_inputs() != 2 || !n.input(0) || !n.input(1)) return std::nullopt;
    t.instr.op = o;
    t.data_inputs = 2;
    return t;
  };
  auto unary = [&](EwOp o, float alpha = 0, float beta = 0) -> std::optional<Template> {
    if (n.num_inputs() < 1 || !n.input(0)) return std::nullopt;
    t.instr.op = o;
    t.instr.alpha = alpha;
    t.instr.beta = beta;
    return t;
  };
  std::optional<Template> r;
  if (op == "Add") r = binary(EwOp::kAdd);
  else if (op == "Sub") r = binary(EwOp::kSub);
  else if (op == "Mul") r = binary(EwOp::kMul);
  else if (op == "Div") r = binary(EwOp::kDiv);
  else if (op == "Max") r = binary(EwOp::kMax);
  else if (op == "Min") r = binary(EwOp::kMin);
  else if (op == "Abs") r = unary(EwOp::kAbs);
  else if (op == "Neg") r = unary(EwOp::kNeg);
  else if (op == "Sqrt") r = unary(EwOp::kSqrt);
  else if (op == "Relu") r = unary(EwOp::kRelu);
  else if (op == "LeakyRelu") r = unary(EwOp::kLeakyRelu, n.attr_float("alpha", 0.01f));
  else if (op == "Sigmoid") r = unary(EwOp::kSigmoid);
  else if (op == "Tanh") r = unary(EwOp::kTanh);
  else if (op == "Erf") r = unary(EwOp::kErf);
  else if (op == "SiLU") r = unary(EwOp::kSiLU);
  else if (op == "Softplus") r = unary(EwOp::kSoftplus);
  else if (op == "HardSigmoid") r = unary(EwOp::kHardSigmoid, n.attr_float("alpha", 0.2f), n.attr_float("beta", 0.5f));
  else if (op == "Gelu") {
    const std::string approx = n.attr_string("approximate", "none");
    if (approx != "none" && approx != "tanh") return std::nullopt;
    r = unary(approx == "tanh" ? EwOp::kGeluTanh : EwOp::kGelu);
  } else if (op == "Clip") {
    // Bounds: constant scalars or absent (an empty name) only.
    float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
    for (size_t k = 1; k < n.num_inputs() && k < 3; ++k) {
      if (!n.input(k)) continue;
      const std::optional<double> v = scalar(n.input(k));
      if (!v) return std::nullopt;
      (k == 1 ? lo : hi) = static_cast<float>(*v);
    }
    if (n.num_inputs() > 3) return std::nullopt;
    r = unary(EwOp::kClip, lo, hi);
  }
  if (!r) return std::nullopt;
  for (size_t k = 0; k < r->data_inputs; ++k) {
    if (n.input(k)->dtype() != n.output(0)->dtype()) return std::nullopt;
  }
  if (op != "Clip" && n.num_inputs() != r->data_inputs) return std::nullopt;
  return r;
}

struct Group {
  std::vector<Node*> nodes;          // topological order; the last is the sink
  std::vector<Template> templates;   // of each node
  std::vector<Value*> leaves;
};

Status rewrite(Graph& g, const Group& grp) {
  // The register of each value the program reads: the leaves, then each node's result. A group
  // has at most kMaxEwInputs + kMaxEwOps of them, so a list is the quickest map.
  std::vector<std::pair<const Value*, int32_t>> reg;
  reg.reserve(grp.leaves.size() + grp.nodes.size());
  for (size_t i = 0; i < grp.leaves.size(); ++i) reg.emplace_back(grp.leaves[i], static_cast<int32_t>(i));
  auto reg_of = [&](const Value* v) {
    auto it = std::find_if(reg.begin(), reg.end(), [&](const auto& r) { return r.first == v; });
    return it->second;  // every input is a leaf or an earlier member's result
  };
  std::vector<EwInstr> code;
  for (size_t i = 0; i < grp.nodes.size(); ++i) {
    const Node* n = grp.nodes[i];
    EwInstr in = grp.templates[i].instr;
    in.a = reg_of(n->input(0));
    in.b = grp.templates[i].data_inputs == 2 ? reg_of(n->input(1)) : -1;
    reg.emplace_back(n->output(0), static_cast<int32_t>(grp.leaves.size() + code.size()));
    code.push_back(in);
  }
  // The sink's value keeps its name (it may be a graph output): its readers wait on a
  // placeholder while the old nodes go.
  Node* sink = grp.nodes.back();
  Value* last = sink->output(0);
  const std::string out_name = last->name();
  const DataType dtype = last->dtype();
  const Shape shape = last->shape();
  const std::string name = sink->name();
  Value* placeholder = g.add_value(out_name + ".fusing");
  g.replace_all_uses(last, placeholder);
  std::vector<Value*> dead;
  for (auto it = grp.nodes.rbegin(); it != grp.nodes.rend(); ++it) {
    dead.push_back((*it)->output(0));
    SLIMRT_RETURN_IF_ERROR(g.remove_node(*it));
  }
  for (Value* v : dead) SLIMRT_RETURN_IF_ERROR(g.remove_value(v));
  Node* fused = g.add_node("FusedElementwise", name, grp.leaves, 1, {out_name});
  write_ew_program(fused, code);
  fused->output(0)->set_dtype(dtype);
  fused->output(0)->set_shape(shape);
  g.replace_all_uses(placeholder, fused->output(0));
  return g.remove_value(placeholder);
}

// The producer -> reader edges along which a group absorbs (see the top of the file) form a
// forest: a producer is absorbed only into the one node that reads its value, so it has at most
// one parent. The group a sink would absorb is its subtree, minus nodes already taken; and a
// taken node's whole path down to its group's sink is taken with it, so a sink that is not taken
// has none in its subtree. Subtree sizes and distinct leaf counts are computed once, bottom-up:
// a sink over the op limit is refused in O(1), and the walk that builds a group runs only for
// groups of at most kMaxEwOps ops. The whole pass is O(n log n), where walking every sink's
// subtree was O(n^2) on a long chain (each sink re-walked all of it).
struct Forest {
  std::vector<int64_t> size;    // nodes in the subtree
  std::vector<int64_t> leaves;  // distinct values the subtree reads from outside it
};

// `nodes` is the graph's node list right after a topological sort, so a node's position in it is
// its Node::id().
Forest absorption_forest(const std::vector<Node*>& nodes, const std::vector<std::optional<Template>>& templ) {
  const size_t n = nodes.size();
  Forest f{std::vector<int64_t>(n, 1), std::vector<int64_t>(n, 0)};
  // The parent of node i (its value's only reader, when the value is absorbable), or n.
  std::vector<size_t> parent(n, n);
  std::vector<std::vector<size_t>> children(n);
  for (size_t i = 0; i < n; ++i) {
    if (!templ[i]) continue;
    const Value* v = nodes[i]->output(0);
    if (v->consumers().size() != 1 || v->is_graph_output() || !v->has_shape()) continue;
    const Node* c = v->consumers()[0];
    const size_t ci = c->id();
    if (!templ[ci] || !c->output(0)->has_shape() || c->output(0)->shape() != v->shape()) continue;
    bool data = false;
    for (size_t k = 0; k < templ[ci]->data_inputs; ++k) data = data || c->input(k) == v;
    if (!data) continue;
    parent[i] = ci;
    children[ci].push_back(i);
  }
  // Leaf sets merged small-to-large: each value moves O(log n) times.
  std::vector<std::unique_ptr<std::unordered_set<const Value*>>> sets(n);
  for (size_t i = 0; i < n; ++i) {
    if (!templ[i]) continue;
    size_t big = n;
    for (size_t ch : children[i]) {
      f.size[i] += f.size[ch];
      if (big == n || sets[ch]->size() > sets[big]->size()) big = ch;
    }
    auto set = big == n ? std::make_unique<std::unordered_set<const Value*>>() : std::move(sets[big]);
    for (size_t ch : children[i]) {
      if (ch == big) continue;
      set->insert(sets[ch]->begin(), sets[ch]->end());
      sets[ch].reset();
    }
    for (size_t k = 0; k < templ[i]->data_inputs; ++k) {
      const Value* v = nodes[i]->input(k);
      const Node* p = v->producer();
      if (p && parent[p->id()] == i) continue;
      set->insert(v);
    }
    f.leaves[i] = static_cast<int64_t>(set->size());
    if (parent[i] != n) sets[i] = std::move(set);
  }
  return f;
}

}  // namespace

Status fuse_elementwise(Graph& g, PassStats* stats) {
  SLIMRT_RETURN_IF_ERROR(g.topological_sort());
  // Until the rewrites start the graph does not change: a node's position in `nodes` is its id,
  // and the side tables are vectors by position.
  const std::vector<Node*> nodes = g.nodes();
  std::vector<std::optional<Template>> templ(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) templ[i] = fusable(*nodes[i]);
  const Forest forest = absorption_forest(nodes, templ);
  std::vector<bool> taken(nodes.size(), false);
  std::vector<Group> groups;
  for (size_t s = nodes.size(); s-- > 0;) {
    Node* sink = nodes[s];
    if (!templ[s] || taken[s] || !sink->output(0)->has_shape()) continue;
    if (forest.size[s] < 2) continue;
    if (forest.size[s] > kMaxEwOps) {
      passes::note(stats, fmt::format("kept a chain of {} ops ending at {}: {} inputs or {} ops exceed the limits",
                                      forest.size[s], sink->describe(), forest.leaves[s], forest.size[s]));
      continue;
    }
    const Shape& out_shape = sink->output(0)->shape();
    std::vector<Node*> members = {sink};
    for (size_t q = 0; q < members.size(); ++q) {
      const Node* m = members[q];
      for (size_t k = 0; k < templ[m->id()]->data_inputs; ++k) {
        Value* v = m->input(k);
        Node* p = v->producer();
        if (!p || !templ[p->id()] || taken[p->id()] || std::find(members.begin(), members.end(), p) != members.end())
          continue;
        if (v->consumers().size() != 1 || v->is_graph_output() || !v->has_shape() || v->shape() != out_shape) continue;
        members.push_back(p);
      }
    }
    std::sort(members.begin(), members.end(), [](const Node* a, const Node* b) { return a->id() < b->id(); });
    Group grp;
    grp.nodes = members;
    for (const Node* m : members) {
      const Template& t = *templ[m->id()];
      grp.templates.push_back(t);
      for (size_t k = 0; k < t.data_inputs; ++k) {
        Value* v = m->input(k);
        if (v->producer() && std::find(members.begin(), members.end(), v->producer()) != members.end()) continue;
        if (std::find(grp.leaves.begin(), grp.leaves.end(), v) == grp.leaves.end()) grp.leaves.push_back(v);
      }
    }
    if (grp.leaves.size() > static_cast<size_t>(kMaxEwInputs) || members.size() > static_cast<size_t>(kMaxEwOps)) {
      passes::note(stats, fmt::format("kept a chain of {} ops ending at {}: {} inputs or {} ops exceed the limits",
                                      members.size(), sink->describe(), grp.leaves.size(), members.size()));
      continue;
    }
    for (const Node* m : members) taken[m->id()] = true;
    groups.push_back(std::move(grp));
  }
  int64_t removed = 0;
  for (const Group& grp : groups) {
    std::string ops;
    for (const Node* n : grp.nodes) ops += (ops.empty() ? "" : " ") + n->op_type();
    const std::string line =
        fmt::format("fused {} ops ({}) into {} with {} inputs", grp.nodes.size(), ops, grp.nodes.back()->describe(),
                    grp.leaves.size());
    removed += static_cast<int64_t>(grp.nodes.size());
    SLIMRT_RETURN_IF_ERROR(rewrite(g, grp));
    passes::note(stats, line);
  }
  if (stats) {
    stats->nodes_removed += removed;
    stats->nodes_added += static_cast<int64_t>(groups.size());
  }
  if (groups.empty()) return Status::OK();
  SLIMRT_RETURN_IF_ERROR(g.topological_sort());
  return infer_shapes(g).with_context("after element-wise fusion");
}

}  // namespace slimrt
