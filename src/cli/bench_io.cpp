// `slimrt bench --io`: requests with host (or device) buffers through a Pipeline, each request's
// H2D copies, compute and D2H copies timed apart with CUDA events, end-to-end latency on the host
// clock, and throughput over the whole run, for each --streams value (requests in flight).
//
// Buffers: streams + 2 sets of input and output buffers of the --io kind, filled with random data
// once; request i uses set i % sets. The pipeline's queue holds one request, so when request i is
// submitted at most streams + 1 others are outstanding and set i % sets is free.
#include "cli/bench_io.h"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>
#include <string>
#include <nlohmann/json.hpp>

#include "slimrt/context.h"
#include "slimrt/host_memory.h"
#include "slimrt/pipeline.h"

#ifdef SLIMRT_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "cuda/check.h"
#include "cuda/device_resources.h"
#endif

namespace slimrt::cli {

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[k];
}

#ifndef SLIMRT_HAVE_CUDA
Status run_io_bench(const BenchOptions&, const BenchNumbers&, const std::shared_ptr<Engine>&, const std::string&) {
  return unsupported("slimrt bench --io needs a GPU: slimrt was built without CUDA");
}
#else
namespace {

using Clock = std::chrono::steady_clock;

Result<BufferLocation> parse_location(const std::string& s) {
  if (s == "device") return BufferLocation::kDevice;
  if (s == "pinned") return BufferLocation::kPinned;
  if (s == "mapped") return BufferLocation::kMapped;
  if (s == "pageable") return BufferLocation::kPageable;
  return invalid_argument(fmt::format("--io '{}': expected device, pinned, mapped or pageable", s));
}

// One buffer of the benchmark's kind.
class BenchBuffer {
 public:
  static Result<BenchBuffer> make(BufferLocation where, uint64_t bytes, const std::string& what) {
    BenchBuffer b;
    b.where_ = where;
    b.bytes_ = bytes;
    const uint64_t n = std::max<uint64_t>(bytes, 1);
    if (where == BufferLocation::kDevice) {
      SLIMRT_ASSIGN_OR_RETURN(b.device_, cuda::DeviceBuffer::allocate(n, what));
      b.ptr_ = b.device_.get();
    } else if (where == BufferLocation::kPageable) {
      b.pageable_.assign(n, 0);
      b.ptr_ = b.pageable_.data();
    } else {
      SLIMRT_ASSIGN_OR_RETURN(b.host_, HostBuffer::allocate(n, where == BufferLocation::kMapped));
      b.ptr_ = b.host_.data();
    }
    return b;
  }
  // Random bytes valid for the dtype: floats in [-1, 1), uint8 anywhere, integers small ids.
  Status fill(DataType dt, std::mt19937_64& rng) {
    std::vector<uint8_t> data(bytes_);
    std::uniform_real_distribution<float> uf(-1.0f, 1.0f);
    const size_t es = dtype_size(dt), n = es ? bytes_ / es : 0;
    for (size_t i = 0; i < n; ++i) {
      uint8_t* p = data.data() + i * es;
      if (dt == DataType::kFloat32) {
        const float f = uf(rng);
        std::memcpy(p, &f, 4);
      } else if (dt == DataType::kFloat16 || dt == DataType::kBFloat16) {
        const uint16_t h = dt == DataType::kFloat16 ? float_to_half(uf(rng)) : float_to_bfloat16(uf(rng));
        std::memcpy(p, &h, 2);
      } else if (dt == DataType::kUInt8) {
        *p = static_cast<uint8_t>(rng());
      } else {
        *p = static_cast<uint8_t>(rng() % 10);
      }
    }
    if (where_ == BufferLocation::kDevice) {
      SLIMRT_CUDA_RETURN_IF_ERROR(cudaMemcpy(ptr_, data.data(), bytes_, cudaMemcpyHostToDevice));
    } else {
      std::memcpy(ptr_, data.data(), bytes_);
    }
    return Status::OK();
  }
  void* get() const { return ptr_; }
  uint64_t bytes() const { return bytes_; }

 private:
  BufferLocation where_ = BufferLocation::kDevice;
  uint64_t bytes_ = 0;
  void* ptr_ = nullptr;
  cuda::DeviceBuffer device_;
  HostBuffer host_;
  std::vector<uint8_t> pageable_;
};

struct StageFigures {
  double p50 = 0, p90 = 0, p99 = 0;
};
StageFigures figures(const std::vector<double>& v) { return {percentile(v, 0.5), percentile(v, 0.9), percentile(v, 0.99)}; }

struct IoRun {
  int64_t streams = 0;
  StageFigures h2d, compute, d2h, latency;
  double wall_ms = 0, throughput = 0;  // requests per second over the timed run
  double bound = 0;                    // 1 / max(stage medians), requests per second
  std::vector<RequestTiming> timings;
};

struct Tensors {
  std::vector<std::vector<int64_t>> in_dims;
  std::vector<DataType> in_types, out_types;
  std::vector<uint64_t> in_bytes, out_bytes;
  std::vector<std::string> in_names, out_names;
  std::vector<std::vector<int64_t>> out_dims;
};

// Input dims as `slimrt bench` chooses them (static dims; a dynamic dim 0 at `batch`; the others
// at the first profile's opt), and the output dims a scratch context resolves for them.
Result<Tensors> choose_shapes(const std::shared_ptr<Engine>& engine, int64_t batch) {
  Tensors t;
  ContextOptions co;
  co.cuda_graphs = false;
  SLIMRT_ASSIGN_OR_RETURN(auto ctx, ExecutionContext::create(engine, co));
  for (const IoTensor& io : engine->io_tensors()) {
    if (io.is_output()) continue;
    std::vector<int64_t> dims;
    for (size_t d = 0; d < io.dims.size(); ++d) {
      if (io.dims[d] != kDynamicDim) dims.push_back(io.dims[d]);
      else if (d == 0 && batch > 0) dims.push_back(batch);
      else if (!io.profiles.empty() && io.profiles.front().opt[d] != kDynamicDim) dims.push_back(io.profiles.front().opt[d]);
      else dims.push_back(1);
    }
    SLIMRT_RETURN_IF_ERROR(ctx->set_input_shape(io.name, dims));
    SLIMRT_ASSIGN_OR_RETURN(const uint64_t bytes, io.byte_size(dims));
    t.in_names.push_back(io.name);
    t.in_dims.push_back(dims);
    t.in_types.push_back(io.dtype);
    t.in_bytes.push_back(bytes);
  }
  for (const IoTensor& io : engine->io_tensors()) {
    if (!io.is_output()) continue;
    SLIMRT_ASSIGN_OR_RETURN(std::vector<int64_t> dims, ctx->tensor_shape(io.name));
    SLIMRT_ASSIGN_OR_RETURN(const uint64_t bytes, io.byte_size(dims));
    t.out_names.push_back(io.name);
    t.out_dims.push_back(dims);
    t.out_types.push_back(io.dtype);
    t.out_bytes.push_back(bytes);
  }
  return t;
}

Result<IoRun> run_streams(const std::shared_ptr<Engine>& engine, const Tensors& t, BufferLocation where, int64_t streams,
                          const BenchNumbers& num, std::mt19937_64& rng) {
  PipelineOptions po;
  po.in_flight = static_cast<uint32_t>(streams);
  po.queue_capacity = 1;
  po.timing_records = static_cast<uint32_t>(num.iterations);
  SLIMRT_ASSIGN_OR_RETURN(auto pipe, Pipeline::create(engine, po));
  const size_t sets = static_cast<size_t>(streams) + 2;
  std::vector<BenchBuffer> buffers;
  std::vector<Request> requests(sets);
  for (size_t k = 0; k < sets; ++k) {
    for (size_t i = 0; i < t.in_names.size(); ++i) {
      SLIMRT_ASSIGN_OR_RETURN(BenchBuffer b, BenchBuffer::make(where, t.in_bytes[i], "input '" + t.in_names[i] + "'"));
      SLIMRT_RETURN_IF_ERROR(b.fill(t.in_types[i], rng));
      requests[k].inputs.push_back({b.get(), where, b.bytes(), t.in_dims[i]});
      buffers.push_back(std::move(b));
    }
    for (size_t o = 0; o < t.out_names.size(); ++o) {
      SLIMRT_ASSIGN_OR_RETURN(BenchBuffer b, BenchBuffer::make(where, t.out_bytes[o], "output '" + t.out_names[o] + "'"));
      requests[k].outputs.push_back({b.get(), where, b.bytes(), {}});
      buffers.push_back(std::move(b));
    }
  }
  // Failures reach the callbacks; the first one is kept.
  struct Failure {
    std::mutex mu;
    Status first;
  } failure;
  for (Request& r : requests) {
    r.user = &failure;
    r.done = [](void* user, const Status& s) {
      if (s.ok()) return;
      auto* f = static_cast<Failure*>(user);
      std::lock_guard<std::mutex> lock(f->mu);
      if (f->first.ok()) f->first = s;
    };
  }
  // Warm-up: every worker resolves, captures and sizes its copies.
  const int warm = std::max<int>(num.warmup, static_cast<int>(2 * streams + 2));
  for (int i = 0; i < warm; ++i) SLIMRT_RETURN_IF_ERROR(pipe->submit(requests[static_cast<size_t>(i) % sets]));
  pipe->wait_idle();
  SLIMRT_RETURN_IF_ERROR(failure.first);
  SLIMRT_RETURN_IF_ERROR(pipe->reset_timings());
  const auto t0 = Clock::now();
  for (int i = 0; i < num.iterations; ++i) SLIMRT_RETURN_IF_ERROR(pipe->submit(requests[static_cast<size_t>(i) % sets]));
  pipe->wait_idle();
  IoRun r;
  r.streams = streams;
  r.wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  SLIMRT_RETURN_IF_ERROR(failure.first);
  r.timings = pipe->timings();
  std::vector<double> h2d, compute, d2h, latency;
  for (const RequestTiming& q : r.timings) {
    h2d.push_back(q.consumed_ms - q.start_ms);
    compute.push_back(q.computed_ms - q.consumed_ms);
    d2h.push_back(q.end_ms - q.computed_ms);
    latency.push_back(q.latency_ms);
  }
  r.h2d = figures(h2d);
  r.compute = figures(compute);
  r.d2h = figures(d2h);
  r.latency = figures(latency);
  r.throughput = r.wall_ms > 0 ? num.iterations * 1000.0 / r.wall_ms : 0;
  const double slowest = std::max({r.h2d.p50, r.compute.p50, r.d2h.p50});
  r.bound = slowest > 0 ? 1000.0 / slowest : 0;
  return r;
}

// The last requests of a run as one row per stream: H2D, compute and D2H bars.
Status write_timeline(const std::string& path, const IoRun& run, const std::string& title) {
  std::vector<RequestTiming> ts = run.timings;
  if (ts.size() > 48) ts.erase(ts.begin(), ts.end() - 48);
  if (ts.empty()) return invalid_argument("--timeline: no request was timed");
  double t0 = ts.front().start_ms, t1 = t0;
  for (const RequestTiming& q : ts) {
    t0 = std::min(t0, q.start_ms);
    t1 = std::max(t1, q.end_ms);
  }
  const double width = 1100, left = 90, row = 34, top = 40;
  const double scale = width / std::max(t1 - t0, 1e-6);
  const double height = top + row * static_cast<double>(run.streams) + 50;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<text x=\"{}\" y=\"20\">{}</text>\n",
      left + width + 20, height, left, title);
  for (int64_t s = 0; s < run.streams; ++s)
    svg += fmt::format("<text x=\"8\" y=\"{}\">stream {}</text>\n", top + row * static_cast<double>(s) + 20, s);
  auto bar = [&](double a, double b, double y, const char* color, const char* what) {
    svg += fmt::format("<rect x=\"{:.2f}\" y=\"{:.1f}\" width=\"{:.2f}\" height=\"{}\" fill=\"{}\"><title>{} {:.3f} ms</title></rect>\n",
                       left + (a - t0) * scale, y, std::max((b - a) * scale, 0.5), row - 10, color, what, b - a);
  };
  for (const RequestTiming& q : ts) {
    const double y = top + row * static_cast<double>(q.worker);
    bar(q.start_ms, q.consumed_ms, y, "#4e79a7", "H2D");
    bar(q.consumed_ms, q.computed_ms, y, "#59a14f", "compute");
    bar(q.computed_ms, q.end_ms, y, "#f28e2b", "D2H");
  }
  const double ly = height - 18;
  svg += fmt::format("<text x=\"{}\" y=\"{}\">0 to {:.2f} ms. </text>", left, ly, t1 - t0);
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"#4e79a7\"/><text x=\"{}\" y=\"{}\">H2D</text>",
                     left + 150, ly - 10, left + 166, ly);
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"#59a14f\"/><text x=\"{}\" y=\"{}\">compute</text>",
                     left + 210, ly - 10, left + 226, ly);
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"#f28e2b\"/><text x=\"{}\" y=\"{}\">D2H</text>\n",
                     left + 290, ly - 10, left + 306, ly);
  svg += "</svg>\n";
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << svg;
  f.close();
  if (!f) return io_error(fmt::format("--timeline: could not write '{}'", path));
  return Status::OK();
}

std::string tensor_list(const std::vector<std::string>& names, const std::vector<DataType>& types,
                        const std::vector<std::vector<int64_t>>& dims, const std::vector<uint64_t>& bytes) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < names.size(); ++i)
    parts.push_back(fmt::format("{} {} [{}] ({:.1f} MB)", names[i], dtype_name(types[i]), fmt::join(dims[i], ","),
                                static_cast<double>(bytes[i]) / 1e6));
  return fmt::format("{}", fmt::join(parts, ", "));
}

nlohmann::json stage_json(const StageFigures& f) { return {{"p50_ms", f.p50}, {"p90_ms", f.p90}, {"p99_ms", f.p99}}; }

}  // namespace

Status run_io_bench(const BenchOptions& opts, const BenchNumbers& num, const std::shared_ptr<Engine>& engine,
                    const std::string& device_description) {
  SLIMRT_ASSIGN_OR_RETURN(const BufferLocation where, parse_location(opts.io));
  const int64_t batch = num.batches.empty() ? 0 : num.batches.front();
  SLIMRT_ASSIGN_OR_RETURN(const Tensors t, choose_shapes(engine, batch));
  std::mt19937_64 rng(num.seed);
  std::vector<IoRun> runs;
  for (int64_t s : num.streams) {
    auto r = run_streams(engine, t, where, s, num, rng);
    if (!r.ok()) return r.status().with_context(fmt::format("--io {} --streams {}", opts.io, s));
    runs.push_back(std::move(*r));
  }
  // A transfer as long as the compute: say which flag would shorten or hide it.
  std::vector<std::string> warnings;
  const IoRun& first = runs.front();
  auto advise = [&](const char* stage, double ms, bool input) {
    if (ms < first.compute.p50 || ms <= 0) return;
    std::string fix = where == BufferLocation::kPageable ? "bind pinned memory (--io pinned); " : "";
    fix += input ? "build with --input-format NAME:fp16 or NAME:uint8[:nhwc] to move fewer bytes; "
                 : "build with --output-format NAME:fp16 to move half the bytes; ";
    fix += "run 2 or more requests in flight (--streams) to overlap it with the compute";
    warnings.push_back(fmt::format("{} ({:.3f} ms) takes as long as the compute ({:.3f} ms): {}", stage, ms,
                                   first.compute.p50, fix));
  };
  advise("H2D", first.h2d.p50, true);
  advise("D2H", first.d2h.p50, false);
  if (!opts.timeline.empty()) {
    const IoRun& last = runs.back();
    SLIMRT_RETURN_IF_ERROR(write_timeline(
        opts.timeline, last,
        fmt::format("{}: --io {} --streams {}, {:.1f} requests/s", opts.engine, opts.io, last.streams, last.throughput)));
  }
  if (opts.json) {
    nlohmann::json j;
    j["engine"] = opts.engine;
    j["device"] = device_description;
    j["io"] = opts.io;
    j["iterations"] = num.iterations;
    j["inputs"] = nlohmann::json::array();
    for (size_t i = 0; i < t.in_names.size(); ++i)
      j["inputs"].push_back({{"name", t.in_names[i]}, {"dtype", dtype_name(t.in_types[i])}, {"shape", t.in_dims[i]},
                             {"bytes", t.in_bytes[i]}});
    j["outputs"] = nlohmann::json::array();
    for (size_t o = 0; o < t.out_names.size(); ++o)
      j["outputs"].push_back({{"name", t.out_names[o]}, {"dtype", dtype_name(t.out_types[o])}, {"shape", t.out_dims[o]},
                              {"bytes", t.out_bytes[o]}});
    j["runs"] = nlohmann::json::array();
    for (const IoRun& r : runs) {
      j["runs"].push_back({{"streams", r.streams}, {"h2d", stage_json(r.h2d)}, {"compute", stage_json(r.compute)},
                           {"d2h", stage_json(r.d2h)}, {"latency", stage_json(r.latency)}, {"wall_ms", r.wall_ms},
                           {"throughput_per_s", r.throughput}, {"stage_bound_per_s", r.bound},
                           {"throughput_vs_bound", r.bound > 0 ? r.throughput / r.bound : 0}});
    }
    j["warnings"] = warnings;
    if (!opts.timeline.empty()) j["timeline"] = opts.timeline;
    fmt::print("{}\n", j.dump(2));
    return Status::OK();
  }
  fmt::print("engine   {} ({})\ndevice   {}\nio       {} buffers; {} requests per run\n", opts.engine,
             precision_name(engine->info().header.precision), device_description, opts.io, num.iterations);
  fmt::print("inputs   {}\noutputs  {}\n", tensor_list(t.in_names, t.in_types, t.in_dims, t.in_bytes),
             tensor_list(t.out_names, t.out_types, t.out_dims, t.out_bytes));
  fmt::print("{:>7} {:>17} {:>17} {:>17} {:>19} {:>11} {:>11} {:>6}\n", "streams", "H2D ms p50/p99", "compute ms p50/p99",
             "D2H ms p50/p99", "latency ms p50/p99", "requests/s", "stage bound", "ratio");
  for (const IoRun& r : runs) {
    fmt::print("{:>7} {:>8.3f}/{:<8.3f} {:>8.3f}/{:<8.3f} {:>8.3f}/{:<8.3f} {:>9.3f}/{:<9.3f} {:>11.1f} {:>11.1f} {:>6.2f}\n",
               r.streams, r.h2d.p50, r.h2d.p99, r.compute.p50, r.compute.p99, r.d2h.p50, r.d2h.p99, r.latency.p50,
               r.latency.p99, r.throughput, r.bound, r.bound > 0 ? r.throughput / r.bound : 0);
  }
  fmt::print("(stage bound: 1 / the slowest stage's median; ratio: requests/s over it)\n");
  for (const std::string& w : warnings) fmt::print("warning  {}\n", w);
  if (!opts.timeline.empty()) fmt::print("timeline {}\n", opts.timeline);
  return Status::OK();
}
#endif

}  // namespace slimrt::cli
