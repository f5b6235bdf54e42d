// Optimization profiles: parsing the CLI's --min/--opt/--max, resolving them against a graph's
// inputs (symbol bindings), and checking run-time shapes against them.
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <set>

#include "slimrt/builder.h"

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
    const size_t n = min_g[name].size();
    if (opt_g[name].size() != n || max_g[name].size() != n) {
      return invalid_argument(fmt::format(
          "input '{}' is given {} --min, {} --opt and {} --max shapes: each profile needs all three", name,
          min_g[name].size(), opt_g[name].size(), max_g[name].size()));
    }
    if (profiles.size() < n) profiles.resize(n);
    for (size_t k = 0; k < n; ++k) {
      InputProfile ip{name, min_g[name][k], opt_g[name][k], max_g[name][k]};
      if (ip.min.size() != ip.opt.size() || ip.opt.size() != ip.max.size()) {
        return invalid_argument(fmt::format("profile {}: input '{}' has min {}, opt {}, max {} of different ranks",
                                            k, name, dims_text(ip.min), dims_text(ip.opt), dims_text(ip.max)));
      }
      for (size_t d = 0; d < ip.min.size(); ++d) {
        if (!(ip.min[d] <= ip.opt[d] && ip.opt[d] <= ip.max[d])) {
          return invalid_argument(fmt::format("profile {}: input '{}' dim {}: need min <= opt <= max, got {} / {} / {}",
                                              k, name, d, ip.min[d], ip.opt[d], ip.max[d]));
        }
      }
      profiles[k].inputs.push_back(std::move(ip));
    }
  }
  return profiles;
}

Result<std::vector<std::map<std::string, int64_t>>> resolve_profiles(const Graph& graph,
                                                                    std::vector<OptimizationProfile>* profiles) {
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
  bool all_static = true;
  for (const Value* in : graph.inputs()) {
    if (!in->has_shape()) {
      return invalid_argument(fmt::format("input '{}' has no declared shape: the builder needs its rank", in->name()));
    }
    for (const Dim& d : in->shape()) all_static = all_static && d.is_static();
  }
  if (profiles->empty()) {
    if (!all_static) {
      std::vector<std::string> dyn;
      for (const Value* in : graph.inputs()) {
        bool s = true;
        for (const Dim& d : in->shape()) s = s && d.is_static();
        if (!s) dyn.push_back(fmt::format("'{}' {}", in->name(), shape_to_string(in->shape())));
      }
      return invalid_argument(fmt::format(
          "input {} has symbolic dims: give an optimization profile with --min/--opt/--max NAME:DIMS",
          fmt::join(dyn, ", input ")));
    }
    profiles->emplace_back();  // the implicit profile: filled with the static shapes below
  }
  std::vector<std::map<std::string, int64_t>> bindings(profiles->size());
  for (size_t k = 0; k < profiles->size(); ++k) {
    OptimizationProfile& p = (*profiles)[k];
    std::vector<InputProfile> ordered;  // graph input order
    for (const Value* in : graph.inputs()) {
      auto it = std::find_if(p.inputs.begin(), p.inputs.end(), [&](const InputProfile& x) { return x.name == in->name(); });
      const Shape& decl = in->shape();
      if (it == p.inputs.end()) {
        std::vector<int64_t> dims;
        for (const Dim& d : decl) {
          if (!d.is_static()) {
            return invalid_argument(fmt::format("profile {} does not give input '{}' {}, which has symbolic dims", k,
                                                in->name(), shape_to_string(decl)));
          }
          dims.push_back(*d.value());
        }
        ordered.push_back({in->name(), dims, dims, dims});
        continue;
      }
      if (it->max.size() != decl.size()) {
        return invalid_argument(fmt::format("profile {}: input '{}' is {} (rank {}), the profile gives rank {}", k,
                                            in->name(), shape_to_string(decl), decl.size(), it->max.size()));
      }
      // Each of min/opt/max binds the symbols consistently; the max binding sizes the plan.
      for (int which = 0; which < 3; ++which) {
        const std::vector<int64_t>& dims = which == 0 ? it->min : which == 1 ? it->opt : it->max;
        const char* label = which == 0 ? "min" : which == 1 ? "opt" : "max";
        for (size_t d = 0; d < decl.size(); ++d) {
          if (auto v = decl[d].value()) {
            if (*v != dims[d]) {
              return invalid_argument(fmt::format("profile {}: input '{}' {} {} does not match its static shape {} at dim {}",
                                                  k, in->name(), label, dims_text(dims), shape_to_string(decl), d));
            }
          } else if (which == 2) {
            auto sym = decl[d].as_symbol();
            if (!sym) continue;  // an expression of symbols: bound through its parts elsewhere
            auto [b, inserted] = bindings[k].emplace(*sym, dims[d]);
            if (!inserted && b->second != dims[d]) {
              return invalid_argument(fmt::format(
                  "profile {}: symbol '{}' is bound to {} and to {} (input '{}' max {}): inputs sharing a symbol need equal max dims",
                  k, *sym, b->second, dims[d], in->name(), dims_text(dims)));
            }
          }
        }
      }
      ordered.push_back(*it);
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

}  // namespace slimrt
