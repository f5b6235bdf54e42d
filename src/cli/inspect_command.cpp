// `slimrt inspect MODEL.engine [--json]`: header, bindings and profiles, layers, memory plans,
// weights, and a full checksum verification (a corrupt engine exits 2 with the parser's message).
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "slimrt/engine_format.h"

namespace slimrt::cli {

namespace {

std::string dims_text(const std::vector<int64_t>& d) { return d.empty() ? "scalar" : fmt::format("{}", fmt::join(d, "x")); }

std::string value_shape(const EngineValue& v) { return v.shape ? shape_to_string(*v.shape) : "?"; }

std::string mib(uint64_t bytes) { return fmt::format("{:.3f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0)); }

nlohmann::json info_json(const EngineInfo& info, int max_layers) {
  const EngineHeader& h = info.header;
  nlohmann::json j;
  j["header"] = {{"magic", std::string(kEngineMagic, sizeof(kEngineMagic))},
                 {"format_version", fmt::format("{}.{}", h.format_major, h.format_minor)},
                 {"slimrt_version", fmt::format("{}.{}.{}", h.slimrt_major, h.slimrt_minor, h.slimrt_patch)},
                 {"target", h.target},
                 {"precision", std::string(precision_name(h.precision))},
                 {"tf32", h.tf32},
                 {"file_size", h.file_size},
                 {"metadata_offset", h.metadata_offset},
                 {"metadata_size", h.metadata_size},
                 {"weights_offset", h.weights_offset},
                 {"weights_size", h.weights_size},
                 {"chunk_size", h.chunk_size},
                 {"num_chunks", h.num_chunks}};
  j["graph"] = {{"name", info.graph_name}, {"source_opset", info.source_opset}};
  auto binding = [&](int32_t idx) {
    const EngineValue& v = info.values[static_cast<size_t>(idx)];
    nlohmann::json b{{"name", v.name}, {"dtype", dtype_name(v.dtype)}, {"shape", value_shape(v)}};
    if (auto f = info.options.io_formats.find(v.name); f != info.options.io_formats.end()) {
      b["format"] = {{"model_dtype", dtype_name(f->second.model_dtype)},
                     {"channels_last", f->second.channels_last},
                     {"scale", f->second.scale},
                     {"mean", f->second.mean},
                     {"std", f->second.stddev},
                     {"text", f->second.to_string(v.dtype)}};
    }
    return b;
  };
  j["inputs"] = nlohmann::json::array();
  for (int32_t i : info.inputs) j["inputs"].push_back(binding(i));
  j["outputs"] = nlohmann::json::array();
  for (int32_t i : info.outputs) j["outputs"].push_back(binding(i));
  j["profiles"] = nlohmann::json::array();
  for (size_t k = 0; k < info.options.profiles.size(); ++k) {
    nlohmann::json p;
    p["inputs"] = nlohmann::json::array();
    for (const InputProfile& ip : info.options.profiles[k].inputs)
      p["inputs"].push_back({{"name", ip.name}, {"min", ip.min}, {"opt", ip.opt}, {"max", ip.max}});
    if (k < info.options.memory_plans.size()) {
      const EngineMemoryPlan& m = info.options.memory_plans[k];
      p["memory_plan"] = {{"arena_bytes", m.arena_bytes}, {"buffers", m.buffers.size()}};
    }
    j["profiles"].push_back(p);
  }
  std::map<std::string, int64_t> counts;
  for (const EngineNode& n : info.nodes) ++counts[n.op_type];
  j["layers"] = {{"count", info.nodes.size()}, {"op_counts", counts}, {"nodes", nlohmann::json::array()}};
  for (size_t i = 0; i < info.nodes.size() && static_cast<int>(i) < max_layers; ++i) {
    const EngineNode& n = info.nodes[i];
    std::vector<std::string> ins, outs;
    for (int32_t v : n.inputs) ins.push_back(v < 0 ? "" : info.values[static_cast<size_t>(v)].name);
    for (int32_t v : n.outputs) outs.push_back(info.values[static_cast<size_t>(v)].name);
    j["layers"]["nodes"].push_back({{"name", n.name}, {"op_type", n.op_type}, {"inputs", ins}, {"outputs", outs}});
  }
  uint64_t bytes = 0;
  for (const EngineWeight& w : info.weights) bytes += w.size;
  j["weights"] = {{"count", info.weights.size()}, {"bytes", bytes}, {"region_bytes", h.weights_size}};
  j["checksums"] = "OK";
  return j;
}

void print_info(const EngineInfo& info, int max_layers) {
  const EngineHeader& h = info.header;
  fmt::print("header     magic SLIMRTEN, format {}.{}, slimrt {}.{}.{}, target {}, precision {}{}\n", h.format_major,
             h.format_minor, h.slimrt_major, h.slimrt_minor, h.slimrt_patch, h.target, precision_name(h.precision),
             h.tf32 ? " (tf32 on)" : "");
  fmt::print("sizes      file {} bytes; metadata {} bytes at {}; weights {} bytes at {} ({} chunks of {})\n",
             h.file_size, h.metadata_size, h.metadata_offset, h.weights_size, h.weights_offset, h.num_chunks,
             h.chunk_size);
  fmt::print("graph      '{}' (from ONNX opset {})\n", info.graph_name, info.source_opset);
  auto print_binding = [&](const char* kind, int32_t i) {
    const EngineValue& v = info.values[static_cast<size_t>(i)];
    fmt::print("{:<10} {} {} {}\n", kind, v.name, dtype_name(v.dtype), value_shape(v));
    if (auto f = info.options.io_formats.find(v.name); f != info.options.io_formats.end())
      fmt::print("  format   {}\n", f->second.to_string(v.dtype));
  };
  for (int32_t i : info.inputs) print_binding("input", i);
  for (int32_t i : info.outputs) print_binding("output", i);
  for (size_t k = 0; k < info.options.profiles.size(); ++k) {
    fmt::print("profile {}\n", k);
    for (const InputProfile& ip : info.options.profiles[k].inputs)
      fmt::print("  {:<12} min {}  opt {}  max {}\n", ip.name, dims_text(ip.min), dims_text(ip.opt), dims_text(ip.max));
    if (k < info.options.memory_plans.size()) {
      const EngineMemoryPlan& m = info.options.memory_plans[k];
      fmt::print("  memory plan: arena {} ({} bytes), {} buffers\n", mib(m.arena_bytes), m.arena_bytes, m.buffers.size());
    }
  }
  std::map<std::string, int64_t> counts;
  for (const EngineNode& n : info.nodes) ++counts[n.op_type];
  std::vector<std::string> ops;
  for (const auto& [op, c] : counts) ops.push_back(fmt::format("{} {}", op, c));
  fmt::print("layers     {}: {}\n", info.nodes.size(), fmt::join(ops, ", "));
  for (size_t i = 0; i < info.nodes.size() && static_cast<int>(i) < max_layers; ++i) {
    const EngineNode& n = info.nodes[i];
    std::vector<std::string> ins, outs;
    for (int32_t v : n.inputs) ins.push_back(v < 0 ? "-" : info.values[static_cast<size_t>(v)].name);
    for (int32_t v : n.outputs) outs.push_back(info.values[static_cast<size_t>(v)].name);
    fmt::print("  {:>4} {:<18} {} ({}) -> {}\n", i, n.op_type, n.name, fmt::join(ins, ", "), fmt::join(outs, ", "));
  }
  if (static_cast<int>(info.nodes.size()) > max_layers)
    fmt::print("  ... {} more (--layers N)\n", info.nodes.size() - static_cast<size_t>(max_layers));
  uint64_t bytes = 0;
  for (const EngineWeight& w : info.weights) bytes += w.size;
  fmt::print("weights    {} tensors, {} ({} bytes; region {} bytes)\n", info.weights.size(), mib(bytes), bytes,
             h.weights_size);
  fmt::print("checksums  OK (header, metadata, {} weights chunks)\n", h.num_chunks);
}

Status execute(const InspectOptions& o) {
  // Any count is fine (more than the engine has lists them all); the listing takes an int.
  SLIMRT_ASSIGN_OR_RETURN(const int64_t layers, parse_int_option("--layers", o.layers, 0, std::numeric_limits<int64_t>::max()));
  const int max_layers = static_cast<int>(std::min<int64_t>(layers, std::numeric_limits<int>::max()));
  std::error_code ec;
  if (std::filesystem::is_directory(o.engine, ec))
    return invalid_argument(fmt::format("'{}' is a directory, not an engine file", o.engine));
  SLIMRT_ASSIGN_OR_RETURN(auto reader, open_file_reader(o.engine));
  SLIMRT_ASSIGN_OR_RETURN(EngineInfo info, verify_engine(*reader));
  if (o.json) {
    fmt::print("{}\n", info_json(info, max_layers).dump(2));
  } else {
    print_info(info, max_layers);
  }
  return Status::OK();
}

}  // namespace

void add_inspect_command(CLI::App& app, InspectOptions& opts, int& exit_code) {
  CLI::App* c = app.add_subcommand("inspect", "Describe an engine file and verify its checksums");
  c->add_option("engine", opts.engine, "Engine file (from slimrt build)")->required();
  c->add_option("--layers", opts.layers, "How many nodes to list (0 or more)")->default_val("20");
  c->add_flag("--json", opts.json, "Print machine-readable output");
  c->footer("A corrupt or truncated engine is reported with the section and offset, and exits 2.\n"
            "Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad input.");
  c->callback([&opts, &exit_code] {
    Status s = execute(opts);
    exit_code = s.ok() ? kExitOk : report_error(s);
  });
}

}  // namespace slimrt::cli
