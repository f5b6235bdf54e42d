// Helpers shared by the graph passes (src/passes/*.cpp).
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "slimrt/builder/passes.h"
#include "slimrt/graph.h"

namespace slimrt::passes {

inline void note(PassStats* stats, std::string line) {
  if (stats) stats->lines.push_back(std::move(line));
}

// True when any output of `n` is a graph output: such nodes keep producing it at run time so
// that the output keeps its name.
inline bool feeds_graph_output(const Node& n) {
  for (const Value* out : n.outputs()) {
    if (out && out->is_graph_output()) return true;
  }
  return false;
}

// True when nothing reads `v` (no consumer, not a graph output).
inline bool is_unused(const Value& v) { return v.consumers().empty() && !v.is_graph_output(); }

// Adds a one-output node and gives its output `dt` and `s`; returns that output.
inline Value* add_typed_node(Graph& g, const std::string& op, const std::string& name, const std::vector<Value*>& ins,
                             DataType dt, Shape s) {
  Node* n = g.add_node(op, name, ins, 1);
  n->output(0)->set_dtype(dt);
  n->output(0)->set_shape(std::move(s));
  return n->output(0);
}

// A Reshape of `v` whose shape input is the int64 initializer `target`; its output has shape `s`.
inline Value* add_constant_reshape(Graph& g, const std::string& name, Value* v, const std::vector<int64_t>& target, Shape s) {
  Value* t = g.add_initializer(name + "/shape",
                               Tensor::from_vector<int64_t>(DataType::kInt64, {static_cast<int64_t>(target.size())}, target));
  return add_typed_node(g, "Reshape", name, {v, t}, v->dtype(), std::move(s));
}

// After a rewrite: sorts the graph (dead-code elimination sweeps in reverse order, consumers
// before producers), removes what the rewrite left unread and counts it into `stats`; returns
// the number of nodes removed.
inline Result<int64_t> sweep_after_rewrite(Graph& g, PassStats* stats) {
  SLIMRT_RETURN_IF_ERROR(g.topological_sort());
  PassStats dead;
  SLIMRT_RETURN_IF_ERROR(eliminate_dead_code(g, &dead));
  if (stats) {
    stats->nodes_removed += dead.nodes_removed;
    stats->values_removed += dead.values_removed;
  }
  return dead.nodes_removed;
}

// dst [cols, rows] = src [rows, cols] transposed, for elements of `es` bytes (weights transposed
// once at build time; typed copies for the usual sizes, so a big matrix takes milliseconds).
inline void copy_transposed(const void* src, void* dst, int64_t rows, int64_t cols, size_t es) {
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* s = static_cast<const T*>(src);
    T* d = static_cast<T*>(dst);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) d[c * rows + r] = s[r * cols + c];
  };
  if (es == 2) return run(uint16_t{});
  if (es == 4) return run(uint32_t{});
  if (es == 8) return run(uint64_t{});
  const auto* s = static_cast<const unsigned char*>(src);
  auto* d = static_cast<unsigned char*>(dst);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) std::memcpy(d + static_cast<size_t>(c * rows + r) * es, s + static_cast<size_t>(r * cols + c) * es, es);
}

// The shape input of a Reshape from `in` to `out` as a constant that holds for every value of
// the symbols: static dims as they are, a symbolic dim equal to the input's at the same position
// as 0 (copy), at most one other as -1 (the rest); nullopt when none does.
inline std::optional<std::vector<int64_t>> constant_reshape_target(const Shape& in, const Shape& out) {
  std::vector<int64_t> t;
  bool inferred = false;
  for (size_t k = 0; k < out.size(); ++k) {
    if (std::optional<int64_t> s = out[k].value()) {
      if (*s <= 0) return std::nullopt;  // 0 would copy the input's dim
      t.push_back(*s);
    } else if (k < in.size() && in[k] == out[k]) {
      t.push_back(0);
    } else if (!inferred) {
      inferred = true;
      t.push_back(-1);
    } else {
      return std::nullopt;
    }
  }
  return t;
}

}  // namespace slimrt::passes
