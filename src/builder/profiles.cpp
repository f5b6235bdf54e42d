// Optimization profiles: parsing the CLI's --min/--opt/--max, resolving them against a graph's
// inputs (symbol bindings), and checking run-time shapes against them.
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <set>

#include "slimrt/backend.h"
#include "slimrt/builder/builder.h"
#include "slimrt/memory_plan.h"

namespace slimrt {
namespace {

std::string dims_text(const std::vector<int64_t>& d) {
  if (d.empty()) return "scalar";
  return fmt::format("{}", fmt::join(d, "x"));
}

Status parse_one(const std::string& flag, const std::string& arg, std::string* name,
                 std::vector<int64_t>* dims) {
  const size_t colon = arg.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return invalid_argument(fmt::format("--{} {}: expected NAME:DIMS, e.g. image:1x3x224x224", flag, arg));
  }
  *name = arg.substr(0, colon);
  Result<std::vector<int64_t>> parsed = parse_dims_text(std::string_view(arg).substr(colon + 1));
  if (!parsed.ok()) return parsed.status().with_context(fmt::format("--{} {}", flag, arg));
  *dims = std::move(parsed).value();
  return Status::OK();
}

const char* const kListNames[3] = {"min", "opt", "max"};

std::vector<int64_t>& list_of(InputProfile& ip, int which) { return which == 0 ? ip.min : which == 1 ? ip.opt : ip.max; }
const std::vector<int64_t>& list_of(const InputProfile& ip, int which) {
  return which == 0 ? ip.min : which == 1 ? ip.opt : ip.max;
}
bool list_given(const InputProfile& ip, int which) {
  const std::vector<int64_t>& l = list_of(ip, which);
  return std::none_of(l.begin(), l.end(), [](int64_t d) { return d == kProfileDimUnset; });
}

const InputProfile* find_input(const OptimizationProfile& p, const std::string& name) {
  auto it = std::find_if(p.inputs.begin(), p.inputs.end(), [&](const InputProfile& x) { return x.name == name; });
  return it == p.inputs.end() ? nullptr : &*it;
}

// min <= opt <= max in every dim, among the lists that are set.
Status check_order(size_t k, const InputProfile& ip) {
  for (size_t d = 0; d < ip.max.size(); ++d) {
    const int64_t v[3] = {ip.min[d], ip.opt[d], ip.max[d]};
    for (int a = 0; a < 3; ++a) {
      for (int b = a + 1; b < 3; ++b) {
        if (v[a] != kProfileDimUnset && v[b] != kProfileDimUnset && v[a] > v[b]) {
          auto show = [](int64_t x) { return x == kProfileDimUnset ? std::string("-") : std::to_string(x); };
          return invalid_argument(fmt::format("profile {}: input '{}' dim {}: need min <= opt <= max, got {} / {} / {}",
                                              k, ip.name, d, show(v[0]), show(v[1]), show(v[2])));
        }
      }
    }
  }
  return Status::OK();
}

// The given lists of profile k against the declared shapes: rank and static dims.
Status check_given(const Graph& graph, size_t k, const OptimizationProfile& p) {
  for (const Value* in : graph.inputs()) {
    const InputProfile* ip = find_input(p, in->name());
    if (!ip) continue;
    const Shape& decl = in->shape();
    if (ip->max.size() != decl.size()) {
      return invalid_argument(fmt::format("profile {}: input '{}' is {} (rank {}), the profile gives rank {}", k,
                                          in->name(), shape_to_string(decl), decl.size(), ip->max.size()));
    }
    for (int which = 0; which < 3; ++which) {
      if (!list_given(*ip, which)) continue;
      const std::vector<int64_t>& dims = list_of(*ip, which);
      for (size_t d = 0; d < decl.size(); ++d) {
        if (auto v = decl[d].value(); v && *v != dims[d]) {
          return invalid_argument(fmt::format("profile {}: input '{}' {} {} does not match its static shape {} at dim {}",
                                              k, in->name(), kListNames[which], dims_text(dims), shape_to_string(decl), d));
        }
      }
    }
  }
  return Status::OK();
}

// Per symbol, its value in each of min/opt/max where a given list of some input names it
// (kProfileDimUnset where none does), and the input that gave it.
struct SymbolValue {
  int64_t value[3] = {kProfileDimUnset, kProfileDimUnset, kProfileDimUnset};
  std::string from[3];
};
using SymbolValues = std::map<std::string, SymbolValue>;

SymbolValues bind_given(const Graph& graph, const OptimizationProfile& p) {
  SymbolValues out;
  for (const Value* in : graph.inputs()) {
    const InputProfile* ip = find_input(p, in->name());
    if (!ip) continue;
    for (int which = 0; which < 3; ++which) {
      if (!list_given(*ip, which)) continue;
      for (size_t d = 0; d < in->shape().size(); ++d) {
        auto sym = in->shape()[d].as_symbol();
        if (!sym) continue;
        SymbolValue& sv = out[*sym];
        if (sv.value[which] == kProfileDimUnset) {
          sv.value[which] = list_of(*ip, which)[d];
          sv.from[which] = in->name();
        }
      }
    }
  }
  return out;
}

// Input `in` of profile k with every list complete (docs/cli.md, "Optimization profiles"): a
// list not given takes, per symbolic dim, the value another input gives the same symbol in that
// list; else the --opt (for a missing --max), the --max (for a missing --opt), the --min; else 1.
// What was chosen goes to `choices` as a note.
InputProfile complete(const Value& in, const InputProfile* ip, const SymbolValues& given, size_t k,
                      ProfileChoices* choices) {
  const Shape& decl = in.shape();
  InputProfile full{in.name(), {}, {}, {}};
  bool given_list[3] = {false, false, false};
  for (int which = 0; which < 3; ++which) {
    given_list[which] = ip != nullptr && list_given(*ip, which);
    if (given_list[which]) list_of(full, which) = list_of(*ip, which);
  }
  // The other list of the same input a missing one copies, in order of preference.
  const int fallback[3][2] = {{-1, -1}, {2, 0}, {1, 0}};
  std::vector<std::string> chosen;
  std::set<std::string> reasons;
  for (int which : {2, 1, 0}) {  // max first: opt may copy it
    if (given_list[which]) continue;
    std::vector<int64_t>& dims = list_of(full, which);
    dims.assign(decl.size(), 1);
    bool symbolic = false;
    for (size_t d = 0; d < decl.size(); ++d) {
      if (auto v = decl[d].value()) {
        dims[d] = *v;
        continue;
      }
      symbolic = true;
      const std::string dim_name = decl[d].to_string();
      std::vector<std::pair<std::string, int64_t>> values;
      std::string from;
      for (const std::string& sym : decl[d].symbols()) {
        auto it = given.find(sym);
        if (it != given.end() && it->second.value[which] != kProfileDimUnset) {
          values.emplace_back(sym, it->second.value[which]);
          from = it->second.from[which];
        }
      }
      if (auto v = dim_substitute(decl[d], values).value(); v && *v >= 0) {
        dims[d] = *v;
        reasons.insert(fmt::format("'{}' as in input '{}'", dim_name, from));
        continue;
      }
      bool copied = false;
      for (int other : fallback[which]) {
        if (other >= 0 && given_list[other]) {
          dims[d] = list_of(full, other)[d];
          reasons.insert(fmt::format("'{}' as in its --{}", dim_name, kListNames[other]));
          copied = true;
          break;
        }
      }
      if (!copied) reasons.insert(fmt::format("'{}' at 1", dim_name));
    }
    if (symbolic) chosen.insert(chosen.begin(), kListNames[which]);
  }
  if (!chosen.empty() && choices != nullptr) {
    if (choices->chosen.size() <= k) choices->chosen.resize(k + 1);
    choices->chosen[k][in.name()] = chosen;
    std::string shapes;
    if (full.min == full.opt && full.opt == full.max && chosen.size() == 3) {
      shapes = fmt::format("min = opt = max = {}", dims_text(full.max));
    } else {
      std::vector<std::string> parts;
      for (const std::string& c : chosen) parts.push_back(fmt::format("{} {}", c, dims_text(list_of(full, c == "min" ? 0 : c == "opt" ? 1 : 2))));
      shapes = fmt::format("{}", fmt::join(parts, ", "));
    }
    std::vector<std::string> flags;
    for (const std::string& c : chosen) flags.push_back("--" + c);
    choices->notes.push_back(fmt::format(
        "profile {}: input '{}' {} {}: chose {} ({}); pass {} {}:DIMS to choose (docs/cli.md, Optimization profiles)",
        k, in.name(), shape_to_string(decl), ip ? fmt::format("has no {}", fmt::join(flags, "/")) : "is not in the profile",
        shapes, fmt::join(reasons, ", "), fmt::join(flags, "/"), in.name()));
  }
  return full;
}

// name -> shapes in the order given.
Result<std::map<std::string, std::vector<std::vector<int64_t>>>> group(const std::string& flag,
                                                                      const std::vector<std::string>& args,
                                                                      std::vector<std::string>* order) {
  std::map<std::string, std::vector<std::vector<int64_t>>> out;
  for (const std::string& a : args) {
    std::string name;
    std::vector<int64_t> dims;
    SLIMRT_RETURN_IF_ERROR(parse_one(flag, a, &name, &dims));
    if (!out.count(name) && std::find(order->begin(), order->end(), name) == order->end()) order->push_back(name);
    out[name].push_back(std::move(dims));
  }
  return out;
}

}  // namespace

Result<std::vector<OptimizationProfile>> parse_profile_args(const std::vector<std::string>& mins,
                                                            const std::vector<std::string>& opts,
                                                            const std::vector<std::string>& maxs) {
  std::vector<std::string> order;
  SLIMRT_ASSIGN_OR_RETURN(auto min_g, group("min", mins, &order));
  SLIMRT_ASSIGN_OR_RETURN(auto opt_g, group("opt", opts, &order));
  SLIMRT_ASSIGN_OR_RETURN(auto max_g, group("max", maxs, &order));
  std::vector<OptimizationProfile> profiles;
  for (const std::string& name : order) {
    const size_t n = std::max({min_g[name].size(), opt_g[name].size(), max_g[name].size()});
    for (const auto* g : {&min_g[name], &opt_g[name], &max_g[name]}) {
      if (!g->empty() && g->size() != n) {
        return invalid_argument(fmt::format(
            "input '{}' is given {} --min, {} --opt and {} --max shapes: each of the three is given once per profile "
            "or not at all", name, min_g[name].size(), opt_g[name].size(), max_g[name].size()));
      }
    }
    if (profiles.size() < n) profiles.resize(n);
    for (size_t k = 0; k < n; ++k) {
      // A list not given is left at kProfileDimUnset, at the rank of those given.
      auto pick = [&](const std::vector<std::vector<int64_t>>& g, size_t rank) {
        return g.empty() ? std::vector<int64_t>(rank, kProfileDimUnset) : g[k];
      };
      const size_t rank = !max_g[name].empty() ? max_g[name][k].size()
                          : !opt_g[name].empty() ? opt_g[name][k].size() : min_g[name][k].size();
      InputProfile ip{name, pick(min_g[name], rank), pick(opt_g[name], rank), pick(max_g[name], rank)};
      if (ip.min.size() != ip.opt.size() || ip.opt.size() != ip.max.size()) {
        return invalid_argument(fmt::format("profile {}: input '{}' has min {}, opt {}, max {} of different ranks",
                                            k, name, dims_text(ip.min), dims_text(ip.opt), dims_text(ip.max)));
      }
      SLIMRT_RETURN_IF_ERROR(check_order(k, ip));
      profiles[k].inputs.push_back(std::move(ip));
    }
  }
  return profiles;
}

Result<std::vector<std::map<std::string, int64_t>>> resolve_profiles(const Graph& graph,
                                                                    std::vector<OptimizationProfile>* profiles,
                                                                    ProfileChoices* choices) {
  std::set<std::string> input_names;
  for (const Value* in : graph.inputs()) input_names.insert(in->name());
  for (size_t k = 0; k < profiles->size(); ++k) {
    for (const InputProfile& ip : (*profiles)[k].inputs) {
      if (!input_names.count(ip.name)) {
        return invalid_argument(fmt::format("profile {} names '{}', which is not a graph input (inputs: {})", k,
                                            ip.name, fmt::join(input_names, ", ")));
      }
    }
  }
  for (const Value* in : graph.inputs()) {
    if (!in->has_shape()) {
      return invalid_argument(fmt::format("input '{}' has no declared shape: the builder needs its rank", in->name()));
    }
  }
  // An input with symbolic dims given in some profiles but not in others is most likely a
  // forgotten repetition, not a request for the default shapes.
  if (profiles->size() > 1) {
    for (const Value* in : graph.inputs()) {
      if (shape_is_static(in->shape())) continue;
      std::vector<size_t> given;
      for (size_t k = 0; k < profiles->size(); ++k) {
        if (find_input((*profiles)[k], in->name())) given.push_back(k);
      }
      if (!given.empty() && given.size() != profiles->size()) {
        return invalid_argument(fmt::format(
            "input '{}' {} is given in profile(s) {} of {}: an input with symbolic dims is given in every profile "
            "or in none (then its shapes are chosen, docs/cli.md)", in->name(), shape_to_string(in->shape()),
            fmt::join(given, ", "), profiles->size()));
      }
    }
  }
  if (profiles->empty()) profiles->emplace_back();  // the implicit or default profile
  std::vector<std::map<std::string, int64_t>> bindings(profiles->size());
  for (size_t k = 0; k < profiles->size(); ++k) {
    OptimizationProfile& p = (*profiles)[k];
    SLIMRT_RETURN_IF_ERROR(check_given(graph, k, p));
    const SymbolValues given = bind_given(graph, p);
    std::vector<InputProfile> ordered;  // graph input order
    for (const Value* in : graph.inputs()) {
      const InputProfile* ip = find_input(p, in->name());
      InputProfile full = complete(*in, ip, given, k, choices);
      SLIMRT_RETURN_IF_ERROR(check_order(k, full));
      for (size_t d = 0; d < full.max.size(); ++d) {
        auto sym = in->shape()[d].as_symbol();
        if (!sym) continue;  // static, or an expression of symbols: bound through its parts elsewhere
        auto [b, inserted] = bindings[k].emplace(*sym, full.max[d]);
        if (!inserted && b->second != full.max[d]) {
          return invalid_argument(fmt::format(
              "profile {}: symbol '{}' is bound to {} and to {} (input '{}' max {}): inputs sharing a symbol need "
              "equal max dims", k, *sym, b->second, full.max[d], in->name(), dims_text(full.max)));
        }
      }
      ordered.push_back(std::move(full));
    }
    p.inputs = std::move(ordered);
  }
  return bindings;
}

bool shapes_fit_profile(const OptimizationProfile& p, const std::map<std::string, std::vector<int64_t>>& shapes) {
  for (const InputProfile& ip : p.inputs) {
    auto it = shapes.find(ip.name);
    if (it == shapes.end()) continue;
    const std::vector<int64_t>& s = it->second;
    if (s.size() != ip.min.size()) return false;
    for (size_t d = 0; d < s.size(); ++d) {
      if (s[d] < ip.min[d] || s[d] > ip.max[d]) return false;
    }
  }
  return true;
}

std::string profile_ranges_to_string(const OptimizationProfile& p) {
  std::vector<std::string> parts;
  for (const InputProfile& ip : p.inputs) {
    parts.push_back(fmt::format("{}: [{} .. {}]", ip.name, dims_text(ip.min), dims_text(ip.max)));
  }
  return fmt::format("{}", fmt::join(parts, "; "));
}

Result<ActivationPlan> plan_profile_activations(const Graph& graph, const OptimizationProfile& p,
                                                const std::map<std::string, int64_t>& bindings) {
  const ProfileShapes max_shapes(bindings.begin(), bindings.end());
  Result<ActivationPlan> plan = plan_activations(graph, max_shapes);
  if (plan.ok() || plan.status().code() != StatusCode::kUnsupported) return plan;
  // A dim shape inference could only call data-dependent: infer again with the dims this profile
  // fixes as numbers, evaluating the shape subgraphs on the host.
  std::map<std::string, Shape> input_shapes;
  std::vector<std::string> varying;
  for (const InputProfile& ip : p.inputs) {
    const Value* in = graph.find_value(ip.name);
    if (in == nullptr || !in->has_shape() || in->shape().size() != ip.max.size()) continue;
    Shape s = in->shape();
    for (size_t d = 0; d < s.size(); ++d) {
      if (ip.min[d] == ip.max[d]) {
        s[d] = Dim(ip.max[d]);
      } else {
        varying.push_back(fmt::format("'{}' dim {} ({}..{})", ip.name, d, ip.min[d], ip.max[d]));
      }
    }
    input_shapes.emplace(ip.name, std::move(s));
  }
  std::unique_ptr<ConstantEvaluator> evaluator = make_cpu_constant_evaluator();
  SLIMRT_ASSIGN_OR_RETURN(auto shapes, infer_profile_shapes(graph, input_shapes, evaluator.get()));
  PlanOptions po;
  po.profile_shapes = &shapes;
  Result<ActivationPlan> again = plan_activations(graph, max_shapes, po);
  if (again.ok() || again.status().code() != StatusCode::kUnsupported || varying.empty()) return again;
  // Name the first value whose size still is not a function of the profile's symbols.
  std::set<std::string> input_symbols;
  for (const Value* in : graph.inputs()) {
    for (const Dim& d : in->shape()) {
      for (const std::string& sym : d.symbols()) input_symbols.insert(sym);
    }
  }
  for (const Node* n : graph.nodes()) {
    for (const Value* v : n->outputs()) {
      if (v == nullptr || v->constant() != nullptr || !v->has_shape()) continue;
      auto it = shapes.find(v);
      const Shape& shape = it != shapes.end() ? it->second : v->shape();
      for (size_t d = 0; d < shape.size(); ++d) {
        const std::vector<std::string> syms = shape[d].symbols();
        if (std::all_of(syms.begin(), syms.end(), [&](const std::string& x) { return input_symbols.count(x) > 0; }))
          continue;
        return unsupported(fmt::format(
            "value '{}' (output of {}) has shape {} in this profile: dim {} follows input dims the profile lets vary "
            "({}) through shape arithmetic slimrt cannot express for a range of sizes (a strided Conv or pool, Mod, "
            "floor division, a multi-dimensional Reshape of shape values, ...), so no plan can size it. Give those "
            "dims one value in the profile (--min = --opt = --max; one profile per size if several are needed), or "
            "export the model with them static",
            v->name(), n->describe(), shape_to_string(shape), d, fmt::join(varying, ", ")));
      }
    }
  }
  return again;
}

}  // namespace slimrt
