// src/runtime/weight_pipeline.h: moving an engine's weights region from a reader to its
// destination, chunk by chunk, verifying checksums on the way. Not a public header.
//
// The region is cut into GROUPS of whole checksum chunks (a group is one staging slot). Reader
// threads fill group buffers; the loading thread hands each completed group, in order, to a
// RegionSink, which moves it to its destination (cudaMemcpyAsync for GPU loads; nothing for
// CPU loads, whose group buffers ARE the destination). A sink with a bounded ring says how many
// groups may be in flight: group g + slots() reuses group g's buffer, so it is not filled before
// the sink's wait(g) has returned.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>

#include "slimrt/engine_format.h"
#include "slimrt/runtime.h"
#include "slimrt/status.h"
#include "slimrt/stream_reader.h"

namespace slimrt::runtime_detail {

class RegionSink {
 public:
  virtual ~RegionSink() = default;
  // Groups that may be in flight at once; 0 = unbounded (every group has its own buffer).
  virtual uint32_t slots() const = 0;
  // Host memory for group g (group_bytes long, 4 KiB aligned), written by the reader threads.
  virtual uint8_t* buffer(uint64_t group) = 0;
  // Group g (region bytes [begin, begin + n)) is complete and verified: start moving it.
  virtual Status issue(uint64_t group, uint64_t begin, uint64_t n) = 0;
  // Returns once group g's buffer may be overwritten (its copy has completed).
  virtual Status wait(uint64_t group) = 0;
  // Returns once everything issued has reached the destination.
  virtual Status finish() = 0;
};

struct PipelineConfig {
  uint64_t group_bytes = 0;  // a multiple of the engine's chunk size
  uint32_t threads = 1;      // reader threads (seekable readers only)
  ReadMode read_mode = ReadMode::kAuto;
  bool verify = true;
  std::function<bool(const LoadProgress&)> progress;
  const std::atomic<bool>* cancel = nullptr;
  double start_seconds = 0;  // monotonic time load() began, for LoadProgress::seconds
};

// How the groups of a seekable reader were read.
struct PipelineStats {
  uint64_t groups_parallel = 0;
  uint64_t groups_streamed = 0;
  uint64_t bytes_streamed = 0;
  std::optional<double> resident_fraction;  // of the region, as the load began
};

// A group goes PARALLEL (chunks read by all threads) when at least this fraction of it is in
// memory, else STREAMED (one sequential read), under ReadMode::kAuto.
inline constexpr double kResidentForParallel = 0.9;
bool read_group_in_parallel(ReadMode mode, std::optional<double> resident_fraction);

// Moves the region [weights_offset, weights_offset + weights_size) of `reader` through `sink`.
// Seekable readers are read with read_at(): each group in parallel by config.threads threads, or
// streamed whole by one more thread while those threads verify (read_group_in_parallel); others
// with read() by the calling thread (the reader must not be past weights_offset). On error every
// thread has stopped and the sink has been finished (or abandoned) before this returns.
Status run_weight_pipeline(StreamReader& reader, const EngineInfo& info, RegionSink& sink,
                           const PipelineConfig& config, PipelineStats* stats = nullptr);

// Monotonic seconds.
double now_seconds();

}  // namespace slimrt::runtime_detail
