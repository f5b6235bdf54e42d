// slimrt_model_check: runs the real architectures exported by scripts/export_models.py on the
// CPU backend and compares them with PyTorch's recorded outputs.
//
//   slimrt_model_check build/cache/models                    # every model in the directory
//   slimrt_model_check build/cache/models --models resnet18  # a subset
//
// Each <dir>/<model>/ holds model.onnx, input_<name>.npy, output_<i>.npy and meta.json. Every
// output must have the recorded dtype and shape and a relative L2 error below --tolerance. Then
// ResNet-50 at batch 1, 224x224 is timed on one core and must finish within --resnet50-budget.
//
// Each model is also built as an fp32 engine (build_engine with a profile fixed at the recorded
// input shapes), read back and run on the CPU backend; its outputs must be within
// max(--engine-tolerance, 8 x the fp32 run's rel L2 against PyTorch) of the fp32 ONNX run: the
// passes reassociate fp32 arithmetic (folded BatchNorm, fused epilogues), and a model that
// amplifies rounding amplifies that too.
//
// Each model is also built as an fp16 and a bf16 engine (build_engine with a profile fixed at
// the recorded input shapes, to a temporary file), read back and run on the CPU backend; its
// outputs must be within the model's half tolerance (relative L2, docs/precision.md) of the fp32
// ONNX run. The exported models carry random weights and some amplify rounding a lot (ResNet-50
// turns fp32's 6e-8 into 1.4e-5 against PyTorch), so the bound scales with that measured
// amplification: tol = max(floor, (fp32 rel L2 vs PyTorch / 2^-24) * u), u the half type's unit
// roundoff (fp16 2^-11, bf16 2^-8), floor --fp16-tolerance / --bf16-tolerance. --no-half skips.
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "model_util.h"
#include "slimrt/backend.h"
#include "slimrt/builder/builder.h"
#include "slimrt/builder/onnx_importer.h"
#include "slimrt/npy.h"
#include "slimrt/shape.h"

namespace fs = std::filesystem;
using namespace slimrt;

namespace {

using model_check::rel_l2;

// Keeps this process on a single CPU so the timing means "one core" even if a later kernel
// grows threads.
bool pin_to_one_core() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return false;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(c, &one);
      return sched_setaffinity(0, sizeof(one), &one) == 0;
    }
  }
  return false;
}

struct Row {
  std::string model;
  int64_t params = 0;
  std::string shapes;
  double seconds = 0.0;
  double err = 0.0;
  double engine_err = NAN;          // the fp32 engine against the fp32 ONNX run
  double half_err[2] = {NAN, NAN};  // fp16, bf16 engines against the fp32 ONNX run
  double half_seconds = 0.0;        // building and running both engines
  std::string problem;  // empty when the model passed
};

struct HalfCheck {
  bool enabled = true;
  double tolerance[2] = {5e-3, 4e-2};  // floors: fp16, bf16
};

// The bound for a model whose fp32 run is `fp32_err` away from PyTorch (see the top).
double half_tolerance(const HalfCheck& h, int k, double fp32_err) {
  const double u = k == 0 ? std::ldexp(1.0, -11) : std::ldexp(1.0, -8);
  const double amplification = std::max(1.0, fp32_err / std::ldexp(1.0, -24));
  return std::max(h.tolerance[k], amplification * u);
}

std::string params_label(int64_t n) { return n >= 1000000 ? fmt::format("{:.2f}M", n / 1e6) : fmt::format("{:.1f}K", n / 1e3); }

// Every value computed from the graph inputs must have a shape whose dims are static or built
// only from the inputs' own symbols (batch, seq): exporters' shape subgraphs must resolve, not
// fall back to fresh run-time dims. Returns the first offending value, or "" when all resolve.
std::string check_symbolic_shapes(const Graph& g) {
  std::set<std::string> allowed;
  for (const Value* in : g.inputs()) {
    if (!in->has_shape()) continue;
    for (const Dim& d : in->shape()) {
      for (const std::string& sym : d.symbols()) allowed.insert(sym);
    }
  }
  for (const Node* n : g.nodes()) {
    for (const Value* v : n->outputs()) {
      if (!v->has_shape()) return fmt::format("'{}' from {} has no inferred shape", v->name(), n->describe());
      for (const Dim& d : v->shape()) {
        for (const std::string& sym : d.symbols()) {
          if (!allowed.count(sym))
            return fmt::format("'{}' from {} has shape {}: dim '{}' is not in terms of the inputs' symbols",
                               v->name(), n->describe(), shape_to_string(v->shape()), d.to_string());
        }
      }
    }
  }
  return "";
}

// Builds `model` as an engine of precision `p` with one profile at the feeds' shapes, runs it and returns the
// worst relative L2 of its float outputs against `reference` (the fp32 ONNX run).
Result<double> engine_error(const fs::path& model, Precision p, const std::vector<NamedTensor>& feeds,
                                 const std::vector<NamedTensor>& reference) {
  BuildOptions bo;
  bo.precision = p;
  OptimizationProfile prof;
  for (const NamedTensor& f : feeds) prof.inputs.push_back({f.name, f.tensor.shape(), f.tensor.shape(), f.tensor.shape()});
  bo.profiles = {prof};
  const fs::path engine = fs::temp_directory_path() /
                          fmt::format("slimrt_model_check_{}_{}_{}.engine", getpid(),
                                      model.parent_path().filename().string(), precision_name(p));
  Status built = build_engine(model.string(), bo, engine.string());
  if (!built.ok()) return built.with_context(fmt::format("building the {} engine", precision_name(p)));
  auto load_and_run = [&]() -> Result<std::vector<NamedTensor>> {
    SLIMRT_ASSIGN_OR_RETURN(auto reader, open_file_reader(engine.string()));
    SLIMRT_ASSIGN_OR_RETURN(EngineInfo info, parse_engine(*reader));
    SLIMRT_ASSIGN_OR_RETURN(Graph g, read_engine_graph(*reader, info));
    SLIMRT_ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, create_backend("cpu"));
    SLIMRT_ASSIGN_OR_RETURN(std::unique_ptr<Executable> exe, backend->prepare(g));
    RunOptions options;
    options.poison_outputs = true;
    std::vector<NamedTensor> out;
    SLIMRT_RETURN_IF_ERROR(exe->run(feeds, &out, options));
    return out;
  };
  Result<std::vector<NamedTensor>> out = load_and_run();
  std::error_code ec;
  fs::remove(engine, ec);
  if (!out.ok()) return out.status().with_context(fmt::format("running the {} engine", precision_name(p)));
  if (out->size() != reference.size())
    return internal_error(fmt::format("{} engine gave {} outputs, the ONNX run {}", precision_name(p), out->size(),
                                      reference.size()));
  double worst = 0.0;
  for (size_t i = 0; i < out->size(); ++i) {
    const Tensor& got = (*out)[i].tensor;
    if (got.dtype() != reference[i].tensor.dtype())
      return internal_error(fmt::format("{} engine output '{}' is {}, the ONNX run's {}", precision_name(p),
                                        (*out)[i].name, dtype_name(got.dtype()), dtype_name(reference[i].tensor.dtype())));
    if (!dtype_is_float(got.dtype())) continue;
    const double e = rel_l2(got, reference[i].tensor);
    if (!(e <= worst)) worst = e;  // NaN sticks
  }
  return worst;
}

Row check_model(const fs::path& dir, double tolerance, double engine_tolerance, const HalfCheck& half) {
  Row row;
  row.model = dir.filename().string();
  nlohmann::json meta;
  try {
    std::ifstream in(dir / "meta.json");
    meta = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    row.problem = fmt::format("meta.json: {}", e.what());
    return row;
  }
  row.params = meta.value("params", int64_t{0});

  Result<Graph> graph = import_onnx_file((dir / "model.onnx").string());
  if (!graph.ok()) {
    row.problem = "import: " + graph.status().to_string();
    return row;
  }
  // A model whose image size is dynamic has dims no polynomial expresses (a strided Conv's
  // floor((h + pads - k) / s) + 1): those are fresh symbols by design, resolved per profile.
  const bool fresh_dims_expected = meta.value("fresh_dims", false);
  if (std::string why = fresh_dims_expected ? "" : check_symbolic_shapes(graph.value()); !why.empty()) {
    row.problem = "shape inference: " + why;
    return row;
  }
  Result<std::unique_ptr<Backend>> backend = create_backend("cpu");
  if (!backend.ok()) {
    row.problem = "backend: " + backend.status().to_string();
    return row;
  }
  Result<std::unique_ptr<Executable>> exe = backend.value()->prepare(graph.value());
  if (!exe.ok()) {
    row.problem = "prepare: " + exe.status().to_string();
    return row;
  }

  std::vector<NamedTensor> feeds;
  for (const auto& in : meta["inputs"]) {
    Result<Tensor> t = read_npy((dir / in["file"].get<std::string>()).string());
    if (!t.ok()) {
      row.problem = "input: " + t.status().to_string();
      return row;
    }
    row.shapes += fmt::format("{}{}", row.shapes.empty() ? "" : " ", shape_to_string(t->shape()));
    feeds.push_back({in["name"].get<std::string>(), std::move(t).value()});
  }

  RunOptions options;
  options.poison_outputs = true;
  std::vector<NamedTensor> outputs;
  const auto t0 = std::chrono::steady_clock::now();
  Status s = exe.value()->run(feeds, &outputs, options);
  row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!s.ok()) {
    row.problem = "run: " + s.to_string();
    return row;
  }

  const auto& want = meta["outputs"];
  if (outputs.size() != want.size()) {
    row.problem = fmt::format("{} outputs, PyTorch gave {}", outputs.size(), want.size());
    return row;
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    Result<Tensor> e = read_npy((dir / want[i]["file"].get<std::string>()).string());
    if (!e.ok()) {
      row.problem = "expected output: " + e.status().to_string();
      return row;
    }
    const Tensor& got = outputs[i].tensor;
    const std::string label = fmt::format("output {} '{}'", i, outputs[i].name);
    if (got.dtype() != e->dtype()) {
      row.problem = fmt::format("{}: dtype {}, PyTorch {}", label, dtype_name(got.dtype()), dtype_name(e->dtype()));
      return row;
    }
    if (got.shape() != e->shape()) {
      row.problem = fmt::format("{}: shape {}, PyTorch {}", label, shape_to_string(got.shape()),
                                shape_to_string(e->shape()));
      return row;
    }
    bool all_zero = true;
    for (int64_t k = 0; k < e->numel() && all_zero; ++k) all_zero = e->get_as_double(k) == 0.0;
    if (all_zero) {
      row.problem = fmt::format("{}: PyTorch's output is all zeros, the check would prove nothing", label);
      return row;
    }
    const double err = rel_l2(got, *e);
    if (!(err <= row.err) || std::isnan(err)) row.err = err;  // NaN sticks
    if (!(err < tolerance)) {
      row.problem = fmt::format("{}: rel L2 {:.3g} >= {:.1g}", label, err, tolerance);
      return row;
    }
  }
  {
    Result<double> e = engine_error(dir / "model.onnx", Precision::kFp32, feeds, outputs);
    if (!e.ok()) {
      row.problem = e.status().to_string();
      return row;
    }
    row.engine_err = *e;
    const double bound = std::max(engine_tolerance, 8.0 * row.err);
    if (!(*e < bound)) {
      row.problem = fmt::format("fp32 engine: rel L2 {:.3g} >= {:.2g} against the ONNX run", *e, bound);
      return row;
    }
  }
  if (half.enabled) {
    const auto t1 = std::chrono::steady_clock::now();
    for (int k = 0; k < 2; ++k) {
      const Precision p = k == 0 ? Precision::kFp16 : Precision::kBf16;
      Result<double> e = engine_error(dir / "model.onnx", p, feeds, outputs);
      if (!e.ok()) {
        row.problem = e.status().to_string();
        return row;
      }
      row.half_err[k] = *e;
      const double bound = half_tolerance(half, k, row.err);
      if (!(*e < bound)) {
        row.problem = fmt::format("{} engine: rel L2 {:.3g} >= {:.2g} against the fp32 run", precision_name(p), *e,
                                  bound);
        return row;
      }
    }
    row.half_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  }
  return row;
}

// ResNet-50, batch 1, 224x224, random input: the single-core speed requirement.
Status time_resnet50(const fs::path& dir, double* seconds) {
  SLIMRT_ASSIGN_OR_RETURN(Graph g, import_onnx_file((dir / "model.onnx").string()));
  SLIMRT_ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, create_backend("cpu"));
  SLIMRT_ASSIGN_OR_RETURN(std::unique_ptr<Executable> exe, backend->prepare(g));
  SLIMRT_ASSIGN_OR_RETURN(Tensor x, Tensor::allocate(DataType::kFloat32, {1, 3, 224, 224}));
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = dist(rng);
  std::vector<NamedTensor> outputs;
  const auto t0 = std::chrono::steady_clock::now();
  SLIMRT_RETURN_IF_ERROR(exe->run({{g.inputs()[0]->name(), x}}, &outputs));
  *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (outputs.size() != 1 || outputs[0].tensor.shape() != std::vector<int64_t>{1, 1000})
    return internal_error("ResNet-50 batch 1 gave an unexpected output shape");
  return Status::OK();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Checks real architectures on the slimrt CPU backend against PyTorch"};
  std::string root;
  std::vector<std::string> models;
  double tolerance = 1e-4;
  double engine_tolerance = 1e-5;
  double budget = 10.0;
  bool no_timing = false;
  app.add_option("dir", root, "directory written by scripts/export_models.py")->required();
  app.add_option("--models", models, "models to check (default: every subdirectory)")->delimiter(',');
  app.add_option("--tolerance", tolerance, "relative L2 error bound")->capture_default_str();
  app.add_option("--engine-tolerance", engine_tolerance, "least relative L2 bound of fp32 engines vs the ONNX run")
      ->capture_default_str();
  app.add_option("--resnet50-budget", budget, "seconds allowed for ResNet-50 batch 1 on one core")
      ->capture_default_str();
  app.add_flag("--no-timing", no_timing, "skip the ResNet-50 timing");
  HalfCheck half;
  bool no_half = false;
  app.add_flag("--no-half", no_half, "skip the fp16/bf16 engine checks");
  app.add_option("--fp16-tolerance", half.tolerance[0], "least relative L2 bound of fp16 engines vs the fp32 run")
      ->capture_default_str();
  app.add_option("--bf16-tolerance", half.tolerance[1], "least relative L2 bound of bf16 engines vs the fp32 run")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (models.empty()) {
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(root)) {
      if (entry.is_directory() && fs::exists(entry.path() / "meta.json")) found.push_back(entry.path().filename());
    }
    std::sort(found.begin(), found.end());
    models = found;
  }
  if (models.empty()) {
    fmt::print(stderr, "slimrt_model_check: no exported models under {}\n", root);
    return 2;
  }
  const bool pinned = pin_to_one_core();
  half.enabled = !no_half;

  std::vector<Row> rows;
  int failed = 0;
  fmt::print("{:<14} {:>8} {:<36} {:>9} {:>10} {:>10} {:>10} {:>10} {:>9}  {}\n", "model", "params", "inputs",
             "CPU time", "rel L2", "fp32 eng", "fp16 L2", "bf16 L2", "half time", "result");
  for (const std::string& m : models) {
    Row r = check_model(fs::path(root) / m, tolerance, engine_tolerance, half);
    if (!r.problem.empty()) ++failed;
    fmt::print("{:<14} {:>8} {:<36} {:>8.2f}s {:>10.2e} {:>10.2e} {:>10.2e} {:>10.2e} {:>8.2f}s  {}\n", r.model,
               params_label(r.params), r.shapes, r.seconds, r.err, r.engine_err, r.half_err[0], r.half_err[1],
               r.half_seconds,
               r.problem.empty() ? "ok" : "FAIL: " + r.problem);
    std::fflush(stdout);
    rows.push_back(std::move(r));
  }

  const fs::path resnet50 = fs::path(root) / "resnet50";
  if (!no_timing) {
    if (!fs::exists(resnet50 / "model.onnx")) {
      fmt::print("ResNet-50 timing: FAIL: no {}\n", (resnet50 / "model.onnx").string());
      ++failed;
    } else {
      double seconds = 0.0;
      Status s = time_resnet50(resnet50, &seconds);
      if (!s.ok()) {
        fmt::print("ResNet-50 batch 1 224x224: FAIL: {}\n", s.to_string());
        ++failed;
      } else {
        const bool ok = seconds < budget;
        if (!ok) ++failed;
        fmt::print("ResNet-50 batch 1 224x224 on {}: {:.2f} s (budget {:.0f} s) {}\n",
                   pinned ? "one core" : "one thread (affinity not set)", seconds, budget, ok ? "ok" : "FAIL");
      }
    }
  }
  fmt::print("pytorch_architectures: {} of {} models match PyTorch{}\n", rows.size() - static_cast<size_t>(
                 std::count_if(rows.begin(), rows.end(), [](const Row& r) { return !r.problem.empty(); })),
             rows.size(), failed ? "; FAILED" : "");
  return failed == 0 ? 0 : 1;
}
