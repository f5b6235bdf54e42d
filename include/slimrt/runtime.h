// slimrt/runtime.h: loading engine files, on the GPU or the CPU, in bounded host memory.
//
//   Result<std::unique_ptr<Runtime>> rt = Runtime::create({.backend = "cuda"});
//   Result<std::unique_ptr<StreamReader>> file = open_file_reader("llama.engine");
//   LoadOptions opts;
//   opts.progress = [](const LoadProgress& p) { show(p.bytes_done, p.bytes_total); return true; };
//   Result<std::shared_ptr<Engine>> engine = (*rt)->load(**file, opts);
//
// Runtime::load parses the header and metadata, then moves the weights region into ONE
// allocation: device memory for "cuda" (a single cudaMalloc, checked against cudaMemGetInfo and
// LoadOptions::max_device_bytes first), 4 KiB-aligned host memory for "cpu". The region is
// already laid out as the kernels read it (docs/engine-format.md), so loading is a pure copy.
//
// The GPU path streams through a bounded ring of pinned staging buffers (default 2 x 64 MiB):
//
//   reader threads --(read_at + XXH3 per chunk)--> pinned slot k --(cudaMemcpyAsync on a
//   copy stream)--> device region;   slot k is refilled once its copy has completed.
//
// A seekable reader (file, mmap, span) is read slot by slot, each slot one of two ways, chosen
// by where its bytes are (LoadOptions::read_mode, StreamReader::resident_fraction): in memory
// (the page cache, a span), several threads read it at once (read_at is thread-safe), each
// taking whole checksum chunks, so that page-cache reads (about 7 GB/s per thread) keep up with
// PCIe; on a device, one thread reads the whole slot in one sequential read while the others
// verify, so the disk sees the single sequential stream its readahead is built for and runs at
// its sequential rate. A non-seekable reader (pipe, socket) is read front to back by one
// thread. Host memory is therefore bounded by the ring plus small per-load bookkeeping,
// whatever the engine's size. Every chunk's XXH3-64 is checked against the metadata as it
// passes (LoadOptions::verify_checksums); a mismatch fails the load naming the chunk, its file
// offset and the weights it holds. Pages of an mmap reader are released as soon as their bytes
// have been staged (StreamReader::release), so a mapping does not grow the resident set either.
//
// Small host-side copies: shape-like weights (integer and bool tensors, tensor attributes, and
// any weight of at most kHostMirrorMaxBytes) are also kept in host memory, because shape
// inference reads them on the host; Engine::graph() shows these host copies as the Values'
// constants and every other weight as a device tensor inside the region.
//
// Failure leaves nothing behind: on any error or cancellation the device allocation, the
// staging ring and the threads are released before load() returns. Cancellation: the progress
// callback returns false, or LoadOptions::cancel becomes true; load() then fails with
// kCancelled within one chunk's read per thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "slimrt/engine_format.h"
#include "slimrt/graph.h"
#include "slimrt/io_tensor.h"
#include "slimrt/status.h"
#include "slimrt/stream_reader.h"
#include "slimrt/tensor.h"

namespace slimrt {

inline constexpr uint64_t kDefaultStagingBufferBytes = uint64_t{64} << 20;
inline constexpr uint32_t kDefaultStagingBuffers = 2;
inline constexpr uint64_t kHostMirrorMaxBytes = 4096;

struct LoadProgress {
  uint64_t bytes_done = 0;   // weights bytes on their destination (copy completed or queued)
  uint64_t bytes_total = 0;  // the weights region's size
  double seconds = 0;        // since load() began
};

// How a seekable reader's staging slots are read (see the top of this file).
enum class ReadMode {
  kAuto,      // per slot: parallel when the reader says its bytes are in memory, else streamed
  kParallel,  // every slot by reader_threads threads, chunk by chunk
  kStreamed,  // every slot by one sequential read, the threads verifying
};

struct LoadOptions {
  // Pinned staging ring for GPU loads: `staging_buffers` slots of `staging_buffer_bytes` each
  // (rounded up to a multiple of the engine's checksum chunk size; at least 2 slots). Host
  // memory used by a GPU load is about staging_buffers * staging_buffer_bytes; a smaller engine
  // gets a smaller ring (slots no bigger than its region, no more slots than it fills).
  uint64_t staging_buffer_bytes = kDefaultStagingBufferBytes;
  uint32_t staging_buffers = kDefaultStagingBuffers;
  // Reader threads for seekable readers; 0 picks min(8, hardware threads). Non-seekable readers
  // always use one.
  uint32_t reader_threads = 0;
  ReadMode read_mode = ReadMode::kAuto;
  bool verify_checksums = true;
  // Called on the loading thread after each staging slot (and once at the end); returning false
  // cancels the load (kCancelled).
  std::function<bool(const LoadProgress&)> progress;
  // Polled by the reader threads; true cancels the load (kCancelled).
  const std::atomic<bool>* cancel = nullptr;
  // GPU loads refuse (kOutOfMemory, naming the bytes requested and the limit) a weights region
  // larger than this; 0 = no limit beyond the device's free memory.
  uint64_t max_device_bytes = 0;
};

// What one load did, for reports and benchmarks.
struct LoadStats {
  uint64_t weights_bytes = 0;     // region bytes moved
  uint64_t staging_bytes = 0;     // pinned ring size (0 for CPU loads)
  uint32_t reader_threads = 0;
  // Seekable readers: slots read in parallel / streamed, and the fraction of the region the
  // reader found in memory as the load began (nullopt: it cannot tell).
  uint64_t slots_parallel = 0;
  uint64_t slots_streamed = 0;
  std::optional<double> resident_fraction;
  std::string source;             // the reader's describe()
  bool checksums_verified = false;
  double parse_seconds = 0;       // header + metadata
  double weights_seconds = 0;     // the region, up to the last copy completing
  double total_seconds = 0;
};

// An engine loaded on a device (or the host): immutable weights plus the graph that uses them.
// Thread-safe to share; execution contexts (the CUDA backend) are created from it.
class Engine {
 public:
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const EngineInfo& info() const { return info_; }
  // Inputs, nodes and outputs as built. Constants are device tensors inside the weights region
  // (GPU loads) or host tensors (CPU loads), except the host mirrors described above.
  const Graph& graph() const { return graph_; }
  // "cuda" or "cpu".
  const std::string& backend() const { return backend_; }
  int device() const { return device_; }
  // The weights region: one allocation of weights_bytes() (device or host memory).
  MemoryKind weights_memory_kind() const { return weights_kind_; }
  const void* weights_data() const { return region_.get(); }
  uint64_t weights_bytes() const { return info_.header.weights_size; }
  // Weight i (EngineInfo::weights order) where the kernels read it: inside the region.
  const Tensor& weight(size_t i) const { return weight_tensors_[i]; }
  const LoadStats& load_stats() const { return stats_; }

  // The inputs, then the outputs, in graph order: name, dtype, dims (-1 where dynamic) and their
  // symbols, per-profile min/opt/max, host inputs (slimrt/io_tensor.h). Computed at load.
  const std::vector<IoTensor>& io_tensors() const { return io_; }
  // The input or output called `name`; nullptr if there is none.
  const IoTensor* io_tensor(std::string_view name) const;
  // Optimization profiles the engine was built with (0 only for engines written without one).
  uint32_t num_profiles() const;
  // kInvalidArgument naming the input, the dim, its value and the range when `shapes` do not fit
  // `profile` (or the profile does not exist). Inputs not in `shapes` are not checked.
  Status check_input_shapes(uint32_t profile, const InputShapes& shapes) const;
  // The first profile that holds every shape given; else kInvalidArgument listing the shapes
  // and every profile's ranges.
  Result<uint32_t> select_profile(const InputShapes& shapes) const;

 private:
  friend class Runtime;
  Engine() = default;
  EngineInfo info_;
  Graph graph_;
  std::string backend_;
  int device_ = -1;
  MemoryKind weights_kind_ = MemoryKind::kHost;
  // The region; freed (cudaFree / free) when the engine and every tensor into it are gone.
  std::shared_ptr<void> region_;
  std::vector<Tensor> weight_tensors_;
  std::vector<IoTensor> io_;
  LoadStats stats_;
};

struct RuntimeOptions {
  // "cuda" or "cpu". "cuda" fails with kUnsupported (and the reason) when this build has no
  // CUDA or no device is usable.
  std::string backend = "cuda";
  int device = 0;
};

class Runtime {
 public:
  // Checks the backend (and for "cuda" selects the device and creates its context).
  static Result<std::unique_ptr<Runtime>> create(const RuntimeOptions& options = {});
  // "cuda" when a GPU is usable here, else "cpu".
  static std::string default_backend();

  const RuntimeOptions& options() const { return options_; }
  // The target string engines must carry to load here ("sm_90"; "any" engines always load).
  const std::string& target() const { return target_; }

  // Loads an engine from `reader` (positioned at offset 0 or, for a stream, at its start). The
  // engine keeps no reference to the reader.
  Result<std::shared_ptr<Engine>> load(StreamReader& reader, const LoadOptions& options = {}) const;
  // Opens `path` with the buffered file reader and loads it.
  Result<std::shared_ptr<Engine>> load_file(const std::string& path, const LoadOptions& options = {}) const;

 private:
  explicit Runtime(RuntimeOptions o) : options_(std::move(o)) {}
  RuntimeOptions options_;
  std::string target_ = "any";
};

}  // namespace slimrt
