// build_engine: import -> passes (hook) -> shape inference -> profiles -> activation plans ->
// write_engine. See slimrt/builder.h.
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "slimrt/builder.h"
#include "slimrt/memory_plan.h"
#include "slimrt/onnx_importer.h"
#include "ir/layout.h"
#include "slimrt/passes.h"
#include "slimrt/precision.h"
#include "onnx/onnx_internal.h"

namespace slimrt {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Graph passes (slimrt/passes.h): constant folding, dead code, Conv+BatchNorm folding, Identity
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

Status check_options(const BuildOptions& o) {
  const bool arch = o.target.size() > 3 && o.target.size() <= 15 && o.target.rfind("sm_", 0) == 0 &&
                    o.target.find_first_not_of("0123456789", 3) == std::string::npos;
  if (o.target != "any" && !arch) {
    return invalid_argument(fmt::format("--target '{}': expected 'any' or a GPU arch like sm_90", o.target));
  }
  return Status::OK();
}

Result<EngineMemoryPlan> to_engine_plan(const Graph& graph, const ActivationPlan& plan) {
  std::map<std::string, uint32_t> index;
  const std::vector<Value*> values = graph.values();
  for (size_t i = 0; i < values.size(); ++i) index.emplace(values[i]->name(), static_cast<uint32_t>(i));
  EngineMemoryPlan out;
  out.arena_bytes = static_cast<uint64_t>(plan.arena_bytes);
  for (const ActivationBuffer& b : plan.buffers) {
    auto it = index.find(b.value);
    if (it == index.end()) return internal_error("activation plan names unknown value '" + b.value + "'");
    out.buffers.push_back({it->second, static_cast<uint64_t>(b.offset), static_cast<uint64_t>(b.size)});
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

  progress("import", 0.0);
  auto t0 = Clock::now();
  SLIMRT_ASSIGN_OR_RETURN(Graph graph, import_onnx_file(onnx_path));
  r.import_ms = ms_since(t0);
  r.nodes_imported = static_cast<int64_t>(graph.num_nodes());

  progress("passes", 0.2);
  t0 = Clock::now();
  if (options.run_passes) {
    SLIMRT_ASSIGN_OR_RETURN(r.passes_run, apply_graph_passes(graph, &r));
    if (r.passes_run) SLIMRT_RETURN_IF_ERROR(infer_shapes(graph));
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
    for (std::string& line : pr.lines) r.warnings.push_back(std::move(line));
    if (options.run_passes && options.channels_last) {
      PassStats ls;
      SLIMRT_RETURN_IF_ERROR(convert_to_channels_last(graph, &ls));
      r.pass_summary.push_back(fmt::format("channels_last: -{} +{} nodes", ls.nodes_removed, ls.nodes_added));
      for (const Node* n : graph.nodes()) r.channels_last_nodes += is_channels_last(*n) ? 1 : 0;
      r.layout_lines = std::move(ls.lines);
    }
    r.precision_ms = ms_since(t0);
  }
  r.layers = static_cast<int64_t>(graph.num_nodes());
  for (const Node* n : graph.nodes()) ++r.op_counts[n->op_type()];

  progress("plan", 0.4);
  t0 = Clock::now();
  std::vector<OptimizationProfile> profiles = options.profiles;
  SLIMRT_ASSIGN_OR_RETURN(auto bindings, resolve_profiles(graph, &profiles, &r.profile_choices));
  EngineOptions eo;
  eo.precision = options.precision;
  eo.tf32 = options.tf32;
  eo.target = options.target;
  eo.chunk_size = options.chunk_size;
  for (size_t k = 0; k < profiles.size(); ++k) {
    Result<ActivationPlan> plan = plan_profile_activations(graph, profiles[k], bindings[k]);
    if (!plan.ok()) return plan.status().with_context(fmt::format("profile {}", k));
    SLIMRT_ASSIGN_OR_RETURN(EngineMemoryPlan ep, to_engine_plan(graph, *plan));
    eo.memory_plans.push_back(std::move(ep));
    ProfileMemoryReport m;
    m.symbols = bindings[k];
    m.planned_bytes = plan->arena_bytes;
    m.lower_bound_bytes = plan->lower_bound_bytes;
    m.sum_bytes = plan->sum_bytes;
    m.num_buffers = static_cast<int32_t>(plan->buffers.size());
    m.num_in_place = plan->num_in_place;
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
  SLIMRT_RETURN_IF_ERROR(write_engine(graph, eo, engine_path, hooks, &ws));
  r.write_ms = ms_since(t0);
  r.weights_converted = static_cast<int64_t>(ws.weights_converted);
  for (const auto& [name, count] : ws.clamped) {
    r.warnings.push_back(fmt::format("weight '{}': {} values beyond the {} range clamped to its largest finite value",
                                     name, count, precision_name(options.precision)));
  }
  SLIMRT_ASSIGN_OR_RETURN(auto reader, open_file_reader(engine_path));
  SLIMRT_ASSIGN_OR_RETURN(EngineHeader h, parse_engine_header(*reader));
  r.weights_region_bytes = h.weights_size;
  r.engine_bytes = h.file_size;
  progress("done", 1.0);
  r.total_ms = ms_since(t_start);
  r.peak_rss_bytes = process_peak_rss_bytes();
  return Status::OK();
}

}  // namespace slimrt
