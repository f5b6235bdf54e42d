// The Einsum equation parser, shared by shape inference and the CPU kernel.
//
//   EinsumEquation eq;
//   Status s = parse_einsum("bij,bjk->bik", 2, &eq);   // eq.inputs[0] = {'b','i','j'}
//
// Terms hold label characters ('a'-'z', 'A'-'Z') and kEllipsis for '...'. Without '->' the
// output is implicit: the ellipsis (if any input has one) followed by every label that appears
// exactly once, in ascending character order.
#pragma once

#include <string>
#include <vector>

#include "slimrt/status.h"

namespace slimrt {

struct EinsumEquation {
  static constexpr char kEllipsis = '.';
  std::vector<std::string> inputs;
  std::string output;
};

// Errors are kInvalidArgument with a message that does not name the node (callers add it).
Status parse_einsum(const std::string& equation, size_t num_inputs, EinsumEquation* out);

// Number of labels in a term (the ellipsis not counted).
inline size_t einsum_label_count(const std::string& term) {
  size_t n = 0;
  for (char c : term) n += c != EinsumEquation::kEllipsis;
  return n;
}

}  // namespace slimrt
