// The weights pipeline: reader threads -> group buffers -> sink (see weight_pipeline.h).
#include "runtime/weight_pipeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "core/log.h"
#include "engine/checksum.h"
#include "engine/engine_internal.h"

namespace slimrt::runtime_detail {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

namespace {

struct Layout {
  uint64_t region = 0, chunk = 0, group = 0;
  uint64_t num_chunks = 0, num_groups = 0, chunks_per_group = 0;

  uint64_t chunk_bytes(uint64_t c) const { return std::min(chunk, region - c * chunk); }
  uint64_t group_begin(uint64_t g) const { return g * group; }
  uint64_t group_size(uint64_t g) const { return std::min(group, region - g * group); }
  uint64_t chunks_in(uint64_t g) const {
    return std::min(chunks_per_group, num_chunks - g * chunks_per_group);
  }
};

std::string chunk_name(const EngineInfo& info, const Layout& l, uint64_t c) {
  return fmt::format("weights chunk {} of {} (file offset {}, {} bytes)", c, l.num_chunks,
                     info.header.weights_offset + c * l.chunk, l.chunk_bytes(c));
}

Status verify_chunk(const StreamReader& reader, const EngineInfo& info, const Layout& l, uint64_t c,
                    const uint8_t* data) {
  const uint64_t n = l.chunk_bytes(c);
  const uint64_t computed = engine::xxh3_64(data, n);
  if (computed == info.chunk_hashes[c]) return Status::OK();
  return data_loss(fmt::format("engine {}: {} checksum mismatch: stored {}, computed {}; the chunk {}", reader.describe(),
                               chunk_name(info, l, c), engine::hex64(info.chunk_hashes[c]), engine::hex64(computed),
                               engine::describe_weights_in(info, c * l.chunk, c * l.chunk + n)));
}

Status cancelled_status(const StreamReader& reader, uint64_t done, uint64_t total) {
  return cancelled(fmt::format("loading engine {} was cancelled after {} of {} weights bytes", reader.describe(),
                               done, total));
}

bool cancel_requested(const PipelineConfig& c) {
  return c.cancel != nullptr && c.cancel->load(std::memory_order_relaxed);
}

// Reports progress; false when the callback asks to stop.
bool report(const PipelineConfig& c, uint64_t done, uint64_t total) {
  if (!c.progress) return true;
  return c.progress(LoadProgress{done, total, now_seconds() - c.start_seconds});
}

// ---- seekable readers: several threads, read_at -------------------------------------------
//
// Each group (staging slot) is read one of two ways. PARALLEL: the worker threads take its
// chunks and read_at() each one (several streams: the page cache's speed when the bytes are
// cached). STREAMED: one streamer thread reads the whole group with a single read_at(), groups
// in order, the way `cat` reads a file, and the workers only verify its chunks (one sequential
// stream: the kernel's readahead keeps the device busy at its sequential rate, which several
// interleaved streams do not reach on every disk). With ReadMode::kAuto the streamer asks the
// reader, group by group, whether the bytes are in memory (StreamReader::resident_fraction).

class ParallelFill {
 public:
  ParallelFill(const StreamReader& reader, const EngineInfo& info, const Layout& l, RegionSink& sink,
               const PipelineConfig& config, bool streaming)
      : reader_(reader), info_(info), l_(l), sink_(sink), config_(config), streaming_(streaming),
        done_(l.num_groups, 0),
        mode_(l.num_groups, streaming ? GroupMode::kUndecided : GroupMode::kParallel),
        released_(sink.slots() == 0 ? l.num_groups : std::min<uint64_t>(sink.slots(), l.num_groups)) {}

  Status run(PipelineStats* stats) {
    const uint32_t n = std::max<uint32_t>(1, std::min<uint64_t>(config_.threads, l_.num_chunks));
    std::vector<std::thread> threads;
    threads.reserve(n + 1);
    for (uint32_t i = 0; i < n; ++i) threads.emplace_back([this] { worker(); });
    if (streaming_) threads.emplace_back([this] { streamer(); });
    Status result = drive();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!result.ok() && error_.ok()) error_ = result;
      stop_ = true;
    }
    slot_free_.notify_all();
    for (std::thread& t : threads) t.join();
    if (stats != nullptr) {
      for (uint64_t g = 0; g < l_.num_groups; ++g) {
        if (mode_[g] == GroupMode::kStreamed || mode_[g] == GroupMode::kStreamedRead) {
          ++stats->groups_streamed;
          stats->bytes_streamed += l_.group_size(g);
        } else if (mode_[g] == GroupMode::kParallel) {
          ++stats->groups_parallel;
        }
      }
    }
    if (!error_.ok()) return error_;
    return result;
  }

 private:
  // The loading thread: hands groups to the sink in order and releases their slots.
  Status drive() {
    for (uint64_t g = 0; g < l_.num_groups; ++g) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        group_done_.wait(lock, [&] { return stop_ || done_[g] == l_.chunks_in(g); });
        if (stop_) return error_;
      }
      SLIMRT_RETURN_IF_ERROR(sink_.issue(g, l_.group_begin(g), l_.group_size(g)));
      SLIMRT_RETURN_IF_ERROR(sink_.wait(g));
      {
        std::lock_guard<std::mutex> lock(mu_);
        released_ = std::max(released_, std::min(l_.num_groups, g + 1 + sink_.slots()));
      }
      slot_free_.notify_all();
      const uint64_t done = l_.group_begin(g) + l_.group_size(g);
      if (!report(config_, done, l_.region)) return cancelled_status(reader_, done, l_.region);
    }
    return Status::OK();
  }

  void fail(Status s) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (error_.ok()) error_ = std::move(s);
      stop_ = true;
    }
    slot_free_.notify_all();
    group_done_.notify_all();
  }

  // The streamer: decides each group's mode in order as its slot frees up, and reads the
  // streamed ones whole.
  void streamer() {
    for (uint64_t g = 0; g < l_.num_groups; ++g) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        slot_free_.wait(lock, [&] { return stop_ || g < released_; });
        if (stop_) return;
      }
      if (cancel_requested(config_)) {
        fail(cancelled_status(reader_, l_.group_begin(g), l_.region));
        return;
      }
      const uint64_t file_offset = info_.header.weights_offset + l_.group_begin(g);
      const uint64_t n = l_.group_size(g);
      const std::optional<double> resident = reader_.resident_fraction(file_offset, n);
      const bool parallel = read_group_in_parallel(config_.read_mode, resident);
      SLIMRT_LOG(kVerbose, "engine {}: slot {} of {} (weights bytes [{}, {})){}: {}", reader_.describe(), g + 1,
                 l_.num_groups, l_.group_begin(g), l_.group_begin(g) + n,
                 resident ? fmt::format(", {:.0f}% in memory", *resident * 100) : "",
                 parallel ? "read in parallel" : "streamed");
      {
        std::lock_guard<std::mutex> lock(mu_);
        mode_[g] = parallel ? GroupMode::kParallel : GroupMode::kStreamed;
      }
      slot_free_.notify_all();
      if (parallel) continue;
      Status s = reader_.read_at(file_offset, sink_.buffer(g), n);
      if (!s.ok()) {
        fail(s.with_context(fmt::format("engine {}: reading weights bytes [{}, {}) (file offset {})", reader_.describe(),
                                        l_.group_begin(g), l_.group_begin(g) + n, file_offset)));
        return;
      }
      reader_.release(file_offset, n);
      {
        std::lock_guard<std::mutex> lock(mu_);
        mode_[g] = GroupMode::kStreamedRead;
      }
      slot_free_.notify_all();
    }
  }

  void worker() {
    for (;;) {
      const uint64_t c = next_chunk_.fetch_add(1, std::memory_order_relaxed);
      if (c >= l_.num_chunks) return;
      const uint64_t g = c / l_.chunks_per_group;
      GroupMode mode = GroupMode::kUndecided;
      {
        // A streamed group is verified once the streamer has read it; a parallel one is read here.
        std::unique_lock<std::mutex> lock(mu_);
        slot_free_.wait(lock, [&] {
          return stop_ || (g < released_ && (mode_[g] == GroupMode::kParallel || mode_[g] == GroupMode::kStreamedRead));
        });
        if (stop_) return;
        mode = mode_[g];
      }
      if (cancel_requested(config_)) {
        fail(cancelled_status(reader_, c * l_.chunk, l_.region));
        return;
      }
      const uint64_t n = l_.chunk_bytes(c);
      uint8_t* dst = sink_.buffer(g) + (c * l_.chunk - l_.group_begin(g));
      const uint64_t file_offset = info_.header.weights_offset + c * l_.chunk;
      if (mode == GroupMode::kParallel) {
        Status s = reader_.read_at(file_offset, dst, n);
        if (!s.ok()) {
          fail(s.with_context("engine " + reader_.describe() + ": reading " + chunk_name(info_, l_, c)));
          return;
        }
        reader_.release(file_offset, n);
      }
      if (config_.verify) {
        Status s = verify_chunk(reader_, info_, l_, c, dst);
        if (!s.ok()) {
          fail(std::move(s));
          return;
        }
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++done_[g];
      }
      group_done_.notify_one();
    }
  }

  const StreamReader& reader_;
  const EngineInfo& info_;
  const Layout& l_;
  RegionSink& sink_;
  const PipelineConfig& config_;
  const bool streaming_;  // a streamer thread decides and reads groups

  // kStreamed: the streamer is reading the group; kStreamedRead: it has.
  enum class GroupMode : uint8_t { kUndecided, kParallel, kStreamed, kStreamedRead };

  std::atomic<uint64_t> next_chunk_{0};
  std::mutex mu_;
  std::condition_variable group_done_;  // a chunk finished (or stop)
  std::condition_variable slot_free_;   // released_ grew, a group's mode was decided or read (or stop)
  std::vector<uint64_t> done_;          // chunks completed per group
  std::vector<GroupMode> mode_;
  uint64_t released_;                   // groups [0, released_) may be filled
  bool stop_ = false;
  Status error_;
};

// ---- non-seekable readers: one thread, read() front to back --------------------------------

Status sequential_fill(StreamReader& reader, const EngineInfo& info, const Layout& l, RegionSink& sink,
                       const PipelineConfig& config) {
  const uint32_t slots = sink.slots();
  for (uint64_t g = 0; g < l.num_groups; ++g) {
    if (slots != 0 && g >= slots) SLIMRT_RETURN_IF_ERROR(sink.wait(g - slots));
    uint8_t* buf = sink.buffer(g);
    for (uint64_t c = g * l.chunks_per_group; c < g * l.chunks_per_group + l.chunks_in(g); ++c) {
      if (cancel_requested(config)) return cancelled_status(reader, c * l.chunk, l.region);
      uint8_t* dst = buf + (c * l.chunk - l.group_begin(g));
      Status s = reader.read(dst, l.chunk_bytes(c));
      if (!s.ok()) return s.with_context("engine " + reader.describe() + ": reading " + chunk_name(info, l, c));
      if (config.verify) SLIMRT_RETURN_IF_ERROR(verify_chunk(reader, info, l, c, dst));
    }
    SLIMRT_RETURN_IF_ERROR(sink.issue(g, l.group_begin(g), l.group_size(g)));
    const uint64_t done = l.group_begin(g) + l.group_size(g);
    if (!report(config, done, l.region)) return cancelled_status(reader, done, l.region);
  }
  return Status::OK();
}

// How the slots of a seekable reader will be read, for the log.
std::string read_plan(ReadMode mode, bool streaming, std::optional<double> resident) {
  if (!streaming) return "every slot read in parallel (the reader cannot tell where its bytes are, or ReadMode::kParallel)";
  if (mode == ReadMode::kStreamed || !resident) return "every slot streamed (ReadMode::kStreamed)";
  return fmt::format("{:.0f}% of the weights in memory: each slot is read in parallel when at least {:.0f}% of it is, "
                     "else streamed",
                     *resident * 100, kResidentForParallel * 100);
}

}  // namespace

bool read_group_in_parallel(ReadMode mode, std::optional<double> resident_fraction) {
  switch (mode) {
    case ReadMode::kParallel:
      return true;
    case ReadMode::kStreamed:
      return false;
    case ReadMode::kAuto:
      break;
  }
  // A reader that cannot tell (memory, O_DIRECT) keeps parallel reads.
  return !resident_fraction.has_value() || *resident_fraction >= kResidentForParallel;
}

Status run_weight_pipeline(StreamReader& reader, const EngineInfo& info, RegionSink& sink,
                           const PipelineConfig& config, PipelineStats* stats) {
  const EngineHeader& h = info.header;
  Layout l;
  l.region = h.weights_size;
  l.chunk = h.chunk_size;
  l.group = config.group_bytes;
  if (l.region == 0) {
    report(config, 0, 0);
    return Status::OK();
  }
  if (l.chunk == 0 || l.group == 0 || l.group % l.chunk != 0)
    return internal_error(fmt::format("weights pipeline: group of {} bytes is not a multiple of the chunk size {}",
                                      l.group, l.chunk));
  l.num_chunks = h.num_chunks;
  l.chunks_per_group = l.group / l.chunk;
  l.num_groups = (l.num_chunks + l.chunks_per_group - 1) / l.chunks_per_group;

  Status s;
  if (reader.seekable()) {
    // No streamer where every group would be read in parallel anyway (a reader that cannot tell
    // where its bytes are, or ReadMode::kParallel).
    const std::optional<double> resident = reader.resident_fraction(h.weights_offset, l.region);
    if (stats != nullptr) stats->resident_fraction = resident;
    const bool streaming = config.read_mode == ReadMode::kStreamed ||
                           (config.read_mode == ReadMode::kAuto && resident.has_value());
    SLIMRT_LOG(kVerbose, "engine {}: {}", reader.describe(), read_plan(config.read_mode, streaming, resident));
    s = ParallelFill(reader, info, l, sink, config, streaming).run(stats);
  } else {
    if (reader.position() != h.weights_offset) {
      s = reader.seek(h.weights_offset);
      if (!s.ok()) s = s.with_context("engine " + reader.describe() + ": skipping to the weights region");
    }
    if (s.ok()) s = sequential_fill(reader, info, l, sink, config);
  }
  // Even on failure, copies already queued must finish before their buffers are freed.
  Status f = sink.finish();
  if (!s.ok()) return s;
  return f;
}

}  // namespace slimrt::runtime_detail
