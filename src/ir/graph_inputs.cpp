#include "ir/graph_inputs.h"

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

}  // namespace slimrt
