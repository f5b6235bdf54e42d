// The pread file reader, with optional O_DIRECT.
//
// O_DIRECT needs the buffer address, the file offset and the length to be multiples of the
// device's logical block size. We use 4 KiB, which covers every common device. A read whose
// destination and offset are aligned goes straight into the caller's memory (the loader's pinned
// staging buffers are page-aligned, and the engine's weights region is 4 KiB-aligned); the rest
// (headers, unaligned tails, unaligned caller buffers) goes through a 1 MiB aligned bounce
// buffer. Bounce buffers come from a small pool, one per thread reading at the same moment, so
// read_at() stays thread-safe without holding a lock during I/O and memory stays bounded.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "core/log.h"
#include "loader/stream_reader_internal.h"

namespace slimrt {
namespace stream_reader_detail {

Result<OpenedFile> open_regular_file(const std::string& path, int extra_flags, int* failed_errno) {
  if (failed_errno != nullptr) *failed_errno = 0;
  // O_NONBLOCK so that a FIFO given by mistake is refused below instead of blocking the open
  // until a writer appears; it is cleared again once we know the file is regular.
  int fd = -1;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | extra_flags);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    const int err = errno;
    if (failed_errno != nullptr) *failed_errno = err;
    if (err == ENOENT || err == ENOTDIR) {
      return not_found(fmt::format("file '{}' not found: {}", path, errno_text(err)));
    }
    return io_error(fmt::format("cannot open file '{}': {}", path, errno_text(err)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    if (failed_errno != nullptr) *failed_errno = err;
    return io_error(fmt::format("cannot stat file '{}': {}", path, errno_text(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    if (S_ISDIR(st.st_mode)) return io_error(fmt::format("cannot read file '{}': {}", path, errno_text(EISDIR)));
    return io_error(fmt::format(
        "cannot read file '{}': not a regular file (pipes and sockets need make_fd_stream_reader)", path));
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return OpenedFile{fd, static_cast<uint64_t>(st.st_size)};
}

std::optional<double> mapped_resident_fraction(const void* addr, uint64_t bytes) {
  if (bytes == 0) return std::nullopt;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = reinterpret_cast<uintptr_t>(addr) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(addr) + bytes + page - 1) / page * page;
  const uintptr_t pages = (end - begin) / page;
  // mincore costs about 50-170 ns a page (the kernel looks each one up in the page cache), so
  // 13.5 GB would take 0.15-0.5 s; beyond kFullPages, windows of kWindowPages spread evenly
  // over the range (first and last included) stand for it.
  constexpr uintptr_t kFullPages = 4096, kWindows = 64, kWindowPages = 16;
  unsigned char resident[kFullPages];
  uint64_t in = 0, total = 0;
  auto count = [&](uintptr_t first_page, uintptr_t n) {
    if (::mincore(reinterpret_cast<void*>(begin + first_page * page), n * page, resident) != 0) return false;
    for (uintptr_t i = 0; i < n; ++i) in += resident[i] & 1u;
    total += n;
    return true;
  };
  if (pages <= kFullPages) {
    if (!count(0, pages)) return std::nullopt;
  } else {
    for (uintptr_t w = 0; w < kWindows; ++w) {
      const uintptr_t first = w * (pages - kWindowPages) / (kWindows - 1);
      if (!count(first, kWindowPages)) return std::nullopt;
    }
  }
  return static_cast<double>(in) / static_cast<double>(total);
}

std::optional<double> probed_resident_fraction(int fd, uint64_t offset, uint64_t bytes, uint32_t samples) {
  if (bytes == 0 || samples == 0) return std::nullopt;
  constexpr uint64_t kPage = 4096;
  const uint64_t first = offset / kPage, last = (offset + bytes - 1) / kPage;
  const uint64_t pages = last - first + 1;
  const uint64_t n = std::min<uint64_t>(samples, pages);
  alignas(64) std::byte buffer[kPage];
  uint64_t in = 0;
  for (uint64_t i = 0; i < n; ++i) {
    // Evenly spread, first and last page included when n > 1.
    const uint64_t page = first + (n == 1 ? 0 : i * (pages - 1) / (n - 1));
    iovec io{buffer, kPage};
    ssize_t r = -1;
    do {
      r = ::preadv2(fd, &io, 1, static_cast<off_t>(page * kPage), RWF_NOWAIT);
    } while (r < 0 && errno == EINTR);
    if (r < 0 && (errno == EOPNOTSUPP || errno == EINVAL || errno == ENOSYS)) return std::nullopt;
    // A short read at the end of the file still came from the cache.
    if (r > 0) ++in;
  }
  return static_cast<double>(in) / static_cast<double>(n);
}

bool mincore_sees_page_cache(const std::string& path, uint32_t owner_uid) {
  const uid_t me = ::geteuid();
  return me == 0 || me == owner_uid || ::access(path.c_str(), W_OK) == 0;
}

namespace {

constexpr uint64_t kDirectAlign = 4096;
constexpr uint64_t kBounceBytes = uint64_t{1} << 20;
// Linux moves at most 0x7ffff000 bytes per pread; 1 GiB pieces stay below that and aligned.
constexpr uint64_t kMaxIoBytes = uint64_t{1} << 30;

struct FreeDeleter {
  void operator()(std::byte* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<std::byte, FreeDeleter>;

AlignedBuffer aligned_buffer(uint64_t bytes) {
  return AlignedBuffer(static_cast<std::byte*>(std::aligned_alloc(kDirectAlign, bytes)));
}

bool is_aligned(const void* p) { return reinterpret_cast<uintptr_t>(p) % kDirectAlign == 0; }

// Bounce buffers for O_DIRECT reads, handed out one per concurrent read_at() call.
class BouncePool {
 public:
  AlignedBuffer take() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!free_.empty()) {
        AlignedBuffer b = std::move(free_.back());
        free_.pop_back();
        return b;
      }
    }
    return aligned_buffer(kBounceBytes);
  }
  void give(AlignedBuffer b) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(std::move(b));
  }

 private:
  std::mutex mutex_;
  std::vector<AlignedBuffer> free_;
};

// Returns its buffer to the pool when the read is over, whichever way it ends.
class BounceLease {
 public:
  explicit BounceLease(BouncePool& pool) : pool_(pool), buffer_(pool.take()) {}
  ~BounceLease() {
    if (buffer_) pool_.give(std::move(buffer_));
  }
  BounceLease(const BounceLease&) = delete;
  BounceLease& operator=(const BounceLease&) = delete;
  std::byte* get() const { return buffer_.get(); }

 private:
  BouncePool& pool_;
  AlignedBuffer buffer_;
};

class FileReader final : public StreamReader {
 public:
  FileReader(std::string path, OpenedFile file, bool direct, std::string note)
      : path_(std::move(path)), fd_(file.fd), size_(file.size), direct_(direct), note_(std::move(note)) {}
  ~FileReader() override {
    if (cache_map_ != nullptr) ::munmap(cache_map_, static_cast<size_t>(size_));
    if (probe_fd_ >= 0) ::close(probe_fd_);
    ::close(fd_);
  }
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  std::string describe() const override { return fmt::format("file '{}'{}", path_, note_); }
  std::optional<uint64_t> size() const override { return size_; }
  bool seekable() const override { return true; }
  uint64_t position() const override { return position_; }

  Status seek(uint64_t offset) override {
    if (offset > size_) return seek_past_end_error(describe(), offset, size_);
    position_ = offset;
    return Status::OK();
  }

  Status read(void* dst, uint64_t bytes, MemoryKind dst_kind, void* stream) override {
    if (dst_kind == MemoryKind::kDevice) {
      if (!range_inside(position_, bytes, size_)) return past_end(position_, bytes);
      const uint64_t start = position_;
      SLIMRT_RETURN_IF_ERROR(read_into_device(describe(), dst, bytes, stream,
                                              [this, start](void* host, uint64_t done, uint64_t n) {
                                                return read_at(start + done, host, n);
                                              }));
    } else {
      SLIMRT_RETURN_IF_ERROR(read_at(position_, dst, bytes));
    }
    position_ += bytes;
    return Status::OK();
  }

  std::optional<double> resident_fraction(uint64_t offset, uint64_t bytes) const override {
    // O_DIRECT reads go to the device whatever the cache holds.
    if (direct_ || !range_inside(offset, bytes, size_) || bytes == 0) return std::nullopt;
    std::call_once(residency_once_, [this] { open_residency(); });
    if (cache_map_ != nullptr) return mapped_resident_fraction(static_cast<const std::byte*>(cache_map_) + offset, bytes);
    if (probe_fd_ >= 0) return probed_resident_fraction(probe_fd_, offset, bytes);
    return std::nullopt;
  }

  Status read_at(uint64_t offset, void* dst, uint64_t bytes) const override {
    if (!range_inside(offset, bytes, size_)) return past_end(offset, bytes);
    auto* out = static_cast<std::byte*>(dst);
    std::optional<BounceLease> bounce;  // taken on first need, so aligned reads never lock
    uint64_t done = 0;
    while (done < bytes) {
      const uint64_t at = offset + done;
      std::byte* to = out + done;
      const uint64_t left = bytes - done;
      uint64_t got = 0;
      if (!direct_ || (is_aligned(to) && at % kDirectAlign == 0 && left >= kDirectAlign)) {
        uint64_t n = std::min(left, kMaxIoBytes);
        if (direct_) n -= n % kDirectAlign;
        SLIMRT_RETURN_IF_ERROR(pread_some(to, n, at, &got));
      } else {
        if (!bounce) {
          bounce.emplace(pool_);
          if (bounce->get() == nullptr) {
            return out_of_memory(fmt::format("{}: cannot allocate a {} byte O_DIRECT bounce buffer", describe(),
                                             kBounceBytes));
          }
        }
        // Read the aligned blocks covering [at, at + left), at most one bounce buffer's worth;
        // near the end of the file the read comes back short, which is fine.
        const uint64_t block_start = at - at % kDirectAlign;
        const uint64_t skip = at - block_start;
        const uint64_t span = std::min((skip + left + kDirectAlign - 1) / kDirectAlign * kDirectAlign, kBounceBytes);
        uint64_t read_bytes = 0;
        SLIMRT_RETURN_IF_ERROR(pread_some(bounce->get(), span, block_start, &read_bytes));
        got = read_bytes > skip ? std::min(read_bytes - skip, left) : 0;
        if (got > 0) std::memcpy(to, bounce->get() + skip, got);
      }
      // The size was checked above, so running dry means the file shrank since it was opened.
      if (got == 0) return short_read_error(describe(), offset, bytes, done, current_size());
      done += got;
    }
    return Status::OK();
  }

 private:
  Status past_end(uint64_t offset, uint64_t bytes) const {
    return short_read_error(describe(), offset, bytes, offset < size_ ? size_ - offset : 0, size_);
  }

  // One pread, retried on EINTR; `got` may be short (end of file) but never 0 unless at the end.
  Status pread_some(void* dst, uint64_t n, uint64_t offset, uint64_t* got) const {
    for (;;) {
      const ssize_t r = ::pread(fd_, dst, n, static_cast<off_t>(offset));
      if (r >= 0) {
        *got = static_cast<uint64_t>(r);
        return Status::OK();
      }
      if (errno == EINTR) continue;
      const int err = errno;
      return io_error(fmt::format("{}: read of {} bytes at offset {} failed: {}", describe(), n, offset,
                                  errno_text(err)));
    }
  }

  // A mapping for mincore where the kernel shows this process the file's cache (it is never
  // touched, so it costs address space only), else a descriptor of its own for probe reads.
  void open_residency() const {
    if (size_ == 0 || size_ > static_cast<uint64_t>(SIZE_MAX)) return;
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return;
    if (mincore_sees_page_cache(path_, static_cast<uint32_t>(st.st_uid))) {
      void* map = ::mmap(nullptr, static_cast<size_t>(size_), PROT_READ, MAP_SHARED, fd_, 0);
      if (map != MAP_FAILED) {
        cache_map_ = map;
        return;
      }
    }
    int fd = -1;
    do {
      fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return;
    (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
    probe_fd_ = fd;
  }

  std::optional<uint64_t> current_size() const {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return std::nullopt;
    return static_cast<uint64_t>(st.st_size);
  }

  std::string path_;
  int fd_;
  uint64_t size_;
  bool direct_;
  std::string note_;
  uint64_t position_ = 0;
  mutable BouncePool pool_;
  mutable std::once_flag residency_once_;
  mutable void* cache_map_ = nullptr;
  mutable int probe_fd_ = -1;
};

// Some filesystems accept O_DIRECT at open() and refuse the reads with EINVAL; one aligned
// probe read tells them apart so that the fallback happens here and not in the middle of a load.
bool direct_reads_work(const OpenedFile& file) {
  if (file.size == 0) return true;
  AlignedBuffer probe = aligned_buffer(kDirectAlign);
  if (!probe) return true;  // cannot tell; a real failure will show on the first read
  ssize_t r = -1;
  do {
    r = ::pread(file.fd, probe.get(), kDirectAlign, 0);
  } while (r < 0 && errno == EINTR);
  return !(r < 0 && errno == EINVAL);
}

}  // namespace
}  // namespace stream_reader_detail

std::optional<double> page_cache_fraction(const std::string& path) {
  using namespace stream_reader_detail;
  Result<OpenedFile> file = open_regular_file(path, 0);
  if (!file.ok() || file->size == 0 || file->size > static_cast<uint64_t>(SIZE_MAX)) {
    if (file.ok()) ::close(file->fd);
    return std::nullopt;
  }
  const auto bytes = static_cast<size_t>(file->size);
  void* map = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, file->fd, 0);
  ::close(file->fd);
  if (map == MAP_FAILED) return std::nullopt;
  const std::optional<double> fraction = mapped_resident_fraction(map, bytes);
  ::munmap(map, bytes);
  return fraction;
}

Result<std::unique_ptr<StreamReader>> open_file_reader(const std::string& path, const FileReaderOptions& options) {
  using namespace stream_reader_detail;
  constexpr const char* kRefused = " (O_DIRECT refused by the filesystem: buffered reads)";
  OpenedFile file;
  bool direct = false;
  std::string note;
  bool want_direct = options.direct_io;
  std::string auto_note;
  if (!want_direct && options.direct_io_when_uncached) {
    const std::optional<double> cached = page_cache_fraction(path);
    if (cached && *cached < 0.5) {
      want_direct = true;
      auto_note = fmt::format(", {:.0f}% cached", *cached * 100);
    } else if (cached) {
      note = fmt::format(" (buffered: {:.0f}% cached)", *cached * 100);
    }
    if (cached) {
      SLIMRT_LOG(kVerbose, "'{}': {:.0f}% in the page cache: {}", path, *cached * 100,
                 want_direct ? "O_DIRECT (less than half)" : "buffered reads");
    } else {
      SLIMRT_LOG(kVerbose, "'{}': the page cache cannot be probed: buffered reads", path);
    }
  }
  if (want_direct) {
    int err = 0;
    Result<OpenedFile> opened = open_regular_file(path, O_DIRECT, &err);
    if (opened.ok()) {
      file = *opened;
      if (direct_reads_work(file)) {
        direct = true;
        note = " (O_DIRECT" + auto_note + ")";
      } else {
        ::close(file.fd);
        file.fd = -1;
        note = kRefused;
      }
    } else if (err == EINVAL) {
      note = kRefused;
    } else {
      return opened.status();
    }
  }
  if (note == kRefused) {
    // Asked for by the caller: a warning; chosen by the reader itself: what happened.
    if (options.direct_io) {
      SLIMRT_LOG(kWarning, "'{}': O_DIRECT was asked for and the filesystem refuses it; reading through the page cache",
                 path);
    } else {
      SLIMRT_LOG(kInfo, "'{}': the filesystem refuses O_DIRECT; reading through the page cache", path);
    }
  }
  if (file.fd < 0) {
    SLIMRT_ASSIGN_OR_RETURN(file, open_regular_file(path, 0));
    // Engines are read front to back: a larger readahead window helps the buffered path.
    (void)::posix_fadvise(file.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  return std::unique_ptr<StreamReader>(std::make_unique<FileReader>(path, file, direct, std::move(note)));
}

}  // namespace slimrt
