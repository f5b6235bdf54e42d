// Checking a caller's tensor against a graph input (shared by the backends' run()).
#pragma once

#include <map>
#include <string>

#include "slimrt/graph.h"
#include "slimrt/status.h"
#include "slimrt/tensor.h"

namespace slimrt {

// kInvalidArgument naming the input when `t`'s dtype differs from `v`'s, or its shape does not
// match `v`'s static dims; symbolic dims bind in `symbols`, the same symbol to the same size.
Status check_graph_input(const Value& v, const Tensor& t, std::map<std::string, int64_t>* symbols);

}  // namespace slimrt
