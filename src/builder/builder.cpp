// build_engine: import -> passes (hook) -> shape inference -> profiles -> activation plans ->
// write_engine. See slimrt/builder/builder.h.
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "core/log.h"
#include "core/output_file.h"
#include "ir/layout.h"
#include "onnx/onnx_internal.h"
#include "slimrt/builder/builder.h"
#include "slimrt/builder/engine_writer.h"
#include "slimrt/builder/onnx_importer.h"
#include "slimrt/builder/passes.h"
#include "slimrt/builder/precision.h"
#include "slimrt/memory_plan.h"

namespace slimrt {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Graph passes (slimrt/builder/passes.h): constant folding, dead code, Conv+BatchNorm folding, Identity
// removal. Returns whether they ran; their per-pass lines go to the report.
Result<bool> apply_graph_passes(Graph& graph, BuildReport* report) {
  PassReport pr;
  PassOptions po;
  // Folding never materializes a new weight bigger than this (16 MiB of float32): a folded
  // constant lives on the heap until the engine is written, and the build must stay within a
  // bounded RSS whatever the model size. Shape subgraphs are far below it.
  po.max_fold_elements = std::min<int64_t>(po.max_fold_elements, int64_t{4} << 20);
  SLIMRT_RETURN_IF_ERROR(run_passes(graph, po, &pr));
  for (const PassStats& p : pr.passes) {
    report->pass_summary.push_back(
        fmt::format("{}: -{} +{} nodes", p.pass, p.nodes_removed, p.nodes_added));
    SLIMRT_LOG(kVerbose, "build: pass {}", report->pass_summary.back());
  }
  return true;
}

// "VmHWM:    123456 kB" -> bytes; 0 when absent.
uint64_t status_field_bytes(const char* field) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  uint64_t kb = 0;
  const size_t len = std::strlen(field);
  while (std::fgets(line, sizeof(line), f)) {
    if (std::strncmp(line, field, len) == 0 && line[len] == ':') {
      kb = std::strtoull(line + len + 1, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return kb * 1024;
}

// A GPU arch is "sm_" and the compute capability's major and minor digits, as the CUDA runtime
// reports it (sm_75, sm_90, sm_120): a 2- or 3-digit number from 50 (Maxwell, the oldest arch
// CUDA 12 targets) up, without leading zeros.
bool is_gpu_arch(const std::string& t) {
  if (t.rfind("sm_", 0) != 0) return false;
  const std::string digits = t.substr(3);
  if (digits.size() < 2 || digits.size() > 3 || digits[0] == '0' ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return false;
  return std::stoi(digits) >= 50;
}

Status check_options(const BuildOptions& o) {
  if (o.target != "any" && !is_gpu_arch(o.target)) {
    return invalid_argument(fmt::format(
        "--target '{}': expected 'any' or a GPU arch: sm_ and the compute capability from sm_50 up (sm_80, "
        "sm_90, sm_120)",
        o.target));
  }
  return Status::OK();
}

// No GPU holds more than this: a profile whose planned activations need more cannot run anywhere
// and is refused at build time (docs/cli.md). The largest GPUs of 2026 carry 288 GB.
constexpr int64_t kMaxActivationArenaBytes = int64_t{1} << 40;  // 1 TiB

// The build reads `input` (the model, an external data file); the engine must not replace it.
Status refuse_input_as_output(const OutputTarget& out, const std::string& input, const std::string& role) {
  if (!out.id || file_id(input) != out.id) return Status::OK();
  return invalid_argument(fmt::format(
      "the engine path '{}' is {} '{}' (the same file), which the build reads; writing the engine would "
      "destroy it: choose another -o",
      out.path, role, input));
}

Result<EngineMemoryPlan> to_engine_plan(const Graph& graph, const ActivationPlan& plan) {
  // The engine numbers values in Graph::values() order.
  const std::vector<Value*> values = graph.values();
  std::vector<uint32_t> index(graph.value_id_bound(), 0);
  for (size_t i = 0; i < values.size(); ++i) index[values[i]->id()] = static_cast<uint32_t>(i);
  EngineMemoryPlan out;
  out.arena_bytes = static_cast<uint64_t>(plan.arena_bytes);
  out.buffers.reserve(plan.buffers.size());
  for (const ActivationBuffer& b : plan.buffers) {
    const Value* v = graph.find_value(b.value);
    if (!v) return internal_error("activation plan names unknown value '" + b.value + "'");
    out.buffers.push_back({index[v->id()], static_cast<uint64_t>(b.offset), static_cast<uint64_t>(b.size)});
  }
  return out;
}

}  // namespace

uint64_t process_peak_rss_bytes() { return status_field_bytes("VmHWM"); }
uint64_t process_rss_bytes() { return status_field_bytes("VmRSS"); }

Status build_engine(const std::string& onnx_path, const BuildOptions& options, const std::string& engine_path,
                    BuildReport* report) {
  const auto t_start = Clock::now();
  BuildReport local;
  BuildReport& r = report ? *report : local;
  r = BuildReport{};
  r.model = onnx_path;
  r.engine = engine_path;
  r.precision = options.precision;
  r.tf32 = options.tf32;
  r.target = options.target;
  r.rss_before_bytes = process_rss_bytes();
  auto progress = [&](std::string_view stage, double f) {
    if (options.progress) options.progress(stage, f);
  };
  SLIMRT_RETURN_IF_ERROR(check_options(options));
  // The output is checked and its temporary created first, so a bad -o fails before any work and
  // the model (or its data) can never be replaced by the engine (core/output_file.h).
  SLIMRT_ASSIGN_OR_RETURN(OutputFile out, OutputFile::create(engine_path, "engine"));
  SLIMRT_RETURN_IF_ERROR(refuse_input_as_output(out.target(), onnx_path, "the model"));

  progress("import", 0.0);
  auto t0 = Clock::now();
  ImportOptions import_options;
  std::vector<std::string> external_files;
  import_options.external_files = &external_files;
  SLIMRT_ASSIGN_OR_RETURN(Graph graph, import_onnx_file(onnx_path, import_options));
  for (const std::string& f : external_files)
    SLIMRT_RETURN_IF_ERROR(refuse_input_as_output(out.target(), f, "the external data file"));
  r.import_ms = ms_since(t0);
  r.nodes_imported = static_cast<int64_t>(graph.num_nodes());
  SLIMRT_LOG(kVerbose, "build: imported '{}': {} nodes, {} external data files ({:.1f} ms)", onnx_path,
             r.nodes_imported, external_files.size(), r.import_ms);

  IoFormatResult io;
  SLIMRT_RETURN_IF_ERROR(apply_io_formats(graph, options.io_formats, &io));

  progress("passes", 0.2);
  t0 = Clock::now();
  if (options.run_passes) {
    // run_passes ends with a topological sort and shape inference: nothing to redo here.
    SLIMRT_ASSIGN_OR_RETURN(r.passes_run, apply_graph_passes(graph, &r));
  }
  r.passes_ms = ms_since(t0);

  if (options.precision != Precision::kFp32) {
    progress("precision", 0.3);
    t0 = Clock::now();
    PrecisionReport pr;
    PrecisionOptions po;
    po.eager_weight_bytes = 0;  // every converted weight streams through the writer
    po.tanh_gelu = !options.exact_gelu;
    SLIMRT_RETURN_IF_ERROR(convert_precision(graph, options.precision, po, &pr));
    r.half_nodes = pr.half_nodes;
    r.float_nodes = pr.float_nodes;
    r.any_nodes = pr.any_nodes;
    r.casts_inserted = pr.casts_inserted;
    for (std::string& line : pr.lines) {
      SLIMRT_LOG(kInfo, "build: {}", line);
      r.warnings.push_back(std::move(line));
    }
    SLIMRT_LOG(kVerbose, "build: precision {}: {} nodes in half, {} in fp32, {} following their inputs, {} casts",
               precision_name(options.precision), r.half_nodes, r.float_nodes, r.any_nodes, r.casts_inserted);
    if (options.run_passes && options.channels_last) {
      PassStats ls;
      SLIMRT_RETURN_IF_ERROR(convert_to_channels_last(graph, &ls));
      r.pass_summary.push_back(fmt::format("channels_last: -{} +{} nodes", ls.nodes_removed, ls.nodes_added));
      for (const Node* n : graph.nodes()) r.channels_last_nodes += is_channels_last(*n) ? 1 : 0;
      r.layout_lines = std::move(ls.lines);
    }
    r.precision_ms = ms_since(t0);
  }
  if (!options.io_formats.empty()) {
    PassStats fs;
    SLIMRT_RETURN_IF_ERROR(finish_io_formats(graph, &io, &fs).with_context("I/O formats"));
    r.pass_summary.push_back(fmt::format("io_formats: -{} nodes", fs.nodes_removed));
    for (const std::string& line : io.lines) SLIMRT_LOG(kInfo, "build: {}", line);
    r.io_lines = std::move(io.lines);
  }
  r.layers = static_cast<int64_t>(graph.num_nodes());
  for (const Node* n : graph.nodes()) ++r.op_counts[n->op_type()];

  progress("plan", 0.4);
  t0 = Clock::now();
  std::vector<OptimizationProfile> profiles = options.profiles;
  auto bindings = resolve_profiles(graph, &profiles, &r.profile_choices);
  // What was chosen is logged also when the build then fails on it.
  for (const std::string& note : r.profile_choices.notes) SLIMRT_LOG(kInfo, "build: {}", note);
  if (!bindings.ok()) {
    std::string hint;
    for (const auto& [name, f] : io.formats) {
      if (f.channels_last) hint += fmt::format("; input '{}' is bound channels-last (--input-format): give its shapes as N x H x W x C", name);
    }
    return hint.empty() ? bindings.status() : Status(bindings.status().code(), bindings.status().message() + hint);
  }
  EngineOptions eo;
  eo.precision = options.precision;
  eo.tf32 = options.tf32;
  eo.target = options.target;
  eo.chunk_size = options.chunk_size;
  eo.io_formats = io.formats;
  for (size_t k = 0; k < profiles.size(); ++k) {
    Result<ActivationPlan> plan = plan_profile_activations(graph, profiles[k], (*bindings)[k]);
    if (!plan.ok()) return plan.status().with_context(fmt::format("profile {}", k));
    if (plan->arena_bytes > kMaxActivationArenaBytes) {
      return invalid_argument(fmt::format(
          "profile {} ({}): the activations planned at its max shapes need {} bytes ({:.0f} GiB), more than "
          "any GPU holds (the limit is {} bytes, 1 TiB); lower the --max shapes",
          k, profile_ranges_to_string(profiles[k]), plan->arena_bytes,
          static_cast<double>(plan->arena_bytes) / double(int64_t{1} << 30), kMaxActivationArenaBytes));
    }
    SLIMRT_ASSIGN_OR_RETURN(EngineMemoryPlan ep, to_engine_plan(graph, *plan));
    eo.memory_plans.push_back(std::move(ep));
    ProfileMemoryReport m;
    m.symbols = (*bindings)[k];
    m.planned_bytes = plan->arena_bytes;
    m.lower_bound_bytes = plan->lower_bound_bytes;
    m.sum_bytes = plan->sum_bytes;
    m.num_buffers = static_cast<int32_t>(plan->buffers.size());
    m.num_in_place = plan->num_in_place;
    SLIMRT_LOG(kVerbose, "build: profile {} ({}): activation arena {} bytes (lower bound {}, sum {}), {} buffers",
               k, profile_ranges_to_string(profiles[k]), m.planned_bytes, m.lower_bound_bytes, m.sum_bytes,
               m.num_buffers);
    r.memory.push_back(std::move(m));
  }
  eo.profiles = profiles;
  r.profiles = std::move(profiles);
  r.plan_ms = ms_since(t0);

  for (const Value* v : graph.values()) {
    const Tensor* c = v->constant();
    // An unused initializer survives only with --no-passes; it is written but not counted.
    if (c != nullptr && (!v->consumers().empty() || v->is_graph_output())) {
      ++r.num_weights;
      r.weight_bytes += static_cast<uint64_t>(c->numel()) * dtype_size(v->dtype());  // as written
    }
  }
  for (const Node* n : graph.nodes()) {
    for (const auto& [name, a] : n->attributes()) {
      if (const Tensor* t = std::get_if<Tensor>(&a)) {
        ++r.num_weights;
        r.weight_bytes += t->bytes();
      }
    }
  }

  progress("write", 0.6);
  t0 = Clock::now();
  EngineWriteHooks hooks;
  hooks.release_source = [](const void* data, uint64_t bytes) { onnx_import::release_mapped_pages(data, bytes); };
  EngineWriteStats ws;
  Status written = write_engine(graph, eo, out.stream(), hooks, &ws);
  if (!written.ok()) return out.failure(written);
  SLIMRT_RETURN_IF_ERROR(out.commit());
  r.write_ms = ms_since(t0);
  r.weights_converted = static_cast<int64_t>(ws.weights_converted);
  for (const auto& [name, count] : ws.clamped) {
    r.warnings.push_back(fmt::format("weight '{}': {} values beyond the {} range clamped to its largest finite value",
                                     name, count, precision_name(options.precision)));
    SLIMRT_LOG(kInfo, "build: {}", r.warnings.back());
  }
  SLIMRT_ASSIGN_OR_RETURN(auto reader, open_file_reader(engine_path));
  SLIMRT_ASSIGN_OR_RETURN(EngineHeader h, parse_engine_header(*reader));
  r.weights_region_bytes = h.weights_size;
  r.engine_bytes = h.file_size;
  progress("done", 1.0);
  r.total_ms = ms_since(t_start);
  r.peak_rss_bytes = process_peak_rss_bytes();
  SLIMRT_LOG(kInfo, "build: wrote '{}' ({} bytes: {} layers, {} weights in {} bytes) in {:.1f} ms", engine_path,
             r.engine_bytes, r.layers, r.num_weights, r.weights_region_bytes, r.total_ms);
  return Status::OK();
}

}  // namespace slimrt
