// Graph inputs as the backends see them: checking a caller's tensor against one (the backends'
// run()), and finding those whose values the runtime reads on the host.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "slimrt/graph.h"
#include "slimrt/status.h"
#include "slimrt/tensor.h"

namespace slimrt {

// kInvalidArgument naming the input when `t`'s dtype differs from `v`'s, or its shape does not
// match `v`'s static dims; symbolic dims bind in `symbols`, the same symbol to the same size.
Status check_graph_input(const Value& v, const Tensor& t, std::map<std::string, int64_t>* symbols);

// Per graph input (Graph::inputs() order): whether its values reach an op input the runtime
// reads on the host (OpDef::host_inputs), directly or through the ops computing that input. The
// walk goes back from every such op input through producers, stopping at constants and at Shape
// and Size (which read dims only).
std::vector<bool> inputs_read_on_host(const Graph& g);

}  // namespace slimrt
