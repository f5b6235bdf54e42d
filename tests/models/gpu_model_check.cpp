// slimrt_gpu_model_check: the exported architectures as fp32 and fp16 engines on the GPU, against
// the CPU reference backend running the same engine on the same inputs.
//
//   slimrt_gpu_model_check build/cache/models --models resnet50,bert_base
//
// For each <dir>/<model>/ (written by scripts/export_models.py: model.onnx, input_<name>.npy,
// meta.json) and each precision: build_engine with a profile fixed at the recorded input shapes,
// load it on the CPU and run the graph on the CPU backend (the reference), load it on the GPU and
// run it through an ExecutionContext with outputs and arena poisoned. Every output must be within
// relative L2 --fp32-tolerance (1e-5) or --fp16-tolerance (1e-2). Also reports the median GPU time
// of enqueue (CUDA graphs on). Prints one row per model and precision; exits 1 on any failure.
#include <cuda_runtime_api.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "model_util.h"
#include "slimrt/backend.h"
#include "slimrt/builder/builder.h"
#include "slimrt/context.h"
#include "slimrt/device.h"
#include "slimrt/npy.h"
#include "slimrt/runtime.h"

namespace fs = std::filesystem;
using namespace slimrt;

namespace {

using model_check::rel_l2;

struct Row {
  std::string model, precision, shapes;
  double err = NAN;
  double gpu_ms = NAN;
  double cpu_ms = NAN;
  std::string problem;
};

Result<std::vector<NamedTensor>> run_cpu(const std::string& engine, const std::vector<NamedTensor>& feeds) {
  RuntimeOptions ro;
  ro.backend = "cpu";
  SLIMRT_ASSIGN_OR_RETURN(auto rt, Runtime::create(ro));
  SLIMRT_ASSIGN_OR_RETURN(std::shared_ptr<Engine> e, rt->load_file(engine));
  SLIMRT_ASSIGN_OR_RETURN(auto backend, create_backend("cpu"));
  SLIMRT_ASSIGN_OR_RETURN(auto exe, backend->prepare(e->graph()));
  std::vector<NamedTensor> out;
  RunOptions options;
  options.poison_outputs = true;
  SLIMRT_RETURN_IF_ERROR(exe->run(feeds, &out, options));
  return out;
}

// Runs on the GPU (poisoned) and times enqueue with CUDA events (median of 20 after warm-up).
Result<std::vector<NamedTensor>> run_gpu(const std::string& engine, const std::vector<NamedTensor>& feeds, double* ms) {
  RuntimeOptions ro;
  ro.backend = "cuda";
  SLIMRT_ASSIGN_OR_RETURN(auto rt, Runtime::create(ro));
  SLIMRT_ASSIGN_OR_RETURN(std::shared_ptr<Engine> e, rt->load_file(engine));
  SLIMRT_ASSIGN_OR_RETURN(auto ctx, ExecutionContext::create(e));
  std::vector<NamedTensor> out;
  SLIMRT_RETURN_IF_ERROR(ctx->run(feeds, &out, /*poison=*/true));
  // Timing: device copies of the inputs stay bound; outputs in the arena.
  std::vector<void*> bufs;
  auto free_all = [&] {
    for (void* p : bufs) cudaFree(p);
  };
  for (const NamedTensor& f : feeds) {
    void* p = nullptr;
    if (cudaMalloc(&p, std::max<size_t>(f.tensor.bytes(), 1)) != cudaSuccess) {
      free_all();
      return out_of_memory("timing buffers");
    }
    bufs.push_back(p);
    cudaMemcpy(p, f.tensor.raw(), f.tensor.bytes(), cudaMemcpyHostToDevice);
    SLIMRT_RETURN_IF_ERROR(ctx->set_input_shape(f.name, f.tensor.shape()));
    SLIMRT_RETURN_IF_ERROR(ctx->set_tensor_address(f.name, p));
  }
  cudaStream_t s = nullptr;
  cudaStreamCreate(&s);
  cudaEvent_t a = nullptr, b = nullptr;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  std::vector<double> times;
  Status st;
  for (int i = 0; i < 5 && st.ok(); ++i) st = ctx->enqueue(s);
  for (int i = 0; i < 20 && st.ok(); ++i) {
    cudaEventRecord(a, s);
    st = ctx->enqueue(s);
    cudaEventRecord(b, s);
    cudaEventSynchronize(b);
    float t = 0;
    cudaEventElapsedTime(&t, a, b);
    times.push_back(t);
  }
  cudaStreamSynchronize(s);
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  cudaStreamDestroy(s);
  free_all();
  SLIMRT_RETURN_IF_ERROR(st);
  std::sort(times.begin(), times.end());
  *ms = times[times.size() / 2];
  return out;
}

Row check(const fs::path& dir, Precision p, double tolerance) {
  Row row;
  row.model = dir.filename().string();
  row.precision = std::string(precision_name(p));
  nlohmann::json meta;
  try {
    std::ifstream in(dir / "meta.json");
    meta = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    row.problem = fmt::format("meta.json: {}", e.what());
    return row;
  }
  std::vector<NamedTensor> feeds;
  OptimizationProfile prof;
  for (const auto& in : meta["inputs"]) {
    Result<Tensor> t = read_npy((dir / in["file"].get<std::string>()).string());
    if (!t.ok()) {
      row.problem = "input: " + t.status().to_string();
      return row;
    }
    row.shapes += fmt::format("{}{}", row.shapes.empty() ? "" : " ", shape_to_string(t->shape()));
    prof.inputs.push_back({in["name"].get<std::string>(), t->shape(), t->shape(), t->shape()});
    feeds.push_back({in["name"].get<std::string>(), std::move(t).value()});
  }
  BuildOptions bo;
  bo.precision = p;
  bo.profiles = {prof};
  const fs::path engine = fs::temp_directory_path() /
                          fmt::format("slimrt_gpu_model_check_{}_{}_{}.engine", getpid(), row.model, row.precision);
  Status built = build_engine((dir / "model.onnx").string(), bo, engine.string());
  if (!built.ok()) {
    row.problem = "build: " + built.to_string();
    return row;
  }
  auto t0 = std::chrono::steady_clock::now();
  auto ref = run_cpu(engine.string(), feeds);
  row.cpu_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  auto got = ref.ok() ? run_gpu(engine.string(), feeds, &row.gpu_ms) : Result<std::vector<NamedTensor>>(ref.status());
  std::error_code ec;
  fs::remove(engine, ec);
  if (!ref.ok()) {
    row.problem = "CPU reference: " + ref.status().to_string();
    return row;
  }
  if (!got.ok()) {
    row.problem = "GPU: " + got.status().to_string();
    return row;
  }
  if (got->size() != ref->size()) {
    row.problem = fmt::format("GPU gave {} outputs, the CPU {}", got->size(), ref->size());
    return row;
  }
  double worst = 0;
  for (size_t i = 0; i < got->size(); ++i) {
    const double e = rel_l2((*got)[i].tensor, (*ref)[i].tensor);
    if (!(e <= worst)) worst = e;
  }
  row.err = worst;
  if (!(worst < tolerance)) row.problem = fmt::format("relative L2 {:.3g} is not below {:.3g}", worst, tolerance);
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Exported architectures as fp32/fp16 engines on the GPU vs the CPU reference backend"};
  std::string root;
  std::vector<std::string> models;
  double fp32_tol = 1e-5, fp16_tol = 1e-2;
  std::string json_out;
  app.add_option("dir", root, "directory written by scripts/export_models.py")->required();
  app.add_option("--models", models, "models to check (default: every subdirectory)")->delimiter(',');
  app.add_option("--fp32-tolerance", fp32_tol, "relative L2 bound for fp32 engines")->capture_default_str();
  app.add_option("--fp16-tolerance", fp16_tol, "relative L2 bound for fp16 engines")->capture_default_str();
  app.add_option("--json-out", json_out, "write the rows as JSON");
  CLI11_PARSE(app, argc, argv);
  const DeviceQuery q = query_cuda_devices();
  if (q.count == 0) {
    fmt::print("slimrt_gpu_model_check: skipped: no GPU: {}\n", q.description);
    return 0;
  }
  if (models.empty()) {
    for (const auto& e : fs::directory_iterator(root)) {
      if (e.is_directory() && fs::exists(e.path() / "meta.json")) models.push_back(e.path().filename().string());
    }
    std::sort(models.begin(), models.end());
  }
  std::vector<Row> rows;
  fmt::print("{:<14} {:<6} {:<28} {:>12} {:>10} {:>11}  {}\n", "model", "prec", "inputs", "rel L2", "GPU ms",
             "CPU ref ms", "result");
  for (const std::string& m : models) {
    for (Precision p : {Precision::kFp32, Precision::kFp16}) {
      Row r = check(fs::path(root) / m, p, p == Precision::kFp32 ? fp32_tol : fp16_tol);
      fmt::print("{:<14} {:<6} {:<28} {:>12.3e} {:>10.3f} {:>11.0f}  {}\n", r.model, r.precision, r.shapes, r.err,
                 r.gpu_ms, r.cpu_ms, r.problem.empty() ? "ok" : r.problem);
      std::fflush(stdout);
      rows.push_back(r);
    }
  }
  if (!json_out.empty()) {
    nlohmann::json j = nlohmann::json::array();
    for (const Row& r : rows)
      j.push_back({{"model", r.model}, {"precision", r.precision}, {"inputs", r.shapes},
                   {"rel_l2", std::isfinite(r.err) ? nlohmann::json(r.err) : nlohmann::json(nullptr)},
                   {"gpu_ms", std::isfinite(r.gpu_ms) ? nlohmann::json(r.gpu_ms) : nlohmann::json(nullptr)},
                   {"problem", r.problem}});
    std::ofstream(json_out) << j.dump(1) << "\n";
  }
  const bool ok = std::all_of(rows.begin(), rows.end(), [](const Row& r) { return r.problem.empty(); });
  fmt::print("gpu model check: {} of {} passed on {}\n",
             std::count_if(rows.begin(), rows.end(), [](const Row& r) { return r.problem.empty(); }), rows.size(),
             q.description);
  return ok ? 0 : 1;
}
