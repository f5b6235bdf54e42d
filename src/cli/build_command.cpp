// `slimrt build MODEL.onnx -o MODEL.engine`: the builder pipeline, its report and progress bar.
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/verbosity.h"
#include "slimrt/builder/builder.h"

namespace slimrt::cli {

namespace {

std::string mib(uint64_t bytes) { return fmt::format("{:.3f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0)); }

std::string dims_text(const std::vector<int64_t>& d) { return d.empty() ? "scalar" : fmt::format("{}", fmt::join(d, "x")); }

nlohmann::json report_json(const BuildReport& r) {
  nlohmann::json j;
  j["model"] = r.model;
  j["engine"] = r.engine;
  j["precision"] = std::string(precision_name(r.precision));
  j["tf32"] = r.tf32;
  j["target"] = r.target;
  j["passes_run"] = r.passes_run;
  j["passes"] = r.pass_summary;
  j["nodes_imported"] = r.nodes_imported;
  j["layers"] = r.layers;
  j["op_counts"] = r.op_counts;
  j["weights"] = {{"count", r.num_weights}, {"bytes", r.weight_bytes}, {"region_bytes", r.weights_region_bytes}};
  j["engine_bytes"] = r.engine_bytes;
  j["precision_nodes"] = {{"half", r.half_nodes}, {"float", r.float_nodes}, {"any", r.any_nodes},
                          {"casts_inserted", r.casts_inserted}, {"weights_converted", r.weights_converted}};
  j["channels_last"] = {{"nodes", r.channels_last_nodes}, {"decisions", r.layout_lines}};
  j["io_formats"] = r.io_lines;
  j["warnings"] = r.warnings;
  j["notes"] = r.profile_choices.notes;
  j["default_profile"] = !r.profile_choices.notes.empty();
  j["peak_rss_bytes"] = r.peak_rss_bytes;
  j["rss_before_bytes"] = r.rss_before_bytes;
  j["profiles"] = nlohmann::json::array();
  for (size_t k = 0; k < r.profiles.size(); ++k) {
    nlohmann::json p;
    p["inputs"] = nlohmann::json::array();
    const auto* chosen = k < r.profile_choices.chosen.size() ? &r.profile_choices.chosen[k] : nullptr;
    for (const InputProfile& ip : r.profiles[k].inputs) {
      nlohmann::json in = {{"name", ip.name}, {"min", ip.min}, {"opt", ip.opt}, {"max", ip.max}};
      in["chosen"] = nlohmann::json::array();  // the lists slimrt chose for this input
      if (chosen) {
        if (auto c = chosen->find(ip.name); c != chosen->end()) in["chosen"] = c->second;
      }
      p["inputs"].push_back(std::move(in));
    }
    const ProfileMemoryReport& m = r.memory[k];
    p["symbols"] = m.symbols;
    p["activation_bytes"] = {{"planned", m.planned_bytes}, {"lower_bound", m.lower_bound_bytes}, {"sum", m.sum_bytes},
                             {"buffers", m.num_buffers}, {"in_place", m.num_in_place}};
    j["profiles"].push_back(p);
  }
  j["timing_ms"] = {{"import", r.import_ms}, {"passes", r.passes_ms}, {"precision", r.precision_ms}, {"plan", r.plan_ms},
                    {"write", r.write_ms}, {"total", r.total_ms}};
  return j;
}

void print_report(const BuildReport& r) {
  fmt::print("engine     {} ({})\n", r.engine, mib(r.engine_bytes));
  fmt::print("model      {}\n", r.model);
  fmt::print("precision  {}{}   target {}\n", precision_name(r.precision), r.tf32 ? " (tf32 on)" : "", r.target);
  fmt::print("layers     {} ({} imported; passes {})\n", r.layers, r.nodes_imported,
             r.passes_run ? "run" : "skipped");
  for (const std::string& line : r.pass_summary) fmt::print("  pass     {}\n", line);
  if (r.precision != Precision::kFp32) {
    fmt::print("  precision {} nodes in {}, {} in fp32, {} following their inputs; {} casts inserted; "
               "{} weights converted\n",
               r.half_nodes, precision_name(r.precision), r.float_nodes, r.any_nodes, r.casts_inserted,
               r.weights_converted);
  }
  if (r.channels_last_nodes > 0 || !r.layout_lines.empty()) {
    fmt::print("  layout   {} nodes channels-last (NHWC)\n", r.channels_last_nodes);
    for (const std::string& line : r.layout_lines) {
      if (line.rfind("region", 0) == 0) fmt::print("           {}\n", line);
    }
  }
  for (const std::string& line : r.io_lines) fmt::print("  io       {}\n", line);
  for (const std::string& w : r.warnings) fmt::print("warning    {}\n", w);
  std::vector<std::string> ops;
  for (const auto& [op, n] : r.op_counts) ops.push_back(fmt::format("{} {}", op, n));
  fmt::print("ops        {}\n", fmt::join(ops, ", "));
  fmt::print("weights    {} tensors, {} ({} region)\n", r.num_weights, mib(r.weight_bytes), mib(r.weights_region_bytes));
  fmt::print("\n{:<8} {:>14} {:>14} {:>14} {:>8} {:>8}  {}\n", "profile", "planned", "lower bound", "sum", "ratio",
             "in-place", "shapes (min .. max)");
  for (size_t k = 0; k < r.memory.size(); ++k) {
    const ProfileMemoryReport& m = r.memory[k];
    const double ratio = m.lower_bound_bytes ? static_cast<double>(m.planned_bytes) / static_cast<double>(m.lower_bound_bytes) : 1.0;
    std::vector<std::string> shapes;
    for (const InputProfile& ip : r.profiles[k].inputs)
      shapes.push_back(fmt::format("{} {}..{}", ip.name, dims_text(ip.min), dims_text(ip.max)));
    fmt::print("{:<8} {:>14} {:>14} {:>14} {:>8.3f} {:>8}  {}\n", k, mib(static_cast<uint64_t>(m.planned_bytes)),
               mib(static_cast<uint64_t>(m.lower_bound_bytes)), mib(static_cast<uint64_t>(m.sum_bytes)), ratio,
               m.num_in_place, fmt::join(shapes, ", "));
  }
  fmt::print("\ntiming     import {:.1f} ms, passes {:.1f} ms, precision {:.1f} ms, plan {:.1f} ms, write {:.1f} ms, "
             "total {:.1f} ms\n",
             r.import_ms, r.passes_ms, r.precision_ms, r.plan_ms, r.write_ms, r.total_ms);
  fmt::print("memory     peak RSS {} (VmHWM), {} when the build started\n", mib(r.peak_rss_bytes),
             mib(r.rss_before_bytes));
}

// A one-line bar redrawn with '\r' on stderr; only used when stderr is a terminal.
void draw_progress(std::string_view stage, double fraction) {
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(fraction * kWidth + 0.5);
  fmt::print(stderr, "\r[{}{}] {:3.0f}% {:<8}", std::string(static_cast<size_t>(filled), '#'),
             std::string(static_cast<size_t>(kWidth - filled), ' '), fraction * 100.0, stage);
  if (fraction >= 1.0) fmt::print(stderr, "\n");
  std::fflush(stderr);
}

Status execute(const BuildCommandOptions& o) {
  BuildOptions bo;
  const int precisions = int(o.fp32) + int(o.fp16) + int(o.bf16);
  if (precisions > 1) return invalid_argument("--fp32, --fp16 and --bf16 are exclusive");
  bo.precision = o.fp16 ? Precision::kFp16 : o.bf16 ? Precision::kBf16 : Precision::kFp32;
  bo.tf32 = o.tf32;
  bo.target = o.target;
  bo.run_passes = !o.no_passes;
  bo.channels_last = !o.no_channels_last;
  bo.exact_gelu = o.exact_gelu;
  SLIMRT_ASSIGN_OR_RETURN(bo.profiles, parse_profile_args(o.mins, o.opts, o.maxs));
  SLIMRT_ASSIGN_OR_RETURN(bo.io_formats, parse_io_format_args(o.input_formats, o.output_formats, o.normalizes));
  if (isatty(STDERR_FILENO) && verbosity() != Verbosity::kQuiet) bo.progress = draw_progress;
  std::string out = o.output;
  if (o.output_given && out.empty())
    return invalid_argument("-o/--output is empty: give the engine file to write (without -o the engine is MODEL with .engine)");
  if (!o.output_given) {
    const size_t dot = o.model.rfind('.');
    const size_t slash = o.model.rfind('/');
    out = (dot != std::string::npos && (slash == std::string::npos || dot > slash) ? o.model.substr(0, dot) : o.model) + ".engine";
  }
  BuildReport report;
  const Status built = build_engine(o.model, bo, out, &report);
  // The shapes slimrt chose, also when the build then fails on them (with --verbose the
  // builder's log has already said so).
  if (verbosity() != Verbosity::kVerbose) {
    for (const std::string& n : report.profile_choices.notes) print_note(n);
  }
  SLIMRT_RETURN_IF_ERROR(built);
  if (o.json) {
    fmt::print("{}\n", report_json(report).dump(2));
  } else {
    print_report(report);
  }
  return Status::OK();
}

}  // namespace

void add_build_command(CLI::App& app, BuildCommandOptions& opts, int& exit_code) {
  CLI::App* b = app.add_subcommand("build", "Build an engine file from an ONNX model");
  b->add_option("model", opts.model, "ONNX model (.onnx)")->required();
  b->add_option("-o,--output", opts.output, "Engine file to write (default: MODEL with .engine)");
  b->add_flag("--fp32", opts.fp32, "FP32 weights and activations (the default)");
  b->add_flag("--fp16", opts.fp16, "FP16 engine: half weights and activations where the per-op table allows (docs/precision.md)");
  b->add_flag("--bf16", opts.bf16, "BF16 engine: as --fp16 with bfloat16");
  b->add_flag("--exact-gelu", opts.exact_gelu,
              "fp16/bf16: keep the erf GELU after a MatMul (default: the tanh form, fused into the GEMM; docs/precision.md)");
  b->add_flag("--tf32", opts.tf32, "Allow TF32 tensor-core math for fp32 GEMM/conv (recorded in the engine)");
  b->add_option("--target", opts.target, "GPU arch the engine is for (sm_90, ...) or 'any'")->default_val("any");
  b->add_option("--min", opts.mins, "NAME:DIMS smallest shape of a dynamic input (repeat per profile)");
  b->add_option("--opt", opts.opts, "NAME:DIMS shape to optimize for (repeat per profile)");
  b->add_option("--max", opts.maxs, "NAME:DIMS largest shape; activations are planned at it (repeat per profile)");
  b->add_option("--input-format", opts.input_formats,
                "NAME:DTYPE[:nhwc] bind a float input as fp32|fp16|bf16|uint8, channels last with nhwc; the engine "
                "converts it on the GPU (repeat per input)");
  b->add_option("--output-format", opts.output_formats, "NAME:DTYPE give a float output as fp32|fp16|bf16");
  b->add_option("--normalize", opts.normalizes,
                "NAME:mean=M,..:std=S,..[:scale=K] the model reads (x*K - mean)/std per channel; K is 1/255 for uint8 "
                "inputs, else 1");
  b->add_flag("--no-passes", opts.no_passes, "Skip the graph passes");
  b->add_flag("--no-channels-last", opts.no_channels_last,
              "Keep fp16/bf16 convolutions NCHW (default: NHWC regions where tensor cores want them)");
  b->add_flag("--json", opts.json, "Print the build report as JSON");
  b->footer("Profiles: the i-th --min, --opt and --max given for an input form its shapes in profile i,\n"
            "e.g. --min x:1x16 --opt x:1x64 --max x:1x128 --min x:8x16 --opt x:8x64 --max x:8x128 is two profiles.\n"
            "Symbolic dims no profile gives are chosen (1, or what another input or list gives them), with a note.\n"
            "Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad input.");
  b->callback([&opts, &exit_code, b] {
    opts.output_given = b->count("--output") > 0;
    Status s = execute(opts);
    exit_code = s.ok() ? kExitOk : report_error(s);
  });
}

}  // namespace slimrt::cli
