#include "case_runner.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <unistd.h>

#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include "compare.h"
#include "slimrt/backend.h"
#include "slimrt/builder/builder.h"
#include "slimrt/builder/onnx_importer.h"
#include "slimrt/context.h"
#include "slimrt/runtime.h"

namespace slimrt::conformance {
namespace fs = std::filesystem;

const char* case_status_name(CaseStatus s) {
  switch (s) {
    case CaseStatus::kPass: return "pass";
    case CaseStatus::kFail: return "fail";
    case CaseStatus::kUnsupported: return "unsupported";
    case CaseStatus::kSkipped: return "skipped";
  }
  return "fail";
}

CaseStatus case_status_from_name(const std::string& s) {
  if (s == "pass") return CaseStatus::kPass;
  if (s == "unsupported") return CaseStatus::kUnsupported;
  if (s == "skipped") return CaseStatus::kSkipped;
  return CaseStatus::kFail;
}

nlohmann::json case_result_to_json(const CaseResult& r) {
  nlohmann::json j;
  j["suite"] = r.suite;
  j["name"] = r.name;
  j["status"] = case_status_name(r.status);
  j["ops"] = r.ops;
  j["stage"] = r.stage;
  j["message"] = r.message;
  // JSON has no infinity; a NaN/Inf mismatch is reported as null.
  j["max_abs_err"] = std::isfinite(r.max_abs_err) ? nlohmann::json(r.max_abs_err) : nlohmann::json(nullptr);
  j["max_rel_err"] = std::isfinite(r.max_rel_err) ? nlohmann::json(r.max_rel_err) : nlohmann::json(nullptr);
  j["data_sets"] = r.data_sets;
  j["seconds"] = r.seconds;
  return j;
}

CaseResult case_result_from_json(const nlohmann::json& j) {
  CaseResult r;
  r.suite = j.value("suite", "");
  r.name = j.value("name", "");
  r.status = case_status_from_name(j.value("status", "fail"));
  r.ops = j.value("ops", std::vector<std::string>{});
  r.stage = j.value("stage", "");
  r.message = j.value("message", "");
  r.max_abs_err = j["max_abs_err"].is_number() ? j["max_abs_err"].get<double>() : INFINITY;
  r.max_rel_err = j["max_rel_err"].is_number() ? j["max_rel_err"].get<double>() : INFINITY;
  r.data_sets = j.value("data_sets", 0);
  r.seconds = j.value("seconds", 0.0);
  return r;
}

std::vector<std::string> model_op_types(const std::string& model_path) {
  std::ifstream in(model_path, std::ios::binary);
  onnx::ModelProto model;
  if (!in || !model.ParseFromIstream(&in)) return {};
  std::set<std::string> ops;
  for (const auto& node : model.graph().node()) {
    const std::string& domain = node.domain();
    ops.insert(domain.empty() || domain == "ai.onnx" ? node.op_type() : domain + ":" + node.op_type());
  }
  return {ops.begin(), ops.end()};
}

namespace {

// Files named <prefix><N>.pb in `dir`, ordered by N (input_10 after input_9).
std::vector<std::string> numbered_files(const fs::path& dir, const std::string& prefix) {
  std::vector<std::pair<int, std::string>> found;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0 || entry.path().extension() != ".pb") continue;
    const std::string num = name.substr(prefix.size(), name.size() - prefix.size() - 3);
    if (num.empty() || !std::all_of(num.begin(), num.end(), [](unsigned char ch) { return std::isdigit(ch) != 0; })) continue;
    found.emplace_back(std::stoi(num), entry.path().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

std::vector<fs::path> data_set_dirs(const fs::path& case_dir) {
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(case_dir)) {
    if (entry.is_directory() && entry.path().filename().string().rfind("test_data_set_", 0) == 0)
      dirs.push_back(entry.path());
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

// Reads a test-data TensorProto for a graph value of dtype `want`. The ONNX generators store
// bfloat16 data as UINT16 tensors of the raw bits (onnx/backend/test/case/node/cast.py), which the
// ONNX runner compares bit for bit; read those as bfloat16 when the graph value is bfloat16.
Result<Tensor> read_test_tensor(const std::string& path, DataType want) {
  Result<Tensor> t = read_onnx_tensor_file(path);
  if (t.ok() || want != DataType::kBFloat16 || t.status().code() != StatusCode::kUnsupported) return t;
  std::ifstream in(path, std::ios::binary);
  onnx::TensorProto proto;
  if (!in || !proto.ParseFromIstream(&in) || proto.data_type() != onnx::TensorProto::UINT16) return t;
  std::vector<int64_t> dims(proto.dims().begin(), proto.dims().end());
  SLIMRT_ASSIGN_OR_RETURN(Tensor out, Tensor::allocate(DataType::kBFloat16, dims));
  const size_t n = static_cast<size_t>(out.numel());
  uint16_t* dst = out.data<uint16_t>();
  if (proto.has_raw_data()) {
    if (proto.raw_data().size() != n * 2) return data_loss(path + ": raw_data size does not match dims");
    for (size_t i = 0; i < n; ++i) {
      const auto lo = static_cast<uint8_t>(proto.raw_data()[2 * i]);
      const auto hi = static_cast<uint8_t>(proto.raw_data()[2 * i + 1]);
      dst[i] = static_cast<uint16_t>(lo | (hi << 8));
    }
  } else {
    if (static_cast<size_t>(proto.int32_data_size()) != n) return data_loss(path + ": int32_data size does not match dims");
    for (size_t i = 0; i < n; ++i) dst[i] = static_cast<uint16_t>(proto.int32_data(static_cast<int>(i)));
  }
  return out;
}

// Marks `r` unsupported when `s` says so, otherwise failed, with the stage it stopped at.
void set_error(CaseResult* r, const std::string& stage, const Status& s) {
  r->status = s.code() == StatusCode::kUnsupported ? CaseStatus::kUnsupported : CaseStatus::kFail;
  r->stage = stage;
  r->message = stage + ": " + s.to_string();
}

void set_failure(CaseResult* r, const std::string& stage, const std::string& message) {
  r->status = CaseStatus::kFail;
  r->stage = stage;
  r->message = stage + ": " + message;
}

void run_case_body(const CaseSpec& spec, const RunCaseOptions& options, CaseResult* r) {
  const fs::path dir(spec.dir);
  const std::string model_path = (dir / "model.onnx").string();
  if (!fs::exists(model_path)) return set_failure(r, "load", "no model.onnx in " + spec.dir);
  r->ops = model_op_types(model_path);

  Result<Graph> graph = import_onnx_file(model_path);
  if (!graph.ok()) return set_error(r, "import", graph.status());
  Graph& g = graph.value();

  // Test data binds to the graph's inputs in order, initializers excluded (the ONNX runner
  // reads input_i against graph.input[i]; IR < 4 models list initializers after real inputs).
  std::vector<const Value*> inputs;
  for (const Value* v : g.inputs()) {
    if (!v->constant()) inputs.push_back(v);
  }

  const std::vector<fs::path> sets = data_set_dirs(dir);
  if (sets.empty()) return set_failure(r, "read", "no test_data_set_* in " + spec.dir);
  std::vector<std::vector<NamedTensor>> all_feeds;
  for (const fs::path& set : sets) {
    const std::string set_name = set.filename().string();
    const std::vector<std::string> in_files = numbered_files(set, "input_");
    if (in_files.size() != inputs.size())
      return set_failure(r, "read", fmt::format("{}: {} input files for {} graph inputs", set_name,
                                                in_files.size(), inputs.size()));
    std::vector<NamedTensor> feeds;
    for (size_t i = 0; i < in_files.size(); ++i) {
      Result<Tensor> t = read_test_tensor(in_files[i], inputs[i]->dtype());
      if (!t.ok()) return set_error(r, "read", t.status().with_context(in_files[i]));
      feeds.push_back({inputs[i]->name(), std::move(t).value()});
    }
    all_feeds.push_back(std::move(feeds));
  }

  // What runs the case: an Executable of the imported graph, or a loaded engine.
  std::unique_ptr<Executable> exe;
  std::shared_ptr<Engine> engine;
  std::unique_ptr<ExecutionContext> context;
  if (options.engine) {
    BuildOptions bo;
    for (const std::vector<NamedTensor>& feeds : all_feeds) {
      OptimizationProfile p;
      for (const NamedTensor& f : feeds) p.inputs.push_back({f.name, f.tensor.shape(), f.tensor.shape(), f.tensor.shape()});
      const bool seen = std::any_of(bo.profiles.begin(), bo.profiles.end(), [&](const OptimizationProfile& q) {
        return std::equal(q.inputs.begin(), q.inputs.end(), p.inputs.begin(), p.inputs.end(),
                          [](const InputProfile& a, const InputProfile& b) { return a.name == b.name && a.max == b.max; });
      });
      if (!seen) bo.profiles.push_back(std::move(p));
    }
    const std::string path =
        (fs::temp_directory_path() / fmt::format("slimrt_conformance_{}_{}.engine", ::getpid(), spec.name)).string();
    BuildReport report;
    const Status built = build_engine(model_path, bo, path, &report);
    if (!built.ok()) {
      fs::remove(path);
      return set_error(r, "build", built);
    }
    RuntimeOptions ro;
    ro.backend = options.backend;
    Result<std::unique_ptr<Runtime>> rt = Runtime::create(ro);
    if (!rt.ok()) return set_error(r, "load", rt.status());
    Result<std::shared_ptr<Engine>> loaded = rt.value()->load_file(path);
    fs::remove(path);
    if (!loaded.ok()) return set_error(r, "load", loaded.status());
    engine = loaded.value();
    if (options.backend == "cuda") {
      Result<std::unique_ptr<ExecutionContext>> c = ExecutionContext::create(engine);
      if (!c.ok()) return set_error(r, "prepare", c.status());
      context = std::move(c).value();
    }
  }
  const Graph& run_graph = engine ? engine->graph() : g;
  if (!context) {
    Result<std::unique_ptr<Backend>> backend = create_backend(options.backend);
    if (!backend.ok()) return set_error(r, "prepare", backend.status());
    Result<std::unique_ptr<Executable>> e = backend.value()->prepare(run_graph);
    if (!e.ok()) return set_error(r, "prepare", e.status());
    exe = std::move(e).value();
  }

  for (size_t k = 0; k < sets.size(); ++k) {
    const fs::path& set = sets[k];
    const std::string set_name = set.filename().string();
    const std::vector<std::string> out_files = numbered_files(set, "output_");
    if (out_files.size() != g.outputs().size())
      return set_failure(r, "read", fmt::format("{}: {} output files for {} graph outputs", set_name,
                                                out_files.size(), g.outputs().size()));
    const std::vector<NamedTensor>& feeds = all_feeds[k];
    std::vector<Tensor> expected;
    for (size_t i = 0; i < out_files.size(); ++i) {
      const std::string& f = out_files[i];
      Result<Tensor> t = read_test_tensor(f, g.outputs()[i]->dtype());
      if (!t.ok()) return set_error(r, "read", t.status().with_context(f));
      expected.push_back(std::move(t).value());
    }

    RunOptions run_options;
    run_options.poison_outputs = true;
    std::vector<NamedTensor> outputs;
    Status s = context ? context->run(feeds, &outputs, /*poison=*/true) : exe->run(feeds, &outputs, run_options);
    if (!s.ok()) return set_error(r, "run", s.with_context(set_name));
    if (outputs.size() != expected.size())
      return set_failure(r, "compare", fmt::format("{}: {} outputs, expected {}", set_name, outputs.size(),
                                                   expected.size()));
    for (size_t i = 0; i < outputs.size(); ++i) {
      const std::string label = fmt::format("{} output {} '{}'", set_name, i, outputs[i].name);
      Comparison c = compare_outputs(outputs[i].tensor, expected[i], options.rtol, options.atol, label);
      r->max_abs_err = std::max(r->max_abs_err, c.max_abs_err);
      r->max_rel_err = std::max(r->max_rel_err, c.max_rel_err);
      if (!c.ok) return set_failure(r, "compare", c.message);
    }
    ++r->data_sets;
  }
  r->status = CaseStatus::kPass;
  r->stage = "done";
}

}  // namespace

CaseResult run_case(const CaseSpec& spec, const RunCaseOptions& options) {
  CaseResult r;
  r.suite = spec.suite;
  r.name = spec.name;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    run_case_body(spec, options, &r);
  } catch (const std::exception& e) {
    set_failure(&r, r.stage.empty() ? "run" : r.stage, std::string("exception: ") + e.what());
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Paths inside the case directory make one-line reasons unreadable; the case name says where.
  const std::string prefix = spec.dir + "/";
  for (size_t at; (at = r.message.find(prefix)) != std::string::npos;) r.message.erase(at, prefix.size());
  for (const std::string noise : {"importing 'model.onnx': ", "'model.onnx' "}) {
    if (const size_t at = r.message.find(noise); at != std::string::npos) r.message.erase(at, noise.size());
  }
  return r;
}

}  // namespace slimrt::conformance
