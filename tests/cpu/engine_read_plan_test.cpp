// How Runtime::load reads a seekable source, slot by slot: in parallel (chunks by every reader
// thread) where the bytes are in memory, as one sequential stream where they are on a device
// (LoadOptions::read_mode, StreamReader::resident_fraction). Also the readers' residency
// answers: mincore for the file and mmap readers, non-blocking probe reads where mincore cannot
// see the page cache.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "cpu/engine_test_util.h"
#include "loader/stream_reader_internal.h"
#include "runtime/weight_pipeline.h"
#include "slimrt/runtime.h"

namespace slimrt {
namespace {

using engine_test::ByteReader;

// A 1 MiB-ish engine: the mixed-dtype test graph plus two float matrices.
std::vector<uint8_t> engine_bytes() {
  Graph g = engine_test::build_weighted_test_graph(3);
  EngineOptions o;
  o.chunk_size = 4096;
  return engine_test::write_to_bytes(g, o);
}

using engine_test::write_file;
std::string temp_path(const std::string& name) { return engine_test::temp_path("plan", name); }

// Flushes `path` and asks the kernel to drop [offset, offset + bytes) of it from the page cache
// (0 bytes: to the end). Returns whether the range is now mostly uncached (some filesystems, a
// tmpfs /tmp for one, keep everything).
bool evict(const std::string& path, uint64_t offset = 0, uint64_t bytes = 0) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return false;
  ::fdatasync(fd);
  ::posix_fadvise(fd, static_cast<off_t>(offset), static_cast<off_t>(bytes), POSIX_FADV_DONTNEED);
  ::close(fd);
  auto reader = open_file_reader(path);
  if (!reader.ok()) return false;
  const uint64_t n = bytes != 0 ? bytes : *(*reader)->size() - offset;
  const std::optional<double> left = (*reader)->resident_fraction(offset, n);
  return left.has_value() && *left < 0.5;
}

std::unique_ptr<Runtime> cpu_runtime() { return std::move(Runtime::create({.backend = "cpu"})).value(); }

EngineInfo info_of(const std::vector<uint8_t>& bytes) {
  return std::move(parse_engine(*std::make_unique<ByteReader>(bytes))).value();
}

void expect_region_is_the_file(const Engine& e, const std::vector<uint8_t>& file) {
  const EngineHeader& h = e.info().header;
  ASSERT_EQ(e.weights_bytes(), h.weights_size);
  EXPECT_EQ(std::memcmp(e.weights_data(), file.data() + h.weights_offset, h.weights_size), 0);
}

uint64_t slots_of(const std::vector<uint8_t>& bytes, uint64_t staging) {
  const EngineHeader h = info_of(bytes).header;
  const uint64_t group = std::min((std::max(staging, h.chunk_size) + h.chunk_size - 1) / h.chunk_size * h.chunk_size,
                                  (h.weights_size + h.chunk_size - 1) / h.chunk_size * h.chunk_size);
  return (h.weights_size + group - 1) / group;
}

// A memory reader whose residency is whatever the test says, by file offset.
class FakeResidencyReader : public ByteReader {
 public:
  FakeResidencyReader(const std::vector<uint8_t>& bytes, std::function<std::optional<double>(uint64_t)> at)
      : ByteReader(bytes), at_(std::move(at)) {}
  std::optional<double> resident_fraction(uint64_t offset, uint64_t) const override { return at_(offset); }

 private:
  std::function<std::optional<double>(uint64_t)> at_;
};

TEST(EngineLoadReadPlan, ChoiceFollowsTheModeAndTheResidency) {
  using runtime_detail::read_group_in_parallel;
  EXPECT_TRUE(read_group_in_parallel(ReadMode::kParallel, 0.0));
  EXPECT_TRUE(read_group_in_parallel(ReadMode::kParallel, std::nullopt));
  EXPECT_FALSE(read_group_in_parallel(ReadMode::kStreamed, 1.0));
  EXPECT_FALSE(read_group_in_parallel(ReadMode::kStreamed, std::nullopt));
  EXPECT_TRUE(read_group_in_parallel(ReadMode::kAuto, 1.0));
  EXPECT_TRUE(read_group_in_parallel(ReadMode::kAuto, runtime_detail::kResidentForParallel));
  EXPECT_FALSE(read_group_in_parallel(ReadMode::kAuto, 0.5));
  EXPECT_FALSE(read_group_in_parallel(ReadMode::kAuto, 0.0));
  // A reader that cannot tell (memory, O_DIRECT) keeps the parallel reads.
  EXPECT_TRUE(read_group_in_parallel(ReadMode::kAuto, std::nullopt));
}

TEST(EngineLoadReadPlan, EveryModeReaderThreadCountAndStagingLoadsTheFile) {
  const std::vector<uint8_t> bytes = engine_bytes();
  const std::string path = temp_path("modes.engine");
  write_file(path, bytes);
  auto rt = cpu_runtime();
  for (ReadMode mode : {ReadMode::kAuto, ReadMode::kParallel, ReadMode::kStreamed}) {
    for (const std::string kind : {"file", "direct", "mmap", "span"}) {
      for (uint32_t threads : {1u, 3u, 8u}) {
        for (uint64_t staging : {uint64_t{1}, uint64_t{12288}, kDefaultStagingBufferBytes}) {
          SCOPED_TRACE(kind + " mode " + std::to_string(static_cast<int>(mode)) + " threads " +
                       std::to_string(threads) + " staging " + std::to_string(staging));
          std::unique_ptr<StreamReader> reader;
          if (kind == "file") reader = std::move(open_file_reader(path)).value();
          if (kind == "direct") reader = std::move(open_file_reader(path, {.direct_io = true})).value();
          if (kind == "mmap") reader = std::move(open_mmap_reader(path)).value();
          if (kind == "span") reader = make_span_reader({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()});
          LoadOptions o;
          o.reader_threads = threads;
          o.staging_buffer_bytes = staging;
          o.read_mode = mode;
          Result<std::shared_ptr<Engine>> e = rt->load(*reader, o);
          ASSERT_TRUE(e.ok()) << e.status().to_string();
          expect_region_is_the_file(**e, bytes);
          const LoadStats& st = (*e)->load_stats();
          const uint64_t slots = slots_of(bytes, staging);
          EXPECT_EQ(st.slots_parallel + st.slots_streamed, slots);
          if (mode == ReadMode::kParallel) {
            EXPECT_EQ(st.slots_streamed, 0u);
          }
          if (mode == ReadMode::kStreamed) {
            EXPECT_EQ(st.slots_parallel, 0u);
          }
          if (mode == ReadMode::kAuto && (kind == "span" || kind == "direct")) {
            // They cannot tell where their bytes are: parallel, as before.
            EXPECT_FALSE(st.resident_fraction.has_value());
            EXPECT_EQ(st.slots_streamed, 0u);
          }
        }
      }
    }
  }
  std::remove(path.c_str());
}

TEST(EngineLoadReadPlan, AutoDecidesSlotBySlot) {
  const std::vector<uint8_t> bytes = engine_bytes();
  const EngineHeader h = info_of(bytes).header;
  const uint64_t staging = 65536;
  const uint64_t slots = slots_of(bytes, staging);
  ASSERT_GT(slots, 4u);
  // The first three slots are in memory, the rest on a "disk".
  const uint64_t cached_end = h.weights_offset + 3 * staging;
  for (uint32_t threads : {1u, 4u}) {
    FakeResidencyReader reader(bytes, [&](uint64_t offset) { return offset < cached_end ? 1.0 : 0.0; });
    LoadOptions o;
    o.staging_buffer_bytes = staging;
    o.reader_threads = threads;
    Result<std::shared_ptr<Engine>> e = cpu_runtime()->load(reader, o);
    ASSERT_TRUE(e.ok()) << e.status().to_string();
    expect_region_is_the_file(**e, bytes);
    EXPECT_EQ((*e)->load_stats().slots_parallel, 3u);
    EXPECT_EQ((*e)->load_stats().slots_streamed, slots - 3);
  }
}

TEST(EngineLoadReadPlan, AFileOnTheDiskIsStreamedAndACachedOneReadInParallel) {
  const std::vector<uint8_t> bytes = engine_bytes();
  const std::string path = temp_path("cache.engine");
  write_file(path, bytes);
  auto rt = cpu_runtime();
  LoadOptions o;
  o.staging_buffer_bytes = 65536;
  o.reader_threads = 4;
  const uint64_t slots = slots_of(bytes, o.staging_buffer_bytes);
  {
    // Just written: in the page cache.
    Result<std::shared_ptr<Engine>> e = rt->load_file(path, o);
    ASSERT_TRUE(e.ok()) << e.status().to_string();
    expect_region_is_the_file(**e, bytes);
    ASSERT_TRUE((*e)->load_stats().resident_fraction.has_value());
    EXPECT_GE(*(*e)->load_stats().resident_fraction, 0.9);
    EXPECT_EQ((*e)->load_stats().slots_parallel, slots);
  }
  // The first slot is streamed; the kernel's readahead behind the header read or a streamed
  // read may bring later small slots into the cache before their turn, and those are then read
  // in parallel. On a slow run (sanitizers, a loaded machine) that readahead can even finish
  // before the first slot is asked: evict and load again a few times; a loader that never
  // streams fails every attempt.
  uint64_t streamed = 0;
  for (int attempt = 0; attempt < 4 && streamed == 0; ++attempt) {
    if (!evict(path)) GTEST_SKIP() << "this filesystem keeps the file in the page cache";
    Result<std::shared_ptr<Engine>> e = rt->load_file(path, o);
    ASSERT_TRUE(e.ok()) << e.status().to_string();
    expect_region_is_the_file(**e, bytes);
    EXPECT_LT(*(*e)->load_stats().resident_fraction, 0.5);
    EXPECT_EQ((*e)->load_stats().slots_parallel + (*e)->load_stats().slots_streamed, slots);
    streamed = (*e)->load_stats().slots_streamed;
  }
  EXPECT_GE(streamed, 1u);
  // Only the second half evicted: the first half's slots go parallel, the rest streamed.
  const EngineHeader h = info_of(bytes).header;
  const uint64_t half = h.weights_offset + (slots / 2) * o.staging_buffer_bytes;
  streamed = 0;
  for (int attempt = 0; attempt < 4 && streamed == 0; ++attempt) {
    if (!evict(path, half, 0)) GTEST_SKIP() << "cannot evict part of the file";
    Result<std::shared_ptr<Engine>> e = rt->load_file(path, o);
    ASSERT_TRUE(e.ok()) << e.status().to_string();
    expect_region_is_the_file(**e, bytes);
    EXPECT_GE((*e)->load_stats().slots_parallel, slots / 2);
    streamed = (*e)->load_stats().slots_streamed;
  }
  EXPECT_GE(streamed, 1u);
  std::remove(path.c_str());
}

TEST(EngineLoadReadPlan, StreamedLoadsFailCleanly) {
  std::vector<uint8_t> bytes = engine_bytes();
  const EngineInfo info = info_of(bytes);
  size_t w1 = 0;
  while (info.weights[w1].name != "W1") ++w1;
  const uint64_t chunk = (info.weights[w1].offset + 70000) / info.header.chunk_size;
  std::vector<uint8_t> corrupt = bytes;
  corrupt[info.header.weights_offset + info.weights[w1].offset + 70000] ^= 0x01;
  for (uint32_t threads : {1u, 4u}) {
    SCOPED_TRACE(threads);
    // A flipped bit: the chunk, its offset and its weight are named, as with parallel reads.
    {
      ByteReader reader(corrupt);
      LoadOptions o;
      o.read_mode = ReadMode::kStreamed;
      o.reader_threads = threads;
      o.staging_buffer_bytes = 65536;
      Result<std::shared_ptr<Engine>> e = cpu_runtime()->load(reader, o);
      ASSERT_FALSE(e.ok());
      EXPECT_EQ(e.status().code(), StatusCode::kDataLoss);
      EXPECT_NE(e.status().message().find("weights chunk " + std::to_string(chunk) + " of"), std::string::npos)
          << e.status().message();
      EXPECT_NE(e.status().message().find("'W1'"), std::string::npos) << e.status().message();
    }
    // Cancelled by the flag before anything is read, and by the progress callback later.
    {
      ByteReader reader(bytes);
      std::atomic<bool> stop{true};
      LoadOptions o;
      o.read_mode = ReadMode::kStreamed;
      o.reader_threads = threads;
      o.cancel = &stop;
      Result<std::shared_ptr<Engine>> e = cpu_runtime()->load(reader, o);
      EXPECT_EQ(e.status().code(), StatusCode::kCancelled) << e.status().to_string();
    }
    {
      ByteReader reader(bytes);
      LoadOptions o;
      o.read_mode = ReadMode::kStreamed;
      o.reader_threads = threads;
      o.staging_buffer_bytes = 65536;
      int calls = 0;
      o.progress = [&](const LoadProgress&) { return ++calls < 2; };
      Result<std::shared_ptr<Engine>> e = cpu_runtime()->load(reader, o);
      EXPECT_EQ(e.status().code(), StatusCode::kCancelled) << e.status().to_string();
      EXPECT_EQ(calls, 2);
    }
  }
  // The file shrinks under the reader: the streamed read names the bytes it wanted.
  const std::string path = temp_path("shrunk.engine");
  write_file(path, bytes);
  auto reader = std::move(open_file_reader(path)).value();
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(info.header.weights_offset + 100000)), 0);
  LoadOptions o;
  o.read_mode = ReadMode::kStreamed;
  Result<std::shared_ptr<Engine>> e = cpu_runtime()->load(*reader, o);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kDataLoss) << e.status().to_string();
  EXPECT_NE(e.status().message().find("reading weights bytes [0, "), std::string::npos) << e.status().message();
  std::remove(path.c_str());
}

TEST(EngineLoadReadPlan, ReadersTellWhatIsInThePageCache) {
  const std::vector<uint8_t> bytes(uint64_t{4} << 20, 0x5a);
  const std::string path = temp_path("resident.bin");
  write_file(path, bytes);
  auto file = std::move(open_file_reader(path)).value();
  auto mapped = std::move(open_mmap_reader(path)).value();
  auto direct = std::move(open_file_reader(path, {.direct_io = true})).value();
  auto span = make_span_reader({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()});
  ASSERT_TRUE(file->resident_fraction(0, bytes.size()).has_value());
  EXPECT_GE(*file->resident_fraction(0, bytes.size()), 0.9);
  EXPECT_GE(mapped->resident_fraction(4096, 8192).value_or(0), 0.9);
  // O_DIRECT reads go to the device whatever is cached (where the filesystem refuses O_DIRECT,
  // the reader is a buffered one and answers).
  if (direct->describe().find("(O_DIRECT") != std::string::npos) {
    EXPECT_FALSE(direct->resident_fraction(0, bytes.size()).has_value());
  }
  EXPECT_FALSE(span->resident_fraction(0, bytes.size()).has_value());
  // Out of range or empty: no answer.
  EXPECT_FALSE(file->resident_fraction(bytes.size() - 10, 20).has_value());
  EXPECT_FALSE(file->resident_fraction(0, 0).has_value());

  // The probe reads (what an unprivileged reader of someone else's file gets) agree.
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);  // probes start no readahead
  std::optional<double> probed = stream_reader_detail::probed_resident_fraction(fd, 0, bytes.size());
  ASSERT_TRUE(probed.has_value());
  EXPECT_EQ(*probed, 1.0);
  EXPECT_FALSE(stream_reader_detail::probed_resident_fraction(fd, 0, 0).has_value());
  // A range of one page at the very end (a short read there still counts as cached).
  EXPECT_EQ(stream_reader_detail::probed_resident_fraction(fd, bytes.size() - 1, 1).value_or(-1), 1.0);
  if (evict(path)) {
    EXPECT_LT(*file->resident_fraction(0, bytes.size()), 0.5);
    EXPECT_LT(mapped->resident_fraction(0, bytes.size()).value_or(0), 0.5);
    // RWF_NOWAIT starts the read of a page that is not cached, and on a fast disk that read can
    // finish before the kernel checks the page again, so one sample in a while comes back although
    // the page was not cached; on a busy machine with a fast disk, several attempts in a row can
    // (seen once in CI, 5 of 5). Evict and probe again up to 20 times: a probe that cannot tell
    // at all (it reads every page) still fails every attempt.
    double lowest = 1.0;
    for (int attempt = 0; attempt < 20 && lowest >= 0.5; ++attempt) {
      if (attempt > 0 && !evict(path)) break;
      probed = stream_reader_detail::probed_resident_fraction(fd, 0, bytes.size());
      ASSERT_TRUE(probed.has_value());
      lowest = std::min(lowest, *probed);
    }
    EXPECT_LT(lowest, 0.5);
  }
  ::close(fd);
  std::remove(path.c_str());
}

TEST(EngineLoadReadPlan, LargeRangesAreEstimatedFromEvenlySpreadSamples) {
  // 32 MiB = 8,192 pages: past the full-scan limit, so 64 windows of 16 pages answer.
  constexpr uint64_t kHalf = uint64_t{16} << 20;
  const std::vector<uint8_t> bytes(2 * kHalf, 0xa5);
  const std::string path = temp_path("sampled.bin");
  write_file(path, bytes);
  auto file = std::move(open_file_reader(path)).value();
  EXPECT_EQ(file->resident_fraction(0, bytes.size()).value_or(-1), 1.0);
  if (evict(path, kHalf, kHalf)) {
    // Half the windows fall in the evicted half.
    EXPECT_NEAR(file->resident_fraction(0, bytes.size()).value_or(-1), 0.5, 0.1);
    EXPECT_GE(file->resident_fraction(0, kHalf).value_or(-1), 0.9);
    EXPECT_LT(file->resident_fraction(kHalf, kHalf).value_or(1), 0.1);
    // A range inside one page is scanned exactly.
    EXPECT_EQ(file->resident_fraction(kHalf - 4096, 4096).value_or(-1), 1.0);
  }
  std::remove(path.c_str());
}

}  // namespace
}  // namespace slimrt
