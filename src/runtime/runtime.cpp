// Runtime::load: parse, one region allocation, the weights pipeline, then the graph.
#include "slimrt/runtime.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "core/align.h"
#include "core/log.h"
#include "engine/engine_internal.h"
#include "runtime/runtime_internal.h"
#include "runtime/weight_pipeline.h"
#include "slimrt/device.h"

namespace slimrt {

namespace {

using runtime_detail::now_seconds;
using runtime_detail::RegionSink;

constexpr uint64_t kHostAlignment = 4096;
constexpr uint32_t kMaxReaderThreads = 64;

// CPU loads: the region itself is the set of group buffers; nothing to move afterwards.
class HostSink final : public RegionSink {
 public:
  HostSink(uint8_t* region, uint64_t group_bytes) : region_(region), group_bytes_(group_bytes) {}
  uint32_t slots() const override { return 0; }
  uint8_t* buffer(uint64_t group) override { return region_ + group * group_bytes_; }
  Status issue(uint64_t, uint64_t, uint64_t) override { return Status::OK(); }
  Status wait(uint64_t) override { return Status::OK(); }
  Status finish() override { return Status::OK(); }

 private:
  uint8_t* region_;
  uint64_t group_bytes_;
};

Result<std::shared_ptr<void>> host_alloc_region(uint64_t bytes, const std::string& what) {
  void* p = std::aligned_alloc(kHostAlignment, static_cast<size_t>(round_up(std::max<uint64_t>(bytes, 1), kHostAlignment)));
  if (p == nullptr)
    return out_of_memory(fmt::format("{}: cannot allocate {} bytes of host memory for the weights", what, bytes));
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

// Weights the host must be able to read: shape inference reads integer tensors (Reshape's shape,
// Slice's starts, ...) and tensor attributes; tiny float constants (scalars) are kept too.
std::vector<bool> host_mirrored(const EngineInfo& info) {
  std::vector<bool> by_value(info.weights.size(), false);
  for (const EngineValue& v : info.values) {
    if (v.weight >= 0) by_value[static_cast<size_t>(v.weight)] = true;
  }
  std::vector<bool> mirror(info.weights.size(), false);
  for (size_t i = 0; i < info.weights.size(); ++i) {
    const EngineWeight& w = info.weights[i];
    mirror[i] = !by_value[i] || !dtype_is_float(w.dtype) || w.size <= kHostMirrorMaxBytes;
  }
  return mirror;
}

}  // namespace

std::string Runtime::default_backend() { return query_cuda_devices().count > 0 ? "cuda" : "cpu"; }

Result<std::unique_ptr<Runtime>> Runtime::create(const RuntimeOptions& options) {
  std::unique_ptr<Runtime> rt(new Runtime(options));
  if (options.backend == "cuda") {
    SLIMRT_ASSIGN_OR_RETURN(rt->target_, runtime_detail::cuda_init(options.device));
  } else if (options.backend == "cpu") {
    if (options.device != 0)
      return invalid_argument(fmt::format("the cpu backend has one device (0); device {} was asked for", options.device));
  } else {
    return not_found(fmt::format("unknown backend '{}': this build has 'cpu'{}", options.backend,
                                 query_cuda_devices().count > 0 ? " and 'cuda'" : ""));
  }
  return rt;
}

Result<std::shared_ptr<Engine>> Runtime::load_file(const std::string& path, const LoadOptions& options) const {
  // Buffered reads: slots in the page cache by min(8, cores) threads (the page cache's speed),
  // the others by one sequential stream (the disk's; docs/loading.md has the measurements).
  SLIMRT_ASSIGN_OR_RETURN(std::unique_ptr<StreamReader> reader, open_file_reader(path));
  return load(*reader, options);
}

Result<std::shared_ptr<Engine>> Runtime::load(StreamReader& reader, const LoadOptions& options) const {
  const double t0 = now_seconds();
  const bool on_device = options_.backend == "cuda";
  if (options.staging_buffers < 2 && on_device)
    return invalid_argument(fmt::format("LoadOptions::staging_buffers is {}: the staging ring needs at least 2",
                                        options.staging_buffers));
  if (options.staging_buffer_bytes == 0) return invalid_argument("LoadOptions::staging_buffer_bytes is 0");
  if (options.reader_threads > kMaxReaderThreads)
    return invalid_argument(fmt::format("LoadOptions::reader_threads is {}; at most {}", options.reader_threads,
                                        kMaxReaderThreads));

  std::shared_ptr<Engine> engine(new Engine());
  engine->backend_ = options_.backend;
  engine->device_ = on_device ? options_.device : -1;
  EngineParseOptions parse_options;
  if (on_device) parse_options.expected_target = target_;
  SLIMRT_ASSIGN_OR_RETURN(engine->info_, parse_engine(reader, parse_options));
  const EngineInfo& info = engine->info_;
  const EngineHeader& h = info.header;
  const double t_parsed = now_seconds();
  const std::string what = "engine " + reader.describe();

  // The group (staging slot) is a whole number of checksum chunks, and no bigger than the region:
  // a small engine pins only what it needs (one chunk-rounded slot), not the whole ring.
  const uint64_t region_chunks = round_up(std::max<uint64_t>(h.weights_size, 1), h.chunk_size);
  const uint64_t group_bytes =
      std::min(round_up(std::max(options.staging_buffer_bytes, h.chunk_size), h.chunk_size), region_chunks);
  const uint64_t num_groups = (h.weights_size + group_bytes - 1) / group_bytes;
  const auto slots = static_cast<uint32_t>(std::clamp<uint64_t>(num_groups, 1, options.staging_buffers));
  uint32_t threads = options.reader_threads;
  if (threads == 0) threads = std::clamp<uint32_t>(std::thread::hardware_concurrency(), 1, 8);
  if (!reader.seekable()) threads = 1;
  SLIMRT_LOG(kVerbose, "{}: {} bytes of weights ({} chunk(s)) to {} through {} slot(s) of {} bytes, {} reader thread(s){}",
             what, h.weights_size, h.num_chunks, on_device ? "the GPU" : "host memory", on_device ? slots : num_groups,
             group_bytes, threads, reader.seekable() ? "" : " (a stream: read front to back)");

  // The one allocation for the weights.
  std::shared_ptr<void> region;
  if (on_device) {
    SLIMRT_ASSIGN_OR_RETURN(region, runtime_detail::cuda_alloc_region(h.weights_size, options.max_device_bytes, what));
  } else {
    SLIMRT_ASSIGN_OR_RETURN(region, host_alloc_region(h.weights_size, what));
  }
  auto* base = static_cast<uint8_t*>(region.get());

  // Host mirrors (GPU loads): filled from the staging buffers as the groups pass.
  std::vector<bool> mirrored = on_device ? host_mirrored(info) : std::vector<bool>(info.weights.size(), false);
  std::vector<Tensor> mirrors(info.weights.size());
  for (size_t i = 0; i < info.weights.size(); ++i) {
    if (mirrored[i]) {
      SLIMRT_ASSIGN_OR_RETURN(mirrors[i], Tensor::allocate(info.weights[i].dtype, info.weights[i].shape));
    }
  }
  auto on_staged = [&info, &mirrors, &mirrored](uint64_t begin, const uint8_t* data, uint64_t n) {
    for (size_t i = 0; i < info.weights.size(); ++i) {
      if (mirrored[i]) engine::copy_weight_part(info.weights[i], begin, data, n, mirrors[i].raw());
    }
  };

  std::unique_ptr<RegionSink> sink;
  if (on_device && h.weights_size > 0) {
    SLIMRT_ASSIGN_OR_RETURN(sink, runtime_detail::make_cuda_sink(base, group_bytes, slots, on_staged));
  } else {
    sink = std::make_unique<HostSink>(base, group_bytes);
  }
  runtime_detail::PipelineConfig config;
  config.group_bytes = group_bytes;
  config.threads = threads;
  config.read_mode = options.read_mode;
  config.verify = options.verify_checksums;
  config.progress = options.progress;
  config.cancel = options.cancel;
  config.start_seconds = t0;
  runtime_detail::PipelineStats pipeline;
  SLIMRT_RETURN_IF_ERROR(runtime_detail::run_weight_pipeline(reader, info, *sink, config, &pipeline));
  sink.reset();  // the pinned ring goes now, before the graph is built
  const double t_weights = now_seconds();

  // Weight tensors point into the region and keep it alive.
  const MemoryKind kind = on_device ? MemoryKind::kDevice : MemoryKind::kHost;
  engine->weights_kind_ = kind;
  engine->region_ = region;
  engine->weight_tensors_.reserve(info.weights.size());
  std::vector<Tensor> graph_tensors(info.weights.size());
  for (size_t i = 0; i < info.weights.size(); ++i) {
    const EngineWeight& w = info.weights[i];
    engine->weight_tensors_.push_back(
        Tensor::adopt(base + w.offset, w.dtype, w.shape, kind, [region](void*) mutable { region.reset(); }));
    graph_tensors[i] = mirrored[i] ? mirrors[i] : engine->weight_tensors_.back();
  }
  SLIMRT_ASSIGN_OR_RETURN(engine->graph_, make_engine_graph(info, graph_tensors));
  engine->io_ = describe_io(engine->graph_, info.options.profiles, info.options.io_formats);

  LoadStats& st = engine->stats_;
  st.weights_bytes = h.weights_size;
  st.staging_bytes = on_device && h.weights_size > 0 ? group_bytes * slots : 0;
  st.reader_threads = threads;
  st.slots_parallel = pipeline.groups_parallel;
  st.slots_streamed = pipeline.groups_streamed;
  st.resident_fraction = pipeline.resident_fraction;
  st.source = reader.describe();
  st.checksums_verified = options.verify_checksums;
  st.parse_seconds = t_parsed - t0;
  st.weights_seconds = t_weights - t_parsed;
  st.total_seconds = now_seconds() - t0;
  SLIMRT_LOG(kInfo, "loaded {} on {}: {} bytes of weights in {:.3f} s (parse {:.3f} s); {} slot(s) read in parallel, {} "
             "streamed{}; checksums {}",
             what, options_.backend, st.weights_bytes, st.total_seconds, st.parse_seconds, st.slots_parallel,
             st.slots_streamed,
             st.resident_fraction ? fmt::format(", {:.0f}% in the page cache", *st.resident_fraction * 100) : "",
             st.checksums_verified ? "verified" : "not verified (LoadOptions::verify_checksums off)");
  return engine;
}

}  // namespace slimrt
