// `slimrt bench MODEL.engine`: GPU compute time of enqueue, timed with CUDA events.
//
// Loads the engine on the GPU, creates one execution context, binds device buffers holding
// random inputs, and for each batch size: warms up (the eager run and the CUDA graph capture
// happen there), then times every iteration between two events recorded around enqueue on one
// stream. Reports median / p90 / p99 in ms and throughput (batch / median), and the context's
// device memory.
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>
#include <tuple>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/bench_io.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "slimrt/context.h"
#include "slimrt/device.h"
#include "slimrt/runtime.h"

#ifdef SLIMRT_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "cuda/check.h"
#include "cuda/device_resources.h"
#endif

namespace slimrt::cli {
namespace {

struct BenchResult {
  int64_t batch = 0;
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
  double median_ms = 0, p90_ms = 0, p99_ms = 0, min_ms = 0;
  double throughput = 0;  // samples per second
  std::vector<LayerTime> layers;  // --profile
};

#ifdef SLIMRT_HAVE_CUDA
// Device buffers freed on scope exit.
struct DeviceBuffers {
  std::vector<cuda::DeviceBuffer> owned;
  Result<void*> alloc(uint64_t bytes, const std::string& what) {
    SLIMRT_ASSIGN_OR_RETURN(cuda::DeviceBuffer b, cuda::DeviceBuffer::allocate(std::max<uint64_t>(bytes, 1), what));
    owned.push_back(std::move(b));
    return owned.back().get();
  }
};

// Random bytes that are valid for every dtype's use here: floats in [-1, 1), small ints (ids).
Result<Tensor> random_host(DataType dtype, const std::vector<int64_t>& shape, std::mt19937_64& rng) {
  SLIMRT_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(dtype, shape));
  std::uniform_real_distribution<float> uf(-1.0f, 1.0f);
  for (int64_t i = 0; i < t.numel(); ++i) {
    switch (dtype) {
      case DataType::kFloat32: t.data<float>()[i] = uf(rng); break;
      case DataType::kFloat16: t.data<uint16_t>()[i] = float_to_half(uf(rng)); break;
      case DataType::kBFloat16: t.data<uint16_t>()[i] = float_to_bfloat16(uf(rng)); break;
      case DataType::kFloat64: t.data<double>()[i] = uf(rng); break;
      case DataType::kInt64: t.data<int64_t>()[i] = static_cast<int64_t>(rng() % 10); break;
      case DataType::kInt32: t.data<int32_t>()[i] = static_cast<int32_t>(rng() % 10); break;
      default: static_cast<uint8_t*>(t.raw())[i * static_cast<int64_t>(dtype_size(dtype))] = static_cast<uint8_t>(rng() % 2); break;
    }
  }
  return t;
}

Result<BenchResult> bench_batch(ExecutionContext& ctx, int64_t batch, const BenchOptions& opts, const BenchNumbers& num,
                                std::mt19937_64& rng) {
  BenchResult r;
  r.batch = batch;
  DeviceBuffers buffers;
  // Inputs come first in io_tensors(): their shapes are set before any output's is asked for.
  for (const IoTensor& t : ctx.engine().io_tensors()) {
    if (t.is_output()) {
      SLIMRT_ASSIGN_OR_RETURN(std::vector<int64_t> dims, ctx.tensor_shape(t.name));
      SLIMRT_ASSIGN_OR_RETURN(const uint64_t bytes, t.byte_size(dims));
      SLIMRT_ASSIGN_OR_RETURN(void* p, buffers.alloc(bytes, fmt::format("output '{}'", t.name)));
      SLIMRT_RETURN_IF_ERROR(ctx.set_tensor_address(t.name, p));
      continue;
    }
    // Static dims as declared; a dynamic dim 0 at --batch; the others at the first profile's opt.
    std::vector<int64_t> dims;
    for (size_t d = 0; d < t.dims.size(); ++d) {
      if (t.dims[d] != kDynamicDim) dims.push_back(t.dims[d]);
      else if (d == 0 && batch > 0) dims.push_back(batch);
      else if (!t.profiles.empty() && t.profiles.front().opt[d] != kDynamicDim) dims.push_back(t.profiles.front().opt[d]);
      else dims.push_back(1);
    }
    if (batch <= 0 && !dims.empty()) r.batch = dims[0];
    SLIMRT_RETURN_IF_ERROR(ctx.set_input_shape(t.name, dims));
    SLIMRT_RETURN_IF_ERROR(check_tensor_size(fmt::format("input '{}'", t.name), t.dtype, dims));
    SLIMRT_ASSIGN_OR_RETURN(Tensor host, random_host(t.dtype, dims, rng));
    SLIMRT_ASSIGN_OR_RETURN(void* p, buffers.alloc(host.bytes(), fmt::format("input '{}'", t.name)));
    SLIMRT_CUDA_RETURN_IF_ERROR(cudaMemcpy(p, host.raw(), host.bytes(), cudaMemcpyHostToDevice));
    SLIMRT_RETURN_IF_ERROR(ctx.set_tensor_address(t.name, p));
    r.shapes.push_back({t.name, dims});
  }
  SLIMRT_ASSIGN_OR_RETURN(cuda::Stream owned_stream, cuda::Stream::create());
  cudaStream_t stream = owned_stream.get();
  std::vector<cuda::Event> events(2 * static_cast<size_t>(num.iterations));
  Status st = [&]() -> Status {
    for (auto& e : events) {
      SLIMRT_ASSIGN_OR_RETURN(e, cuda::Event::create());
    }
    for (int i = 0; i < num.warmup; ++i) SLIMRT_RETURN_IF_ERROR(ctx.enqueue(stream));
    SLIMRT_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream), "warm-up");
    for (int i = 0; i < num.iterations; ++i) {
      SLIMRT_CUDA_RETURN_IF_ERROR(cudaEventRecord(events[2 * i].get(), stream));
      SLIMRT_RETURN_IF_ERROR(ctx.enqueue(stream));
      SLIMRT_CUDA_RETURN_IF_ERROR(cudaEventRecord(events[2 * i + 1].get(), stream));
    }
    SLIMRT_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream), "running");
    std::vector<double> ms(static_cast<size_t>(num.iterations));
    for (int i = 0; i < num.iterations; ++i) {
      float t = 0;
      SLIMRT_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&t, events[2 * i].get(), events[2 * i + 1].get()));
      ms[static_cast<size_t>(i)] = t;
    }
    r.median_ms = percentile(ms, 0.5);
    r.p90_ms = percentile(ms, 0.9);
    r.p99_ms = percentile(ms, 0.99);
    r.min_ms = *std::min_element(ms.begin(), ms.end());
    r.throughput = r.median_ms > 0 ? static_cast<double>(std::max<int64_t>(r.batch, 1)) * 1000.0 / r.median_ms : 0;
    if (opts.profile) {
      SLIMRT_ASSIGN_OR_RETURN(r.layers, ctx.profile_layers(stream, std::min(num.iterations, 50)));
    }
    return Status::OK();
  }();
  // The stream and events go with this scope; nothing may still run on them.
  if (!st.ok()) SLIMRT_CUDA_IGNORE(cudaStreamSynchronize(stream));
  if (!st.ok()) return st;
  return r;
}
// Per-op-type totals of a profile, largest first: (op type, ms, launches).
std::vector<std::tuple<std::string, double, int>> by_op_type(const std::vector<LayerTime>& layers) {
  std::map<std::string, std::pair<double, int>> acc;
  for (const LayerTime& l : layers) {
    auto& a = acc[l.op_type.empty() ? std::string("(value write)") : l.op_type];
    a.first += l.median_ms;
    ++a.second;
  }
  std::vector<std::tuple<std::string, double, int>> v;
  for (const auto& [op, a] : acc) v.emplace_back(op, a.first, a.second);
  std::sort(v.begin(), v.end(), [](const auto& x, const auto& y) { return std::get<1>(x) > std::get<1>(y); });
  return v;
}

void print_profile(const BenchResult& r) {
  double total = 0;
  for (const LayerTime& l : r.layers) total += l.median_ms;
  fmt::print("\nprofile, batch {}: {} launches, {:.4f} ms in kernels (eager, median per launch)\n", r.batch,
             r.layers.size(), total);
  fmt::print("  {:<28} {:>10} {:>7} {:>9}\n", "op type", "ms", "%", "launches");
  for (const auto& [op, ms, n] : by_op_type(r.layers))
    fmt::print("  {:<28} {:>10.4f} {:>6.1f}% {:>9}\n", op, ms, total > 0 ? 100 * ms / total : 0, n);
  std::vector<const LayerTime*> top;
  for (const LayerTime& l : r.layers) top.push_back(&l);
  std::sort(top.begin(), top.end(), [](const LayerTime* a, const LayerTime* b) { return a->median_ms > b->median_ms; });
  if (top.size() > 12) top.resize(12);
  fmt::print("  slowest launches:\n");
  for (const LayerTime* l : top) fmt::print("  {:>10.4f}  {} ({})\n", l->median_ms, l->name, l->op_type);
}
#endif

Result<BenchNumbers> parse_bench_numbers(const BenchOptions& opts) {
  BenchNumbers n;
  for (const std::string& b : opts.batches) {
    SLIMRT_ASSIGN_OR_RETURN(int64_t batch, parse_int_option("--batch", b, 1, std::numeric_limits<int64_t>::max()));
    n.batches.push_back(batch);
  }
  SLIMRT_ASSIGN_OR_RETURN(const int64_t iterations, parse_int_option("--iterations", opts.iterations, 1, kMaxIterations));
  Result<int64_t> warmup = parse_int_option("--warmup", opts.warmup, 2, kMaxIterations);
  if (!warmup.ok())
    return invalid_argument(warmup.status().message() + " (the first enqueue runs eagerly, the second captures the CUDA graph)");
  SLIMRT_ASSIGN_OR_RETURN(n.seed, parse_seed_option("--seed", opts.seed));
  for (const std::string& s : opts.streams) {
    SLIMRT_ASSIGN_OR_RETURN(int64_t k, parse_int_option("--streams", s, 1, 64));
    n.streams.push_back(k);
  }
  if (n.streams.empty()) n.streams.push_back(1);
  if (opts.io.empty() && (!opts.streams.empty() || !opts.timeline.empty()))
    return invalid_argument("--streams and --timeline measure host data in and out: give --io device|pinned|mapped|pageable");
  if (!opts.io.empty() && opts.io != "device" && opts.io != "pinned" && opts.io != "mapped" && opts.io != "pageable")
    return invalid_argument(fmt::format("--io '{}': expected device, pinned, mapped or pageable", opts.io));
  if (!opts.io.empty() && opts.profile) return invalid_argument("--profile times the compute alone: leave out --io");
  if (!opts.io.empty() && opts.batches.size() > 1)
    return invalid_argument("--io takes one --batch (or none: the profile's opt shapes)");
  n.iterations = static_cast<int>(iterations);
  n.warmup = static_cast<int>(*warmup);
  return n;
}

Status execute(const BenchOptions& opts) {
  // The options are checked before the GPU is looked for: a bad value is exit 2 on any machine.
  SLIMRT_ASSIGN_OR_RETURN(const BenchNumbers num, parse_bench_numbers(opts));
  std::error_code ec;
  if (std::filesystem::is_directory(opts.engine, ec))
    return invalid_argument(fmt::format("'{}' is a directory, not an engine file", opts.engine));
#ifndef SLIMRT_HAVE_CUDA
  (void)num;
  return unsupported("slimrt bench needs a GPU: slimrt was built without CUDA");
#else
  const DeviceQuery q = query_cuda_devices();
  if (q.count == 0) return unsupported("slimrt bench needs a GPU: " + q.description);
  RuntimeOptions ro;
  ro.backend = "cuda";
  SLIMRT_ASSIGN_OR_RETURN(auto rt, Runtime::create(ro));
  SLIMRT_ASSIGN_OR_RETURN(std::shared_ptr<Engine> engine, rt->load_file(opts.engine));
  if (!opts.io.empty()) return run_io_bench(opts, num, engine, q.description);
  ContextOptions co;
  co.cuda_graphs = !opts.no_cuda_graphs;
  SLIMRT_ASSIGN_OR_RETURN(auto ctx, ExecutionContext::create(engine, co));
  std::mt19937_64 rng(num.seed);
  std::vector<BenchResult> results;
  std::vector<int64_t> batches = num.batches;
  if (batches.empty()) batches.push_back(0);  // the profile's opt shapes
  for (int64_t b : batches) {
    auto r = bench_batch(*ctx, b, opts, num, rng);
    if (!r.ok()) return r.status().with_context(fmt::format("batch {}", b));
    results.push_back(*r);
  }
  if (opts.json) {
    nlohmann::json j;
    j["engine"] = opts.engine;
    j["device"] = q.description;
    j["precision"] = precision_name(engine->info().header.precision);
    j["cuda_graphs"] = !opts.no_cuda_graphs;
    j["device_memory_bytes"] = ctx->device_memory_size();
    j["weights_bytes"] = engine->weights_bytes();
    j["iterations"] = num.iterations;
    j["warmup"] = num.warmup;
    j["results"] = nlohmann::json::array();
    for (const BenchResult& r : results) {
      nlohmann::json shapes = nlohmann::json::object();
      for (const auto& [n, d] : r.shapes) shapes[n] = d;
      nlohmann::json jr = {{"batch", r.batch}, {"shapes", shapes}, {"median_ms", r.median_ms}, {"p90_ms", r.p90_ms},
                           {"p99_ms", r.p99_ms}, {"min_ms", r.min_ms}, {"throughput_per_s", r.throughput}};
      if (opts.profile) {
        jr["layers"] = nlohmann::json::array();
        for (const LayerTime& l : r.layers) jr["layers"].push_back({{"name", l.name}, {"op_type", l.op_type}, {"ms", l.median_ms}});
        jr["op_types"] = nlohmann::json::array();
        for (const auto& [op, ms, n] : by_op_type(r.layers)) jr["op_types"].push_back({{"op_type", op}, {"ms", ms}, {"launches", n}});
      }
      j["results"].push_back(jr);
    }
    fmt::print("{}\n", j.dump(2));
    return Status::OK();
  }
  fmt::print("engine   {} ({}, {:.1f} MiB of weights)\ndevice   {}\nmemory   {:.1f} MiB per context; CUDA graphs {}\n",
             opts.engine, precision_name(engine->info().header.precision),
             static_cast<double>(engine->weights_bytes()) / (1 << 20), q.description,
             static_cast<double>(ctx->device_memory_size()) / (1 << 20), opts.no_cuda_graphs ? "off" : "on");
  fmt::print("{:>7} {:>11} {:>11} {:>11} {:>14}   (GPU compute time of enqueue, {} iterations after {} warm-up)\n",
             "batch", "median ms", "p90 ms", "p99 ms", "samples/s", num.iterations, num.warmup);
  for (const BenchResult& r : results)
    fmt::print("{:>7} {:>11.4f} {:>11.4f} {:>11.4f} {:>14.1f}\n", r.batch, r.median_ms, r.p90_ms, r.p99_ms, r.throughput);
  if (opts.profile) {
    for (const BenchResult& r : results) print_profile(r);
  }
  return Status::OK();
#endif
}

}  // namespace

void add_bench_command(CLI::App& app, BenchOptions& opts, int& exit_code) {
  CLI::App* bench = app.add_subcommand("bench", "Time an engine on the GPU (CUDA events around enqueue)");
  bench->add_option("engine", opts.engine, "Engine file (from slimrt build)")->required();
  bench->add_option("--batch", opts.batches, "Batch sizes (>= 1): dim 0 of every input whose dim 0 is dynamic "
                                             "(repeatable; default: the first profile's opt shapes)");
  bench->add_option("--iterations", opts.iterations, "Timed enqueues per batch size (1 to 1000000)")->default_val("200");
  bench->add_option("--warmup", opts.warmup, "Untimed enqueues first (2 to 1000000)")->default_val("20");
  bench->add_option("--seed", opts.seed, "Seed for the random inputs (0 to 2^64-1)")->default_val("0");
  bench->add_flag("--no-cuda-graphs", opts.no_cuda_graphs, "Launch kernels one by one instead of replaying a graph");
  bench->add_flag("--json", opts.json, "Print machine-readable results");
  bench->add_flag("--profile", opts.profile,
                  "Then time every layer (eager, an event between launches) and print per-op-type totals and the "
                  "slowest layers");
  bench->add_option("--io", opts.io,
                    "Time host data in and out too: requests with device|pinned|mapped|pageable buffers through a "
                    "pipeline, H2D, compute and D2H apart");
  bench->add_option("--streams", opts.streams, "With --io: requests in flight (1 to 64; repeatable to compare)");
  bench->add_option("--timeline", opts.timeline, "With --io: write an SVG of the last run's streams (H2D, compute, D2H)");
  bench->footer("Exit codes: 0 ok, 1 runtime failure, 2 bad usage, bad input or no GPU.");
  bench->callback([&opts, &exit_code] {
    Status s = execute(opts);
    exit_code = s.ok() ? kExitOk : report_error(s);
  });
}

}  // namespace slimrt::cli
