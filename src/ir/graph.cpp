#include <algorithm>
#include <set>

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
  std::string name = hint.empty() ? "v" : hint;
  while (by_name_.count(name)) name = hint + "__" + std::to_string(++unique_counter_);
  auto v = std::make_unique<Value>();
  v->name_ = name;
  Value* raw = v.get();
  values_.push_back(std::move(v));
  by_name_[name] = raw;
  return raw;
}

Value* Graph::add_input(const std::string& name, DataType dtype, std::optional<Shape> shape) {
  Value* v = add_value(name);
  v->dtype_ = dtype;
  v->shape_ = std::move(shape);
  v->is_input_ = true;
  inputs_.push_back(v);
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
  return raw;
}

void Graph::add_output(Value* v) {
  v->is_output_ = true;
  outputs_.push_back(v);
}

Value* Graph::find_value(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::vector<Node*> Graph::nodes() const {
  std::vector<Node*> out;
  out.reserve(nodes_.size());
  for (const auto& n : nodes_) out.push_back(n.get());
  return out;
}

std::vector<Value*> Graph::values() const {
  std::vector<Value*> out;
  out.reserve(values_.size());
  for (const auto& v : values_) out.push_back(v.get());
  return out;
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

void Graph::replace_all_uses(Value* from, Value* to) {
  std::vector<Node*> users = from->consumers_;
  for (Node* n : users) {
    for (size_t i = 0; i < n->inputs_.size(); ++i) {
      if (n->inputs_[i] == from) set_node_input(n, i, to);
    }
  }
  for (Value*& out : outputs_) {
    if (out == from) {
      from->is_output_ = false;
      out = to;
      to->is_output_ = true;
    }
  }
}

Status Graph::remove_node(Node* n) {
  for (Value* out : n->outputs_) {
    if (!out->consumers_.empty() || out->is_output_)
      return internal_error(n->describe() + " still has users of output '" + out->name_ + "'");
  }
  for (size_t i = 0; i < n->inputs_.size(); ++i) set_node_input(n, i, nullptr);
  for (Value* out : n->outputs_) out->producer_ = nullptr;
  auto it = std::find_if(nodes_.begin(), nodes_.end(), [&](const auto& p) { return p.get() == n; });
  nodes_.erase(it);
  return Status::OK();
}

Status Graph::remove_value(Value* v) {
  if (v->producer_ || !v->consumers_.empty() || v->is_input_ || v->is_output_)
    return internal_error("value '" + v->name_ + "' is still produced, used, or a graph input/output");
  by_name_.erase(v->name_);
  auto it = std::find_if(values_.begin(), values_.end(), [&](const auto& p) { return p.get() == v; });
  values_.erase(it);
  return Status::OK();
}

Status Graph::topological_sort() {
  std::set<const Value*> ready;
  for (const auto& v : values_) {
    if (!v->producer_) ready.insert(v.get());
  }
  std::vector<std::unique_ptr<Node>> sorted;
  std::vector<std::unique_ptr<Node>> pending = std::move(nodes_);
  nodes_.clear();
  bool progress = true;
  while (!pending.empty() && progress) {
    progress = false;
    std::vector<std::unique_ptr<Node>> still;
    for (auto& n : pending) {
      const bool ok = std::all_of(n->inputs_.begin(), n->inputs_.end(),
                                  [&](const Value* in) { return !in || ready.count(in); });
      if (ok) {
        for (Value* out : n->outputs_) ready.insert(out);
        sorted.push_back(std::move(n));
        progress = true;
      } else {
        still.push_back(std::move(n));
      }
    }
    pending = std::move(still);
  }
  if (!pending.empty()) {
    const Node* n = pending.front().get();
    for (size_t i = 0; i < pending.size(); ++i) sorted.push_back(std::move(pending[i]));
    nodes_ = std::move(sorted);
    return invalid_argument(n->describe() + " is on a cycle or uses a value that nothing produces");
  }
  nodes_ = std::move(sorted);
  return Status::OK();
}

}  // namespace slimrt
