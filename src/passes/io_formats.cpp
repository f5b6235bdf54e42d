// I/O formats (slimrt/builder/io_formats.h): parsing the CLI's requests, rewriting the graph's
// edges before the passes, and merging the conversions into InputConvert after them.
#include "slimrt/builder/io_formats.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ir/graph_inputs.h"
#include "ir/input_convert.h"
#include "passes/pass_util.h"

namespace slimrt {

namespace {

// ---- parsing ----------------------------------------------------------------------------------

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::optional<DataType> format_dtype(const std::string& field) {
  const std::string f = lower(field);
  if (f == "fp32" || f == "float32" || f == "float") return DataType::kFloat32;
  if (f == "fp16" || f == "float16" || f == "half") return DataType::kFloat16;
  if (f == "bf16" || f == "bfloat16") return DataType::kBFloat16;
  if (f == "uint8" || f == "u8") return DataType::kUInt8;
  return std::nullopt;
}

bool is_layout(const std::string& field) { return lower(field) == "nhwc" || lower(field) == "nchw"; }

// "0.5", "1e-3" or "1/255"; nullopt unless the whole text is one finite number.
std::optional<double> parse_number(const std::string& text) {
  if (const size_t slash = text.find('/'); slash != std::string::npos) {
    const std::optional<double> a = parse_number(text.substr(0, slash)), b = parse_number(text.substr(slash + 1));
    if (!a || !b || *b == 0) return std::nullopt;
    return *a / *b;
  }
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

Result<std::vector<float>> parse_numbers(const std::string& arg, const std::string& key, const std::string& list) {
  std::vector<float> out;
  for (const std::string& item : split(list, ',')) {
    const std::optional<double> v = parse_number(item);
    if (!v) return invalid_argument(fmt::format("--normalize '{}': {}= holds '{}', which is not a finite number", arg, key, item));
    out.push_back(static_cast<float>(*v));
  }
  return out;
}

// The name: every field before the trailing ones that `is_option` accepts (at least one).
Result<std::pair<std::string, std::vector<std::string>>> split_name(const std::string& flag, const std::string& arg,
                                                                    bool (*is_option)(const std::string&)) {
  std::vector<std::string> fields = split(arg, ':');
  size_t first = fields.size();
  while (first > 1 && is_option(fields[first - 1])) --first;
  if (first == fields.size())
    return invalid_argument(fmt::format("{} '{}': expected NAME:{} (docs/cli.md)", flag, arg,
                                        flag == "--normalize" ? "mean=..:std=..[:scale=..]" : "FORMAT"));
  std::vector<std::string> name_fields(fields.begin(), fields.begin() + static_cast<std::ptrdiff_t>(first));
  std::string name = fmt::format("{}", fmt::join(name_fields, ":"));
  if (name.empty()) return invalid_argument(fmt::format("{} '{}': the tensor name is empty", flag, arg));
  return std::make_pair(std::move(name), std::vector<std::string>(fields.begin() + static_cast<std::ptrdiff_t>(first), fields.end()));
}

bool is_format_field(const std::string& f) { return format_dtype(f).has_value() || is_layout(f); }
bool is_normalize_field(const std::string& f) {
  const std::string l = lower(f);
  return l.rfind("mean=", 0) == 0 || l.rfind("std=", 0) == 0 || l.rfind("scale=", 0) == 0;
}

// ---- graph rewriting --------------------------------------------------------------------------

bool is_float(DataType t) {
  return t == DataType::kFloat32 || t == DataType::kFloat16 || t == DataType::kBFloat16 || t == DataType::kFloat64;
}

// `base`, or `base__N` for the first N that no value has.
std::string free_name(const Graph& g, const std::string& base) {
  std::string name = base;
  for (int k = 1; g.find_value(name) != nullptr; ++k) name = base + "__" + std::to_string(k);
  return name;
}

std::string describe_input(const Value& v) {
  return fmt::format("input '{}' ({} {})", v.name(), dtype_name(v.dtype()),
                     v.has_shape() ? shape_to_string(v.shape()) : std::string("[?]"));
}

Status apply_input(Graph& g, Value* v, bool read_on_host, const IoFormatRequest& r, IoFormatResult* result) {
  const std::string what = describe_input(*v);
  const DataType model = v->dtype();
  if (!is_float(model))
    return invalid_argument(fmt::format(
        "{}: an input format applies to float inputs only; this one holds {} values (ids, indices or masks), "
        "which the engine reads as they are",
        what, dtype_name(model)));
  if (v->is_graph_output())
    return invalid_argument(fmt::format("{}: it is also a graph output, so its format cannot change", what));
  if (read_on_host)
    return invalid_argument(fmt::format(
        "{}: the runtime reads its values on the host (a shape or parameter input), so its format cannot change", what));
  const DataType bound = r.dtype == DataType::kUndefined ? model : r.dtype;
  const bool normalize = !r.mean.empty();
  if ((r.channels_last || normalize) && !v->has_shape())
    return invalid_argument(fmt::format("{}: its rank is unknown; nhwc and --normalize need it", what));
  const int64_t rank = v->rank();
  if (r.channels_last && rank < 3)
    return invalid_argument(fmt::format("{}: nhwc needs rank >= 3 (N, C, then spatial axes); it has rank {}", what, rank));
  InputConvertParams p;
  p.to = model;
  p.perm.resize(static_cast<size_t>(std::max<int64_t>(rank, 0)));
  std::iota(p.perm.begin(), p.perm.end(), 0);
  IoFormat f;
  f.model_dtype = model;
  f.channels_last = r.channels_last;
  if (normalize || r.scale) {
    const double scale = r.scale ? *r.scale : (bound == DataType::kUInt8 && normalize ? 1.0 / 255.0 : 1.0);
    f.scale = static_cast<float>(scale);
    std::vector<float> mean = normalize ? r.mean : std::vector<float>{0.0f};
    std::vector<float> stddev = normalize ? r.stddev : std::vector<float>{1.0f};
    const size_t n = std::max(mean.size(), stddev.size());
    if (mean.size() != stddev.size() && mean.size() != 1 && stddev.size() != 1)
      return invalid_argument(fmt::format("{}: --normalize gives {} means and {} stds; give one each or one per channel",
                                          what, mean.size(), stddev.size()));
    for (float s : stddev) {
      if (!(std::isfinite(s) && s != 0.0f))
        return invalid_argument(fmt::format("{}: --normalize std {} is not a finite nonzero number", what, s));
    }
    if (n > 1) {
      if (rank < 2) return invalid_argument(fmt::format("{}: per-channel --normalize needs rank >= 2 (channels on axis 1)", what));
      const std::optional<int64_t> c = v->shape()[1].value();
      if (!c)
        return invalid_argument(fmt::format("{}: its channel dim (axis 1) is '{}', not a number; per-channel "
                                            "--normalize needs it static", what, v->shape()[1].to_string()));
      if (*c != static_cast<int64_t>(n))
        return invalid_argument(fmt::format("{}: --normalize gives {} values per list, but the input has {} channels (axis 1)",
                                            what, n, *c));
      if (*c > kMaxInputConvertChannels)
        return invalid_argument(fmt::format("{}: {} channels; per-channel --normalize supports at most {}", what, *c,
                                            kMaxInputConvertChannels));
      p.axis = 1;
    }
    mean.resize(n, mean[0]);
    stddev.resize(n, stddev[0]);
    for (size_t c = 0; c < n; ++c) {
      p.scale.push_back(static_cast<float>(scale / stddev[c]));
      p.bias.push_back(static_cast<float>(-static_cast<double>(mean[c]) / stddev[c]));
    }
    if (normalize) {
      f.mean = r.mean;
      f.stddev = r.stddev;
    }
  } else {
    p.scale = {1.0f};
    p.bias = {0.0f};
  }
  std::optional<Shape> bound_shape;
  if (v->has_shape()) {
    bound_shape = v->shape();
    if (r.channels_last) {
      // Bound [N, spatial..., C]; the model reads [N, C, spatial...]: Y = transpose(X, perm).
      Shape s;
      s.push_back(v->shape()[0]);
      for (int64_t a = 2; a < rank; ++a) s.push_back(v->shape()[static_cast<size_t>(a)]);
      s.push_back(v->shape()[1]);
      bound_shape = std::move(s);
      p.perm = {0, rank - 1};
      for (int64_t a = 1; a < rank - 1; ++a) p.perm.push_back(a);
    }
  }
  if (bound == model && p.is_plain_cast()) {
    if (result) result->lines.push_back(fmt::format("{}: already in the format asked for; unchanged", what));
    return Status::OK();
  }
  const std::string name = v->name();
  Value* in = g.replace_input(v, bound, bound_shape);
  Node* n = g.add_node("InputConvert", free_name(g, name + "/convert"), {in}, 1);
  write_input_convert(n, p);
  n->output(0)->set_dtype(model);
  if (v->has_shape()) n->output(0)->set_shape(v->shape());
  g.replace_all_uses(v, n->output(0));
  SLIMRT_RETURN_IF_ERROR(g.remove_value(v));
  if (result) result->formats[name] = f;
  return Status::OK();
}

Status apply_output(Graph& g, Value* o, const IoFormatRequest& r, IoFormatResult* result) {
  const std::string what = fmt::format("output '{}' ({} {})", o->name(), dtype_name(o->dtype()),
                                       o->has_shape() ? shape_to_string(o->shape()) : std::string("[?]"));
  if (!is_float(o->dtype()))
    return invalid_argument(fmt::format("{}: an output format applies to float outputs only", what));
  if (r.channels_last) return invalid_argument(fmt::format("{}: nhwc applies to inputs; outputs keep the model's layout", what));
  if (r.dtype == DataType::kUInt8)
    return invalid_argument(fmt::format("{}: outputs are given as fp32, fp16 or bf16, not uint8", what));
  if (o->is_graph_input())
    return invalid_argument(fmt::format("{}: it is also a graph input, so its format cannot change", what));
  if (r.dtype == o->dtype() || r.dtype == DataType::kUndefined) {
    if (result) result->lines.push_back(fmt::format("{}: already in the format asked for; unchanged", what));
    return Status::OK();
  }
  const std::string name = o->name();
  IoFormat f;
  f.model_dtype = o->dtype();
  SLIMRT_RETURN_IF_ERROR(g.rename_value(o, free_name(g, name + "/model")));
  Node* cast = g.add_node("Cast", free_name(g, name + "/format"), {o}, 1, {name});
  cast->set_attr("to", static_cast<int64_t>(r.dtype));
  cast->output(0)->set_dtype(r.dtype);
  if (o->has_shape()) cast->output(0)->set_shape(o->shape());
  g.replace_output(o, cast->output(0));
  if (result) result->formats[name] = f;
  return Status::OK();
}

// The one consumer of `v` when it has exactly one reader slot and is not a graph output.
Node* sole_reader(const Value* v) {
  if (v->is_graph_output() || v->consumers().size() != 1) return nullptr;
  Node* n = v->consumers()[0];
  return std::count(n->inputs().begin(), n->inputs().end(), v) == 1 ? n : nullptr;
}

// Removes node `n` (one input `v`, one output) after moving its readers to `v`.
Status bypass(Graph& g, Node* n, Value* v) {
  Value* out = n->output(0);
  g.replace_all_uses(out, v);
  SLIMRT_RETURN_IF_ERROR(g.remove_node(n));
  return g.remove_value(out);
}

// The zeros a Pad appends at the end of each axis, when `n` is a Pad that only appends zeros (mode
// constant, constant pads, value absent or 0, all axes): the layout pass's channel padding.
std::optional<std::vector<int64_t>> zero_pad_at_end(const Node& n, int64_t rank) {
  if (n.op_type() != "Pad" || n.attr_string("mode", "constant") != "constant" || n.num_inputs() < 2) return std::nullopt;
  if (n.num_inputs() > 3 && n.input(3)) return std::nullopt;  // axes
  if (n.num_inputs() > 2 && n.input(2)) {
    const Tensor* v = n.input(2)->constant();
    if (!v || v->numel() != 1 || v->get_as_double(0) != 0.0) return std::nullopt;
  }
  const Tensor* pads = n.input(1) ? n.input(1)->constant() : nullptr;
  if (!pads || pads->numel() != 2 * rank) return std::nullopt;
  std::vector<int64_t> ends;
  for (int64_t a = 0; a < rank; ++a) {
    const auto begin = static_cast<int64_t>(pads->get_as_double(a));
    const auto end = static_cast<int64_t>(pads->get_as_double(rank + a));
    if (begin != 0 || end < 0) return std::nullopt;
    ends.push_back(end);
  }
  return ends;
}

// Merges the Casts, Transposes and zero Pads reading `ic`'s output into it; removes it when it is left a
// plain cast to its input's own dtype. Returns whether the node is gone.
Result<bool> merge_into(Graph& g, Node* ic, PassStats* stats) {
  Value* x = ic->input(0);
  Value* y = ic->output(0);
  SLIMRT_ASSIGN_OR_RETURN(InputConvertParams p, read_input_convert(*ic, x->rank()));
  for (Node* next = sole_reader(y); next != nullptr && next->num_outputs() == 1 && !next->output(0)->is_graph_output();
       next = sole_reader(y)) {
    Value* out = next->output(0);
    if (next->op_type() == "Cast" && is_float(out->dtype())) {
      p.to = out->dtype();
    } else if (const std::optional<std::vector<int64_t>> ends = zero_pad_at_end(*next, y->rank()); ends && !p.pads()) {
      p.pad_end = *ends;
    } else if (next->op_type() == "Transpose" && out->has_shape() && y->has_shape()) {
      std::vector<int64_t> t = next->attr_ints("perm");
      if (t.empty()) {
        for (int64_t k = y->rank(); k-- > 0;) t.push_back(k);
      }
      std::vector<int64_t> merged;
      int64_t axis = -1;
      for (size_t i = 0; i < t.size(); ++i) {
        const int64_t a = t[i] < 0 ? t[i] + y->rank() : t[i];
        merged.push_back(p.perm[static_cast<size_t>(a)]);
        if (a == p.axis) axis = static_cast<int64_t>(i);
      }
      std::vector<int64_t> pads;
      for (int64_t a : t) pads.push_back(p.pad_end[static_cast<size_t>(a < 0 ? a + y->rank() : a)]);
      p.perm = std::move(merged);
      p.pad_end = std::move(pads);
      p.axis = p.axis >= 0 ? axis : -1;
    } else {
      break;
    }
    passes::note(stats, fmt::format("merged {} into {}", next->describe(), ic->describe()));
    y->set_dtype(out->dtype());
    y->set_shape(out->shape());
    SLIMRT_RETURN_IF_ERROR(bypass(g, next, y));
    if (stats) ++stats->nodes_removed;
  }
  write_input_convert(ic, p);
  if (p.is_plain_cast() && p.to == x->dtype() && !y->is_graph_output()) {
    passes::note(stats, fmt::format("removed {}: the input is already what its readers read", ic->describe()));
    SLIMRT_RETURN_IF_ERROR(bypass(g, ic, x));
    if (stats) ++stats->nodes_removed;
    return true;
  }
  return false;
}

std::string readers_text(const Value& v) {
  std::vector<std::string> names;
  for (const Node* n : v.consumers()) names.push_back(n->describe());
  if (names.size() > 3) {
    names.resize(3);
    names.push_back("...");
  }
  return names.empty() ? std::string("nothing") : fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace

Result<std::vector<IoFormatRequest>> parse_io_format_args(const std::vector<std::string>& input_formats,
                                                          const std::vector<std::string>& output_formats,
                                                          const std::vector<std::string>& normalizes) {
  std::vector<IoFormatRequest> out;
  auto find = [&](const std::string& name, IoDirection d) -> IoFormatRequest* {
    for (IoFormatRequest& r : out) {
      if (r.name == name && r.direction == d) return &r;
    }
    return nullptr;
  };
  auto add = [&](const std::string& name, IoDirection d) -> IoFormatRequest& {
    if (IoFormatRequest* r = find(name, d)) return *r;
    out.push_back(IoFormatRequest{});
    out.back().name = name;
    out.back().direction = d;
    return out.back();
  };
  for (const std::string& arg : input_formats) {
    SLIMRT_ASSIGN_OR_RETURN(auto parts, split_name("--input-format", arg, is_format_field));
    if (find(parts.first, IoDirection::kInput) != nullptr)
      return invalid_argument(fmt::format("--input-format '{}': input '{}' is given a format twice", arg, parts.first));
    IoFormatRequest& r = add(parts.first, IoDirection::kInput);
    bool have_dtype = false, have_layout = false;
    for (const std::string& f : parts.second) {
      if (is_layout(f)) {
        if (have_layout) return invalid_argument(fmt::format("--input-format '{}': two layouts", arg));
        have_layout = true;
        r.channels_last = lower(f) == "nhwc";
      } else {
        if (have_dtype) return invalid_argument(fmt::format("--input-format '{}': two dtypes", arg));
        have_dtype = true;
        r.dtype = *format_dtype(f);
      }
    }
  }
  for (const std::string& arg : output_formats) {
    SLIMRT_ASSIGN_OR_RETURN(auto parts, split_name("--output-format", arg, is_format_field));
    if (find(parts.first, IoDirection::kOutput) != nullptr)
      return invalid_argument(fmt::format("--output-format '{}': output '{}' is given a format twice", arg, parts.first));
    IoFormatRequest& r = add(parts.first, IoDirection::kOutput);
    for (const std::string& f : parts.second) {
      if (is_layout(f)) {
        r.channels_last = lower(f) == "nhwc";
      } else {
        r.dtype = *format_dtype(f);
      }
    }
  }
  for (const std::string& arg : normalizes) {
    SLIMRT_ASSIGN_OR_RETURN(auto parts, split_name("--normalize", arg, is_normalize_field));
    IoFormatRequest& r = add(parts.first, IoDirection::kInput);
    if (!r.mean.empty() || r.scale)
      return invalid_argument(fmt::format("--normalize '{}': input '{}' is normalized twice", arg, parts.first));
    for (const std::string& f : parts.second) {
      const size_t eq = f.find('=');
      const std::string key = lower(f.substr(0, eq)), value = f.substr(eq + 1);
      if (key == "scale") {
        SLIMRT_ASSIGN_OR_RETURN(std::vector<float> s, parse_numbers(arg, key, value));
        if (s.size() != 1) return invalid_argument(fmt::format("--normalize '{}': scale= takes one number", arg));
        r.scale = s[0];
      } else {
        SLIMRT_ASSIGN_OR_RETURN(std::vector<float> v, parse_numbers(arg, key, value));
        (key == "mean" ? r.mean : r.stddev) = std::move(v);
      }
    }
    if (r.mean.empty() || r.stddev.empty())
      return invalid_argument(fmt::format("--normalize '{}': give both mean= and std= (scale= is optional)", arg));
  }
  return out;
}

Status apply_io_formats(Graph& g, const std::vector<IoFormatRequest>& requests, IoFormatResult* result) {
  if (requests.empty()) return Status::OK();
  const std::vector<bool> on_host = inputs_read_on_host(g);
  const std::vector<Value*> inputs = g.inputs();
  for (const IoFormatRequest& r : requests) {
    auto names = [&](const std::vector<Value*>& vs) {
      std::vector<std::string> n;
      for (const Value* v : vs) n.push_back(v->name());
      return fmt::format("{}", fmt::join(n, ", "));
    };
    if (r.direction == IoDirection::kInput) {
      auto it = std::find_if(inputs.begin(), inputs.end(), [&](const Value* v) { return v->name() == r.name; });
      if (it == inputs.end())
        return invalid_argument(fmt::format("I/O format for '{}': the model has no input of that name (inputs: {})", r.name,
                                            names(g.inputs())));
      SLIMRT_RETURN_IF_ERROR(apply_input(g, *it, on_host[static_cast<size_t>(it - inputs.begin())], r, result));
    } else {
      const auto& outs = g.outputs();
      auto it = std::find_if(outs.begin(), outs.end(), [&](const Value* v) { return v->name() == r.name; });
      if (it == outs.end())
        return invalid_argument(fmt::format("--output-format for '{}': the model has no output of that name (outputs: {})",
                                            r.name, names(g.outputs())));
      SLIMRT_RETURN_IF_ERROR(apply_output(g, *it, r, result));
    }
  }
  return g.topological_sort();
}

Status finish_io_formats(Graph& g, IoFormatResult* result, PassStats* stats) {
  for (Value* in : g.inputs()) {
    if (in->consumers().size() != 1 || in->consumers()[0]->op_type() != "InputConvert") continue;
    SLIMRT_RETURN_IF_ERROR(merge_into(g, in->consumers()[0], stats).status());
  }
  // Output Casts between equal dtypes (the model's op already computes in the dtype asked for):
  // the producer writes the output itself, under its name.
  for (size_t i = 0; i < g.outputs().size(); ++i) {
    Value* o = g.outputs()[i];
    Node* cast = o->producer();
    if (!result || !result->formats.count(o->name()) || !cast || cast->op_type() != "Cast") continue;
    Value* h = cast->input(0);
    if (h->dtype() != o->dtype() || !h->producer() || h->is_graph_output() || h->is_graph_input() ||
        h->consumers().size() != 1)
      continue;
    const std::string name = o->name();
    passes::note(stats, fmt::format("removed {}: {} already writes {}", cast->describe(), h->producer()->describe(),
                                    dtype_name(o->dtype())));
    g.replace_all_uses(o, h);
    SLIMRT_RETURN_IF_ERROR(g.remove_node(cast));
    SLIMRT_RETURN_IF_ERROR(g.remove_value(o));
    SLIMRT_RETURN_IF_ERROR(g.rename_value(h, name));
    if (stats) ++stats->nodes_removed;
  }
  SLIMRT_RETURN_IF_ERROR(g.topological_sort());
  if (!result) return Status::OK();
  // The report: what reads each formatted input, what writes each formatted output.
  for (const Value* in : g.inputs()) {
    auto f = result->formats.find(in->name());
    if (f == result->formats.end()) continue;
    const std::string bound = f->second.to_string(in->dtype());
    const Node* ic = in->consumers().size() == 1 && in->consumers()[0]->op_type() == "InputConvert" ? in->consumers()[0] : nullptr;
    if (ic) {
      const Value* y = ic->output(0);
      result->lines.push_back(fmt::format(
          "input '{}' ({}): one pass, {} to {} {}, read by {}; the first op cannot read the bound format itself",
          in->name(), bound, ic->describe(), dtype_name(y->dtype()),
          y->has_shape() ? shape_to_string(y->shape()) : std::string("[?]"), readers_text(*y)));
    } else {
      result->lines.push_back(fmt::format("input '{}' ({}): read directly by {}; no conversion pass", in->name(), bound,
                                          readers_text(*in)));
    }
  }
  for (const Value* o : g.outputs()) {
    if (!result->formats.count(o->name())) continue;
    const Node* p = o->producer();
    if (p && p->op_type() == "Cast" && p->input(0) && p->input(0)->dtype() != o->dtype() && p->input(0)->producer()) {
      result->lines.push_back(fmt::format("output '{}' ({}): one Cast pass after {}, which computes in {}", o->name(),
                                          dtype_name(o->dtype()), p->input(0)->producer()->describe(),
                                          dtype_name(p->input(0)->dtype())));
    } else {
      result->lines.push_back(fmt::format("output '{}' ({}): written directly by {}", o->name(), dtype_name(o->dtype()),
                                          p ? p->describe() : std::string("a constant")));
    }
  }
  return Status::OK();
}

}  // namespace slimrt
