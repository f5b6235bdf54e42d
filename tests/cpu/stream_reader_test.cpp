// Stream readers: every reader gives back exactly the bytes of a random file, in odd-sized
// chunks and from several threads, and every failure is the documented Status with a message
// that names the reader, the offset and the byte counts.
#include <fcntl.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "slimrt/device.h"
#include "slimrt/stream_reader.h"
#include "support/test_util.h"

#ifdef SLIMRT_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace slimrt {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::vector<std::byte> random_bytes(size_t n, std::mt19937_64& rng) {
  std::vector<std::byte> out(n);
  for (auto& b : out) b = static_cast<std::byte>(rng() & 0xFF);
  return out;
}

// Chunk sizes that straddle 4 KiB blocks and the 1 MiB O_DIRECT bounce buffer.
const std::vector<uint64_t> kOddChunks = {1, 7, 4095, 4096, 4097, 65537, (1u << 20) + 3, 12345, 3};

class StreamReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(SLIMRT_BINARY_DIR) / "test_tmp" / fmt::format("stream_reader_{}", ::getpid());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    for (const fs::path& p : created_) fs::remove_all(p, ec);
    fs::remove(dir_, ec);  // removes the per-process directory only once it is empty
  }

  std::string write_file(const std::string& name, const std::vector<std::byte>& bytes) {
    const fs::path p = dir_ / name;
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.close();
    EXPECT_TRUE(out.good()) << p;
    created_.push_back(p);
    return p.string();
  }

  fs::path dir_;
  std::vector<fs::path> created_;
};

// One way to build a reader over a file that holds `data`.
struct ReaderKind {
  std::string label;
  bool seekable;
  std::function<std::unique_ptr<StreamReader>(const std::string& path, const std::vector<std::byte>& data)> make;
};

// A callback over memory that hands out at most 777 bytes per call, to exercise partial fills.
ReadCallback memory_callback(const std::vector<std::byte>& data) {
  auto cursor = std::make_shared<size_t>(0);
  return [&data, cursor](void* dst, uint64_t capacity) -> int64_t {
    const size_t n = std::min<size_t>({capacity, data.size() - *cursor, 777});
    if (n > 0) std::memcpy(dst, data.data() + *cursor, n);
    *cursor += n;
    return static_cast<int64_t>(n);
  };
}

// Keeps fds of fd-stream readers open for as long as the test needs them.
struct FdCloser {
  std::vector<int> fds;
  ~FdCloser() {
    for (int fd : fds) ::close(fd);
  }
};

std::unique_ptr<StreamReader> unwrap(Result<std::unique_ptr<StreamReader>> r) {
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? std::move(r).value() : nullptr;
}

std::vector<ReaderKind> all_reader_kinds(FdCloser& fds) {
  std::vector<ReaderKind> kinds;
  kinds.push_back({"file", true, [](const std::string& path, const std::vector<std::byte>&) {
                     return unwrap(open_file_reader(path));
                   }});
  kinds.push_back({"file O_DIRECT", true, [](const std::string& path, const std::vector<std::byte>&) {
                     return unwrap(open_file_reader(path, {.direct_io = true}));
                   }});
  kinds.push_back({"mmap", true, [](const std::string& path, const std::vector<std::byte>&) {
                     return unwrap(open_mmap_reader(path));
                   }});
  kinds.push_back({"span", true, [](const std::string&, const std::vector<std::byte>& data) {
                     return make_span_reader(std::span<const std::byte>(data), "test bytes");
                   }});
  kinds.push_back({"callback", false, [](const std::string&, const std::vector<std::byte>& data) {
                     return make_callback_reader(memory_callback(data), "test callback");
                   }});
  kinds.push_back({"fd stream", false, [&fds](const std::string& path, const std::vector<std::byte>&) {
                     const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
                     EXPECT_GE(fd, 0) << path;
                     fds.fds.push_back(fd);
                     return make_fd_stream_reader(fd, "test fd");
                   }});
  return kinds;
}

TEST_F(StreamReaderTest, EveryReaderReadsBackExactlyInOddChunks) {
  auto rng = testing::make_rng();
  const std::vector<std::byte> data = random_bytes((3u << 20) + 12345, rng);
  const std::string path = write_file("odd_chunks.bin", data);
  FdCloser fds;
  for (const ReaderKind& kind : all_reader_kinds(fds)) {
    SCOPED_TRACE(kind.label);
    std::unique_ptr<StreamReader> reader = kind.make(path, data);
    ASSERT_NE(reader, nullptr);
    EXPECT_EQ(reader->seekable(), kind.seekable);
    if (kind.seekable) {
      EXPECT_EQ(reader->size(), std::optional<uint64_t>(data.size()));
    } else {
      EXPECT_EQ(reader->size(), std::nullopt);
    }
    // Read into an odd offset of the buffer so that O_DIRECT also meets unaligned destinations.
    std::vector<std::byte> back(data.size() + 1);
    uint64_t done = 0;
    for (size_t i = 0; done < data.size(); ++i) {
      const uint64_t n = std::min<uint64_t>(kOddChunks[i % kOddChunks.size()], data.size() - done);
      ASSERT_EQ(reader->position(), done);
      Status s = reader->read(back.data() + 1 + done, n);
      ASSERT_TRUE(s.ok()) << s.to_string() << " at " << done;
      done += n;
    }
    EXPECT_EQ(reader->position(), data.size());
    EXPECT_EQ(std::memcmp(back.data() + 1, data.data(), data.size()), 0);
    // Nothing is left: one more byte is a short read.
    std::byte extra{};
    Status s = reader->read(&extra, 1);
    EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s.to_string();
  }
}

TEST_F(StreamReaderTest, ReadAtFromFourThreadsAtOnce) {
  auto rng = testing::make_rng();
  const std::vector<std::byte> data = random_bytes((2u << 20) + 777, rng);
  const std::string path = write_file("threads.bin", data);
  FdCloser fds;
  for (const ReaderKind& kind : all_reader_kinds(fds)) {
    if (!kind.seekable) continue;
    SCOPED_TRACE(kind.label);
    std::unique_ptr<StreamReader> reader = kind.make(path, data);
    ASSERT_NE(reader, nullptr);
    std::atomic<int> mismatches{0};
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937_64 local(1234 + t);
        // 4 KiB-aligned storage, used at an offset of 0 or 1 so both O_DIRECT paths run.
        std::vector<std::byte> storage((1u << 20) + 2 * 4096);
        std::byte* base = storage.data() + (4096 - reinterpret_cast<uintptr_t>(storage.data()) % 4096) % 4096;
        for (int i = 0; i < 60; ++i) {
          const bool aligned = (i % 3) == 0;
          uint64_t n = 1 + local() % (1u << 20);
          uint64_t offset = local() % (data.size() - n + 1);
          if (aligned) {
            offset -= offset % 4096;
            n = std::max<uint64_t>(4096, n - n % 4096);
          }
          std::byte* dst = base + (aligned ? 0 : 1);
          Status s = reader->read_at(offset, dst, n);
          if (!s.ok()) {
            ++failures;
            continue;
          }
          if (std::memcmp(dst, data.data() + offset, n) != 0) ++mismatches;
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(mismatches.load(), 0);
    EXPECT_EQ(reader->position(), 0u) << "read_at must leave position() alone";
  }
}

TEST_F(StreamReaderTest, DirectIoWithUnalignedDestinationsOffsetsAndSizes) {
  auto rng = testing::make_rng();
  // Not a multiple of 4 KiB, so the last block is partial.
  const std::vector<std::byte> data = random_bytes(5 * 4096 + 1000, rng);
  const std::string path = write_file("direct.bin", data);
  auto opened = open_file_reader(path, {.direct_io = true});
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  StreamReader& reader = **opened;
  EXPECT_THAT(reader.describe(), HasSubstr("O_DIRECT"));
  EXPECT_THAT(reader.describe(), HasSubstr(path));
  if (reader.describe().find("refused") != std::string::npos) {
    std::printf("note: the filesystem under %s refuses O_DIRECT; the buffered fallback was tested\n", path.c_str());
  }

  std::vector<std::byte> storage(data.size() + 3 * 4096);
  std::byte* aligned = storage.data() + (4096 - reinterpret_cast<uintptr_t>(storage.data()) % 4096) % 4096;
  struct Case {
    uint64_t dst_shift, offset, bytes;
  };
  const std::vector<Case> cases = {
      {0, 0, 4096},                        // fully aligned: straight into dst
      {0, 0, 3 * 4096},                    // several aligned blocks
      {0, 4096, 4 * 4096 + 1000},          // aligned start, runs to the partial last block (EOF)
      {1, 0, 4096},                        // unaligned destination
      {0, 1, 4096},                        // unaligned offset
      {0, 4096, 100},                      // aligned, short size
      {3, 4095, 2},                        // straddles a block boundary
      {5, 17, data.size() - 17},           // unaligned everything, to the end of the file
      {0, data.size() - 1, 1},             // the last byte
      {0, 0, data.size()},                 // the whole file, aligned dst
      {7, 0, 0},                           // nothing
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(fmt::format("dst+{} offset {} bytes {}", c.dst_shift, c.offset, c.bytes));
    std::memset(storage.data(), 0x5A, storage.size());
    Status s = reader.read_at(c.offset, aligned + c.dst_shift, c.bytes);
    ASSERT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(std::memcmp(aligned + c.dst_shift, data.data() + c.offset, c.bytes), 0);
    // Nothing written past the requested bytes (the bounce buffer must not spill).
    if (c.dst_shift + c.bytes < storage.size() - (aligned - storage.data())) {
      EXPECT_EQ(aligned[c.dst_shift + c.bytes], std::byte{0x5A});
    }
  }
  // Sequential reads from an unaligned position with read().
  ASSERT_TRUE(reader.seek(3).ok());
  std::vector<std::byte> rest(data.size() - 3);
  ASSERT_TRUE(reader.read(rest.data(), rest.size()).ok());
  EXPECT_EQ(std::memcmp(rest.data(), data.data() + 3, rest.size()), 0);
}

TEST_F(StreamReaderTest, ReadPastTheEndIsDataLossWithOffsetAndCounts) {
  auto rng = testing::make_rng();
  const std::vector<std::byte> data = random_bytes(10000, rng);
  const std::string path = write_file("eof.bin", data);
  FdCloser fds;
  std::vector<std::byte> buf(20000);
  for (const ReaderKind& kind : all_reader_kinds(fds)) {
    SCOPED_TRACE(kind.label);
    std::unique_ptr<StreamReader> reader = kind.make(path, data);
    ASSERT_NE(reader, nullptr);
    ASSERT_TRUE(reader->seek(9990).ok());
    Status s = reader->read(buf.data(), 25);
    ASSERT_EQ(s.code(), StatusCode::kDataLoss) << s.to_string();
    EXPECT_THAT(s.message(), HasSubstr(reader->describe()));
    EXPECT_THAT(s.message(), HasSubstr("cannot read 25 bytes at offset 9990"));
    EXPECT_THAT(s.message(), HasSubstr("only 10 bytes available"));
    if (kind.seekable) {
      EXPECT_THAT(s.message(), HasSubstr("(size 10000)"));
      EXPECT_EQ(reader->position(), 9990u) << "a failed read of a seekable reader does not move";
      // read_at past the end, and at an offset beyond the end.
      s = reader->read_at(9000, buf.data(), 1001);
      ASSERT_EQ(s.code(), StatusCode::kDataLoss) << s.to_string();
      EXPECT_THAT(s.message(), HasSubstr("cannot read 1001 bytes at offset 9000: only 1000 bytes available"));
      s = reader->read_at(20000, buf.data(), 1);
      ASSERT_EQ(s.code(), StatusCode::kDataLoss) << s.to_string();
      EXPECT_THAT(s.message(), HasSubstr("cannot read 1 bytes at offset 20000: only 0 bytes available"));
      // Huge values must not wrap around.
      s = reader->read_at(UINT64_MAX - 1, buf.data(), 4);
      EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s.to_string();
    } else {
      EXPECT_EQ(reader->position(), 10000u) << "the stream consumed the bytes it had";
    }
  }
}

TEST_F(StreamReaderTest, SeekPastTheEndIsOutOfRange) {
  auto rng = testing::make_rng();
  const std::vector<std::byte> data = random_bytes(100000, rng);
  const std::string path = write_file("seek.bin", data);
  FdCloser fds;
  for (const ReaderKind& kind : all_reader_kinds(fds)) {
    SCOPED_TRACE(kind.label);
    std::unique_ptr<StreamReader> reader = kind.make(path, data);
    ASSERT_NE(reader, nullptr);
    // Forward seek (skipping, for streams) lands on the right bytes.
    ASSERT_TRUE(reader->seek(70001).ok());
    std::byte b[3];
    ASSERT_TRUE(reader->read(b, 3).ok());
    EXPECT_EQ(std::memcmp(b, data.data() + 70001, 3), 0);
    Status s = reader->seek(100001);
    ASSERT_EQ(s.code(), StatusCode::kOutOfRange) << s.to_string();
    EXPECT_THAT(s.message(), HasSubstr("seek to offset 100001 is past the end"));
    EXPECT_THAT(s.message(), HasSubstr(reader->describe()));
    if (kind.seekable) {
      EXPECT_THAT(s.message(), HasSubstr("(size 100000)"));
      EXPECT_EQ(reader->position(), 70004u);
      // Exactly the end is a valid position.
      EXPECT_TRUE(reader->seek(100000).ok());
      EXPECT_TRUE(reader->seek(5).ok()) << "seekable readers go back";
    } else {
      EXPECT_THAT(s.message(), HasSubstr("the stream ended at offset 100000"));
    }
  }
}

TEST_F(StreamReaderTest, ZeroLengthFileForEveryReader) {
  const std::vector<std::byte> empty;
  const std::string path = write_file("empty.bin", empty);
  FdCloser fds;
  for (const ReaderKind& kind : all_reader_kinds(fds)) {
    SCOPED_TRACE(kind.label);
    std::unique_ptr<StreamReader> reader = kind.make(path, empty);
    ASSERT_NE(reader, nullptr);
    if (kind.seekable) {
      EXPECT_EQ(reader->size(), std::optional<uint64_t>(0));
    }
    std::byte b{};
    EXPECT_TRUE(reader->read(&b, 0).ok());
    EXPECT_TRUE(reader->seek(0).ok());
    Status s = reader->read(&b, 1);
    ASSERT_EQ(s.code(), StatusCode::kDataLoss) << s.to_string();
    EXPECT_THAT(s.message(), HasSubstr("cannot read 1 bytes at offset 0: only 0 bytes available"));
    EXPECT_EQ(reader->seek(1).code(), StatusCode::kOutOfRange);
    if (kind.seekable) {
      EXPECT_TRUE(reader->read_at(0, &b, 0).ok());
      EXPECT_EQ(reader->read_at(0, &b, 1).code(), StatusCode::kDataLoss);
    }
  }
  // The in-memory readers still give a usable pointer for zero bytes.
  auto mapped = open_mmap_reader(path);
  ASSERT_TRUE(mapped.ok()) << mapped.status().to_string();
  EXPECT_NE((*mapped)->data_at(0, 0), nullptr);
  EXPECT_EQ((*mapped)->data_at(0, 1), nullptr);
}

TEST_F(StreamReaderTest, DataAtPointsIntoTheBytesForMmapAndSpanOnly) {
  auto rng = testing::make_rng();
  const std::vector<std::byte> data = random_bytes(50000, rng);
  const std::string path = write_file("data_at.bin", data);
  auto mapped = open_mmap_reader(path);
  ASSERT_TRUE(mapped.ok()) << mapped.status().to_string();
  const void* p = (*mapped)->data_at(123, 40000);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(std::memcmp(p, data.data() + 123, 40000), 0);
  EXPECT_EQ((*mapped)->data_at(49999, 2), nullptr);
  EXPECT_EQ((*mapped)->data_at(UINT64_MAX, 2), nullptr);
  EXPECT_THAT((*mapped)->describe(), HasSubstr(path));

  auto span = make_span_reader(std::span<const std::byte>(data));
  EXPECT_EQ(span->data_at(7, 10), static_cast<const void*>(data.data() + 7));
  EXPECT_EQ(span->describe(), "memory");

  auto file = open_file_reader(path);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ((*file)->data_at(0, 1), nullptr);
}

// Every file-opening reader (buffered, O_DIRECT, mmap) refuses `path` with `code` and a message
// naming the path and `reason`.
void expect_open_fails(const std::string& path, StatusCode code, const std::string& reason) {
  std::vector<Result<std::unique_ptr<StreamReader>>> results;
  results.push_back(open_file_reader(path));
  results.push_back(open_file_reader(path, {.direct_io = true}));
  results.push_back(open_mmap_reader(path));
  for (const auto& r : results) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), code) << r.status().to_string();
    EXPECT_THAT(r.status().message(), HasSubstr(path));
    EXPECT_THAT(r.status().message(), HasSubstr(reason));
  }
}

TEST_F(StreamReaderTest, OpenErrorsNameThePathAndTheReason) {
  // A missing file is kNotFound.
  expect_open_fails((dir_ / "does_not_exist.engine").string(), StatusCode::kNotFound, std::strerror(ENOENT));
  // A directory is kIoError with errno's text.
  const fs::path sub = dir_ / "a_directory";
  fs::create_directories(sub);
  created_.push_back(sub);
  expect_open_fails(sub.string(), StatusCode::kIoError, std::strerror(EISDIR));
  // A FIFO is refused at once rather than waiting for a writer.
  const fs::path fifo = dir_ / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  created_.push_back(fifo);
  expect_open_fails(fifo.string(), StatusCode::kIoError, "not a regular file");
}

TEST_F(StreamReaderTest, UnreadableFileIsIoError) {
  if (::geteuid() == 0) GTEST_SKIP() << "running as root: file permissions do not stop reads";
  const std::string path = write_file("unreadable.bin", std::vector<std::byte>(10));
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);
  expect_open_fails(path, StatusCode::kIoError, std::strerror(EACCES));
}

// Writes `data` into a pipe from a thread in odd-sized pieces, then closes the write end. The
// destructor drains whatever the test did not read, so the writer never blocks or gets SIGPIPE.
class PipeWriter {
 public:
  explicit PipeWriter(const std::vector<std::byte>& data, std::function<void()> before_write = {}) {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    read_fd_ = fds[0];
    write_fd_ = fds[1];
    thread_ = std::thread([this, &data, before_write = std::move(before_write)] {
      if (before_write) before_write();
      size_t done = 0;
      size_t piece = 1;
      while (done < data.size()) {
        const size_t n = std::min(piece, data.size() - done);
        const ssize_t w = ::write(write_fd_, data.data() + done, n);
        if (w < 0) {
          if (errno == EINTR) continue;
          break;
        }
        done += static_cast<size_t>(w);
        piece = piece * 3 + 1;
        if (piece > 300000) piece = 5;
      }
      ::close(write_fd_);
    });
  }
  ~PipeWriter() {
    char sink[4096];
    while (::read(read_fd_, sink, sizeof(sink)) > 0) {
    }
    thread_.join();
    ::close(read_fd_);
  }
  int read_fd() const { return read_fd_; }

 private:
  int read_fd_ = -1;
  int write_fd_ = -1;
  std::thread thread_;
};

TEST_F(StreamReaderTest, RealPipeThroughFdStreamReader) {
  auto rng = testing::make_rng();
  const std::vector<std::byte> data = random_bytes((2u << 20) + 4321, rng);
  PipeWriter writer(data);
  auto reader = make_fd_stream_reader(writer.read_fd(), "test pipe");
  EXPECT_FALSE(reader->seekable());
  EXPECT_EQ(reader->size(), std::nullopt);
  std::byte b{};
  Status s = reader->read_at(0, &b, 1);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_THAT(s.message(), HasSubstr("test pipe"));

  std::vector<std::byte> back(data.size());
  uint64_t done = 0;
  for (size_t i = 0; done < data.size(); ++i) {
    const uint64_t n = std::min<uint64_t>(kOddChunks[i % kOddChunks.size()], data.size() - done);
    ASSERT_TRUE(reader->read(back.data() + done, n).ok()) << "at " << done;
    done += n;
  }
  EXPECT_EQ(back, data);
  s = reader->read(&b, 1);
  ASSERT_EQ(s.code(), StatusCode::kDataLoss) << s.to_string();
  EXPECT_THAT(s.message(), HasSubstr(fmt::format("cannot read 1 bytes at offset {}: only 0 bytes available", data.size())));
}

TEST_F(StreamReaderTest, BackwardSeekOnPipeIsUnsupported) {
  auto rng = testing::make_rng();
  const std::vector<std::byte> data = random_bytes(300000, rng);
  PipeWriter writer(data);
  auto reader = make_fd_stream_reader(writer.read_fd(), "test pipe");
  std::vector<std::byte> buf(100);
  ASSERT_TRUE(reader->read(buf.data(), 100).ok());
  Status s = reader->seek(50);
  ASSERT_EQ(s.code(), StatusCode::kUnsupported) << s.to_string();
  EXPECT_THAT(s.message(), HasSubstr("test pipe"));
  EXPECT_THAT(s.message(), HasSubstr("from offset 100 to offset 50"));
  EXPECT_EQ(reader->position(), 100u);
  // Forward seeks skip, further than the 64 KiB scratch buffer.
  ASSERT_TRUE(reader->seek(200003).ok());
  ASSERT_TRUE(reader->read(buf.data(), 100).ok());
  EXPECT_EQ(std::memcmp(buf.data(), data.data() + 200003, 100), 0);
}

void ignore_signal(int) {}

TEST_F(StreamReaderTest, FdStreamReaderRetriesEintr) {
  // A handler without SA_RESTART makes a blocked read(2) fail with EINTR; the reader must retry.
  struct sigaction action {};
  struct sigaction previous {};
  action.sa_handler = ignore_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  ASSERT_EQ(::sigaction(SIGUSR1, &action, &previous), 0);
  auto rng = testing::make_rng();
  const std::vector<std::byte> data = random_bytes(100000, rng);
  const pthread_t reader_thread = ::pthread_self();
  {
    PipeWriter writer(data, [reader_thread] {
      for (int i = 0; i < 5; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        ::pthread_kill(reader_thread, SIGUSR1);
      }
    });
    auto reader = make_fd_stream_reader(writer.read_fd(), "signalled pipe");
    std::vector<std::byte> back(data.size());
    Status s = reader->read(back.data(), back.size());
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(back, data);
  }
  ::sigaction(SIGUSR1, &previous, nullptr);
}

TEST_F(StreamReaderTest, CallbackErrorsAndEarlyEnd) {
  // -1 is an I/O error.
  int calls = 0;
  auto failing = make_callback_reader(
      [&calls](void* dst, uint64_t capacity) -> int64_t {
        if (calls++ == 0) {
          std::memset(dst, 1, std::min<uint64_t>(capacity, 10));
          return static_cast<int64_t>(std::min<uint64_t>(capacity, 10));
        }
        return -1;
      },
      "flaky socket");
  std::vector<std::byte> buf(100);
  Status s = failing->read(buf.data(), 100);
  ASSERT_EQ(s.code(), StatusCode::kIoError) << s.to_string();
  EXPECT_THAT(s.message(), HasSubstr("flaky socket"));
  EXPECT_THAT(s.message(), HasSubstr("at offset 10"));
  EXPECT_EQ(failing->position(), 10u);

  // 0 before the read is filled is a short stream.
  uint64_t served = 0;
  auto short_stream = make_callback_reader([&served](void* dst, uint64_t capacity) -> int64_t {
    const uint64_t n = std::min<uint64_t>({capacity, 30 - served, 7});
    std::memset(dst, 2, n);
    served += n;
    return static_cast<int64_t>(n);
  });
  ASSERT_TRUE(short_stream->seek(5).ok());
  s = short_stream->read(buf.data(), 40);
  ASSERT_EQ(s.code(), StatusCode::kDataLoss) << s.to_string();
  EXPECT_THAT(s.message(), HasSubstr("callback stream: cannot read 40 bytes at offset 5: only 25 bytes available"));
  s = short_stream->seek(4);
  ASSERT_EQ(s.code(), StatusCode::kUnsupported) << s.to_string();
  EXPECT_THAT(s.message(), HasSubstr("cannot seek back from offset 30 to offset 4"));

  // A callback claiming more than it was offered is refused, not trusted.
  auto liar = make_callback_reader([](void*, uint64_t capacity) -> int64_t { return static_cast<int64_t>(capacity) + 1; },
                                   "liar");
  s = liar->read(buf.data(), 8);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.to_string();
  EXPECT_THAT(s.message(), HasSubstr("more than the 8 asked for"));

  auto none = make_callback_reader(ReadCallback{}, "empty");
  EXPECT_EQ(none->read(buf.data(), 1).code(), StatusCode::kInvalidArgument);
}

TEST_F(StreamReaderTest, DeviceDestination) {
  auto rng = testing::make_rng();
  const std::vector<std::byte> data = random_bytes((9u << 20) + 333, rng);  // > two staging buffers
  const std::string path = write_file("device.bin", data);
  FdCloser fds;
  const DeviceQuery devices = query_cuda_devices();
  std::printf("device destinations: %s\n", devices.count > 0 ? ("copied to " + devices.description).c_str()
                                                                : ("refused (" + devices.description + ")").c_str());
  for (const ReaderKind& kind : all_reader_kinds(fds)) {
    SCOPED_TRACE(kind.label);
    std::unique_ptr<StreamReader> reader = kind.make(path, data);
    ASSERT_NE(reader, nullptr);
#ifdef SLIMRT_HAVE_CUDA
    if (devices.count > 0) {
      void* device = nullptr;
      ASSERT_EQ(cudaMalloc(&device, data.size()), cudaSuccess);
      cudaStream_t stream = nullptr;
      ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
      ASSERT_TRUE(reader->seek(1).ok());
      Status s = reader->read(device, data.size() - 1, MemoryKind::kDevice, stream);
      ASSERT_TRUE(s.ok()) << s.to_string();
      EXPECT_EQ(reader->position(), data.size());
      std::vector<std::byte> back(data.size() - 1);
      ASSERT_EQ(cudaMemcpy(back.data(), device, back.size(), cudaMemcpyDeviceToHost), cudaSuccess);
      EXPECT_EQ(std::memcmp(back.data(), data.data() + 1, back.size()), 0);
      cudaStreamDestroy(stream);
      cudaFree(device);
      continue;
    }
#endif
    std::byte fake_device[16];
    Status s = reader->read(fake_device, 16, MemoryKind::kDevice, nullptr);
    ASSERT_EQ(s.code(), StatusCode::kUnsupported) << s.to_string() << " (" << devices.description << ")";
    EXPECT_THAT(s.message(), HasSubstr("device destination needs"));
    EXPECT_THAT(s.message(), HasSubstr(reader->describe()));
    if (kind.seekable) {
      EXPECT_EQ(reader->position(), 0u);
    }
  }
}

}  // namespace
}  // namespace slimrt
