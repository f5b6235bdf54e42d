// Helpers shared by the graph passes (src/passes/*.cpp).
#pragma once

#include <string>

#include "slimrt/graph.h"
#include "slimrt/passes.h"

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

}  // namespace slimrt::passes
