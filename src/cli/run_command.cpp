// `slimrt run MODEL.onnx`: import, prepare on a backend, run on random or .npy inputs, report.
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/verbosity.h"
#include "slimrt/backend.h"
#include "slimrt/builder/onnx_importer.h"
#include "slimrt/context.h"
#include "slimrt/device.h"
#include "slimrt/engine_format.h"
#include "slimrt/io_tensor.h"
#include "slimrt/npy.h"
#include "slimrt/runtime.h"

namespace slimrt::cli {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct InputReport {
  std::string name;
  std::vector<int64_t> shape;
  DataType dtype;
  std::string source;  // "random(seed=N)" or the .npy path
};

// min, max, mean and std are over the finite values (so every one is a number whenever one value
// is finite); NaN and +-Inf are counted apart. With no finite value they are NaN: the text prints
// "nan" and the JSON null, the same places.
struct OutputStats {
  double min = NAN, max = NAN, mean = NAN, stddev = NAN;
  int64_t finite = 0, nan = 0, inf = 0;
  std::vector<double> head;
};

OutputStats compute_stats(const Tensor& t) {
  OutputStats s;
  const int64_t n = t.numel();
  double m2 = 0;  // Welford: the running mean and sum of squared deviations, no cancellation
  for (int64_t i = 0; i < n; ++i) {
    const double v = t.get_as_double(i);
    if (static_cast<int64_t>(s.head.size()) < 6) s.head.push_back(v);
    if (std::isnan(v)) {
      ++s.nan;
      continue;
    }
    if (std::isinf(v)) {
      ++s.inf;
      continue;
    }
    if (s.finite++ == 0) {
      s.min = s.max = s.mean = v;
      continue;
    }
    s.min = std::min(s.min, v);
    s.max = std::max(s.max, v);
    const double delta = v - s.mean;
    s.mean += delta / static_cast<double>(s.finite);
    m2 += delta * (v - s.mean);
  }
  if (s.finite > 0) s.stddev = std::sqrt(std::max(0.0, m2 / static_cast<double>(s.finite)));
  return s;
}

Result<Tensor> random_input(DataType dtype, const std::vector<int64_t>& shape, std::mt19937_64& rng) {
  SLIMRT_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(dtype, shape));
  std::uniform_real_distribution<float> uf(-1.0f, 1.0f);
  std::uniform_int_distribution<int> ui(0, 9);  // small non-negative ints: valid token ids / indices
  for (int64_t i = 0; i < t.numel(); ++i) {
    switch (dtype) {
      case DataType::kFloat32: t.data<float>()[i] = uf(rng); break;
      case DataType::kFloat64: t.data<double>()[i] = uf(rng); break;
      case DataType::kFloat16: t.data<uint16_t>()[i] = float_to_half(uf(rng)); break;
      case DataType::kBFloat16: t.data<uint16_t>()[i] = float_to_bfloat16(uf(rng)); break;
      case DataType::kInt8: t.data<int8_t>()[i] = static_cast<int8_t>(ui(rng)); break;
      case DataType::kUInt8: t.data<uint8_t>()[i] = static_cast<uint8_t>(ui(rng)); break;
      case DataType::kInt32: t.data<int32_t>()[i] = ui(rng); break;
      case DataType::kInt64: t.data<int64_t>()[i] = ui(rng); break;
      case DataType::kBool: t.data<uint8_t>()[i] = static_cast<uint8_t>(ui(rng) & 1); break;
      case DataType::kUndefined: break;
    }
  }
  return t;
}

// Concrete shape for a random input: static dims as declared, symbolic dims 1 (with a note).
std::vector<int64_t> concrete_shape(const IoTensor& in, std::vector<std::string>* notes) {
  std::vector<int64_t> dims;
  if (!in.has_shape) {
    notes->push_back(fmt::format("input '{}' has no declared shape; using a scalar (pass --shapes {}:DIMS)", in.name, in.name));
    return dims;
  }
  for (size_t d = 0; d < in.dims.size(); ++d) {
    if (in.dims[d] != kDynamicDim) {
      dims.push_back(in.dims[d]);
    } else {
      notes->push_back(fmt::format("input '{}': dim '{}' set to 1 (pass --shapes {}:DIMS to choose)", in.name, in.dim_names[d], in.name));
      dims.push_back(1);
    }
  }
  return dims;
}

// The first profile's opt shape of an engine input, when the profile gives one.
std::optional<std::vector<int64_t>> profile_opt_shape(const IoTensor& in) {
  if (in.profiles.empty()) return std::nullopt;
  const std::vector<int64_t>& opt = in.profiles.front().opt;
  if (std::any_of(opt.begin(), opt.end(), [](int64_t d) { return d == kDynamicDim; })) return std::nullopt;
  return opt;
}

// An engine is recognised by its magic, whatever the file is called.
bool is_engine_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[sizeof(kEngineMagic)] = {};
  if (!f.read(magic, sizeof(magic))) return false;
  return std::equal(std::begin(magic), std::end(magic), std::begin(kEngineMagic));
}

// Loads an engine with Runtime::load (one region on the backend's memory, parallel readers,
// checksums verified).
Result<std::shared_ptr<Engine>> load_engine(const std::string& path, const std::string& backend) {
  RuntimeOptions ro;
  ro.backend = backend;
  SLIMRT_ASSIGN_OR_RETURN(std::unique_ptr<Runtime> rt, Runtime::create(ro));
  return rt->load_file(path);
}

Status execute(const RunOptions& opts) {
  ImportOptions import_opts;
  std::set<std::string> seen;
  for (const std::string& arg : opts.shapes) {
    std::pair<std::string, std::vector<int64_t>> parsed;
    std::string err;
    if (!parse_shape_arg(arg, &parsed, &err)) return invalid_argument("--shapes " + arg + ": " + err);
    if (!seen.insert(parsed.first).second) return invalid_argument("--shapes names input '" + parsed.first + "' twice");
    import_opts.input_shapes.push_back(std::move(parsed));
  }
  SLIMRT_ASSIGN_OR_RETURN(const uint64_t seed, parse_seed_option("--seed", opts.seed));
  SLIMRT_ASSIGN_OR_RETURN(const int64_t iterations, parse_int_option("--iterations", opts.iterations, 1, kMaxIterations));
  SLIMRT_ASSIGN_OR_RETURN(const int64_t warmup, parse_int_option("--warmup", opts.warmup, 0, kMaxIterations));
  if (opts.output_dir_given && opts.output_dir.empty())
    return invalid_argument("--output-dir '' is empty: name a directory ('.' for the current one)");

  // "auto": the GPU when there is one, else the CPU, saying why.
  std::vector<std::string> notes;
  std::string backend_name = opts.backend;
  if (backend_name == "auto") {
    backend_name = Runtime::default_backend();
    if (backend_name == "cpu") notes.push_back("running on the CPU: " + query_cuda_devices().description);
  }

  auto t0 = Clock::now();
  const bool engine = is_engine_file(opts.model);
  Graph imported;
  std::shared_ptr<Engine> loaded;
  if (engine) {
    SLIMRT_ASSIGN_OR_RETURN(loaded, load_engine(opts.model, backend_name));
    for (const auto& [name, dims] : import_opts.input_shapes) {
      const IoTensor* t = loaded->io_tensor(name);
      if (t == nullptr || !t->is_input())
        return invalid_argument("--shapes names '" + name + "', which is not an input of the engine");
    }
  } else {
    SLIMRT_ASSIGN_OR_RETURN(imported, import_onnx_file(opts.model, import_opts));
  }
  const Graph& graph = loaded ? loaded->graph() : imported;
  // Inputs come first in the description, then outputs.
  const std::vector<IoTensor> io = loaded ? loaded->io_tensors() : describe_io(imported, {});
  std::vector<const IoTensor*> model_inputs;
  for (const IoTensor& t : io) {
    if (t.is_input()) model_inputs.push_back(&t);
  }
  const double import_ms = ms_since(t0);

  // Inputs: .npy files first, then random data for the rest.
  std::map<std::string, std::string> files;
  for (const std::string& arg : opts.inputs) {
    const size_t eq = arg.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size())
      return invalid_argument("--input " + arg + ": expected NAME=FILE.npy");
    if (!files.emplace(arg.substr(0, eq), arg.substr(eq + 1)).second)
      return invalid_argument("--input names '" + arg.substr(0, eq) + "' twice");
  }
  std::vector<std::string> input_names;
  for (const IoTensor* in : model_inputs) input_names.push_back(in->name);
  for (const auto& [name, file] : files) {
    if (std::find(input_names.begin(), input_names.end(), name) == input_names.end())
      return invalid_argument(fmt::format("--input {}: the model has no input '{}' (inputs: {})", name, name,
                                          fmt::join(input_names, ", ")));
  }
  // Every input's shape first: a .npy file's (read whole: its size is the file's), else --shapes,
  // an engine profile's opt shape or the declared dims. Sizes and the engine's profiles are checked
  // before any random input is allocated.
  std::vector<NamedTensor> feeds;
  std::vector<InputReport> input_reports;
  InputShapes input_shapes;
  for (const IoTensor* in : model_inputs) {
    auto it = files.find(in->name);
    if (it != files.end()) {
      Result<Tensor> t = read_npy(it->second);
      if (!t.ok()) return t.status().with_context("--input " + in->name);
      input_reports.push_back({in->name, t->shape(), t->dtype(), it->second});
      input_shapes[in->name] = t->shape();
      feeds.push_back({in->name, std::move(t).value()});
      continue;
    }
    std::vector<int64_t> shape;
    auto given = std::find_if(import_opts.input_shapes.begin(), import_opts.input_shapes.end(),
                              [&](const auto& p) { return p.first == in->name; });
    const std::optional<std::vector<int64_t>> opt = engine ? profile_opt_shape(*in) : std::nullopt;
    if (engine && given != import_opts.input_shapes.end()) {
      shape = given->second;
    } else if (opt) {
      shape = *opt;
    } else {
      shape = concrete_shape(*in, &notes);
    }
    SLIMRT_RETURN_IF_ERROR(check_tensor_size(fmt::format("input '{}'", in->name), in->dtype, shape));
    input_reports.push_back({in->name, shape, in->dtype, fmt::format("random(seed={})", seed)});
    input_shapes[in->name] = shape;
  }
  // Some profile of the engine must hold every input.
  if (engine) SLIMRT_RETURN_IF_ERROR(loaded->select_profile(input_shapes).status());
  std::mt19937_64 rng(seed);
  for (const InputReport& r : input_reports) {
    if (files.count(r.name)) continue;
    Result<Tensor> t = random_input(r.dtype, r.shape, rng);
    if (!t.ok()) return t.status().with_context(fmt::format("random input '{}'", r.name));
    feeds.push_back({r.name, std::move(t).value()});
  }

  // An engine on the GPU runs through an execution context; anything else through a Backend.
  t0 = Clock::now();
  std::unique_ptr<Executable> exe;
  std::unique_ptr<ExecutionContext> context;
  if (loaded && backend_name == "cuda") {
    SLIMRT_ASSIGN_OR_RETURN(context, ExecutionContext::create(loaded));
  } else {
    SLIMRT_ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, create_backend(backend_name));
    SLIMRT_ASSIGN_OR_RETURN(exe, backend->prepare(graph));
  }
  const double prepare_ms = ms_since(t0);
  auto run_once = [&](const std::vector<NamedTensor>& in, std::vector<NamedTensor>* out) {
    return context ? context->run(in, out) : exe->run(in, out);
  };

  std::vector<NamedTensor> outputs;
  for (int64_t i = 0; i < warmup; ++i) SLIMRT_RETURN_IF_ERROR(run_once(feeds, &outputs));
  std::vector<double> run_ms;
  for (int64_t i = 0; i < iterations; ++i) {
    t0 = Clock::now();
    SLIMRT_RETURN_IF_ERROR(run_once(feeds, &outputs));
    run_ms.push_back(ms_since(t0));
  }
  std::sort(run_ms.begin(), run_ms.end());
  const double median_ms = run_ms[run_ms.size() / 2];

  // Outputs to files.
  std::vector<std::string> out_files(outputs.size());
  if (!opts.output_dir.empty()) {
    std::error_code ec;
    const std::filesystem::file_status st = std::filesystem::status(opts.output_dir, ec);
    if (std::filesystem::exists(st) && !std::filesystem::is_directory(st))
      return invalid_argument("--output-dir '" + opts.output_dir + "' exists and is not a directory");
    std::filesystem::create_directories(opts.output_dir, ec);
    if (ec == std::errc::not_a_directory)  // a component of the path is a file
      return invalid_argument("cannot create --output-dir '" + opts.output_dir + "': " + ec.message());
    if (ec) return io_error("cannot create --output-dir '" + opts.output_dir + "': " + ec.message());
    std::set<std::string> used;
    for (size_t i = 0; i < outputs.size(); ++i) {
      std::string base = sanitize_file_name(outputs[i].name);
      std::string file = base;
      for (int k = 1; !used.insert(file).second; ++k) file = base + "_" + std::to_string(k);
      out_files[i] = (std::filesystem::path(opts.output_dir) / (file + ".npy")).string();
      Tensor t = outputs[i].tensor;
      if (t.dtype() == DataType::kBFloat16) {  // numpy has no bfloat16: write float32
        SLIMRT_ASSIGN_OR_RETURN(Tensor f, Tensor::allocate(DataType::kFloat32, t.shape()));
        for (int64_t k = 0; k < t.numel(); ++k) f.data<float>()[k] = static_cast<float>(t.get_as_double(k));
        t = f;
      }
      SLIMRT_RETURN_IF_ERROR(write_npy(out_files[i], t));
    }
  }

  if (opts.json) {
    nlohmann::json j;
    j["model"] = opts.model;
    j["backend"] = backend_name;
    j["timing_ms"] = {{"import", import_ms}, {"prepare", prepare_ms}, {"run_median", median_ms},
                      {"run_min", run_ms.front()}, {"run_max", run_ms.back()}, {"iterations", iterations},
                      {"warmup", warmup}};
    j["inputs"] = nlohmann::json::array();
    for (const auto& r : input_reports)
      j["inputs"].push_back({{"name", r.name}, {"shape", r.shape}, {"dtype", dtype_name(r.dtype)}, {"source", r.source}});
    j["outputs"] = nlohmann::json::array();
    for (size_t i = 0; i < outputs.size(); ++i) {
      const Tensor& t = outputs[i].tensor;
      OutputStats s = compute_stats(t);
      auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
      nlohmann::json o = {{"name", outputs[i].name}, {"shape", t.shape()}, {"dtype", dtype_name(t.dtype())},
                          {"min", num(s.min)}, {"max", num(s.max)}, {"mean", num(s.mean)}, {"std", num(s.stddev)},
                          {"finite_count", s.finite}, {"nan_count", s.nan}, {"inf_count", s.inf}};
      if (!out_files[i].empty()) o["file"] = out_files[i];
      j["outputs"].push_back(o);
    }
    j["notes"] = notes;
    fmt::print("{}\n", j.dump(2));
    return Status::OK();
  }

  for (const std::string& n : notes) print_note(n);
  fmt::print("model    {}\nbackend  {}\n", opts.model, backend_name);
  for (const auto& r : input_reports)
    fmt::print("input    {} {} {} <- {}\n", r.name, dtype_name(r.dtype), shape_to_string(r.shape), r.source);
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& t = outputs[i].tensor;
    OutputStats s = compute_stats(t);
    fmt::print("output   {} {} {}  min {:.6g}  max {:.6g}  mean {:.6g}  std {:.6g}", outputs[i].name,
               dtype_name(t.dtype()), shape_to_string(t.shape()), s.min, s.max, s.mean, s.stddev);
    if (s.nan || s.inf) fmt::print("  nan {}  inf {} (stats over the {} finite values)", s.nan, s.inf, s.finite);
    fmt::print("\n         first [{:.6g}]\n", fmt::join(s.head, ", "));
    if (!out_files[i].empty()) fmt::print("         -> {}\n", out_files[i]);
  }
  fmt::print("timing   import {:.2f} ms, prepare {:.2f} ms, run {:.2f} ms (median of {}, min {:.2f}, max {:.2f}, {} warm-up)\n",
             import_ms, prepare_ms, median_ms, iterations, run_ms.front(), run_ms.back(), warmup);
  return Status::OK();
}

}  // namespace

bool parse_dims(const std::string& text, std::vector<int64_t>* dims, std::string* error) {
  Result<std::vector<int64_t>> parsed = parse_dims_text(text);
  if (!parsed.ok()) {
    dims->clear();
    *error = parsed.status().message();
    return false;
  }
  *dims = std::move(parsed).value();
  return true;
}

bool parse_shape_arg(const std::string& arg, std::pair<std::string, std::vector<int64_t>>* out, std::string* error) {
  const size_t colon = arg.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    *error = "expected NAME:DIMS, e.g. input:1x3x224x224";
    return false;
  }
  out->first = arg.substr(0, colon);
  return parse_dims(arg.substr(colon + 1), &out->second, error);
}

std::string sanitize_file_name(const std::string& name) {
  std::string s = name;
  for (char& c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) c = '_';
  }
  if (s.empty() || s == "." || s == "..") s = "output";
  return s;
}

void add_run_command(CLI::App& app, RunOptions& opts, int& exit_code) {
  CLI::App* run = app.add_subcommand("run", "Run a model and print its outputs and timing");
  run->add_option("model", opts.model, "ONNX model (.onnx) or engine (from slimrt build)")->required();
  run->add_option("--backend", opts.backend, "auto (the GPU when there is one), cuda or cpu")->default_val("auto");
  run->add_option("--input", opts.inputs, "NAME=FILE.npy: feed an input from a .npy file (repeatable)");
  run->add_option("--shapes", opts.shapes, "NAME:1x3x224x224: fix an input's shape (repeatable)");
  CLI::Option* output_dir = run->add_option("--output-dir", opts.output_dir, "Write each output as DIR/NAME.npy");
  run->add_option("--seed", opts.seed, "Seed for random inputs (0 to 2^64-1)")->default_val("0");
  run->add_option("--iterations", opts.iterations, "Timed runs (1 to 1000000); the median is reported")->default_val("1");
  run->add_option("--warmup", opts.warmup, "Untimed runs before timing (0 to 1000000)")->default_val("0");
  run->add_flag("--json", opts.json, "Print machine-readable results");
  run->footer("Inputs not given with --input get uniform random values in [-1, 1) (integers in [0, 9]),\n"
              "from --seed. Symbolic dims not fixed by --shapes are set to 1 (an engine: its first profile's opt).\n"
              "An engine is recognised by its magic; shapes outside all of its profiles are refused.\n"
              "Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad input.");
  run->callback([&opts, &exit_code, output_dir] {
    opts.output_dir_given = output_dir->count() > 0;
    Status s = execute(opts);
    exit_code = s.ok() ? kExitOk : report_error(s);
  });
}

void add_ops_command(CLI::App& app, int& exit_code) {
  CLI::App* ops = app.add_subcommand("ops", "List the supported ONNX ops");
  ops->callback([&exit_code] {
    for (const std::string& op : supported_ops()) fmt::print("{}\n", op);
    exit_code = kExitOk;
  });
}

}  // namespace slimrt::cli
