// Einsum equation parsing (see linalg_einsum.h).
#include "ir/ops/linalg_einsum.h"

#include <algorithm>
#include <map>

namespace slimrt {

namespace {

bool is_label(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Parses one term, turning "..." into a single kEllipsis; spaces are ignored.
Status parse_term(const std::string& text, std::string* term) {
  term->clear();
  bool seen_ellipsis = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ') continue;
    if (c == '.') {
      if (text.compare(i, 3, "...") != 0) return invalid_argument("'.' must be part of '...' in term '" + text + "'");
      if (seen_ellipsis) return invalid_argument("term '" + text + "' has two ellipses");
      seen_ellipsis = true;
      term->push_back(EinsumEquation::kEllipsis);
      i += 2;
      continue;
    }
    if (!is_label(c)) return invalid_argument(std::string("invalid character '") + c + "' in term '" + text + "'");
    term->push_back(c);
  }
  return Status::OK();
}

}  // namespace

Status parse_einsum(const std::string& equation, size_t num_inputs, EinsumEquation* out) {
  out->inputs.clear();
  out->output.clear();
  const size_t arrow = equation.find("->");
  const std::string lhs = equation.substr(0, arrow);
  size_t start = 0;
  while (true) {
    const size_t comma = lhs.find(',', start);
    std::string term;
    SLIMRT_RETURN_IF_ERROR(parse_term(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start), &term));
    out->inputs.push_back(std::move(term));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out->inputs.size() != num_inputs)
    return invalid_argument("equation '" + equation + "' has " + std::to_string(out->inputs.size()) +
                            " input terms for " + std::to_string(num_inputs) + " inputs");
  std::map<char, int> count;
  bool any_ellipsis = false;
  for (const std::string& t : out->inputs) {
    for (char c : t) {
      if (c == EinsumEquation::kEllipsis) any_ellipsis = true;
      else ++count[c];
    }
  }
  if (arrow != std::string::npos) {
    const std::string rhs = equation.substr(arrow + 2);
    if (rhs.find("->") != std::string::npos) return invalid_argument("equation '" + equation + "' has two '->'");
    SLIMRT_RETURN_IF_ERROR(parse_term(rhs, &out->output));
    std::map<char, int> seen;
    for (char c : out->output) {
      if (c == EinsumEquation::kEllipsis) {
        if (!any_ellipsis) return invalid_argument("output has '...' but no input does");
        continue;
      }
      if (!count.count(c)) return invalid_argument(std::string("output label '") + c + "' is in no input");
      if (seen[c]++) return invalid_argument(std::string("output label '") + c + "' appears twice");
    }
  } else {
    if (any_ellipsis) out->output.push_back(EinsumEquation::kEllipsis);
    for (const auto& [c, n] : count) {  // std::map iterates in ascending character order
      if (n == 1) out->output.push_back(c);
    }
  }
  return Status::OK();
}

}  // namespace slimrt
