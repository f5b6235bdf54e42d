// Graph-level activation planning: Values -> buffer requests (sizes at a profile's max shapes,
// lifetimes from node order, in-place reuse for element-wise ops) -> MemoryPlanner.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "slimrt/dtype.h"
#include "slimrt/memory_plan.h"
#include "slimrt/shape.h"

namespace slimrt {
namespace {

// Element-wise ops: output element i reads only element i of every input of the output's shape
// (other inputs broadcast), so writing it over such an input is safe once that input is dead.
constexpr const char* kInPlaceOps[] = {
    "Abs",      "Acos",       "Acosh",       "Add",     "And",       "Asin",
    "Asinh",    "Atan",       "Atanh",       "BitShift", "Ceil",     "Celu",
    "Clip",     "Cos",        "Cosh",        "Div",     "Elu",       "Erf",
    "Exp",      "Floor",      "Gelu",        "HardSigmoid", "HardSwish", "Identity",
    "LeakyRelu", "Log",       "Max",         "Mean",    "Min",       "Mish",
    "Mod",      "Mul",        "Neg",         "Not",     "Or",        "PRelu",
    "Pow",      "Reciprocal", "Relu",        "Round",   "Selu",      "Shrink",
    "Sigmoid",  "Sign",       "Sin",         "Sinh",    "Softplus",  "Softsign",
    "Sqrt",     "Sub",        "Sum",         "Tan",     "Tanh",      "ThresholdedRelu",
    "Where",    "Xor",
};

// Views: the output is input 0's bytes under another shape. Planned in place of that input (when
// it dies there), the backends' copy becomes a no-op (both pointers are equal).
constexpr const char* kViewOps[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze"};

std::string profile_to_string(const ProfileShapes& p) {
  std::string s = "{";
  for (const auto& [name, value] : p) {
    if (s.size() > 1) s += ", ";
    s += fmt::format("{}={}", name, value);
  }
  return s + "}";
}

std::string describe_value(const Value& v) {
  std::string s = fmt::format("value '{}'", v.name());
  if (v.producer() != nullptr) s += " (output of " + v.producer()->describe() + ")";
  return s;
}

// Bytes of `v` at the profile's max shapes.
Result<int64_t> value_bytes(const Value& v, const ProfileShapes& profile,
                            const std::vector<std::pair<std::string, int64_t>>& bindings,
                            const std::set<std::string>& input_symbols, const PlanOptions& options) {
  if (!v.has_shape()) {
    return invalid_argument(
        fmt::format("activation plan: {} has no inferred shape", describe_value(v)));
  }
  const int64_t elem = static_cast<int64_t>(dtype_size(v.dtype()));
  if (elem == 0) {
    return invalid_argument(fmt::format("activation plan: {} has no dtype", describe_value(v)));
  }
  int64_t bytes = elem;
  const Shape* shape_under_profile = &v.shape();
  if (options.profile_shapes != nullptr) {
    auto it = options.profile_shapes->find(&v);
    if (it != options.profile_shapes->end()) shape_under_profile = &it->second;
  }
  const Shape& shape = *shape_under_profile;
  for (size_t d = 0; d < shape.size(); ++d) {
    const Dim bound = dim_substitute(shape[d], bindings);
    const std::optional<int64_t> dim = bound.value();
    if (!dim) {
      // A symbol no profile can bind: minted by shape inference for a size that depends on the
      // data (NonZero, a Reshape to a shape read from an input tensor, ...).
      for (const std::string& sym : bound.symbols()) {
        if (input_symbols.count(sym) == 0)
          return unsupported(fmt::format(
              "activation plan: {} shape {}: dim {} '{}' depends on the data, not only on the input shapes; an "
              "engine plans every activation from the profile's shapes (make the shape-like inputs constants)",
              describe_value(v), shape_to_string(shape), d, shape[d].to_string()));
      }
      return invalid_argument(fmt::format(
          "activation plan: {} shape {}: dim {} '{}' is still symbolic after binding the profile "
          "{}", describe_value(v), shape_to_string(shape), d, shape[d].to_string(),
          profile_to_string(profile)));
    }
    if (*dim < 0) {
      return invalid_argument(fmt::format("activation plan: {} shape {}: dim {} is {} at {}",
                                          describe_value(v), shape_to_string(shape), d, *dim,
                                          profile_to_string(profile)));
    }
    if (__builtin_mul_overflow(bytes, *dim, &bytes)) {
      return invalid_argument(fmt::format("activation plan: {} shape {}: size overflows at {}",
                                          describe_value(v), shape_to_string(shape),
                                          profile_to_string(profile)));
    }
  }
  return bytes;
}

std::string human_bytes(int64_t b) {
  if (b >= (int64_t{1} << 30)) return fmt::format("{:.2f} GiB", static_cast<double>(b) / (1 << 30));
  if (b >= (int64_t{1} << 20)) return fmt::format("{:.2f} MiB", static_cast<double>(b) / (1 << 20));
  if (b >= (int64_t{1} << 10)) return fmt::format("{:.1f} KiB", static_cast<double>(b) / (1 << 10));
  return fmt::format("{} B", b);
}

// Asks, for each in-place op, that its output reuse a dead input of the same shape and element
// size: the first such input, or with `prefer_oldest` the one whose reuse chain began earliest.
void request_in_place_reuse(const std::vector<Node*>& nodes,
                            const std::vector<const Value*>& values,
                            const std::vector<int32_t>& buffer_of,  // by Value::id(), -1: none
                            bool prefer_oldest, const PlanOptions& options, MemoryPlanner& planner) {
  auto shape_of = [&](const Value* v) -> const Shape& {
    if (options.profile_shapes != nullptr) {
      auto it = options.profile_shapes->find(v);
      if (it != options.profile_shapes->end()) return it->second;
    }
    return v->shape();
  };
  std::vector<bool> taken(values.size(), false);
  std::vector<int32_t> chain_start(values.size());  // first use of the chain's oldest buffer
  for (size_t b = 0; b < values.size(); ++b) {
    chain_start[b] = planner.request(static_cast<int32_t>(b)).first_use;
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node* node = nodes[i];
    const Value* out = node->output(0);
    const bool view = op_is_view(node->op_type());
    if (out == nullptr || !(view || op_supports_in_place(node->op_type()))) continue;
    const int32_t out_buffer = buffer_of[out->id()];
    if (out_buffer < 0 || !out->has_shape()) continue;
    int32_t chosen = -1;
    // A view's data is its input 0 unchanged, whatever the shapes; its other inputs are shapes.
    const size_t candidates = view ? std::min<size_t>(1, node->num_inputs()) : node->num_inputs();
    for (size_t k = 0; k < candidates; ++k) {
      const Value* in = node->input(k);
      if (in == nullptr) continue;
      const int32_t in_buffer = buffer_of[in->id()];  // graph inputs and constants have none
      if (in_buffer < 0 || in->is_graph_output() || taken[in_buffer]) continue;
      const BufferRequest& src = planner.request(in_buffer);
      if (src.last_use != static_cast<int32_t>(i) || !in->has_shape() ||
          (!view && shape_of(in) != shape_of(out)) || in->dtype() != out->dtype() ||
          src.size != planner.request(out_buffer).size) {
        continue;
      }
      if (chosen < 0 || (prefer_oldest && chain_start[in_buffer] < chain_start[chosen])) chosen = in_buffer;
      if (!prefer_oldest) break;
    }
    if (chosen < 0) continue;
    planner.request_in_place(out_buffer, chosen);
    taken[chosen] = true;
    chain_start[out_buffer] = chain_start[chosen];
  }
}

}  // namespace

bool op_is_view(const std::string& op_type) {
  return std::any_of(std::begin(kViewOps), std::end(kViewOps), [&](const char* op) { return op_type == op; });
}

bool op_supports_in_place(const std::string& op_type) {
  return std::any_of(std::begin(kInPlaceOps), std::end(kInPlaceOps),
                     [&](const char* op) { return op_type == op; });
}

double ActivationPlan::ratio() const {
  if (lower_bound_bytes == 0) {
    return arena_bytes == 0 ? 1.0 : std::numeric_limits<double>::infinity();
  }
  return static_cast<double>(arena_bytes) / static_cast<double>(lower_bound_bytes);
}

const ActivationBuffer* ActivationPlan::find(const std::string& value) const {
  for (const ActivationBuffer& b : buffers) {
    if (b.value == value) return &b;
  }
  return nullptr;
}

std::string ActivationPlan::to_string(bool per_buffer) const {
  std::string s = fmt::format(
      "activation arena {} ({} bytes) = {:.3f} x lower bound {} (at op {}); sum of activations {} "
      "({:.2f} x arena); {} buffers, {} in place, {}-byte aligned",
      human_bytes(arena_bytes), arena_bytes, ratio(), human_bytes(lower_bound_bytes),
      lower_bound_op, human_bytes(sum_bytes),
      arena_bytes == 0 ? 1.0 : static_cast<double>(sum_bytes) / static_cast<double>(arena_bytes),
      buffers.size(), num_in_place, alignment);
  if (per_buffer) {
    for (const ActivationBuffer& b : buffers) {
      s += fmt::format("\n  {:>12} {:>12} [{}, {}] {}", b.offset, b.size, b.first_use, b.last_use,
                       b.value);
      if (!b.in_place_of.empty()) s += " (in place of " + b.in_place_of + ")";
    }
  }
  return s;
}

Result<ActivationPlan> plan_activations(const Graph& graph, const ProfileShapes& max_shapes,
                                        const PlanOptions& options) {
  const std::vector<std::pair<std::string, int64_t>> bindings(max_shapes.begin(), max_shapes.end());
  const std::vector<Node*> nodes = graph.nodes();
  const int32_t last_op = static_cast<int32_t>(nodes.size()) - 1;
  // Side tables by id (the graph is not changed here): the position of each node, the buffer of
  // each value (-1 for none).
  std::vector<int32_t> node_index(graph.node_id_bound(), -1);
  for (size_t i = 0; i < nodes.size(); ++i) node_index[nodes[i]->id()] = static_cast<int32_t>(i);

  std::set<std::string> input_symbols;  // the symbols a profile can bind
  for (const Value* in : graph.inputs()) {
    if (!in->has_shape()) continue;
    for (const Dim& d : in->shape()) {
      for (const std::string& sym : d.symbols()) input_symbols.insert(sym);
    }
  }
  PlannerOptions planner_options;
  planner_options.alignment = options.alignment;
  MemoryPlanner planner(planner_options);
  std::vector<const Value*> values;  // buffer index -> Value
  std::vector<int32_t> buffer_of(graph.value_id_bound(), -1);
  values.reserve(nodes.size());

  for (int32_t i = 0; i <= last_op; ++i) {
    for (const Value* out : nodes[i]->outputs()) {
      if (out == nullptr || out->constant() != nullptr || out->is_graph_input() || buffer_of[out->id()] >= 0) {
        continue;
      }
      SLIMRT_ASSIGN_OR_RETURN(const int64_t bytes, value_bytes(*out, max_shapes, bindings, input_symbols, options));
      BufferRequest r;
      r.size = bytes;
      r.first_use = i;
      r.last_use = i;
      for (const Node* c : out->consumers()) r.last_use = std::max(r.last_use, node_index[c->id()]);
      if (out->is_graph_output()) r.last_use = last_op;
      buffer_of[out->id()] = planner.add_buffer(r);
      values.push_back(out);
    }
  }

  // Which input an in-place op overwrites matters: in a residual network x + f(x), reusing x
  // extends one long-lived "residual stream" buffer, reusing f(x) starts a new one every block.
  // Neither wins everywhere: the residual-stream choice is planned first, the other only when
  // that plan misses the lower bound, and the smaller arena is kept.
  MemoryPlanner best_planner = planner;
  MemoryPlan mp;
  const int passes = options.in_place ? 2 : 1;
  for (int pass = 0; pass < passes; ++pass) {
    MemoryPlanner trial = planner;
    if (options.in_place) {
      request_in_place_reuse(nodes, values, buffer_of, /*prefer_oldest=*/pass == 0, options, trial);
    }
    SLIMRT_ASSIGN_OR_RETURN(MemoryPlan candidate, trial.plan());
    if (pass == 0 || candidate.arena_bytes < mp.arena_bytes) {
      mp = std::move(candidate);
      best_planner = std::move(trial);
    }
    if (mp.arena_bytes == mp.lower_bound_bytes) break;  // optimal
  }
  planner = std::move(best_planner);

  ActivationPlan plan;
  plan.alignment = options.alignment;
  plan.arena_bytes = mp.arena_bytes;
  plan.sum_bytes = mp.sum_bytes;
  plan.lower_bound_bytes = mp.lower_bound_bytes;
  plan.lower_bound_op = mp.lower_bound_op;
  plan.buffers.reserve(values.size());
  for (size_t b = 0; b < values.size(); ++b) {
    const BufferRequest& r = planner.request(static_cast<int32_t>(b));
    ActivationBuffer ab;
    ab.value = values[b]->name();
    ab.offset = mp.offsets[b];
    ab.size = r.size;
    ab.first_use = r.first_use;
    ab.last_use = r.last_use;
    if (mp.in_place_of[b] >= 0) {
      ab.in_place_of = values[mp.in_place_of[b]]->name();
      ++plan.num_in_place;
    }
    plan.buffers.push_back(std::move(ab));
  }
  return plan;
}

}  // namespace slimrt
