// Runtime::load on the CPU backend: every reader kind, several threads and staging sizes,
// progress, cancellation, corruption, and the mmap reader's page release. (The GPU path has the
// same pipeline with a pinned ring; tests/gpu/engine_load_gpu_test.cpp runs it on a device.)
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cpu/engine_test_util.h"
#include "slimrt/backend.h"
#include "slimrt/runtime.h"

namespace slimrt {
namespace {

using engine_test::ByteReader;

Graph build_load_graph() { return engine_test::build_weighted_test_graph(7); }

std::vector<uint8_t> engine_bytes(uint64_t chunk_size = 4096) {
  Graph g = build_load_graph();
  EngineOptions o;
  o.chunk_size = chunk_size;
  return engine_test::write_to_bytes(g, o);
}

using engine_test::write_file;
std::string temp_path(const std::string& name) { return engine_test::temp_path("load", name); }

std::unique_ptr<Runtime> cpu_runtime() {
  Result<std::unique_ptr<Runtime>> rt = Runtime::create({.backend = "cpu"});
  EXPECT_TRUE(rt.ok()) << rt.status().to_string();
  return std::move(rt).value();
}

// Every weight equals the original graph's constant byte for byte, and the loaded graph runs
// to the same outputs as the original.
void expect_same_engine(const Engine& e, const std::vector<uint8_t>& file) {
  const EngineInfo& info = e.info();
  ASSERT_EQ(e.weights_bytes(), info.header.weights_size);
  ASSERT_EQ(std::memcmp(e.weights_data(), file.data() + info.header.weights_offset, info.header.weights_size), 0);
  for (size_t i = 0; i < info.weights.size(); ++i) {
    const Tensor& t = e.weight(i);
    EXPECT_EQ(t.bytes(), info.weights[i].size);
    EXPECT_EQ(static_cast<const uint8_t*>(t.raw()),
              static_cast<const uint8_t*>(e.weights_data()) + info.weights[i].offset);
  }
  Graph original = build_load_graph();
  auto rng = testing::make_rng(11);
  std::vector<NamedTensor> inputs = {{"x", testing::random_tensor(DataType::kFloat32, {3, 4}, rng)},
                                     {"x2", testing::random_tensor(DataType::kFloat32, {3, 64}, rng)}};
  std::vector<Tensor> want = testing::run_graph(original, inputs), got = testing::run_graph(e.graph(), inputs);
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(want[i].bytes(), got[i].bytes());
    EXPECT_EQ(std::memcmp(want[i].raw(), got[i].raw(), want[i].bytes()), 0) << "output " << i;
  }
}

TEST(EngineLoad, EveryReaderThreadCountAndStagingSize) {
  const std::vector<uint8_t> bytes = engine_bytes();
  const std::string path = temp_path("every.engine");
  write_file(path, bytes);
  auto rt = cpu_runtime();
  for (const std::string kind : {"memory", "pipe", "file", "direct", "mmap", "span"}) {
    for (uint32_t threads : {1u, 3u, 8u}) {
      for (uint64_t staging : {uint64_t{1}, uint64_t{12288}, kDefaultStagingBufferBytes}) {
        SCOPED_TRACE(kind + " threads " + std::to_string(threads) + " staging " + std::to_string(staging));
        std::unique_ptr<StreamReader> reader;
        if (kind == "memory") reader = std::make_unique<ByteReader>(bytes);
        if (kind == "pipe") reader = std::make_unique<ByteReader>(bytes, false, false);
        if (kind == "file") reader = std::move(open_file_reader(path)).value();
        if (kind == "direct") reader = std::move(open_file_reader(path, {.direct_io = true})).value();
        if (kind == "mmap") reader = std::move(open_mmap_reader(path)).value();
        if (kind == "span") reader = make_span_reader({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()});
        LoadOptions o;
        o.reader_threads = threads;
        o.staging_buffer_bytes = staging;
        Result<std::shared_ptr<Engine>> e = rt->load(*reader, o);
        ASSERT_TRUE(e.ok()) << e.status().to_string();
        EXPECT_EQ((*e)->backend(), "cpu");
        EXPECT_EQ((*e)->weights_memory_kind(), MemoryKind::kHost);
        EXPECT_EQ((*e)->load_stats().reader_threads, kind == "pipe" ? 1u : threads);
        EXPECT_TRUE((*e)->load_stats().checksums_verified);
        expect_same_engine(**e, bytes);
      }
    }
  }
  std::remove(path.c_str());
}

TEST(EngineLoad, FromARealPipe) {
  const std::vector<uint8_t> bytes = engine_bytes();
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::thread writer([&] {
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fds[1], bytes.data() + done, std::min<size_t>(bytes.size() - done, 5000));
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::close(fds[1]);
  });
  auto reader = make_fd_stream_reader(fds[0], "pipe");
  Result<std::shared_ptr<Engine>> e = cpu_runtime()->load(*reader);
  writer.join();
  ::close(fds[0]);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  expect_same_engine(**e, bytes);
}

TEST(EngineLoad, EngineOutlivesRuntimeAndWeightsOutliveEngine) {
  const std::vector<uint8_t> bytes = engine_bytes();
  Tensor w;
  {
    std::shared_ptr<Engine> e;
    {
      ByteReader reader(bytes);
      auto rt = cpu_runtime();
      e = std::move(rt->load(reader)).value();
    }
    w = e->weight(e->info().weights.size() - 1);
  }
  // The region stays alive through the tensor (ASan would flag a use after free).
  const EngineInfo info = std::move(parse_engine(*std::make_unique<ByteReader>(bytes))).value();
  const EngineWeight& last = info.weights.back();
  EXPECT_EQ(std::memcmp(w.raw(), bytes.data() + info.header.weights_offset + last.offset, last.size), 0);
}

TEST(EngineLoad, ProgressIsMonotonicAndEndsAtTheTotal) {
  const std::vector<uint8_t> bytes = engine_bytes();
  for (bool seekable : {true, false}) {
    ByteReader reader(bytes, seekable, seekable);
    std::vector<LoadProgress> seen;
    LoadOptions o;
    o.staging_buffer_bytes = 65536;
    o.progress = [&](const LoadProgress& p) {
      seen.push_back(p);
      return true;
    };
    Result<std::shared_ptr<Engine>> e = cpu_runtime()->load(reader, o);
    ASSERT_TRUE(e.ok()) << e.status().to_string();
    const uint64_t total = (*e)->weights_bytes();
    ASSERT_EQ(seen.size(), (total + 65535) / 65536);
    for (size_t i = 0; i < seen.size(); ++i) {
      EXPECT_EQ(seen[i].bytes_total, total);
      if (i > 0) {
        EXPECT_GT(seen[i].bytes_done, seen[i - 1].bytes_done);
        EXPECT_GE(seen[i].seconds, seen[i - 1].seconds);
      }
    }
    EXPECT_EQ(seen.back().bytes_done, total);
  }
}

TEST(EngineLoad, CancelledByProgressOrFlag) {
  const std::vector<uint8_t> bytes = engine_bytes();
  for (bool seekable : {true, false}) {
    {
      ByteReader reader(bytes, seekable, seekable);
      LoadOptions o;
      o.staging_buffer_bytes = 65536;
      int calls = 0;
      o.progress = [&](const LoadProgress&) { return ++calls < 3; };
      Result<std::shared_ptr<Engine>> e = cpu_runtime()->load(reader, o);
      ASSERT_FALSE(e.ok());
      EXPECT_EQ(e.status().code(), StatusCode::kCancelled);
      EXPECT_NE(e.status().message().find("cancelled after 196608 of"), std::string::npos) << e.status().message();
      EXPECT_EQ(calls, 3);
    }
    {
      ByteReader reader(bytes, seekable, seekable);
      std::atomic<bool> stop{true};
      LoadOptions o;
      o.cancel = &stop;
      o.reader_threads = 4;
      Result<std::shared_ptr<Engine>> e = cpu_runtime()->load(reader, o);
      ASSERT_FALSE(e.ok());
      EXPECT_EQ(e.status().code(), StatusCode::kCancelled) << e.status().to_string();
    }
  }
}

TEST(EngineLoad, CorruptWeightsNameTheChunkAndTheWeight) {
  std::vector<uint8_t> bytes = engine_bytes();
  const EngineInfo info = std::move(parse_engine(*std::make_unique<ByteReader>(bytes))).value();
  size_t w1 = 0;
  while (info.weights[w1].name != "W1") ++w1;
  const uint64_t at = info.header.weights_offset + info.weights[w1].offset + 70000;
  bytes[at] ^= 0x10;
  const uint64_t chunk = (info.weights[w1].offset + 70000) / info.header.chunk_size;
  for (bool seekable : {true, false}) {
    for (uint32_t threads : {1u, 4u}) {
      ByteReader reader(bytes, seekable, seekable);
      LoadOptions o;
      o.reader_threads = threads;
      Result<std::shared_ptr<Engine>> e = cpu_runtime()->load(reader, o);
      ASSERT_FALSE(e.ok());
      EXPECT_EQ(e.status().code(), StatusCode::kDataLoss);
      const std::string& m = e.status().message();
      EXPECT_NE(m.find("weights chunk " + std::to_string(chunk) + " of"), std::string::npos) << m;
      EXPECT_NE(m.find("file offset " + std::to_string(info.header.weights_offset + chunk * 4096)), std::string::npos)
          << m;
      EXPECT_NE(m.find("'W1'"), std::string::npos) << m;
    }
  }
  // Verification off: the load succeeds and the flipped bit is there.
  ByteReader reader(bytes);
  LoadOptions o;
  o.verify_checksums = false;
  Result<std::shared_ptr<Engine>> e = cpu_runtime()->load(reader, o);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_FALSE((*e)->load_stats().checksums_verified);
  EXPECT_EQ(static_cast<const uint8_t*>((*e)->weights_data())[at - info.header.weights_offset], bytes[at]);
}

TEST(EngineLoad, TruncatedEngineFailsAtTheRightChunk) {
  std::vector<uint8_t> bytes = engine_bytes();
  const EngineInfo info = std::move(parse_engine(*std::make_unique<ByteReader>(bytes))).value();
  // A pipe that ends early: the header said more was coming.
  bytes.resize(info.header.weights_offset + 3 * 4096 + 100);
  ByteReader reader(bytes, false, false);
  Result<std::shared_ptr<Engine>> e = cpu_runtime()->load(reader);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(e.status().message().find("weights chunk 3 of"), std::string::npos) << e.status().message();
}

TEST(EngineLoad, RuntimeAndOptionErrors) {
  Result<std::unique_ptr<Runtime>> tpu = Runtime::create({.backend = "tpu"});
  ASSERT_FALSE(tpu.ok());
  EXPECT_EQ(tpu.status().code(), StatusCode::kNotFound);
  EXPECT_NE(tpu.status().message().find("'tpu'"), std::string::npos);
  Result<std::unique_ptr<Runtime>> cpu1 = Runtime::create({.backend = "cpu", .device = 1});
  EXPECT_EQ(cpu1.status().code(), StatusCode::kInvalidArgument);
  if (Runtime::default_backend() == "cpu") {
    // No usable GPU here: the cuda backend says why instead of failing later.
    Result<std::unique_ptr<Runtime>> cuda = Runtime::create({.backend = "cuda"});
    ASSERT_FALSE(cuda.ok());
    EXPECT_EQ(cuda.status().code(), StatusCode::kUnsupported) << cuda.status().to_string();
  }
  const std::vector<uint8_t> bytes = engine_bytes();
  ByteReader reader(bytes);
  LoadOptions o;
  o.reader_threads = 1000;
  EXPECT_EQ(cpu_runtime()->load(reader, o).status().code(), StatusCode::kInvalidArgument);
  o = LoadOptions{};
  o.staging_buffer_bytes = 0;
  EXPECT_EQ(cpu_runtime()->load(reader, o).status().code(), StatusCode::kInvalidArgument);
  Result<std::shared_ptr<Engine>> missing = cpu_runtime()->load_file("/nonexistent/model.engine");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

int64_t resident_pages() {
  std::ifstream in("/proc/self/statm");
  int64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident;
}

TEST(EngineLoad, MmapReleaseDropsConsumedPages) {
  const std::string path = temp_path("mapped.bin");
  const std::vector<uint8_t> bytes(uint64_t{32} << 20, 0x3c);
  write_file(path, bytes);
  auto reader = std::move(open_mmap_reader(path)).value();
  const auto* p = static_cast<const volatile uint8_t*>(reader->data_at(0, bytes.size()));
  ASSERT_NE(p, nullptr);
  const int64_t before = resident_pages();
  uint64_t sum = 0;
  for (size_t i = 0; i < bytes.size(); i += 4096) sum += p[i];
  EXPECT_EQ(sum, uint64_t{0x3c} * (bytes.size() / 4096));
  const int64_t touched = resident_pages();
  EXPECT_GT(touched - before, 6000);  // ~8192 pages of 4 KiB came in
  reader->release(0, bytes.size());
  const int64_t released = resident_pages();
  // The ~8192 mapped file pages left the resident set (sanitizers' shadow memory may stay).
  EXPECT_GT(touched - released, 6000) << "before " << before << " touched " << touched << " released " << released;
  // The bytes are still readable after a release (the file backs them).
  std::vector<uint8_t> back(4096);
  ASSERT_TRUE(reader->read_at(12345, back.data(), back.size()).ok());
  EXPECT_EQ(back[0], 0x3c);
  std::remove(path.c_str());
}

TEST(EngineLoad, AutoDirectIoFollowsThePageCache) {
  const std::vector<uint8_t> bytes = engine_bytes();
  const std::string path = temp_path("auto.engine");
  write_file(path, bytes);
  // Just written: in the page cache, so buffered reads.
  std::optional<double> cached = page_cache_fraction(path);
  ASSERT_TRUE(cached.has_value());
  EXPECT_GT(*cached, 0.5);
  FileReaderOptions fo;
  fo.direct_io_when_uncached = true;
  auto warm = std::move(open_file_reader(path, fo)).value();
  EXPECT_NE(warm->describe().find("buffered"), std::string::npos) << warm->describe();
  // Evicted (flushed, then dropped from the cache): O_DIRECT, or the filesystem's refusal of it.
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
  cached = page_cache_fraction(path);
  ASSERT_TRUE(cached.has_value());
  if (*cached >= 0.5) GTEST_SKIP() << "this filesystem keeps the file cached (" << *cached << ")";
  auto cold = std::move(open_file_reader(path, fo)).value();
  EXPECT_NE(cold->describe().find("O_DIRECT"), std::string::npos) << cold->describe();
  Result<std::shared_ptr<Engine>> e = cpu_runtime()->load(*cold);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  expect_same_engine(**e, bytes);
  std::remove(path.c_str());
  EXPECT_FALSE(page_cache_fraction(path).has_value());
}

}  // namespace
}  // namespace slimrt
