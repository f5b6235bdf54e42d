#include <algorithm>
#include <cstdint>

#include "slimrt/graph.h"

namespace slimrt {

namespace {
template <typename T>
const T* attr_get(const std::map<std::string, Attribute>& attrs, const std::string& name) {
  auto it = attrs.find(name);
  if (it == attrs.end()) return nullptr;
  return std::get_if<T>(&it->second);
}
}  // namespace

int64_t Node::attr_int(const std::string& name, int64_t def) const {
  const int64_t* v = attr_get<int64_t>(attrs_, name);
  return v ? *v : def;
}
float Node::attr_float(const std::string& name, float def) const {
  if (const float* v = attr_get<float>(attrs_, name)) return *v;
  if (const int64_t* v = attr_get<int64_t>(attrs_, name)) return static_cast<float>(*v);
  return def;
}
std::string Node::attr_string(const std::string& name, const std::string& def) const {
  const std::string* v = attr_get<std::string>(attrs_, name);
  return v ? *v : def;
}
std::vector<int64_t> Node::attr_ints(const std::string& name, std::vector<int64_t> def) const {
  const auto* v = attr_get<std::vector<int64_t>>(attrs_, name);
  return v ? *v : def;
}
std::vector<float> Node::attr_floats(const std::string& name, std::vector<float> def) const {
  const auto* v = attr_get<std::vector<float>>(attrs_, name);
  return v ? *v : def;
}
const Tensor* Node::attr_tensor(const std::string& name) const { return attr_get<Tensor>(attrs_, name); }

std::string Node::describe() const { return "node '" + name_ + "' (" + op_type_ + ")"; }

Value* Graph::add_value(const std::string& hint) {
  auto v = std::make_unique<Value>();
  v->name_ = hint.empty() ? "v" : hint;
  // One lookup when the name is free (the usual case); the key views the Value's own name.
  while (!by_name_.try_emplace(v->name_, v.get()).second) v->name_ = hint + "__" + std::to_string(++unique_counter_);
  v->index_ = values_.size();
  Value* raw = v.get();
  values_.push_back(std::move(v));
  ++live_values_;
  return raw;
}

void Graph::reserve(size_t values, size_t nodes) {
  values_.reserve(values);
  nodes_.reserve(nodes);
  by_name_.reserve(values);
}

Value* Graph::add_input(const std::string& name, DataType dtype, std::optional<Shape> shape) {
  Value* v = add_value(name);
  v->dtype_ = dtype;
  v->shape_ = std::move(shape);
  v->is_input_ = true;
  inputs_.push_back(v);
  return v;
}

Status Graph::rename_value(Value* v, const std::string& name) {
  if (v->name_ == name) return Status::OK();
  if (name.empty() || by_name_.count(name) != 0)
    return invalid_argument("cannot rename value '" + v->name_ + "' to '" + name + "': " +
                            (name.empty() ? "the name is empty" : "another value has that name"));
  by_name_.erase(v->name_);
  v->name_ = name;
  by_name_.emplace(v->name_, v);
  return Status::OK();
}

Value* Graph::replace_input(Value* old, DataType dtype, std::optional<Shape> shape) {
  const std::string name = old->name_;
  by_name_.erase(old->name_);
  old->name_ = name + "/model";
  while (!by_name_.try_emplace(old->name_, old).second) old->name_ = name + "/model__" + std::to_string(++unique_counter_);
  old->is_input_ = false;
  Value* v = add_value(name);
  v->dtype_ = dtype;
  v->shape_ = std::move(shape);
  v->is_input_ = true;
  std::replace(inputs_.begin(), inputs_.end(), old, v);
  return v;
}

Value* Graph::add_initializer(const std::string& name, Tensor t) {
  Value* v = add_value(name);
  v->dtype_ = t.dtype();
  v->shape_ = shape_from_static(t.shape());
  v->constant_ = std::move(t);
  return v;
}

Node* Graph::add_node(const std::string& op_type, const std::string& name,
                      const std::vector<Value*>& inputs, size_t num_outputs,
                      const std::vector<std::string>& output_names) {
  auto n = std::make_unique<Node>();
  n->op_type_ = op_type;
  n->name_ = name;
  n->inputs_ = inputs;
  n->index_ = nodes_.size();
  Node* raw = n.get();
  for (Value* in : inputs) {
    if (in) in->consumers_.push_back(raw);
  }
  for (size_t i = 0; i < num_outputs; ++i) {
    const bool named = i < output_names.size() && !output_names[i].empty();
    Value* out = add_value(named ? output_names[i] : name + ":" + std::to_string(i));
    out->producer_ = raw;
    out->producer_output_ = static_cast<int>(i);
    n->outputs_.push_back(out);
  }
  nodes_.push_back(std::move(n));
  ++live_nodes_;
  return raw;
}

void Graph::add_output(Value* v) {
  v->is_output_ = true;
  outputs_.push_back(v);
}

Value* Graph::find_value(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::vector<Node*> Graph::nodes() const {
  std::vector<Node*> out;
  out.reserve(live_nodes_);
  for (const auto& n : nodes_) {
    if (n) out.push_back(n.get());
  }
  return out;
}

std::vector<Value*> Graph::values() const {
  std::vector<Value*> out;
  out.reserve(live_values_);
  for (const auto& v : values_) {
    if (v) out.push_back(v.get());
  }
  return out;
}

void Graph::compact_nodes() {
  size_t k = 0;
  for (auto& n : nodes_) {
    if (!n) continue;
    n->index_ = k;
    nodes_[k++] = std::move(n);
  }
  nodes_.resize(k);
}

void Graph::compact_values() {
  size_t k = 0;
  for (auto& v : values_) {
    if (!v) continue;
    v->index_ = k;
    values_[k++] = std::move(v);
  }
  values_.resize(k);
}

void Graph::set_node_input(Node* n, size_t i, Value* v) {
  Value* old = n->inputs_[i];
  if (old) {
    auto& c = old->consumers_;
    auto it = std::find(c.begin(), c.end(), n);
    if (it != c.end()) c.erase(it);
  }
  n->inputs_[i] = v;
  if (v) v->consumers_.push_back(n);
}

void Graph::replace_output(Value* from, Value* to) {
  for (Value*& out : outputs_) {
    if (out != from) continue;
    from->is_output_ = false;
    out = to;
    to->is_output_ = true;
  }
}

void Graph::replace_all_uses(Value* from, Value* to) {
  if (from == to) return;
  // Every reader moves at once: O(readers), where one set_node_input per slot would search and
  // shift `from`'s consumer list each time (quadratic for a value read by thousands of nodes).
  // `to` gains the readers in the same order as slot-by-slot moves would give it.
  const std::vector<Node*> users = std::move(from->consumers_);
  from->consumers_.clear();
  for (Node* n : users) {
    for (Value*& in : n->inputs_) {
      if (in != from) continue;
      in = to;
      if (to) to->consumers_.push_back(n);
    }
  }
  replace_output(from, to);
}

Status Graph::remove_node(Node* n) {
  for (Value* out : n->outputs_) {
    if (!out->consumers_.empty() || out->is_output_)
      return internal_error(n->describe() + " still has users of output '" + out->name_ + "'");
  }
  for (size_t i = 0; i < n->inputs_.size(); ++i) set_node_input(n, i, nullptr);
  for (Value* out : n->outputs_) out->producer_ = nullptr;
  nodes_[n->index_].reset();
  --live_nodes_;
  if (nodes_.size() > 64 && live_nodes_ < nodes_.size() / 2) compact_nodes();
  return Status::OK();
}

Status Graph::remove_value(Value* v) {
  if (v->producer_ || !v->consumers_.empty() || v->is_input_ || v->is_output_)
    return internal_error("value '" + v->name_ + "' is still produced, used, or a graph input/output");
  by_name_.erase(v->name_);
  values_[v->index_].reset();
  --live_values_;
  if (values_.size() > 64 && live_values_ < values_.size() / 2) compact_values();
  return Status::OK();
}

// The result equals repeated sweeps over the node list, each placing (in list order) the nodes
// whose inputs are ready at that moment, until a sweep places nothing. A node's sweep ("round")
// follows from its producers': a producer earlier in the list and placed in round r lets it go in
// round r, one later in the list in round r + 1. Rounds are computed in one Kahn traversal over
// the producer -> reader edges, then the nodes are ordered by (round, list position).
Status Graph::topological_sort() {
  compact_nodes();
  const size_t n = nodes_.size();
  // The position of `v`'s producer, n when it has none and is a value of this graph (ready from
  // the start), n + 1 when it can never be ready (its producer is not in this graph).
  auto producer_pos = [&](const Value* v) -> size_t {
    const Node* p = v->producer_;
    if (!p) {
      const bool ours = v->index_ < values_.size() && values_[v->index_].get() == v;
      return ours ? n : n + 1;
    }
    return p->index_ < n && nodes_[p->index_].get() == p ? p->index_ : n + 1;
  };
  // Most calls find the list already in order (passes append little and usually in order); then
  // one sweep places every node, the sort keeps the list as it is, and this check is all it costs.
  bool in_order = true;
  for (size_t i = 0; i < n && in_order; ++i) {
    for (const Value* in : nodes_[i]->inputs_) {
      if (!in) continue;
      const size_t p = producer_pos(in);
      if (p != n && p >= i) {
        in_order = false;
        break;
      }
    }
  }
  if (in_order) return Status::OK();
  // Edges producer -> reader, one per input slot, in compressed rows.
  std::vector<uint32_t> waiting(n, 0);
  std::vector<size_t> row(n + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    for (const Value* in : nodes_[i]->inputs_) {
      if (!in) continue;
      const size_t p = producer_pos(in);
      if (p == n) continue;
      ++waiting[i];
      if (p < n) ++row[p + 1];
    }
  }
  for (size_t i = 0; i < n; ++i) row[i + 1] += row[i];
  std::vector<uint32_t> readers(row[n]);
  {
    std::vector<size_t> fill(row.begin(), row.end() - 1);
    for (size_t i = 0; i < n; ++i) {
      for (const Value* in : nodes_[i]->inputs_) {
        if (!in) continue;
        const size_t p = producer_pos(in);
        if (p < n) readers[fill[p]++] = static_cast<uint32_t>(i);
      }
    }
  }
  std::vector<uint32_t> round(n, 0);
  std::vector<uint32_t> ready;
  for (size_t i = 0; i < n; ++i) {
    if (waiting[i] == 0) {
      round[i] = 1;
      ready.push_back(static_cast<uint32_t>(i));
    }
  }
  size_t placed = 0;
  uint32_t max_round = ready.empty() ? 0 : 1;
  while (!ready.empty()) {
    const uint32_t p = ready.back();
    ready.pop_back();
    ++placed;
    for (size_t e = row[p]; e < row[p + 1]; ++e) {
      const uint32_t r = readers[e];
      round[r] = std::max(round[r], round[p] + (p > r ? 1u : 0u));
      if (--waiting[r] == 0) {
        max_round = std::max(max_round, round[r]);
        ready.push_back(r);
      }
    }
  }
  // Bucket by round (stable: list order within a round); nodes never placed go last, in list
  // order, as the sweeps leave them.
  std::vector<size_t> start(static_cast<size_t>(max_round) + 2, 0);
  for (size_t i = 0; i < n; ++i) {
    const uint32_t r = waiting[i] == 0 ? round[i] : max_round + 1;
    ++start[r];
  }
  for (size_t r = 1, sum = 0; r < start.size(); ++r) {
    const size_t c = start[r];
    start[r] = sum;
    sum += c;
  }
  std::vector<std::unique_ptr<Node>> sorted(n);
  for (size_t i = 0; i < n; ++i) {
    const uint32_t r = waiting[i] == 0 ? round[i] : max_round + 1;
    sorted[start[r]++] = std::move(nodes_[i]);
  }
  nodes_ = std::move(sorted);
  for (size_t i = 0; i < n; ++i) nodes_[i]->index_ = i;
  if (placed < n) {
    return invalid_argument(nodes_[placed]->describe() + " is on a cycle or uses a value that nothing produces");
  }
  return Status::OK();
}

}  // namespace slimrt
