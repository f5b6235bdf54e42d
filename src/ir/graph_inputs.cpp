#include "ir/graph_inputs.h"

#include <unordered_map>
#include <unordered_set>

#include "ir/op_registry.h"

namespace slimrt {

Status check_graph_input(const Value& v, const Tensor& t, std::map<std::string, int64_t>* symbols) {
  if (t.dtype() != v.dtype())
    return invalid_argument("input '" + v.name() + "' has dtype " + std::string(dtype_name(t.dtype())) +
                            "; the graph expects " + std::string(dtype_name(v.dtype())));
  if (!v.has_shape()) return Status::OK();
  const Shape& s = v.shape();
  bool ok = s.size() == t.rank();
  for (size_t d = 0; ok && d < s.size(); ++d) {
    if (auto fixed = s[d].value()) {
      ok = *fixed == t.dim(d);
    } else if (auto sym = s[d].as_symbol()) {
      auto [it, fresh] = symbols->emplace(*sym, t.dim(d));
      ok = fresh || it->second == t.dim(d);
    }
  }
  if (!ok)
    return invalid_argument("input '" + v.name() + "' has shape " + shape_to_string(t.shape()) + "; the graph expects " +
                            shape_to_string(s));
  return Status::OK();
}

std::vector<bool> inputs_read_on_host(const Graph& g) {
  std::unordered_map<const Value*, size_t> input_index;
  for (size_t i = 0; i < g.inputs().size(); ++i) input_index.emplace(g.inputs()[i], i);
  std::vector<const Value*> stack;
  for (const Node* node : g.nodes()) {
    const OpDef* def = OpRegistry::get().find(node->op_type());
    if (def == nullptr || def->host_inputs == 0) continue;
    for (size_t k = 0; k < node->num_inputs() && k < 32; ++k) {
      if (node->input(k) != nullptr && ((def->host_inputs >> k) & 1u)) stack.push_back(node->input(k));
    }
  }
  std::vector<bool> read_on_host(g.inputs().size(), false);
  std::unordered_set<const Value*> visited;
  while (!stack.empty()) {
    const Value* v = stack.back();
    stack.pop_back();
    if (v->constant() != nullptr || !visited.insert(v).second) continue;
    if (auto it = input_index.find(v); it != input_index.end()) {
      read_on_host[it->second] = true;
      continue;
    }
    const Node* producer = v->producer();
    if (producer == nullptr || producer->op_type() == "Shape" || producer->op_type() == "Size") continue;
    for (const Value* in : producer->inputs()) {
      if (in != nullptr) stack.push_back(in);
    }
  }
  return read_on_host;
}

}  // namespace slimrt
