// An engine's inputs and outputs (include/slimrt/io_tensor.h): describing them from the graph and
// its profiles, and checking concrete input shapes against a profile.
#include "slimrt/io_tensor.h"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <set>

#include "ir/graph_inputs.h"
#include "slimrt/engine_format.h"
#include "slimrt/graph.h"
#include "slimrt/host_memory.h"
#include "slimrt/runtime.h"

namespace slimrt {
namespace {

// Symbol values at one of a profile's min (0), opt (1) or max (2) shapes.
using SymbolBindings = std::vector<std::pair<std::string, int64_t>>;

std::vector<int64_t>& list_of(IoProfileDims& p, int which) { return which == 0 ? p.min : which == 1 ? p.opt : p.max; }

const InputProfile* find_input(const OptimizationProfile& p, const std::string& name) {
  auto it = std::find_if(p.inputs.begin(), p.inputs.end(), [&](const InputProfile& x) { return x.name == name; });
  return it == p.inputs.end() ? nullptr : &*it;
}

IoTensor describe_value(const Value& v, IoDirection direction, size_t index) {
  IoTensor t;
  t.name = v.name();
  t.direction = direction;
  t.index = static_cast<int32_t>(index);
  t.dtype = v.dtype();
  t.has_shape = v.has_shape();
  if (!t.has_shape) return t;
  for (const Dim& d : v.shape()) {
    const std::optional<int64_t> fixed = d.value();
    t.dims.push_back(fixed ? *fixed : kDynamicDim);
    t.dim_names.push_back(fixed ? std::string() : d.to_string());
  }
  return t;
}

// An input's dims in profile `p`: the profile's lists, or (an input the profile leaves out) its
// static dims with -1 for the dynamic ones.
IoProfileDims input_profile_dims(const IoTensor& t, const OptimizationProfile& p) {
  const InputProfile* ip = find_input(p, t.name);
  if (ip != nullptr && ip->min.size() == t.dims.size() && ip->opt.size() == t.dims.size() &&
      ip->max.size() == t.dims.size())
    return {ip->min, ip->opt, ip->max};
  return {t.dims, t.dims, t.dims};
}

// Whether input `t` (whose values the runtime reads on the host) is small enough at every
// profile's max shape to be read from host memory at each enqueue.
bool fits_host_input(const IoTensor& t) {
  if (!t.has_shape) return false;
  auto small = [](const std::vector<int64_t>& dims) {
    int64_t n = 1;
    for (int64_t d : dims) {
      if (d < 0 || (d > 0 && n > kMaxHostInputElements / d)) return false;
      n *= d;
    }
    return n <= kMaxHostInputElements;
  };
  if (t.profiles.empty()) return small(t.dims);
  return std::all_of(t.profiles.begin(), t.profiles.end(), [&](const IoProfileDims& p) { return small(p.max); });
}

std::string dims_text(const std::vector<int64_t>& d) { return d.empty() ? "scalar" : fmt::format("{}", fmt::join(d, "x")); }

std::string input_names(const std::vector<IoTensor>& io) {
  std::vector<std::string> names;
  for (const IoTensor& t : io) {
    if (t.is_input()) names.push_back(t.name);
  }
  return fmt::format("{}", fmt::join(names, ", "));
}

const IoTensor* find_tensor(const std::vector<IoTensor>& io, std::string_view name) {
  auto it = std::find_if(io.begin(), io.end(), [&](const IoTensor& t) { return t.name == name; });
  return it == io.end() ? nullptr : &*it;
}

// Names that are not inputs: wrong whatever the profile.
Status check_names(const std::vector<IoTensor>& io, const InputShapes& shapes) {
  for (const auto& [name, dims] : shapes) {
    const IoTensor* t = find_tensor(io, name);
    if (t == nullptr)
      return invalid_argument(fmt::format("'{}' is not an input of the engine (inputs: {})", name, input_names(io)));
    if (!t->is_input()) return invalid_argument(fmt::format("'{}' is an output of the engine, not an input", name));
  }
  return Status::OK();
}

}  // namespace

std::string_view io_direction_name(IoDirection d) { return d == IoDirection::kInput ? "input" : "output"; }

std::string_view buffer_location_name(BufferLocation where) {
  switch (where) {
    case BufferLocation::kAuto: return "auto";
    case BufferLocation::kDevice: return "device";
    case BufferLocation::kPinned: return "pinned";
    case BufferLocation::kMapped: return "mapped";
    case BufferLocation::kPageable: return "pageable";
  }
  return "?";
}

bool IoTensor::is_dynamic() const {
  return !has_shape || std::any_of(dims.begin(), dims.end(), [](int64_t d) { return d < 0; });
}

Result<int64_t> IoTensor::element_count(const std::vector<int64_t>& concrete) const {
  if (has_shape && concrete.size() != dims.size())
    return invalid_argument(fmt::format("{} '{}' {}: {} dims given; it has rank {}", io_direction_name(direction), name,
                                        shape_to_string(concrete), concrete.size(), dims.size()));
  int64_t n = 1;
  for (size_t d = 0; d < concrete.size(); ++d) {
    if (concrete[d] < 0)
      return invalid_argument(fmt::format("{} '{}' {}: dim {} = {} is negative", io_direction_name(direction), name,
                                          shape_to_string(concrete), d, concrete[d]));
    if (has_shape && dims[d] >= 0 && concrete[d] != dims[d])
      return invalid_argument(fmt::format("{} '{}' {}: dim {} = {}, but that dim is fixed at {}", io_direction_name(direction),
                                          name, shape_to_string(concrete), d, concrete[d], dims[d]));
    if (n != 0 && concrete[d] > INT64_MAX / n)
      return invalid_argument(fmt::format("{} '{}' {}: more than 2^63-1 elements", io_direction_name(direction), name,
                                          shape_to_string(concrete)));
    n *= concrete[d];
  }
  return n;
}

Result<uint64_t> IoTensor::byte_size(const std::vector<int64_t>& concrete) const {
  SLIMRT_ASSIGN_OR_RETURN(const int64_t n, element_count(concrete));
  const uint64_t elem = dtype_size(dtype);
  if (elem != 0 && static_cast<uint64_t>(n) > UINT64_MAX / elem)
    return invalid_argument(fmt::format("{} '{}' {}: more than 2^64-1 bytes", io_direction_name(direction), name,
                                        shape_to_string(concrete)));
  return static_cast<uint64_t>(n) * elem;
}

std::string IoFormat::to_string(DataType bound) const {
  // A layout is named only when the engine moves the channels.
  std::string s = fmt::format("{}{}", dtype_name(bound), channels_last ? " NHWC" : "");
  const std::string x = scale == 1.0f ? std::string("x") : fmt::format("x*{:g}", scale);
  if (normalizes()) {
    s += fmt::format(", normalized ({} - mean) / std, mean [{}], std [{}]", x, fmt::join(mean, ","), fmt::join(stddev, ","));
  } else if (scale != 1.0f) {
    s += fmt::format(", scaled: {}", x);
  }
  return s + fmt::format("; the model has {}{}", dtype_name(model_dtype), channels_last ? " NCHW" : "");
}

std::vector<IoTensor> describe_io(const Graph& graph, const std::vector<OptimizationProfile>& profiles,
                                  const std::map<std::string, IoFormat>& formats) {
  std::vector<IoTensor> io;
  io.reserve(graph.inputs().size() + graph.outputs().size());
  // Per profile and list (min/opt/max), the value of each symbol an input dim names.
  std::vector<std::array<SymbolBindings, 3>> bindings(profiles.size());
  std::set<std::string> input_symbols;
  const std::vector<bool> read_on_host = inputs_read_on_host(graph);
  for (size_t i = 0; i < graph.inputs().size(); ++i) {
    const Value& v = *graph.inputs()[i];
    IoTensor t = describe_value(v, IoDirection::kInput, i);
    if (t.has_shape) {
      for (const Dim& d : v.shape()) {
        for (const std::string& sym : d.symbols()) input_symbols.insert(sym);
      }
    }
    for (size_t k = 0; k < profiles.size(); ++k) {
      IoProfileDims p = input_profile_dims(t, profiles[k]);
      for (size_t d = 0; d < t.dims.size(); ++d) {
        const std::optional<std::string> sym = v.shape()[d].as_symbol();
        if (!sym) continue;
        for (int which = 0; which < 3; ++which) {
          SymbolBindings& b = bindings[k][static_cast<size_t>(which)];
          const int64_t value = list_of(p, which)[d];
          const bool bound = std::any_of(b.begin(), b.end(), [&](const auto& x) { return x.first == *sym; });
          if (value >= 0 && !bound) b.emplace_back(*sym, value);
        }
      }
      t.profiles.push_back(std::move(p));
    }
    t.is_host_input = read_on_host[i] && fits_host_input(t);
    if (auto f = formats.find(t.name); f != formats.end()) t.format = f->second;
    io.push_back(std::move(t));
  }
  for (size_t i = 0; i < graph.outputs().size(); ++i) {
    const Value& v = *graph.outputs()[i];
    IoTensor t = describe_value(v, IoDirection::kOutput, i);
    if (t.has_shape) {
      for (const Dim& d : v.shape()) {
        for (const std::string& sym : d.symbols()) t.data_dependent_shape |= input_symbols.count(sym) == 0;
      }
    }
    for (size_t k = 0; k < profiles.size(); ++k) {
      IoProfileDims p;
      for (int which = 0; which < 3 && t.has_shape; ++which) {
        for (const Dim& d : v.shape()) {
          const std::optional<int64_t> value = dim_substitute(d, bindings[k][static_cast<size_t>(which)]).value();
          list_of(p, which).push_back(value ? *value : kDynamicDim);
        }
      }
      t.profiles.push_back(std::move(p));
    }
    if (auto f = formats.find(t.name); f != formats.end()) t.format = f->second;
    io.push_back(std::move(t));
  }
  return io;
}

Status check_input_shapes(const std::vector<IoTensor>& io, size_t num_profiles, uint32_t profile,
                          const InputShapes& shapes) {
  if (num_profiles == 0 && profile != 0)
    return invalid_argument(fmt::format("profile {} does not exist: the engine has no optimization profiles", profile));
  if (num_profiles > 0 && profile >= num_profiles)
    return invalid_argument(fmt::format("profile {} does not exist: the engine has {}", profile, num_profiles));
  SLIMRT_RETURN_IF_ERROR(check_names(io, shapes));
  for (const auto& [name, dims] : shapes) {
    const IoTensor& t = *find_tensor(io, name);
    SLIMRT_RETURN_IF_ERROR(t.element_count(dims).status());
    if (num_profiles == 0 || !t.has_shape) continue;
    const IoProfileDims& p = t.profiles[profile];
    for (size_t d = 0; d < dims.size(); ++d) {
      const bool below = p.min[d] >= 0 && dims[d] < p.min[d];
      const bool above = p.max[d] >= 0 && dims[d] > p.max[d];
      if (below || above)
        return invalid_argument(fmt::format("input '{}' {}: dim {} = {} is outside profile {}'s range [{}, {}]", name,
                                            shape_to_string(dims), d, dims[d], profile, p.min[d], p.max[d]));
    }
  }
  return Status::OK();
}

Result<uint32_t> select_profile(const std::vector<IoTensor>& io, size_t num_profiles, const InputShapes& shapes) {
  SLIMRT_RETURN_IF_ERROR(check_names(io, shapes));
  if (num_profiles == 0) {
    SLIMRT_RETURN_IF_ERROR(check_input_shapes(io, 0, 0, shapes));
    return 0u;
  }
  for (uint32_t k = 0; k < num_profiles; ++k) {
    if (check_input_shapes(io, num_profiles, k, shapes).ok()) return k;
  }
  std::vector<std::string> given, ranges;
  for (const auto& [name, dims] : shapes) given.push_back(fmt::format("'{}' {}", name, shape_to_string(dims)));
  for (uint32_t k = 0; k < num_profiles; ++k) {
    std::vector<std::string> parts;
    for (const IoTensor& t : io) {
      if (t.is_input() && t.has_shape)
        parts.push_back(fmt::format("{}: [{} .. {}]", t.name, dims_text(t.profiles[k].min), dims_text(t.profiles[k].max)));
    }
    ranges.push_back(fmt::format("profile {}: {}", k, fmt::join(parts, "; ")));
  }
  const bool one = given.size() == 1;
  return invalid_argument(fmt::format("{} {} {} outside every optimization profile of the engine ({})",
                                      one ? "input" : "inputs", fmt::join(given, ", "), one ? "is" : "are",
                                      fmt::join(ranges, "; ")));
}

const IoTensor* Engine::io_tensor(std::string_view name) const { return find_tensor(io_, name); }

uint32_t Engine::num_profiles() const { return static_cast<uint32_t>(info_.options.profiles.size()); }

Status Engine::check_input_shapes(uint32_t profile, const InputShapes& shapes) const {
  return slimrt::check_input_shapes(io_, info_.options.profiles.size(), profile, shapes);
}

Result<uint32_t> Engine::select_profile(const InputShapes& shapes) const {
  return slimrt::select_profile(io_, info_.options.profiles.size(), shapes);
}

}  // namespace slimrt
